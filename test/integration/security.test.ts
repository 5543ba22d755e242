/**
 * The trust boundary, route by route, from the OpenAPI document the API serves: another
 * tenant's key finds nothing and changes nothing, client keys cannot use admin routes,
 * unknown fields are refused everywhere, bursts are rate limited, and no log line carries a
 * secret or a card-like number. Brute force and X-Forwarded-For: api-http.test.ts.
 */
import crypto from 'node:crypto';
import { Writable } from 'node:stream';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { createApp, OPERATIONS } from '../../api/app';
import { createLogger } from '../../lib/logger';
import { routeCases, startApiEnv, type ApiEnv, type Reply } from '../support/api-env';
import { createPipelineEnv, type PipelineEnv } from '../support/processes';
import { createCustomer, createProduct, waitForStatus } from '../support/fixtures';

const CLIENT_LIMIT = 30;

let env: ApiEnv;
const logged: string[] = [];
let customerA: string;
let customerB: string;
let orderA: string;
let sku: string;
let own: PipelineEnv | undefined;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      logged.push(String(chunk));
      done();
    },
  });
  // A database of its own: the footprint below counts whole tables, which other test files
  // running at the same time write to.
  own = await createPipelineEnv('security');
  env = await startApiEnv(
    { ...own.env, RATE_LIMIT_CLIENT: String(CLIENT_LIMIT), RATE_LIMIT_WINDOW_S: '60' },
    undefined,
    createLogger('security-test', 'info', sink),
  );
  sku = await createProduct(env.db, { stock: 100, priceMinor: 500 });
  customerA = await createCustomer(env.db, { balanceMinor: 100_000, grantTo: [env.keys.clientA.id] });
  customerB = await createCustomer(env.db, { balanceMinor: 100_000, grantTo: [env.keys.clientB.id] });
  const placed = await env.call('POST', '/orders', {
    body: { customerId: customerA, items: [{ sku, quantity: 1 }] },
    headers: { 'idempotency-key': crypto.randomUUID() },
  });
  expect(placed.status).toBe(202);
  orderA = placed.body.orderId;
  await waitForStatus(env.db, orderA, 'CONFIRMED');
});
afterAll(async () => {
  await env?.stop();
  await own?.close();
});

/** What a request could have changed: row counts of every table a route writes. */
async function footprint() {
  const [row] = await env.db.$queryRawUnsafe<Record<string, bigint>[]>(`
    SELECT (SELECT count(*) FROM orders) AS orders, (SELECT count(*) FROM payments) AS payments,
           (SELECT count(*) FROM ledger_transactions) AS ledger, (SELECT count(*) FROM outbox_events) AS outbox,
           (SELECT count(*) FROM api_keys) AS keys, (SELECT count(*) FROM api_keys WHERE revoked_at IS NOT NULL) AS revoked,
           (SELECT count(*) FROM api_key_customers) AS grants, (SELECT count(*) FROM products) AS products,
           (SELECT COALESCE(sum(available), 0) FROM products) AS stock, (SELECT count(*) FROM dead_letters WHERE replay_count > 0) AS replayed`);
  return row;
}

/** A concrete URL for a documented path, naming tenant A's order and customer. */
function urlFor(path: string): string {
  return path.replace(':id', orderA).replace(':customerId', customerA).replace(':sku', sku);
}

/** A body the route would accept in shape (so a refusal is about the caller, not the body). */
function bodyFor(method: string, path: string): unknown {
  if (method === 'get' || method === 'delete') return undefined;
  if (path === '/orders') return { customerId: customerA, items: [{ sku, quantity: 1 }] };
  if (path.endsWith('/cancel') || path.endsWith('/compensate')) return { reason: 'security test' };
  if (path === '/admin/products')
    return { sku: `SEC-${crypto.randomUUID().slice(0, 6)}`, name: 'x', unitPriceMinor: 1, currency: 'EUR', addStock: 1 };
  if (path === '/admin/accounts') return { customerId: `sec-${crypto.randomUUID().slice(0, 6)}`, currency: 'EUR', depositMinor: 1 };
  if (path === '/admin/api-keys') return { name: 'sec', role: 'admin' };
  if (path.endsWith('/customers')) return { customers: [customerB] };
  return {};
}

const call = (op: (typeof OPERATIONS)[number], key: string, body = bodyFor(op.method, op.path)): Promise<Reply> =>
  env.call(op.method.toUpperCase(), urlFor(op.path), { key, body, headers: { 'idempotency-key': crypto.randomUUID() } });

const clientOps = OPERATIONS.filter((o) => o.access === 'client');
const adminOps = OPERATIONS.filter((o) => o.access === 'admin');

test('the document lists client and admin routes (so the walks below walk something)', () => {
  expect(clientOps.map((o) => `${o.method} ${o.path}`)).toEqual(
    expect.arrayContaining([
      'post /orders',
      'get /orders/:id',
      'get /orders/:id/timeline',
      'post /orders/:id/cancel',
      'get /accounts/:customerId',
    ]),
  );
  expect(adminOps.length).toBeGreaterThanOrEqual(10);
});

test.each(clientOps.map((o) => [`${o.method.toUpperCase()} ${o.path}`, o] as const))(
  "when another tenant's key calls %s on tenant A's order or customer, then 404 and nothing changes",
  async (_name, op) => {
    const before = await footprint();
    const reply = await call(op, env.keys.clientB.key);
    expect({ status: reply.status, type: reply.body?.type }).toEqual({ status: 404, type: expect.stringMatching(/\/not-found$/) });
    // The answer is the one a missing id gets: nothing tells B that A's order or customer exists.
    expect(reply.body.detail).not.toMatch(/grant/i);
    expect(await footprint()).toEqual(before);
  },
);

test('the owner of the order and customer gets through on the same routes (the 404s above are about the tenant)', async () => {
  expect((await env.call('GET', `/orders/${orderA}`)).status).toBe(200);
  expect((await env.call('GET', `/accounts/${customerA}`)).status).toBe(200);
  expect((await env.call('GET', `/orders/${orderA}/timeline`)).status).toBe(200);
});

test.each(adminOps.map((o) => [`${o.method.toUpperCase()} ${o.path}`, o] as const))(
  'when a client key calls the admin route %s, then 403 and nothing changes',
  async (_name, op) => {
    const before = await footprint();
    const reply = await call(op, env.keys.clientA.key);
    expect({ status: reply.status, type: reply.body?.type }).toEqual({ status: 403, type: expect.stringMatching(/\/forbidden$/) });
    expect(await footprint()).toEqual(before);
  },
);

test.each(routeCases(OPERATIONS.filter((o) => o.request)))(
  'when the body of %s has an unknown field, then 400 naming it and nothing changes',
  async (_name, op) => {
    const key = op.access === 'admin' ? env.keys.admin.key : env.keys.clientA.key;
    const before = await footprint();
    const reply = await call(op, key, { ...(bodyFor(op.method, op.path) as object), sneaky: true });
    expect(reply.status).toBe(400);
    expect(reply.body.errors).toEqual(expect.arrayContaining([{ pointer: '/sneaky', detail: 'unknown field "sneaky"' }]));
    expect(await footprint()).toEqual(before);
  },
);

test('a client sees step outcomes but not their detail text (stock counts, driver messages); an admin sees it', async () => {
  const scarce = await createProduct(env.db, { stock: 1, priceMinor: 500 });
  const placed = await env.call('POST', '/orders', {
    body: { customerId: customerA, items: [{ sku: scarce, quantity: 5 }] },
    headers: { 'idempotency-key': crypto.randomUUID() },
  });
  await waitForStatus(env.db, placed.body.orderId, 'REJECTED');
  const failed = (view: Reply) =>
    view.body.steps.find((st: { name: string; status: string }) => st.name === 'reserveInventory' && st.status === 'FAILED');
  const asAdmin = await env.call('GET', `/orders/${placed.body.orderId}`, { key: env.keys.admin.key });
  expect(failed(asAdmin).detail).toMatch(/available 1/); // the internal text exists...
  const asClient = await env.call('GET', `/orders/${placed.body.orderId}`);
  expect({ status: asClient.body.status, failureReason: asClient.body.failureReason, detail: failed(asClient).detail }).toEqual({
    status: 'REJECTED',
    failureReason: 'OUT_OF_STOCK',
    detail: null, // ...and the client does not see it
  });
  expect(JSON.stringify(asClient.body)).not.toMatch(/available \d/);
});

test('readyz without admin credentials says only up or down per component; an admin sees why', async () => {
  const app = createApp({
    cfg: env.cfg,
    db: env.db,
    log: createLogger('readyz-test', 'silent'),
    temporal: env.client,
    faults: env.faults,
    kafka: new Kafka({ clientId: 'readyz-test', brokers: env.cfg.kafka.brokers, logLevel: logLevel.NOTHING }),
    readiness: { database: async () => undefined, kafka: () => Promise.reject(new Error('connect ECONNREFUSED 10.1.2.3:9092')) },
  });
  const server = await new Promise<http.Server>((resolve) => {
    const s2 = app.listen(0, '127.0.0.1', () => resolve(s2));
  });
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`;
    const anon = await fetch(url);
    expect({ status: anon.status, checks: ((await anon.json()) as { checks: unknown }).checks }).toEqual({
      status: 503,
      checks: { database: 'ok', kafka: 'down' },
    });
    const admin = await fetch(url, { headers: { authorization: `Bearer ${env.keys.admin.key}` } });
    expect(((await admin.json()) as { checks: { kafka: string } }).checks.kafka).toMatch(/ECONNREFUSED 10\.1\.2\.3/);
    const client = await fetch(url, { headers: { authorization: `Bearer ${env.keys.clientA.key}` } });
    expect(((await client.json()) as { checks: { kafka: string } }).checks.kafka).toBe('down');
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test(`when one key bursts past ${CLIENT_LIMIT} requests per window, then the rest get 429 with Retry-After and RateLimit headers`, async () => {
  const { key } = await (await import('../../services/access/api-keys')).createApiKey(env.db, 'burst', 'client', [customerA]);
  const replies = await Promise.all(Array.from({ length: CLIENT_LIMIT + 20 }, () => env.call('GET', `/accounts/${customerA}`, { key })));
  const ok = replies.filter((r) => r.status === 200);
  const limited = replies.filter((r) => r.status === 429);
  process.stderr.write(
    `[security] burst of ${replies.length} with one key (limit ${CLIENT_LIMIT}/60 s): ${ok.length} answered 200, ${limited.length} answered 429\n`,
  );
  expect({ ok: ok.length, limited: limited.length }).toEqual({ ok: CLIENT_LIMIT, limited: 20 });
  for (const r of limited) {
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(r.headers.get('ratelimit-policy')).toBe(`"client";q=${CLIENT_LIMIT};w=60`);
    expect(r.headers.get('ratelimit')).toMatch(/^"client";r=0;t=\d+$/);
    expect(r.body.type).toMatch(/\/rate-limited$/);
  }
  expect(ok[0]!.headers.get('ratelimit')).toMatch(/^"client";r=\d+;t=\d+$/);
  // Another key is not affected by this one's burst.
  expect((await env.call('GET', `/accounts/${customerA}`)).status).toBe(200);
});

test('no log line of the run holds an API key or a card-like number', () => {
  const text = logged.join('');
  expect(text.length).toBeGreaterThan(1000);
  for (const k of Object.values(env.keys)) expect(text.includes(k.key)).toBe(false);
  const withoutIds = text.replace(/"(traceId|spanId)":"[0-9a-f]+"/g, '"$1":""');
  expect(withoutIds.match(/(?<![0-9A-Za-z])[0-9]{13,19}(?![0-9A-Za-z])/g)).toBeNull();
});
