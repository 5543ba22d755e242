/**
 * A person's sign-in at the stack's authorization server over plain HTTP, the way a browser
 * does it: follow the redirects by hand with the issuer's cookies, fill in the login form
 * (scripts/stack/identity-login.ts), and stop at the client's callback URL, which is returned
 * (nothing needs to listen there).
 */

/** Cookies by name, for one host (cookies ignore the port, as browsers do); path and expiry honoured. */
export class CookieJar {
  private readonly cookies = new Map<string, { value: string; path: string }>();

  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';').map((p) => p.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const attr = (n: string) => attrs.find((a) => a.toLowerCase().startsWith(`${n}=`))?.slice(n.length + 1);
      const expires = attr('expires');
      const gone = attr('max-age') === '0' || (expires !== undefined && Date.parse(expires) <= Date.now()) || value === '';
      if (gone) this.cookies.delete(name);
      else this.cookies.set(name, { value, path: attr('path') ?? '/' });
    }
  }

  header(url: URL): string {
    return [...this.cookies]
      .filter(([, c]) => url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .map(([n, c]) => `${n}=${c.value}`)
      .join('; ');
  }

  get(name: string): string | undefined {
    return this.cookies.get(name)?.value;
  }
}

export interface Hop {
  url: URL;
  status: number;
  location?: string;
  body: string;
}

/** One request with the jar's cookies, redirects not followed. */
export async function hop(jar: CookieJar, url: URL, init: RequestInit = {}): Promise<Hop> {
  const headers = new Headers(init.headers);
  const cookie = jar.header(url);
  if (cookie) headers.set('cookie', cookie);
  const res = await fetch(url, { ...init, headers, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
  jar.take(res);
  const location = res.headers.get('location') ?? undefined;
  return { url, status: res.status, location: location && new URL(location, url).toString(), body: await res.text() };
}

/**
 * Follows redirects from `start` until one leaves for `callbackPrefix` (returned) or a page
 * answers (returned as the last hop, e.g. the login form).
 */
export async function follow(
  jar: CookieJar,
  start: URL,
  callbackPrefix: string,
  init?: RequestInit,
): Promise<{ callback?: URL; last: Hop }> {
  let step = await hop(jar, start, init);
  for (let i = 0; i < 10; i += 1) {
    if (!step.location || step.status < 300 || step.status >= 400) return { last: step };
    if (step.location.startsWith(callbackPrefix)) return { callback: new URL(step.location), last: step };
    step = await hop(jar, new URL(step.location));
  }
  throw new Error(`too many redirects from ${start}`);
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/**
 * Signs `username` in from the authorization URL: the login form, its POST, the consent hop.
 * Returns the callback URL the issuer sent the browser to, or the page it answered instead.
 */
export async function signInOverHttp(
  authorizationUrl: string,
  callbackPrefix: string,
  username: string,
  password: string,
  jar = new CookieJar(),
): Promise<{ callback?: URL; last: Hop; jar: CookieJar }> {
  const toForm = await follow(jar, new URL(authorizationUrl), callbackPrefix);
  if (toForm.callback) return { ...toForm, jar }; // already signed in at the issuer
  const action = /<form method="post" action="([^"]+)"/.exec(toForm.last.body)?.[1];
  if (!action) throw new Error(`no login form at ${toForm.last.url} (${toForm.last.status}): ${toForm.last.body.slice(0, 300)}`);
  const submitted = await follow(jar, new URL(action, toForm.last.url), callbackPrefix, {
    method: 'POST',
    headers: FORM,
    body: new URLSearchParams({ username, password }).toString(),
  });
  return { ...submitted, jar };
}
