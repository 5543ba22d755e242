/**
 * The checks of a person's sign-in that need no issuer: the ID token's (signed here with keys
 * of the test's own, verified through a local JWKS), the roles claim and its mapping, the
 * return path, and the configuration that turns sign-in on; and, against a minimal issuer of
 * the test's own (in-process), the userinfo fallback for the roles. The whole flow against the
 * real server is test/integration/oidc-login.test.ts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ConfigError, loadConfig } from '../../lib/config';
import { OidcLogin, personPrincipal, rolesOf, safeReturnTo, SignInRefused, verifyIdToken } from '../../services/access/oidc-login';
import { can, permissionsOfRoles } from '../../services/access/permissions';
import { actorOf } from '../../services/platform/audit-log/audit-log';

const ISSUER = 'https://issuer.example';
const CLIENT = 'order-saga-console';
const NONCE = 'the-nonce-of-this-sign-in';

let keys: JWTVerifyGetKey;
let sign: (claims: JWTPayload, header?: Record<string, unknown>) => Promise<string>;
let otherKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  keys = createLocalJWKSet({ keys: [jwk] });
  otherKey = (await generateKeyPair('RS256')).privateKey;
  sign = (claims, header = {}) => {
    const now = Math.floor(Date.now() / 1000);
    const body = { iss: ISSUER, aud: CLIENT, sub: 'olivia.operator', nonce: NONCE, iat: now, exp: now + 300, ...claims };
    return new SignJWT(body).setProtectedHeader({ alg: 'RS256', kid: 'k1', ...header }).sign(privateKey);
  };
});

const expectations = { issuer: ISSUER, clientId: CLIENT, nonce: NONCE, algorithms: ['RS256'], clockSkewS: 5 };
const now = () => Math.floor(Date.now() / 1000);

test('a good ID token verifies and its claims come back', async () => {
  const claims = await verifyIdToken(await sign({ roles: ['operator'] }), keys, expectations);
  expect({ sub: claims.sub, roles: claims.roles }).toEqual({ sub: 'olivia.operator', roles: ['operator'] });
});

const REFUSED: [string, () => Promise<string>, RegExp][] = [
  ['a wrong nonce (a replayed or mixed-up sign-in)', () => sign({ nonce: 'another-sign-in' }), /"nonce"/],
  ['no nonce', () => sign({ nonce: undefined }), /"nonce"/],
  ['another audience (a token for another client)', () => sign({ aud: 'someone-else' }), /"aud"/],
  ['several audiences without azp', () => sign({ aud: [CLIENT, 'someone-else'] }), /"azp"/],
  ['an azp naming another client', () => sign({ azp: 'someone-else' }), /"azp"/],
  ['another issuer', () => sign({ iss: 'https://evil.example' }), /"iss"/],
  ['an expired token (beyond the skew)', () => sign({ iat: now() - 900, exp: now() - 60 }), /expired/],
  ['a token issued too long ago, though not expired', () => sign({ iat: now() - 3600, exp: now() + 3600 }), /"iat"/],
  ['an access token (typ at+jwt)', () => sign({}, { typ: 'at+jwt' }), /access token/],
  [
    'a token signed by an unknown key',
    () =>
      new SignJWT({ iss: ISSUER, aud: CLIENT, sub: 'x', nonce: NONCE, iat: now(), exp: now() + 60 })
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .sign(otherKey),
    /signature/,
  ],
  [
    'an algorithm off the allow-list (HS256)',
    async () =>
      new SignJWT({ iss: ISSUER, aud: CLIENT, sub: 'x', nonce: NONCE })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(new Uint8Array(32)),
    /algorithm/,
  ],
  [
    'alg none',
    async () =>
      `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: ISSUER, aud: CLIENT, sub: 'x', nonce: NONCE, iat: now(), exp: now() + 60 })).toString('base64url')}.`,
    /algorithm|malformed/,
  ],
  ['no sub', () => sign({ sub: undefined }), /"sub"/],
];

test.each(REFUSED)('an ID token with %s is refused, saying why', async (_what, make, why) => {
  const verdict = verifyIdToken(await make(), keys, expectations);
  await expect(verdict).rejects.toBeInstanceOf(SignInRefused);
  await expect(verdict).rejects.toThrow(why);
});

test('the roles claim: people roles kept in a fixed order, unknown ones ignored, a string form split, anything else nothing', () => {
  expect(rolesOf(['auditor', 'operator', 'payments-superuser', 'admin', 'client'])).toEqual(['operator', 'auditor']);
  expect(rolesOf('finance key-admin')).toEqual(['finance', 'key-admin']);
  expect(rolesOf([42, { role: 'operator' }, 'operator'])).toEqual(['operator']);
  expect(rolesOf(undefined)).toEqual([]);
  expect(rolesOf({ operator: true })).toEqual([]);
});

test('with a role mapping only mapped issuer roles count (a people role name is not itself mapped)', () => {
  const mapping = { 'payments-ops': ['operator'], 'payments-audit': ['auditor', 'finance'] };
  expect(rolesOf(['payments-ops', 'operator', 'payments-audit'], mapping)).toEqual(['operator', 'finance', 'auditor']);
  expect(rolesOf(['operator'], mapping)).toEqual([]);
  expect(rolesOf(['__proto__', 'constructor'], mapping)).toEqual([]);
});

test("a person's principal: the union of the roles' permissions, no customers, the person named", () => {
  const person = {
    issuer: ISSUER,
    subject: 'olivia.operator',
    name: 'Olivia Operator',
    roles: ['operator', 'auditor'] as const,
    permissions: permissionsOfRoles(['operator', 'auditor']),
    idToken: 'x',
    expiresAt: new Date(),
  };
  const principal = personPrincipal({ ...person, roles: [...person.roles] }, '00000000-0000-4000-8000-000000000001');
  expect(can(principal, 'orders:compensate')).toBe(true);
  expect(can(principal, 'audit:read')).toBe(true);
  expect(can(principal, 'keys:manage')).toBe(false);
  expect(can(principal, 'deposits:write')).toBe(false);
  expect(principal.customers.size).toBe(0);
  expect(principal.person).toEqual({ issuer: ISSUER, subject: 'olivia.operator', roles: ['operator', 'auditor'] });
  // The audit log names the person, not the principal row.
  expect(actorOf(principal)).toEqual({ kind: 'person', id: 'olivia.operator', name: 'Olivia Operator' });
});

test('the return path after sign-in stays inside the console', () => {
  expect(safeReturnTo('/console/orders/abc?x=1')).toBe('/console/orders/abc?x=1');
  expect(safeReturnTo('/console')).toBe('/console');
  for (const bad of [
    undefined,
    '',
    '//evil.example/console',
    'https://evil.example/console',
    '/consolex',
    '/admin',
    '/console\\..',
    '/console/\r\nx',
  ])
    expect(safeReturnTo(bad)).toBe('/console');
});

describe('configuration', () => {
  const base = { IDENTITY_ISSUER: ISSUER, IDENTITY_CONSOLE_CLIENT_ID: CLIENT, IDENTITY_CONSOLE_CLIENT_SECRET: 'a-secret-of-enough-length' };
  const settingsOf = (env: Record<string, string>) => {
    const identity = loadConfig(env).identity!;
    return { ...identity, ...identity.console! };
  };

  test('sign-in is off without a client id, and on with one (redirect URI defaulting to the API port)', () => {
    expect(loadConfig({ IDENTITY_ISSUER: ISSUER }).identity?.console).toBeUndefined();
    expect(loadConfig({ ...base, API_PORT: '3100' }).identity?.console).toMatchObject({
      clientId: CLIENT,
      redirectUri: 'http://127.0.0.1:3100/console/auth/callback',
      scopes: ['openid', 'profile', 'roles'],
      rolesClaim: 'roles',
    });
  });

  test.each([
    ['a client id without a secret', { IDENTITY_ISSUER: ISSUER, IDENTITY_CONSOLE_CLIENT_ID: CLIENT }, 'IDENTITY_CONSOLE_CLIENT_SECRET'],
    [
      'a secret without a client id',
      { IDENTITY_ISSUER: ISSUER, IDENTITY_CONSOLE_CLIENT_SECRET: 'a-secret-of-enough-length' },
      'IDENTITY_CONSOLE_CLIENT_SECRET',
    ],
    [
      'a client id without an issuer',
      { IDENTITY_CONSOLE_CLIENT_ID: CLIENT, IDENTITY_CONSOLE_CLIENT_SECRET: 'a-secret-of-enough-length' },
      'IDENTITY_CONSOLE_CLIENT_ID',
    ],
    ['a short secret', { ...base, IDENTITY_CONSOLE_CLIENT_SECRET: 'short' }, 'IDENTITY_CONSOLE_CLIENT_SECRET'],
    ['scopes without openid', { ...base, IDENTITY_CONSOLE_SCOPES: 'profile roles' }, 'IDENTITY_CONSOLE_SCOPES'],
    ['a role mapping that is not JSON', { ...base, IDENTITY_ROLE_MAPPING: '{operator' }, 'IDENTITY_ROLE_MAPPING'],
  ])('%s stops the process naming the variable', (_what, env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`^${variable}:`));
  });

  test('a role mapping onto a role the console does not have is a configuration error', () => {
    const settings = settingsOf({ ...base, IDENTITY_ROLE_MAPPING: '{"ops":["operator","superuser"]}' });
    expect(() => new OidcLogin(settings)).toThrow(/^IDENTITY_ROLE_MAPPING: unknown console roles: superuser/);
    expect(() => new OidcLogin(settingsOf({ ...base, IDENTITY_ROLE_MAPPING: '{"ops":["operator"]}' }))).not.toThrow();
  });
});

describe('roles from userinfo when the ID token has none (an issuer of the test, in-process)', () => {
  let server: http.Server;
  let issuer: string;
  let userinfo: { sub: string; roles?: unknown };
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  let publicJwk: JWK;
  let lastNonce = '';

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    privateKey = pair.privateKey;
    publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'u1', alg: 'ES256', use: 'sig' };
    server = http.createServer((req, res) => {
      const json = (status: number, body: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      const url = new URL(req.url ?? '/', issuer);
      if (url.pathname === '/.well-known/openid-configuration') {
        return json(200, {
          issuer,
          authorization_endpoint: `${issuer}/auth`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          userinfo_endpoint: `${issuer}/me`,
          code_challenge_methods_supported: ['S256'],
        });
      }
      if (url.pathname === '/jwks') return json(200, { keys: [publicJwk] });
      if (url.pathname === '/me') return req.headers.authorization === 'Bearer the-access-token' ? json(200, userinfo) : json(401, {});
      if (url.pathname === '/token') {
        const now = Math.floor(Date.now() / 1000);
        void new SignJWT({
          iss: issuer,
          aud: CLIENT,
          sub: 'fiona.finance',
          nonce: lastNonce,
          iat: now,
          exp: now + 300,
          name: 'Fiona Finance',
        })
          .setProtectedHeader({ alg: 'ES256', kid: 'u1' })
          .sign(privateKey)
          .then((idToken) => json(200, { id_token: idToken, access_token: 'the-access-token', token_type: 'Bearer' }));
        return undefined;
      }
      return json(404, {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const signIn = async () => {
    const identity = loadConfig({
      IDENTITY_ISSUER: issuer,
      IDENTITY_CONSOLE_CLIENT_ID: CLIENT,
      IDENTITY_CONSOLE_CLIENT_SECRET: 'a-secret-of-enough-length',
    }).identity!;
    const login = new OidcLogin({ ...identity, ...identity.console! });
    const pending = await login.begin();
    const asked = new URL(pending.url).searchParams;
    lastNonce = asked.get('nonce')!;
    return login.finish(new URLSearchParams({ code: 'a-code', state: asked.get('state')! }), pending.cookie);
  };

  test('the roles are those userinfo names for the same subject', async () => {
    userinfo = { sub: 'fiona.finance', roles: ['finance'] };
    const { person } = await signIn();
    expect({ subject: person.subject, roles: person.roles }).toEqual({ subject: 'fiona.finance', roles: ['finance'] });
  });

  test('userinfo naming another subject is refused', async () => {
    userinfo = { sub: 'someone.else', roles: ['key-admin'] };
    await expect(signIn()).rejects.toThrow(/userinfo names another subject/);
  });
});
