/**
 * The development authorization server's own login and consent interaction (oidc-provider's
 * devInteractions accept any login; this one checks the seeded people's passwords). Served by
 * scripts/stack/identity-server.ts beside the provider, on oidc-provider's default interaction
 * URL:
 *   GET  /interaction/:uid         login: the sign-in form; consent: granted at once (the console
 *                                  is a first-party client) and the browser sent back to the provider
 *   POST /interaction/:uid/login   username + password (form-encoded): the person's account, or the
 *                                  form again with 401
 *   GET  /interaction/:uid/abort   the sign-in is refused (access_denied back to the client)
 * A test drives it over plain HTTP (GET the form, POST the fields, follow the 303s with the
 * provider's cookies), a browser exactly the same way. Development and tests only: there is no
 * lockout, no password policy and no CSRF token (the interaction's uid and its signed cookie bind
 * a form to the one sign-in in progress).
 */
import crypto from 'node:crypto';
import type http from 'node:http';
import type Provider from 'oidc-provider';
import type { Interaction } from 'oidc-provider';
import type { IdentitySeed, SeedUser } from './identity-seed';

const INTERACTION = /^\/interaction\/([A-Za-z0-9_-]{1,128})(?:\/(login|abort))?$/;
const MAX_FORM_BYTES = 8 * 1024;

const sha256 = (s: string) => crypto.createHash('sha256').update(s, 'utf8').digest();

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The seeded person with this username and password, compared in constant time. */
export function checkPassword(users: readonly SeedUser[], username: string, password: string): SeedUser | undefined {
  const user = users.find((u) => u.username === username);
  const ok = crypto.timingSafeEqual(sha256(password), sha256(user?.password ?? crypto.randomUUID()));
  return user && ok ? user : undefined;
}

function page(res: http.ServerResponse, status: number, title: string, body: string): void {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>${escapeHtml(title)}</h1>${body}
<p><small>order-saga development authorization server: not for production.</small></p></main></body></html>`;
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    // No form-action: browsers apply it to the redirects after the POST too, which end at the client's callback.
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  });
  res.end(html);
}

function loginForm(res: http.ServerResponse, status: number, uid: string, clientId: string, error?: string): void {
  const notice = error ? `<p role="alert">${escapeHtml(error)}</p>` : '';
  page(
    res,
    status,
    'Sign in',
    `<p>Sign in to <strong>${escapeHtml(clientId)}</strong>.</p>${notice}
<form method="post" action="/interaction/${uid}/login" autocomplete="off">
<p><label for="username">Username</label> <input id="username" name="username" required autofocus></p>
<p><label for="password">Password</label> <input id="password" name="password" type="password" required></p>
<p><button type="submit">Sign in</button> <a href="/interaction/${uid}/abort">Cancel</a></p>
</form>`,
  );
}

async function readForm(req: http.IncomingMessage): Promise<URLSearchParams | undefined> {
  if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) return undefined;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** First-party consent: the grant gets exactly what the provider says is missing. */
async function consent(provider: Provider, interaction: Interaction): Promise<Record<string, unknown>> {
  const accountId = interaction.session?.accountId;
  const clientId = String(interaction.params.client_id);
  if (!accountId) throw new Error('consent without a signed-in account');
  const grant =
    (interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined) ?? new provider.Grant({ accountId, clientId });
  const details = interaction.prompt.details as {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
  };
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {}))
    grant.addResourceScope(indicator, scopes.join(' '));
  return { consent: { grantId: await grant.save() } };
}

/**
 * Answers the interaction routes; false when the request is not one of them (the provider's
 * own). `provider` is read per request: a key rotation builds a new one.
 */
export async function handleInteraction(
  provider: () => Provider,
  seed: IdentitySeed,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
): Promise<boolean> {
  const match = INTERACTION.exec(url.pathname);
  if (!match) return false;
  const [, uid, action] = match;
  const p = provider();
  let interaction: Interaction;
  try {
    interaction = await p.interactionDetails(req, res);
  } catch {
    page(res, 400, 'Sign-in expired', '<p>This sign-in is no longer in progress. Start it again from the application.</p>');
    return true;
  }
  if (interaction.uid !== uid) {
    page(res, 400, 'Sign-in mismatch', '<p>This page belongs to another sign-in. Start it again from the application.</p>');
    return true;
  }
  const clientId = String(interaction.params.client_id);
  const consoleClient = seed.consoleClients.some((c) => c.clientId === clientId);

  if (action === 'abort') {
    await p.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: 'the person cancelled the sign-in' },
      { mergeWithLastSubmission: false },
    );
  } else if (action === 'login' && req.method === 'POST') {
    if (interaction.prompt.name !== 'login') {
      page(res, 400, 'Already signed in', '<p>This sign-in no longer asks for a password. Start it again from the application.</p>');
      return true;
    }
    const form = await readForm(req);
    const user = form && checkPassword(seed.users, form.get('username') ?? '', form.get('password') ?? '');
    if (!user) {
      loginForm(res, 401, uid!, clientId, 'Wrong username or password.');
      return true;
    }
    await p.interactionFinished(req, res, { login: { accountId: user.subject } }, { mergeWithLastSubmission: false });
  } else if (!action && req.method === 'GET' && interaction.prompt.name === 'login') {
    loginForm(res, 200, uid!, clientId);
  } else if (!action && req.method === 'GET' && interaction.prompt.name === 'consent' && consoleClient) {
    await p.interactionFinished(req, res, await consent(p, interaction), { mergeWithLastSubmission: true });
  } else {
    page(res, 400, 'Not supported', `<p>This server does not answer "${escapeHtml(interaction.prompt.name)}" for this client.</p>`);
  }
  return true;
}
