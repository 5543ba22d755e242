/**
 * OAuth2 access tokens against the real authorization server (oidc-provider, started by the
 * global setup as the stack's `identity` component): a token places an order; a token refused
 * for any reason is a 401 problem; a missing scope is 403; another tenant's token finds
 * nothing; a rotated signing key is picked up without a restart. Crafted tokens are signed
 * with the server's own private key (its jwks.json), so each differs from a good one only in
 * what the test changes.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import { OPERATIONS } from '../../api/app';
import { IdentityProvider } from '../../scripts/stack/identity';
import { waitUntil } from '../../scripts/stack/proc';
import { registerTokenClient } from '../../services/access/token-clients';
import type { OrderStatus } from '../../services/orders/contract';
import { testConfig } from '../setup/test-config';
import { expectProblem, routeCases, startApiEnv, startPgApiEnv, type ApiEnv } from '../support/api-env';
import { freePort } from '../support/processes';
import { createCustomer, createProduct, waitForStatus } from '../support/fixtures';
import { eventually } from '../support/wait';

const TENANT = ['orders:write', 'orders:read', 'accounts:read'];
const stackIdp = new IdentityProvider(testConfig());
const identityEnv = (idp: IdentityProvider, extra: Record<string, string> = {}) => ({
  IDENTITY_ISSUER: idp.issuer,
  IDENTITY_CLOCK_SKEW_S: '5',
  ...extra,
});

let env: ApiEnv;
let customerA: string;
let customerB: string;
let sku: string;

beforeAll(async () => {
  await stackIdp.health(); // the global setup started it
  env = await startApiEnv(identityEnv(stackIdp));
  sku = await createProduct(env.db, { stock: 100, priceMinor: 500 });
  customerA = await createCustomer(env.db, { balanceMinor: 100_000 });
  customerB = await createCustomer(env.db, { balanceMinor: 100_000 });
  await registerTokenClient(env.db, 'order-saga-client-a', 'token client A', [customerA]);
  await registerTokenClient(env.db, 'order-saga-client-b', 'token client B', [customerB]);
});
afterAll(async () => {
  await env?.stop();
});

const bearer = (token: string) => ({ key: token });
const placeBody = (customerId: string) => ({ customerId, items: [{ sku, quantity: 1 }] });
/** This file's orders: other test files write orders of their own into the same database at the same time. */
const ours = () => ({ customerId: { in: [customerA, customerB] } });
/** Statuses a running saga leaves by itself. */
const MOVING: OrderStatus[] = ['PENDING', 'INVENTORY_RESERVED', 'PAYMENT_CAPTURED', 'COMPENSATING'];

const place = (token: string, customerId = customerA) =>
  env.call('POST', '/orders', { ...bearer(token), body: placeBody(customerId), headers: { 'idempotency-key': crypto.randomUUID() } });

/** The provider's current signing key (private) from its key file. */
function signingKey(idp: IdentityProvider): JWK {
  return (JSON.parse(fs.readFileSync(idp.keysFile, 'utf8')) as { keys: JWK[] }).keys[0]!;
}

/** A token like the provider's, signed with its key, with these claims changed. */
async function crafted(change: JWTPayload = {}, header: Record<string, unknown> = {}): Promise<string> {
  const jwk = signingKey(stackIdp);
  const now = Math.floor(Date.now() / 1000);
  const claims: JWTPayload = {
    iss: stackIdp.issuer,
    aud: stackIdp.seed.audience,
    sub: 'order-saga-client-a',
    client_id: 'order-saga-client-a',
    scope: TENANT.join(' '),
    iat: now,
    exp: now + 300,
    jti: crypto.randomUUID(),
    ...change,
  };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: jwk.kid!, ...header })
    .sign(await importJWK(jwk, 'RS256'));
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

test('when a client gets a token from the real server (client credentials), then it places an order that confirms', async () => {
  const token = await stackIdp.clientToken('order-saga-client-a', TENANT);
  const placed = await place(token);
  expect(placed.status).toBe(202);
  await waitForStatus(env.db, placed.body.orderId, 'CONFIRMED');
  const read = await env.call('GET', `/orders/${placed.body.orderId}`, bearer(token));
  expect({ status: read.status, customerId: read.body.customerId }).toEqual({ status: 200, customerId: customerA });
});

test('a crafted token with good claims and the real key is accepted (the refusals below are about what each changes)', async () => {
  expect((await env.call('GET', `/accounts/${customerA}`, bearer(await crafted()))).status).toBe(200);
});

const now = () => Math.floor(Date.now() / 1000);
const REFUSED: [string, () => Promise<string>][] = [
  ['an expired token (beyond the clock skew)', () => crafted({ iat: now() - 600, exp: now() - 60 })],
  ['a token not yet valid (nbf beyond the clock skew)', () => crafted({ nbf: now() + 120 })],
  ['a token for another audience', () => crafted({ aud: 'urn:someone-else:api' })],
  ['a token from another issuer', () => crafted({ iss: 'http://127.0.0.1:1/evil' })],
  ['an ID-token-typed JWT (typ JWT, not at+jwt)', () => crafted({}, { typ: 'JWT' })],
  [
    'alg: none',
    async () => {
      const [, payload] = (await crafted()).split('.');
      return `${b64({ alg: 'none', typ: 'at+jwt' })}.${payload}.`;
    },
  ],
  [
    'an HS256 token whose HMAC key is the public key',
    async () => {
      const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = signingKey(stackIdp);
      const pem = crypto.createPublicKey({ key: publicJwk as crypto.JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
      const [, payload] = (await crafted()).split('.');
      const head = b64({ alg: 'HS256', typ: 'at+jwt', kid: publicJwk.kid });
      const sig = crypto.createHmac('sha256', pem).update(`${head}.${payload}`).digest('base64url');
      return `${head}.${payload}.${sig}`;
    },
  ],
  [
    'a token signed by a key the issuer never published (unknown kid)',
    async () => {
      const { privateKey } = await generateKeyPair('RS256', { extractable: true });
      const kid = `unknown-${crypto.randomUUID()}`;
      const claims = { iss: stackIdp.issuer, aud: stackIdp.seed.audience, client_id: 'order-saga-client-a', scope: TENANT.join(' ') };
      return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid }).setExpirationTime('5m').sign(privateKey);
    },
  ],
  ['a token of an OAuth2 client not registered with the API', () => crafted({ client_id: 'order-saga-admin', sub: 'order-saga-admin' })],
];

test.each(REFUSED)('when the API gets %s, then 401 with a problem body and nothing is written', async (_what, make) => {
  const before = await env.db.order.count({ where: ours() });
  const reply = await place(await make());
  expectProblem(reply, 401, 'unauthorized');
  expect(reply.body.code).toBe('UNAUTHORIZED');
  expect(reply.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
  expect(await env.db.order.count({ where: ours() })).toBe(before);
});

test('when a token lacks the scope a route needs, then 403 naming the permission, and nothing is written', async () => {
  const readOnly = await stackIdp.clientToken('order-saga-client-a', ['orders:read', 'accounts:read']);
  const before = await env.db.order.count({ where: ours() });
  const reply = await place(readOnly);
  expectProblem(reply, 403, 'forbidden');
  expect(reply.body.detail).toMatch(/"orders:write"/);
  expect(reply.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
  expect(await env.db.order.count({ where: ours() })).toBe(before);
  expect((await env.call('GET', `/accounts/${customerA}`, bearer(readOnly))).status).toBe(200);
});

/** Every order of this file's customers, id and status: what a refused call must leave as it was. */
const orderStates = () => env.db.order.findMany({ where: ours(), select: { id: true, status: true }, orderBy: { id: 'asc' } });

describe("another tenant's token, route by route (the cross-tenant walk of security.test.ts with tokens)", () => {
  let orderA: string;
  let tokenB: string;
  let tokenA: string;
  beforeAll(async () => {
    tokenA = await stackIdp.clientToken('order-saga-client-a', TENANT);
    tokenB = await stackIdp.clientToken('order-saga-client-b', TENANT);
    const placed = await place(tokenA);
    expect(placed.status).toBe(202);
    orderA = placed.body.orderId;
    await waitForStatus(env.db, orderA, 'CONFIRMED');
    // The file's earlier orders too: a saga still moving would read as a change the walk made.
    await eventually(async () => (await env.db.order.count({ where: { ...ours(), status: { in: MOVING } } })) === 0, {
      timeoutMs: 60_000,
      what: "this file's earlier orders to come to rest",
    });
  });
  const url = (p: string) => p.replace(':id', orderA).replace(':customerId', customerA).replace(':sku', sku);
  const body = (method: string, p: string) =>
    method === 'get' ? undefined : p === '/orders' ? placeBody(customerA) : p.endsWith('/cancel') ? { reason: 'walk' } : {};

  test.each(routeCases(OPERATIONS.filter((o) => o.access === 'client')))(
    "when client B's token calls %s on tenant A's order or customer, then 404 and no order changes",
    async (_name, op) => {
      const before = await orderStates();
      const reply = await env.call(op.method.toUpperCase(), url(op.path), {
        ...bearer(tokenB),
        body: body(op.method, op.path),
        headers: { 'idempotency-key': crypto.randomUUID() },
      });
      expectProblem(reply, 404, 'not-found');
      expect(await orderStates()).toEqual(before);
    },
  );

  test.each(routeCases(OPERATIONS.filter((o) => o.access === 'admin')))(
    'when a tenant-scoped token calls the admin route %s, then 403',
    async (_name, op) => {
      const reply = await env.call(op.method.toUpperCase(), url(op.path), {
        ...bearer(tokenA),
        body: op.method === 'get' || op.method === 'delete' ? undefined : {},
        headers: { 'idempotency-key': crypto.randomUUID() },
      });
      expectProblem(reply, 403, 'forbidden');
    },
  );

  test("the owner's token gets through on the same routes (the 404s are about the tenant)", async () => {
    expect((await env.call('GET', `/orders/${orderA}`, bearer(tokenA))).status).toBe(200);
    expect((await env.call('GET', `/orders/${orderA}/timeline`, bearer(tokenA))).status).toBe(200);
    expect((await env.call('GET', `/accounts/${customerA}`, bearer(tokenA))).status).toBe(200);
  });
});

describe('signing key rotation (a provider of its own, so rotating disturbs no other test)', () => {
  let idp: IdentityProvider;
  let rotEnv: ApiEnv;
  let dir: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'identity-rotation-'));
    idp = new IdentityProvider(testConfig(), { dir, port: await freePort() });
    await idp.start();
    await waitUntil(() => idp.health(), { timeoutMs: 60_000, what: 'the rotation test provider' });
    rotEnv = await startPgApiEnv(identityEnv(idp, { IDENTITY_JWKS_COOLDOWN_MS: '0' }));
    await registerTokenClient(rotEnv.db, 'order-saga-client-a', 'token client A', [customerA]);
  });
  afterAll(async () => {
    await rotEnv?.stop();
    await idp?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('when the issuer rotates its key, then new tokens are accepted without a restart and tokens of the dropped key are 401', async () => {
    const read = (token: string) => rotEnv.call('GET', `/accounts/${customerA}`, bearer(token));
    const before = await idp.clientToken('order-saga-client-a', TENANT);
    expect((await read(before)).status).toBe(200); // the API has fetched and cached the first key
    const rotated = await idp.rotateKeys(0); // the old key is no longer published
    const after = await idp.clientToken('order-saga-client-a', TENANT);
    expect(JSON.parse(Buffer.from(after.split('.')[0]!, 'base64url').toString()).kid).toBe(rotated.kid);
    expect((await read(after)).status).toBe(200); // unknown kid -> JWKS refetched -> accepted
    const stale = await read(before);
    expectProblem(stale, 401, 'unauthorized');
    expect(stale.body.detail).toMatch(/signing key/);
  });
});
