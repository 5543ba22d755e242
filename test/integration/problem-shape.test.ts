/**
 * One problem shape, walked from the OpenAPI document the API serves: every route gets bad
 * input (no key, a wrong key, a client key on admin routes, another tenant's key, a wrong
 * content type, malformed JSON, an invalid or oversized body, a missing or invalid
 * Idempotency-Key, unknown ids, malformed path parameters, bad paging), and every error
 * answer is application/problem+json with type, title, status, detail, instance and a code
 * that the document declares for that route and status. PostgreSQL only: nothing here runs a
 * saga.
 */
import crypto from 'node:crypto';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { createApp, OPERATIONS } from '../../api/app';
import type { Operation } from '../../api/operation';
import { PROBLEMS } from '../../api/problem-catalog';
import { problemSlug } from '../../api/problem';
import { ProblemBody, ProblemDoc } from '../../api/schemas';
import { createLogger } from '../../lib/logger';
import { beginIdempotent, requestFingerprint } from '../../services/access/idempotency';
import { LIMITS_OFF, startPgApiEnv, type ApiEnv, type Reply } from '../support/api-env';
import { createCustomer, createProduct } from '../support/fixtures';

let env: ApiEnv;
let doc: { paths: Record<string, Record<string, { responses: Record<string, any> }>> }; // eslint-disable-line @typescript-eslint/no-explicit-any
let customerA: string;
let sku: string;

beforeAll(async () => {
  // The walk sends many bad keys from one address: limits out of the way (429 has its own test).
  env = await startPgApiEnv(LIMITS_OFF);
  doc = (await env.call('GET', '/openapi.json', { key: null })).body;
  sku = await createProduct(env.db, { stock: 10, priceMinor: 100 });
  customerA = await createCustomer(env.db, { balanceMinor: 1000, grantTo: [env.keys.clientA.id] });
});
afterAll(async () => {
  await env?.stop();
});

const docPath = (op: Operation) => op.path.replace(/:([A-Za-z]+)/g, '{$1}');
const declaredCodes = (op: Operation, status: number): string[] =>
  doc.paths[docPath(op)]?.[op.method]?.responses[String(status)]?.content?.['application/problem+json']?.schema?.allOf?.[1]?.properties
    ?.code?.enum ?? [];

/** The full shape, and (for a route) a code the document declares for this route and status. */
function expectProblem(reply: Reply, status: number, op: Operation | null, url: string): void {
  const what = `${reply.status} ${JSON.stringify(reply.body)}`;
  expect({ what, status: reply.status }).toEqual({ what, status });
  expect(reply.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = ProblemBody.parse(reply.body);
  for (const member of ['type', 'title', 'detail', 'instance', 'code'] as const) expect(typeof body[member]).toBe('string');
  expect(body.status).toBe(status);
  expect(body.instance).toBe(url);
  expect(body.detail.length).toBeGreaterThan(0);
  expect(body.type).toBe(`/problems/${problemSlug(body.code)}`);
  const defined = PROBLEMS.find((p) => p.kind.code === body.code);
  expect({ code: body.code, defined: Boolean(defined) }).toEqual({ code: body.code, defined: true });
  expect({ code: body.code, title: body.title, status: body.status }).toEqual({
    code: defined!.kind.code,
    title: defined!.kind.title,
    status: defined!.kind.status,
  });
  if (op) {
    const route = `${op.method} ${op.path}`;
    expect({ route, status, code: body.code, declared: declaredCodes(op, status).includes(body.code) }).toEqual({
      route,
      status,
      code: body.code,
      declared: true,
    });
  }
}

interface BadInput {
  key?: 'none' | 'wrong' | 'basic' | 'client' | 'clientB' | 'admin';
  params?: Record<string, string>;
  query?: string;
  body?: unknown;
  raw?: string;
  /** Send the route's good body with a NUL in every string (built when the fixtures exist). */
  nulBody?: boolean;
  contentType?: string;
  idempotencyKey?: string | null;
  status: number;
  code: string;
}

const ZERO_UUID = '00000000-0000-4000-8000-000000000000';
/** Ids that name nothing, and ids that cannot name anything. */
const UNKNOWN: Record<string, string> = { id: ZERO_UUID, customerId: 'nobody', sku: 'NO-SUCH-SKU', slug: 'no-such-problem' };
const MALFORMED: Record<string, string> = { id: 'not-an-id', customerId: '%20', sku: '%20', slug: '%20' };
/** Path parameters the database could not store, and ones the router cannot decode. */
const CONTROL_IN_PATH: Record<string, string> = { id: 'x%00', customerId: 'x%00', sku: 'x%00', slug: 'x%00' };
const UNDECODABLE: Record<string, string> = { id: '%ff', customerId: '%ff', sku: '%ff', slug: '%ff' };

/** The good body with a NUL in every string (or in a list of strings that was empty). */
function withNul(body: unknown): unknown {
  if (typeof body === 'string') return `${body}\u0000`;
  if (Array.isArray(body)) return body.length === 0 ? ['x\u0000'] : body.map(withNul);
  if (body && typeof body === 'object') return Object.fromEntries(Object.entries(body).map(([k, v]) => [k, withNul(v)]));
  return body;
}

/** A body the route accepts in shape, so a refusal is about the input under test. */
function goodBody(op: Operation): unknown {
  if (op.path === '/orders') return { customerId: customerA, items: [{ sku, quantity: 1 }] };
  if (op.path.endsWith('/cancel') || op.path.endsWith('/compensate')) return { reason: 'walk' };
  if (op.path === '/admin/products') return { sku: 'WALK', name: 'x', unitPriceMinor: 1, currency: 'EUR' };
  if (op.path === '/admin/accounts') return { customerId: 'walk', currency: 'EUR', depositMinor: 1 };
  if (op.path === '/admin/api-keys') return { name: 'walk', role: 'client' };
  if (op.path.endsWith('/customers')) return { customers: [] };
  if (op.path === '/admin/reconciliation/runs') return { mode: 'full' };
  return {};
}

const PAGED = new Set([
  'get /accounts/:customerId',
  'get /admin/accounts/:customerId',
  'get /admin/api-keys',
  'get /admin/dlq',
  'get /admin/reconciliation/findings',
]);

/** Stand-ins in the cases (built before the fixtures exist) for tenant A's customer and a real sku. */
const CUSTOMER_A = '<customer A>';
const SKU = '<sku>';
const fill = (v: unknown): unknown =>
  v === undefined
    ? undefined
    : JSON.parse(
        JSON.stringify(v)
          .replaceAll(JSON.stringify(CUSTOMER_A), JSON.stringify(customerA))
          .replaceAll(JSON.stringify(SKU), JSON.stringify(sku)),
      );

/** The bad inputs one operation gets. */
function badInputs(op: Operation): [string, BadInput][] {
  const own = op.access === 'admin' ? 'admin' : 'client';
  const cases: [string, BadInput][] = [];
  if (op.access !== 'public') {
    cases.push(['no key', { key: 'none', status: 401, code: 'UNAUTHORIZED' }]);
    cases.push(['a wrong key', { key: 'wrong', status: 401, code: 'UNAUTHORIZED' }]);
    cases.push(['a Basic authorization', { key: 'basic', status: 401, code: 'UNAUTHORIZED' }]);
  }
  if (op.access === 'admin') cases.push(['a client key', { key: 'client', status: 403, code: 'FORBIDDEN' }]);
  if (op.path === '/accounts/:customerId') {
    cases.push(["another tenant's key", { key: 'clientB', status: 404, code: 'NOT_FOUND' }]);
  }
  if (op.path === '/orders' && op.method === 'post') {
    cases.push(["another tenant's key", { key: 'clientB', status: 404, code: 'NOT_FOUND' }]);
    const items = (...skus: string[]) => ({ customerId: CUSTOMER_A, items: skus.map((s) => ({ sku: s, quantity: 1 })) });
    cases.push(['an unknown sku', { body: items('NO-SUCH-SKU'), status: 422, code: 'UNKNOWN_SKU' }]);
    cases.push(['a repeated sku', { body: items(SKU, SKU), status: 422, code: 'DUPLICATE_SKU' }]);
    cases.push(['an unknown customer', { body: { ...items(SKU), customerId: 'nobody' }, status: 404, code: 'NOT_FOUND' }]);
  }
  if (op.request) {
    cases.push(['a wrong content type', { key: own, raw: 'a=b', contentType: 'text/plain', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' }]);
    cases.push(['malformed JSON', { key: own, raw: '{"reason": ', status: 400, code: 'MALFORMED_JSON' }]);
    cases.push(['a JSON array for a body', { key: own, raw: '[]', status: 400, code: 'VALIDATION_ERROR' }]);
    cases.push(['an invalid body', { key: own, body: { sneaky: true }, status: 400, code: 'VALIDATION_ERROR' }]);
    cases.push(['a NUL in every string of the body', { key: own, nulBody: true, status: 400, code: 'VALIDATION_ERROR' }]);
    cases.push(['an oversized body', { key: own, raw: JSON.stringify({ x: 'x'.repeat(20_000) }), status: 413, code: 'PAYLOAD_TOO_LARGE' }]);
  }
  if (op.idempotencyKey) {
    cases.push(['no Idempotency-Key', { key: own, idempotencyKey: null, status: 400, code: 'IDEMPOTENCY_KEY_MISSING' }]);
    cases.push([
      'a 256-character Idempotency-Key',
      { key: own, idempotencyKey: 'k'.repeat(256), status: 400, code: 'IDEMPOTENCY_KEY_INVALID' },
    ]);
  }
  if (op.path.includes(':')) {
    cases.push(['unknown ids', { key: own, params: UNKNOWN, status: 404, code: 'NOT_FOUND' }]);
    cases.push(['malformed path parameters', { key: own, params: MALFORMED, status: 404, code: 'NOT_FOUND' }]);
    cases.push(['a NUL in the path parameters', { key: own, params: CONTROL_IN_PATH, status: 400, code: 'MALFORMED_PATH' }]);
    cases.push(['undecodable percent-encoding in the path', { key: own, params: UNDECODABLE, status: 400, code: 'MALFORMED_PATH' }]);
  }
  if (PAGED.has(`${op.method} ${op.path}`)) {
    cases.push(['limit=0', { key: own, query: '?limit=0', status: 400, code: 'VALIDATION_ERROR' }]);
    cases.push(['an unknown query field', { key: own, query: '?x=1', status: 400, code: 'VALIDATION_ERROR' }]);
    cases.push(['a NUL in a query parameter', { key: own, query: '?limit=1%00', status: 400, code: 'VALIDATION_ERROR' }]);
  }
  return cases;
}

const WALK = OPERATIONS.flatMap((op) =>
  badInputs(op).map(([what, input]) => [`${op.method.toUpperCase()} ${op.path}`, what, op, input] as const),
);

test('the walk covers every operation that can refuse input', () => {
  const walked = new Set(WALK.map(([route]) => route));
  const quiet = OPERATIONS.filter((op) => !walked.has(`${op.method.toUpperCase()} ${op.path}`)).map((op) => `${op.method} ${op.path}`);
  // Only public routes without input cannot be given a bad one.
  expect(quiet.sort()).toEqual(['get /healthz', 'get /openapi.json', 'get /readyz']);
  expect(WALK.length).toBeGreaterThan(100);
});

test.each(WALK)('%s with %s answers the full problem shape with a declared code', async (_route, _what, op, input) => {
  const keys = {
    none: null,
    wrong: `osk_${'0'.repeat(32)}_${'x'.repeat(43)}`,
    basic: null,
    client: env.keys.clientA.key,
    clientB: env.keys.clientB.key,
    admin: env.keys.admin.key,
  };
  const keyName = input.key ?? (op.access === 'admin' ? 'admin' : 'client');
  // Real ids unless the case is about ids: the refusal is then about the input under test.
  const params: Record<string, string> = { ...UNKNOWN, customerId: customerA, sku, ...input.params };
  const url = op.path.replace(/:([A-Za-z]+)/g, (_m, name: string) => params[name] ?? 'x') + (input.query ?? '');
  const headers: Record<string, string> = {};
  if (keyName === 'basic') headers.authorization = 'Basic YTpi';
  if (op.idempotencyKey && input.idempotencyKey !== null) headers['idempotency-key'] = input.idempotencyKey ?? crypto.randomUUID();
  const body = input.nulBody ? withNul(goodBody(op)) : fill(input.body);
  const sendsBody = op.request !== undefined || input.raw !== undefined || input.body !== undefined;
  if (sendsBody) headers['content-type'] = input.contentType ?? 'application/json';
  const raw = input.raw ?? (sendsBody ? JSON.stringify(body ?? goodBody(op)) : undefined);
  const reply = await env.call(op.method.toUpperCase(), url, { key: keys[keyName], headers, raw });
  expectProblem(reply, input.status, op, url);
  expect(reply.body.code).toBe(input.code);
  if (input.code === 'UNAUTHORIZED') expect(reply.headers.get('www-authenticate')).toMatch(/^Bearer/);
});

test('an unknown route and an unknown method are NOT_FOUND problems', async () => {
  for (const [method, url] of [
    ['GET', '/no/such/route'],
    ['PATCH', '/orders'],
  ] as const) {
    const reply = await env.call(method, url, { key: null });
    expectProblem(reply, 404, null, url);
    expect(reply.body.code).toBe('NOT_FOUND');
  }
});

test('an Idempotency-Key in flight answers IDEMPOTENCY_KEY_IN_FLIGHT (retryable), one reused with another body IDEMPOTENCY_KEY_REUSED', async () => {
  const op = OPERATIONS.find((o) => o.method === 'post' && o.path === '/admin/accounts')!;
  const k = crypto.randomUUID();
  const body = { customerId: `walk-${k.slice(0, 8)}`, currency: 'EUR', depositMinor: 5 };
  const post = (b: unknown) => env.call('POST', '/admin/accounts', { key: env.keys.admin.key, body: b, headers: { 'idempotency-key': k } });
  expect((await post(body)).status).toBe(201);
  const reused = await post({ ...body, depositMinor: 6 });
  expectProblem(reused, 422, op, '/admin/accounts');
  expect(reused.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
  // A lease held by a request still running (on another instance, say).
  const held = crypto.randomUUID();
  await beginIdempotent(env.db, env.keys.admin.id, held, requestFingerprint('POST', '/admin/accounts', body));
  const inFlight = await env.call('POST', '/admin/accounts', { key: env.keys.admin.key, body, headers: { 'idempotency-key': held } });
  expectProblem(inFlight, 409, op, '/admin/accounts');
  expect({ code: inFlight.body.code, retryAfter: inFlight.headers.get('retry-after') }).toEqual({
    code: 'IDEMPOTENCY_KEY_IN_FLIGHT',
    retryAfter: expect.stringMatching(/^\d+$/),
  });
});

test('a domain refusal carries its code: a product whose currency would change is CURRENCY_MISMATCH', async () => {
  const op = OPERATIONS.find((o) => o.method === 'post' && o.path === '/admin/products')!;
  const reply = await env.call('POST', '/admin/products', {
    key: env.keys.admin.key,
    body: { sku, name: 'x', unitPriceMinor: 1, currency: 'USD' },
    headers: { 'idempotency-key': crypto.randomUUID() },
  });
  expectProblem(reply, 422, op, '/admin/products');
  expect(reply.body.code).toBe('CURRENCY_MISMATCH');
});

test('a failure nobody expected is INTERNAL_ERROR with the request id, and writes nothing', async () => {
  const op = OPERATIONS.find((o) => o.method === 'post' && o.path === '/orders')!;
  const before = await env.db.order.count({ where: { customerId: customerA } });
  env.faults.add({ point: 'api.order.beforeCommit', action: 'fail', times: 1 });
  const requestId = crypto.randomUUID();
  const reply = await env.call('POST', '/orders', {
    body: { customerId: customerA, items: [{ sku, quantity: 1 }] },
    headers: { 'idempotency-key': crypto.randomUUID(), 'x-request-id': requestId },
  });
  env.faults.clear();
  expectProblem(reply, 500, op, '/orders');
  expect(reply.body.code).toBe('INTERNAL_ERROR');
  expect(reply.body.detail).toContain(requestId);
  expect(await env.db.order.count({ where: { customerId: customerA } })).toBe(before);
});

test('over a rate limit is RATE_LIMITED with Retry-After', async () => {
  const limited = await startPgApiEnv({ RATE_LIMIT_ANONYMOUS: '2', RATE_LIMIT_WINDOW_S: '60' });
  try {
    const op = OPERATIONS.find((o) => o.path === '/healthz')!;
    const replies = [];
    for (let i = 0; i < 3; i++) replies.push(await limited.call('GET', '/healthz', { key: null }));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 429]);
    expectProblem(replies[2]!, 429, op, '/healthz');
    expect({ code: replies[2]!.body.code, retryAfter: Number(replies[2]!.headers.get('retry-after')) }).toEqual({
      code: 'RATE_LIMITED',
      retryAfter: expect.any(Number),
    });
  } finally {
    await limited.stop();
  }
});

test('a dependency down makes /readyz UNAVAILABLE', async () => {
  const app = createApp({
    cfg: env.cfg,
    db: env.db,
    log: createLogger('problem-shape-test', 'silent'),
    temporal: env.client,
    faults: env.faults,
    kafka: new Kafka({ clientId: 'problem-shape-test', brokers: env.cfg.kafka.brokers, logLevel: logLevel.NOTHING }),
    readiness: { database: async () => undefined, kafka: () => Promise.reject(new Error('down')) },
  });
  const server = await new Promise<http.Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`);
    const reply: Reply = { status: res.status, headers: res.headers, body: await res.json() };
    expectProblem(
      reply,
      503,
      OPERATIONS.find((o) => o.path === '/readyz')!,
      '/readyz',
    );
    expect(reply.body.code).toBe('UNAVAILABLE');
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('every problem type resolves: GET <type> documents the problem', async () => {
  for (const p of PROBLEMS) {
    const reply = await env.call('GET', p.type, { key: null });
    expect({ type: p.type, status: reply.status }).toEqual({ type: p.type, status: 200 });
    expect(ProblemDoc.parse(reply.body)).toEqual({
      type: p.type,
      code: p.kind.code,
      status: p.kind.status,
      title: p.kind.title,
      when: p.kind.when,
      action: p.kind.action,
      retryable: p.kind.retryable,
    });
  }
});

test('the document declares code in the problem schema, and Location on the 202 of a cancel', () => {
  const components = (doc as unknown as { components: { schemas: { Problem: { required: string[]; properties: object } } } }).components;
  expect(components.schemas.Problem.required).toEqual(expect.arrayContaining(['type', 'title', 'status', 'detail', 'instance', 'code']));
  const cancel = doc.paths['/orders/{id}/cancel']!.post!.responses;
  expect(cancel['202'].headers.Location).toBeDefined();
  expect(cancel['503'].content['application/problem+json'].schema.allOf[1].properties.code.enum).toEqual(
    expect.arrayContaining(['SAGA_UNAVAILABLE']),
  );
  expect(cancel['409'].content['application/problem+json'].schema.allOf[1].properties.code.enum).toEqual(['ORDER_NOT_CANCELLABLE']);
});
