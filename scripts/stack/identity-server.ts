/**
 * The stack's authorization server: panva's oidc-provider (OpenID Certified) with the clients,
 * users and scopes of scripts/stack/identity-seed.ts. Run by scripts/stack/identity.ts as its
 * own process: `tsx scripts/stack/identity-server.ts <config.json>`. It issues RFC 9068 JWT
 * access tokens (client credentials) for the API's audience, and signs people in for the
 * console (authorization code, PKCE S256 required) with its own login page
 * (scripts/stack/identity-login.ts), which checks the seeded people's passwords. Their roles
 * are the `roles` claim of the ID token and of userinfo (scope `roles`).
 *
 * Signing keys live in a private JWKS file in the component's directory (kept across
 * restarts, newest key first: oidc-provider signs with the first key of an algorithm). A
 * development-only endpoint rotates them without a restart:
 *   POST /dev/rotate-keys?retain=N   a new signing key; N previous keys stay published (default 1)
 * It answers only on the loopback address the server binds, and the server is for development.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { IdentitySeed } from './identity-seed';
import { handleInteraction } from './identity-login';

/** What scripts/stack/identity.ts writes for this process. */
export interface IdentityServerConfig {
  issuer: string;
  host: string;
  port: number;
  keysFile: string;
  seed: IdentitySeed;
}

async function newSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: 'RS256', use: 'sig' };
}

function readKeys(file: string): JWK[] {
  try {
    const keys = (JSON.parse(fs.readFileSync(file, 'utf8')) as { keys?: JWK[] }).keys;
    return Array.isArray(keys) && keys.length > 0 ? keys : [];
  } catch {
    return [];
  }
}

function writeKeys(file: string, keys: JWK[]): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify({ keys }, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** What the console client may ask for: who the person is and their roles. */
const CONSOLE_SCOPES = 'openid profile roles';

function providerConfiguration(cfg: IdentityServerConfig, keys: JWK[], cookieKeys: string[]): Record<string, unknown> {
  const { seed } = cfg;
  const users = new Map(seed.users.map((u) => [u.subject, u]));
  const consoleIds = new Set(seed.consoleClients.map((c) => c.clientId));
  return {
    clients: [
      ...seed.clients.map((c) => ({
        client_id: c.clientId,
        client_secret: c.secret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: c.scopes.join(' '),
        token_endpoint_auth_method: 'client_secret_basic',
      })),
      ...seed.consoleClients.map((c) => ({
        client_id: c.clientId,
        client_secret: c.secret,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: c.redirectUris,
        post_logout_redirect_uris: c.postLogoutRedirectUris,
        scope: CONSOLE_SCOPES,
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'RS256',
      })),
    ],
    jwks: { keys },
    scopes: ['openid', ...seed.scopes],
    claims: { openid: ['sub'], roles: ['roles'], profile: ['name'] },
    // The roles go into the ID token too (not only userinfo): the console reads them there.
    conformIdTokenClaims: false,
    // Every authorization code flow proves its code_verifier (S256, the only method oidc-provider 9 has).
    pkce: { required: () => true },
    findAccount: (_ctx: unknown, id: string) => {
      const user = users.get(id);
      if (!user) return undefined;
      return { accountId: id, claims: () => ({ sub: id, name: user.name, roles: user.roles }) };
    },
    // The login page is ours (scripts/stack/identity-login.ts), at oidc-provider's default URL.
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // The console's access token is only for userinfo; machine clients get the API's audience.
        defaultResource: (_ctx: unknown, client: { clientId: string }, oneOf?: string) =>
          oneOf ?? (consoleIds.has(client.clientId) ? undefined : seed.audience),
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string) => {
          if (resource !== seed.audience) throw new Error(`unknown resource ${resource}`);
          return {
            scope: seed.scopes.join(' '),
            audience: seed.audience,
            accessTokenTTL: seed.accessTokenTtlS,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    cookies: { keys: cookieKeys },
  };
}

async function main(configFile: string): Promise<void> {
  const cfg = JSON.parse(fs.readFileSync(configFile, 'utf8')) as IdentityServerConfig;
  // An ES module only: loaded by import() (typed in scripts/stack/oidc-provider.d.ts).
  const { default: Provider } = await import('oidc-provider');
  let keys = readKeys(cfg.keysFile);
  if (keys.length === 0) {
    keys = [await newSigningKey()];
    writeKeys(cfg.keysFile, keys);
  }
  // Cookies are signed with a key of this process only: sessions do not outlive a restart (a
  // key rotation keeps them: the provider is rebuilt, the cookie keys stay).
  const cookieKeys = [crypto.randomBytes(32).toString('base64url')];
  const build = () => {
    const built = new Provider(cfg.issuer, providerConfiguration(cfg, keys, cookieKeys));
    return { provider: built, handler: built.callback() };
  };
  let current = build();

  async function rotate(url: URL, res: http.ServerResponse): Promise<void> {
    const retain = Number(url.searchParams.get('retain') ?? '1');
    if (!Number.isInteger(retain) || retain < 0 || retain > 5) {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'retain must be 0..5' }));
      return;
    }
    const fresh = await newSigningKey();
    keys = [fresh, ...keys.slice(0, retain)];
    writeKeys(cfg.keysFile, keys);
    current = build();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kid: fresh.kid, published: keys.map((k) => k.kid) }));
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', cfg.issuer);
    if (url.pathname === '/dev/rotate-keys' && req.method === 'POST') {
      rotate(url, res).catch((err: unknown) => res.writeHead(500).end(String(err)));
      return;
    }
    handleInteraction(() => current.provider, cfg.seed, req, res, url)
      .then((handled) => {
        if (!handled) current.handler(req, res);
      })
      .catch((err: unknown) => {
        process.stderr.write(`interaction failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end('interaction failed');
      });
  });
  server.listen(cfg.port, cfg.host, () => process.stdout.write(`identity provider ${cfg.issuer} listening on ${cfg.host}:${cfg.port}\n`));
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main(process.argv[2] ?? '').catch((err: unknown) => {
  process.stderr.write(`identity provider failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
