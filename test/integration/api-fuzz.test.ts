/**
 * Property-based fuzz over every route of the OpenAPI document the API serves (fast-check):
 * generated path parameters (odd Unicode, NUL and control characters, lone surrogates as their
 * CESU bytes, raw bytes, malformed percent-encoding), query strings, headers and bodies (wrong
 * types, huge numbers, extra fields, invalid UTF-8, malformed JSON), each sent with a key the
 * route accepts most of the time. Every answer is below 500, every 4xx is a problem+json body
 * of the documented shape, and every saga the fuzz starts (a 202 for POST /orders) ends in a
 * status an operator sees. The seed is fixed (FUZZ_SEED to replay another, FUZZ_RUNS for more
 * runs); fast-check prints the seed and path of a failing run.
 */
import crypto from 'node:crypto';
import fc from 'fast-check';
import { ProblemBody } from '../../api/schemas';
import { LIMITS_OFF, startApiEnv, type ApiEnv } from '../support/api-env';
import { rawRequest } from '../support/raw-http';
import { createCustomer, createProduct, placeOrder } from '../support/fixtures';
import { eventually } from '../support/wait';

const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
const RUNS = Number(process.env.FUZZ_RUNS ?? 100);
/** What an operator sees and acts on: an order in any other status is still moving (or stuck). */
const OPERATOR_VISIBLE = ['CONFIRMED', 'REJECTED', 'COMPENSATED', 'NEEDS_ATTENTION'];

let env: ApiEnv;
let doc: { paths: Record<string, Record<string, { requestBody?: unknown; security?: unknown[] }>> };
let customer: string;
let sku: string;
let knownOrder: string;
/** Answers per route and status: the fuzz must get past authentication on every route. */
const statuses: Record<string, Record<string, number>> = {};
/** Orders the fuzz placed (202): each must end where an operator sees it. */
const placed = new Set<string>();

beforeAll(async () => {
  env = await startApiEnv({
    ...LIMITS_OFF,
    SAGA_COMPENSATION_MAX_ATTEMPTS: '2',
  });
  doc = (await env.call('GET', '/openapi.json', { key: null })).body;
  sku = await createProduct(env.db, { stock: 1_000_000, priceMinor: 1 });
  customer = await createCustomer(env.db, { balanceMinor: 1_000_000_000, grantTo: [env.keys.clientA.id] });
  knownOrder = (await placeOrder(env, customer, [{ sku, quantity: 1 }])).id;
});
afterAll(async () => {
  await env?.stop();
});

// ------------------------------------------------------------------ generators

/** Code units the database or a parser may choke on. */
const NASTY_UNITS = [
  '\u0000',
  '\u0001',
  '\t',
  '\n',
  '\r',
  '\u001f',
  '\u007f',
  '\u0085',
  '\u00a0',
  '\u2028',
  '\u202e',
  '\ufeff',
  '\ufffd',
  '\uffff',
  '\ud800',
  '\udfff',
  '\ud83d\ude00',
  '%',
  '"',
  "'",
  '\\',
  '/',
  '..',
  ';',
  '--',
  '<script>',
  'ä',
  '𝕏',
];

const nastyString: fc.Arbitrary<string> = fc
  .array(fc.oneof(fc.constantFrom(...NASTY_UNITS), fc.string({ unit: 'binary', maxLength: 4 }), fc.string({ maxLength: 6 })), {
    maxLength: 8,
  })
  .map((parts) => parts.join(''));

const nastyNumber: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(-1, 0, -0, 1.5, 2 ** 31, 2 ** 53, 2 ** 53 + 2, 1e21, 1e308, -1e308, Number.MAX_SAFE_INTEGER, 10_001),
);

/** Any JSON value, biased to strings and numbers that break rules. */
const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: nastyString },
  { weight: 3, arbitrary: nastyNumber },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.array(nastyString, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(nastyString, nastyString, { maxKeys: 3 }) },
);

/** UTF-8 percent-encoding of every code unit, lone surrogates as their CESU-8 bytes (which are not UTF-8). */
function percentEncodeAll(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    const bytes =
      u < 0x80 ? [u] : u < 0x800 ? [0xc0 | (u >> 6), 0x80 | (u & 63)] : [0xe0 | (u >> 12), 0x80 | ((u >> 6) & 63), 0x80 | (u & 63)];
    out += bytes.map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');
  }
  return out;
}
const bytesEncoded = (bytes: Uint8Array) => [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
const wellFormedEncoded = (s: string) => encodeURIComponent(s.replace(/[\uD800-\uDFFF]/gu, '\uFFFD'));

/** One path segment or query value as sent on the wire. */
const wireText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '%',
    '%f',
    '%zz',
    '%ff',
    '%00',
    '%C0%AF',
    '%ED%A0%80',
    '%F4%90%80%80',
    '%E2%82',
    '..',
    '%2e%2e',
    '%2F',
    '-',
    'x'.repeat(1200),
  ),
  nastyString.map(percentEncodeAll),
  nastyString.map(wellFormedEncoded),
  fc.uint8Array({ maxLength: 12 }).map(bytesEncoded),
  fc.stringMatching(/^[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,20}$/),
);

type Body = { kind: 'json'; value: unknown } | { kind: 'raw'; bytes: Uint8Array | string } | { kind: 'none' };

/** Sets `value` at a random path of a copy of `body` (or adds a member). */
function mutate(body: unknown, pick: number, value: unknown, extraKey: string | null): unknown {
  const copy = JSON.parse(JSON.stringify(body)) as unknown;
  const slots: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (v: unknown): void => {
    if (!v || typeof v !== 'object') return;
    for (const [k, c] of Object.entries(v)) {
      slots.push({ parent: v as Record<string, unknown>, key: Array.isArray(v) ? Number(k) : k });
      walk(c);
    }
  };
  walk(copy);
  if (extraKey !== null && copy && typeof copy === 'object' && !Array.isArray(copy)) {
    (copy as Record<string, unknown>)[extraKey] = value;
    return copy;
  }
  if (slots.length === 0) return value;
  const slot = slots[pick % slots.length]!;
  (slot.parent as Record<string | number, unknown>)[slot.key] = value;
  return copy;
}

/** A body the route accepts in shape: the fuzz mutates it. */
function goodBody(method: string, path: string): unknown {
  if (path === '/orders') return { customerId: customer, items: [{ sku, quantity: 1 }] };
  if (path.endsWith('/cancel') || path.endsWith('/compensate')) return { reason: 'fuzz' };
  if (path === '/admin/products') return { sku: 'FUZZ', name: 'fuzz', unitPriceMinor: 1, currency: 'EUR', addStock: 1 };
  if (path === '/admin/accounts') return { customerId: 'fuzz', currency: 'EUR', depositMinor: 1 };
  if (path === '/admin/api-keys') return { name: 'fuzz', role: 'client', customers: [] };
  if (path.endsWith('/customers')) return { customers: [customer] };
  if (path === '/admin/reconciliation/runs') return { mode: 'incremental', orderIds: [knownOrder] };
  throw new Error(`no good body for ${method} ${path}: add one`);
}

function bodyArb(method: string, path: string, hasBody: boolean): fc.Arbitrary<Body> {
  if (method === 'get') return fc.constant<Body>({ kind: 'none' });
  if (!hasBody) return fc.oneof(fc.constant<Body>({ kind: 'none' }), fc.constant<Body>({ kind: 'raw', bytes: '{}' }));
  const good = () => goodBody(method, path);
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant<Body>({ kind: 'json', value: null }).map(() => ({ kind: 'json', value: good() }) as Body) },
    {
      weight: 6,
      arbitrary: fc
        .tuple(fc.nat(), nastyValue, fc.option(nastyString, { freq: 4 }))
        .map(([pick, value, extra]) => ({ kind: 'json', value: mutate(good(), pick, value, extra) }) as Body),
    },
    { weight: 1, arbitrary: nastyValue.map((value) => ({ kind: 'json', value }) as Body) },
    {
      weight: 2,
      arbitrary: fc
        .oneof(
          fc.constantFrom(
            '{"reason": ',
            '{"quantity": 1e999999}',
            '{"a":1,"a":2}',
            '{"reason":"\\ud800"}',
            '{"reason":"\\u0000"}',
            '\ufeff{}',
            '',
          ),
          fc.constant(`{"customerId":"x","items":[{"sku":"y","quantity":123456789012345678901234567890}]}`),
          fc.uint8Array({ maxLength: 40 }),
          fc.uint8Array({ maxLength: 40 }).map((b) => new Uint8Array([0x7b, 0x22, 0x72, 0x22, 0x3a, 0x22, ...b, 0x22, 0x7d])),
        )
        .map((bytes) => ({ kind: 'raw', bytes }) as Body),
    },
  );
}

/** Latin-1 text that HTTP allows in a header value: visible characters, space, tab, obs-text. */
const headerText = fc
  .array(fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0xa0, max: 0xff }), fc.constant(9)), { maxLength: 30 })
  .map((cs) => String.fromCharCode(...cs));
/** With a control character too (not NUL, CR or LF: those would end the header): node's parser refuses these. */
const badHeaderText = fc
  .tuple(
    headerText,
    fc.integer({ min: 1, max: 31 }).filter((c) => c !== 9 && c !== 10 && c !== 13),
    headerText,
  )
  .map(([a, c, b]) => `${a}${String.fromCharCode(c)}${b}`);

interface Request {
  path: string;
  query: string;
  auth: 'own' | 'none' | 'garbage' | 'otherRole';
  authGarbage: string;
  contentType: string | null;
  idempotencyKey: string | null;
  extraHeader: string | null;
  body: Body;
}

function requestArb(docPath: string, method: string, hasBody: boolean): fc.Arbitrary<Request> {
  const params = [...docPath.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => m[1]!);
  const known = (name: string): string[] =>
    ({
      id: [knownOrder, ...placed, crypto.randomUUID(), env.keys.clientB.id],
      customerId: [customer, 'nobody'],
      sku: [sku, 'FUZZ'],
      slug: ['not-found', 'validation-error', 'no-such'],
    })[name] ?? ['x'];
  const segment = (name: string) => fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...known(name)) }, { weight: 3, arbitrary: wireText });
  const queryPair = fc.tuple(
    fc.oneof(fc.constantFrom('limit', 'offset', 'status', 'check', 'mode', 'limit[]', 'a[b]'), wireText),
    fc.oneof(fc.constantFrom('1', '0', '-1', '500', '1e3', 'open', 'all', 'x'), wireText),
  );
  return fc.record({
    path: fc.tuple(...params.map(segment)).map((values) => params.reduce((p, name, i) => p.replace(`{${name}}`, values[i]!), docPath)),
    query: fc
      .option(fc.array(queryPair, { maxLength: 3 }), { freq: 2 })
      .map((q) => (q ? `?${q.map(([k, v]) => `${k}=${v}`).join('&')}` : '')),
    auth: fc.constantFrom<Request['auth']>('own', 'own', 'own', 'own', 'none', 'garbage', 'otherRole'),
    authGarbage: headerText,
    contentType: fc.oneof(
      { weight: 6, arbitrary: fc.constant('application/json') },
      { weight: 2, arbitrary: fc.constantFrom(null, 'text/plain', 'application/json; charset=utf-16', 'application/json; charset=latin1') },
      { weight: 1, arbitrary: headerText },
    ),
    idempotencyKey: fc.oneof<fc.Arbitrary<string | null>[]>(fc.uuid(), fc.uuid(), fc.uuid(), fc.option(headerText)),
    extraHeader: fc.option(fc.oneof({ weight: 3, arbitrary: headerText }, { weight: 1, arbitrary: badHeaderText }), { freq: 2 }),
    body: bodyArb(method, docPath, hasBody),
  });
}

// ------------------------------------------------------------------ the property

async function send(method: string, access: string, r: Request): Promise<{ status: number; type: string | null; body: unknown }> {
  const headers: Record<string, string> = {};
  const own = access === 'admin' ? env.keys.admin.key : env.keys.clientA.key;
  if (access !== 'public' || r.auth !== 'own') {
    if (r.auth === 'own') headers.authorization = `Bearer ${own}`;
    else if (r.auth === 'garbage') headers.authorization = `Bearer ${r.authGarbage}`;
    else if (r.auth === 'otherRole') headers.authorization = `Bearer ${access === 'admin' ? env.keys.clientA.key : env.keys.admin.key}`;
  }
  if (r.contentType !== null && r.body.kind !== 'none') headers['content-type'] = r.contentType;
  if (r.idempotencyKey !== null) headers['idempotency-key'] = r.idempotencyKey;
  if (r.extraHeader !== null) headers['x-fuzz'] = r.extraHeader;
  const body = r.body.kind === 'json' ? JSON.stringify(r.body.value) : r.body.kind === 'raw' ? r.body.bytes : undefined;
  // Raw: fetch refuses to send control characters in a header, and a client may send them anyway.
  const res = await rawRequest(env.baseUrl, method.toUpperCase(), `${r.path}${r.query}`, headers, body);
  let parsed: unknown = res.body;
  try {
    parsed = JSON.parse(res.body);
  } catch {
    /* not JSON: the checks say so */
  }
  return { status: res.status, type: res.headers['content-type'] ?? null, body: parsed };
}

function checkAnswer(route: string, r: Request, reply: { status: number; type: string | null; body: unknown }): void {
  const what = { route, path: r.path, query: r.query, status: reply.status, body: reply.body };
  // /readyz answers 503 when a dependency is down: the one documented 5xx that is not a fault.
  const serverError = reply.status >= 500 && !(route === 'get /readyz' && reply.status === 503);
  if (serverError) throw new Error(`a ${reply.status}: ${JSON.stringify(what)}`);
  if (reply.status >= 400) {
    if (!/^application\/problem\+json/.test(reply.type ?? ''))
      throw new Error(`a ${reply.status} that is not problem+json: ${JSON.stringify(what)}`);
    const problem = ProblemBody.safeParse(reply.body);
    if (!problem.success || problem.data.status !== reply.status) throw new Error(`a malformed problem: ${JSON.stringify(what)}`);
  }
  const seen = (statuses[route] ??= {});
  const code = (reply.body as { code?: string } | undefined)?.code;
  const answer = reply.status >= 400 ? `${reply.status} ${code}` : String(reply.status);
  seen[answer] = (seen[answer] ?? 0) + 1;
  const accepted = reply.body as { orderId?: unknown } | undefined;
  // A placed order, a cancel or a compensation accepted: each saga must end where an operator sees it.
  if (reply.status === 202 && typeof accepted?.orderId === 'string') placed.add(accepted.orderId);
}

const routes = () =>
  Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, spec]) => ({
      path,
      method,
      hasBody: spec.requestBody !== undefined,
      access: (spec.security ?? []).length === 0 ? 'public' : path.startsWith('/admin') ? 'admin' : 'client',
    })),
  );

test('every route of the document: no 500, every 4xx a problem, every saga started ends where an operator sees it', async () => {
  const all = routes();
  expect(all.length).toBeGreaterThanOrEqual(20);
  // Every route runs (a failing one does not hide the next); the failures are reported together.
  const failures: string[] = [];
  for (const [index, { path, method, hasBody, access }] of all.entries()) {
    const route = `${method} ${path.replace(/\{([A-Za-z]+)\}/g, ':$1')}`;
    const run = await fc.check(
      fc.asyncProperty(requestArb(path, method, hasBody), async (r) => checkAnswer(route, r, await send(method, access, r))),
      // One seed per route (the run's seed plus its index), so routes get different inputs.
      { seed: SEED + index, numRuns: RUNS, endOnFailure: true },
    );
    if (run.failed) {
      const error = run.errorInstance instanceof Error ? run.errorInstance.message : String(run.errorInstance);
      failures.push(`${route} (FUZZ_SEED=${run.seed - index}, seed ${run.seed}, path ${run.counterexamplePath}): ${error}`);
    }
  }
  expect(failures).toEqual([]);
  if (process.env.FUZZ_STATS) console.log(JSON.stringify({ statuses, placed: placed.size }, null, 1));
  const authenticatedOnly = Object.entries(statuses).filter(([, by]) => Object.keys(by).every((s) => /^40[13] /.test(s)));
  expect(authenticatedOnly).toEqual([]);
  // The fuzz starts sagas (valid orders): each ends in a status an operator sees, none stuck.
  expect(placed.size).toBeGreaterThan(0);
  for (const orderId of placed) {
    await eventually(
      async () => {
        const row = await env.db.order.findUnique({ where: { id: orderId }, select: { status: true } });
        return row && OPERATOR_VISIBLE.includes(row.status);
      },
      { timeoutMs: 30_000, what: `order ${orderId} in ${OPERATOR_VISIBLE.join('/')}` },
    );
  }
}, 180_000);

// ------------------------------------------------------------------ defects the fuzz found, pinned

test('a header value with a control character: a MALFORMED_REQUEST problem, not a bare 400 from the HTTP parser', async () => {
  const reply = await rawRequest(env.baseUrl, 'GET', '/orders', { authorization: `Bearer ${env.keys.clientA.key}`, 'x-note': 'a\u0007b' });
  expect(reply.status).toBe(400);
  expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
  const problem = ProblemBody.parse(JSON.parse(reply.body));
  expect({ code: problem.code, status: problem.status, instance: problem.instance }).toEqual({
    code: 'MALFORMED_REQUEST',
    status: 400,
    instance: '/orders',
  });
});
