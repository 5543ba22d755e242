/**
 * People's sign-in (authorization code + PKCE) against the real authorization server: a
 * provider of this file's own (oidc-provider, scripts/stack/identity-server.ts, seeded with a
 * console client for this file's callback), driven over plain HTTP through its login form. The
 * callback URL is only read, never served: services/access/oidc-login.ts completes the sign-in
 * from its query and the sealed cookie, as the console's callback route does.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeJwt } from 'jose';
import { loadConfig } from '../../lib/config';
import { IdentityProvider } from '../../scripts/stack/identity';
import { CONSOLE_CLIENT_ID, CONSOLE_CLIENT_SECRET, consoleClientFor, IDENTITY_SEED } from '../../scripts/stack/identity-seed';
import { waitUntil } from '../../scripts/stack/proc';
import { OidcLogin, SignInRefused, type OidcLoginSettings } from '../../services/access/oidc-login';
import { IdentityUnavailable } from '../../services/access/tokens';
import { testConfig } from '../setup/test-config';
import { CookieJar, follow, hop, signInOverHttp } from '../support/oidc-flow';
import { freePort } from '../support/processes';

// Nothing listens here: the issuer's redirect to it is where the flow ends.
const API_BASE = 'http://127.0.0.1:3999';
const CALLBACK = `${API_BASE}/console/auth/callback`;

let idp: IdentityProvider;
let dir: string;
let login: OidcLogin;

const settingsFor = (issuer: string, extra: Record<string, string> = {}): OidcLoginSettings => {
  const identity = loadConfig({
    IDENTITY_ISSUER: issuer,
    IDENTITY_CONSOLE_CLIENT_ID: CONSOLE_CLIENT_ID,
    IDENTITY_CONSOLE_CLIENT_SECRET: CONSOLE_CLIENT_SECRET,
    IDENTITY_CONSOLE_REDIRECT_URI: CALLBACK,
    IDENTITY_CLOCK_SKEW_S: '5',
    ...extra,
  }).identity!;
  return { ...identity, ...identity.console! };
};

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oidc-login-'));
  idp = new IdentityProvider(testConfig(), {
    dir,
    port: await freePort(),
    seed: { ...IDENTITY_SEED, consoleClients: [consoleClientFor(API_BASE)] },
  });
  await idp.start();
  await waitUntil(() => idp.health(), { timeoutMs: 60_000, what: 'the sign-in test provider' });
  login = new OidcLogin(settingsFor(idp.issuer));
});
afterAll(async () => {
  await idp?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const password = (username: string) => IDENTITY_SEED.users.find((u) => u.username === username)!.password;

/** A whole sign-in from begin() to the callback; the callback URL and the cookie begin() set. */
async function toCallback(username: string, pass = password(username), returnTo?: string) {
  const pending = await login.begin(returnTo);
  const flow = await signInOverHttp(pending.url, CALLBACK, username, pass);
  return { pending, ...flow };
}

test('when the operator signs in with her password, then the console gets her subject, name, roles and their permissions', async () => {
  const { pending, callback } = await toCallback('olivia', password('olivia'), '/console/orders');
  expect(callback).toBeDefined();
  const { person, returnTo } = await login.finish(callback!.searchParams, pending.cookie);
  expect(returnTo).toBe('/console/orders');
  expect({ issuer: person.issuer, subject: person.subject, name: person.name, roles: person.roles }).toEqual({
    issuer: idp.issuer,
    subject: 'olivia.operator',
    name: 'Olivia Operator',
    roles: ['operator'],
  });
  expect(person.permissions.has('orders:compensate')).toBe(true);
  expect(person.permissions.has('keys:manage')).toBe(false);
  expect(person.expiresAt.getTime()).toBeGreaterThan(Date.now());
  // The issuer put the roles into the ID token itself, for this client only.
  expect(decodeJwt(person.idToken)).toMatchObject({ roles: ['operator'], aud: CONSOLE_CLIENT_ID, iss: idp.issuer });
});

test('the authorization request asks for PKCE S256, and the issuer hands the code back with state and iss (RFC 9207)', async () => {
  const { pending, callback } = await toCallback('avery');
  const asked = new URL(pending.url).searchParams;
  expect(asked.get('code_challenge_method')).toBe('S256');
  expect(asked.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(asked.get('redirect_uri')).toBe(CALLBACK);
  expect(callback!.searchParams.get('state')).toBe(asked.get('state'));
  expect(callback!.searchParams.get('iss')).toBe(idp.issuer);
  const { person } = await login.finish(callback!.searchParams, pending.cookie);
  expect({ subject: person.subject, roles: person.roles }).toEqual({ subject: 'avery.auditor', roles: ['auditor'] });
  expect(person.permissions.has('audit:read')).toBe(true);
  expect(person.permissions.has('orders:compensate')).toBe(false);
});

test('when a person holds a role the API does not know, then it is ignored and the known one counts', async () => {
  const { pending, callback } = await toCallback('sam');
  const { person } = await login.finish(callback!.searchParams, pending.cookie);
  expect(person.roles).toEqual(['operator']);
});

test('when a person holds no console role, then the sign-in is refused naming why', async () => {
  const { pending, callback } = await toCallback('nora');
  await expect(login.finish(callback!.searchParams, pending.cookie)).rejects.toThrow(/holds no console role/);
});

test('when the password is wrong, then the login form answers 401 again and no code is issued', async () => {
  const { callback, last } = await toCallback('olivia', 'not-her-password');
  expect(callback).toBeUndefined();
  expect(last.status).toBe(401);
  expect(last.body).toMatch(/Wrong username or password/);
});

test('when the same callback is completed twice, then the second is refused (the code is single-use)', async () => {
  const { pending, callback } = await toCallback('olivia');
  await login.finish(callback!.searchParams, pending.cookie);
  const again = login.finish(callback!.searchParams, pending.cookie);
  await expect(again).rejects.toBeInstanceOf(SignInRefused);
  await expect(again).rejects.toThrow(/refused the authorization code \(invalid_grant\)/);
});

test("when the callback comes with another sign-in's cookie, a changed state or no cookie, then it is refused before any code exchange", async () => {
  const mine = await toCallback('olivia');
  const other = await login.begin();
  const cases: [URLSearchParams, string | undefined, RegExp][] = [
    [mine.callback!.searchParams, other.cookie, /state is not this sign-in's/],
    [new URLSearchParams({ ...Object.fromEntries(mine.callback!.searchParams), state: 'forged' }), mine.pending.cookie, /state/],
    [mine.callback!.searchParams, undefined, /cookie is missing/],
    [mine.callback!.searchParams, `${mine.pending.cookie.slice(0, -4)}AAAA`, /not one this console made/],
  ];
  for (const [query, cookie, why] of cases) await expect(login.finish(query, cookie)).rejects.toThrow(why);
  // None of them used the code: it still completes once.
  const { person } = await login.finish(mine.callback!.searchParams, mine.pending.cookie);
  expect(person.subject).toBe('olivia.operator');
});

test('when the callback names another issuer (a mix-up), then it is refused', async () => {
  const { pending, callback } = await toCallback('olivia');
  const mixed = new URLSearchParams({ ...Object.fromEntries(callback!.searchParams), iss: 'http://127.0.0.1:1' });
  await expect(login.finish(mixed, pending.cookie)).rejects.toThrow(/does not come from issuer/);
});

test('when the person cancels at the issuer, then the callback carries access_denied and the sign-in is refused', async () => {
  const pending = await login.begin();
  const jar = new CookieJar();
  const form = await follow(jar, new URL(pending.url), CALLBACK);
  const abort = /href="([^"]+\/abort)"/.exec(form.last.body)![1]!;
  const { callback } = await follow(jar, new URL(abort, form.last.url), CALLBACK);
  expect(callback!.searchParams.get('error')).toBe('access_denied');
  await expect(login.finish(callback!.searchParams, pending.cookie)).rejects.toThrow(/did not sign you in \(access_denied\)/);
});

test('the issuer itself requires PKCE of the console client and checks the verifier', async () => {
  const pending = await login.begin();
  const without = new URL(pending.url);
  without.searchParams.delete('code_challenge');
  without.searchParams.delete('code_challenge_method');
  const refused = await hop(new CookieJar(), without);
  expect(new URL(refused.location!).searchParams.get('error')).toBe('invalid_request');

  const { callback } = await signInOverHttp(pending.url, CALLBACK, 'olivia', password('olivia'));
  const token = await fetch(`${idp.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${CONSOLE_CLIENT_ID}:${CONSOLE_CLIENT_SECRET}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: callback!.searchParams.get('code')!,
      redirect_uri: CALLBACK,
      code_verifier: 'x'.repeat(43),
    }),
  });
  expect(token.status).toBe(400);
  expect(((await token.json()) as { error: string }).error).toBe('invalid_grant');
});

test('a role mapping renames the issuer roles (here: operator counts as auditor)', async () => {
  const mapped = new OidcLogin(settingsFor(idp.issuer, { IDENTITY_ROLE_MAPPING: '{"operator":["auditor"]}' }));
  const pending = await mapped.begin();
  const { callback } = await signInOverHttp(pending.url, CALLBACK, 'olivia', password('olivia'));
  const { person } = await mapped.finish(callback!.searchParams, pending.cookie);
  expect(person.roles).toEqual(['auditor']);
});

test('when the issuer cannot be reached, then starting a sign-in is IdentityUnavailable (503), not a refusal', async () => {
  const away = new OidcLogin(settingsFor(`http://127.0.0.1:${await freePort()}`));
  await expect(away.begin()).rejects.toBeInstanceOf(IdentityUnavailable);
});

test('sign-out goes to the issuer with the ID token as hint and the console as the way back', async () => {
  const url = new URL((await login.signOutUrl('the-id-token', `${API_BASE}/console/sign-in`))!);
  expect(`${url.origin}${url.pathname}`).toBe(`${idp.issuer}/session/end`);
  expect(Object.fromEntries(url.searchParams)).toEqual({
    client_id: CONSOLE_CLIENT_ID,
    post_logout_redirect_uri: `${API_BASE}/console/sign-in`,
    id_token_hint: 'the-id-token',
  });
});
