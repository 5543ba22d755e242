/**
 * The REST API over real HTTP and PostgreSQL, no saga (startPgApiEnv): authentication, every
 * bad input of POST /orders (a precise problem, nothing written), an Idempotency-Key in flight,
 * the admin writes and their refusals, the bootstrap key, and the service endpoints. What needs
 * an order to run through its saga is in api.test.ts.
 */
import crypto from 'node:crypto';
import { ProductView, AccountView, ApiKeyCreated } from '../../api/schemas';
import { balance, createCustomer, createProduct, uid } from '../support/fixtures';
import { expectProblem, startPgApiEnv, writtenByKey, type ApiEnv } from '../support/api-env';
import { createPipelineEnv } from '../support/processes';

let env: ApiEnv;
let sku: string;
let customer: string;

beforeAll(async () => {
  env = await startPgApiEnv();
  sku = await createProduct(env.db, { stock: 1000, priceMinor: 250 });
  customer = await createCustomer(env.db, { balanceMinor: 1_000_000, grantTo: [env.keys.clientA.id] });
});
afterAll(async () => {
  await env?.stop();
});

const key = () => crypto.randomUUID();
const orderBody = (quantity = 1) => ({ customerId: customer, items: [{ sku, quantity }] });

const writtenByClientA = () => writtenByKey(env.db, env.keys.clientA.id);

describe('authentication', () => {
  test('when no key is sent, then 401 with a Bearer challenge', async () => {
    const reply = await env.call('GET', '/orders/00000000-0000-4000-8000-000000000000', { key: null });
    expectProblem(reply, 401, 'unauthorized');
    expect(reply.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  test('when the key is wrong, malformed or revoked, then 401', async () => {
    const wrong = env.keys.clientA.key.slice(0, -4) + 'AAAA';
    expectProblem(await env.call('GET', '/accounts/x', { key: wrong }), 401);
    expectProblem(await env.call('GET', '/accounts/x', { headers: { authorization: 'Basic abc' }, key: null }), 401);
    const created = await env.call('POST', '/admin/api-keys', {
      key: env.keys.admin.key,
      headers: { 'idempotency-key': key() },
      body: { name: 'temp', role: 'client' },
    });
    expect(created.status).toBe(201);
    ApiKeyCreated.parse(created.body);
    expect((await env.call('GET', '/accounts/nobody', { key: created.body.key })).status).toBe(404);
    expect((await env.call('DELETE', `/admin/api-keys/${created.body.id}`, { key: env.keys.admin.key })).status).toBe(204);
    expectProblem(await env.call('GET', '/accounts/nobody', { key: created.body.key }), 401);
    const stored = await env.db.apiKey.findUniqueOrThrow({ where: { id: created.body.id } });
    const secret = /^osk_[0-9a-f]{32}_(.+)$/.exec(created.body.key)![1]!;
    expect(stored.secretHash).toBe(crypto.createHash('sha256').update(secret).digest('hex'));
    expect(JSON.stringify(stored)).not.toContain(secret);
  });

  test('when a client key calls an admin route, then 403', async () => {
    expectProblem(await env.call('GET', `/admin/products/${sku}`), 403, 'forbidden');
  });
});

describe('POST /orders refusals', () => {
  test('when the same key arrives while the first request is in flight, then 409', async () => {
    const k = key();
    const fingerprintBody = orderBody(1);
    // A lease held by a request that is still running (e.g. on another API instance).
    const { beginIdempotent, requestFingerprint } = await import('../../services/access/idempotency');
    const begun = await beginIdempotent(env.db, env.keys.clientA.id, k, requestFingerprint('POST', '/orders', fingerprintBody));
    expect(begun.kind).toBe('proceed');
    expectProblem(
      await env.call('POST', '/orders', { body: fingerprintBody, headers: { 'idempotency-key': k } }),
      409,
      'idempotency-key-in-flight',
    );
  });

  const NO_KEY: string = '<omit>';
  const BAD: [string, { body?: unknown; raw?: string; headers?: Record<string, string> }, number, string][] = [
    ['no Idempotency-Key', { body: 'ORDER', headers: { 'idempotency-key': NO_KEY } }, 400, 'idempotency-key-missing'],
    ['an empty Idempotency-Key', { body: 'ORDER', headers: { 'idempotency-key': '' } }, 400, 'idempotency-key-invalid'],
    ['an Idempotency-Key of 256 chars', { body: 'ORDER', headers: { 'idempotency-key': 'k'.repeat(256) } }, 400, 'idempotency-key-invalid'],
    ['an unknown sku', { body: { customerId: 'CUSTOMER', items: [{ sku: 'NO-SUCH-SKU', quantity: 1 }] } }, 422, 'unknown-sku'],
    ['an unknown customer', { body: { customerId: 'no-such-customer', items: [{ sku: 'SKU', quantity: 1 }] } }, 404, 'not-found'],
    ['a reserved customer id', { body: { customerId: 'merchant:EUR', items: [{ sku: 'SKU', quantity: 1 }] } }, 400, 'validation-error'],
    ['quantity 0', { body: { customerId: 'CUSTOMER', items: [{ sku: 'SKU', quantity: 0 }] } }, 400, 'validation-error'],
    ['a fractional quantity', { body: { customerId: 'CUSTOMER', items: [{ sku: 'SKU', quantity: 1.5 }] } }, 400, 'validation-error'],
    ['empty items', { body: { customerId: 'CUSTOMER', items: [] } }, 400, 'validation-error'],
    [
      'a repeated sku',
      {
        body: {
          customerId: 'CUSTOMER',
          items: [
            { sku: 'SKU', quantity: 1 },
            { sku: 'SKU', quantity: 2 },
          ],
        },
      },
      422,
      'duplicate-sku',
    ],
    [
      'an unknown top-level field',
      { body: { customerId: 'CUSTOMER', items: [{ sku: 'SKU', quantity: 1 }], coupon: 'FREE' } },
      400,
      'validation-error',
    ],
    [
      'an unknown item field',
      { body: { customerId: 'CUSTOMER', items: [{ sku: 'SKU', quantity: 1, price: 1 }] } },
      400,
      'validation-error',
    ],
    [
      'a wrong content type',
      { raw: 'customerId=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      415,
      'unsupported-media-type',
    ],
    ['malformed JSON', { raw: '{"customerId": ', headers: { 'content-type': 'application/json' } }, 400, 'malformed-json'],
    [
      'an oversized body',
      { raw: JSON.stringify({ customerId: 'x'.repeat(20_000), items: [] }), headers: { 'content-type': 'application/json' } },
      413,
      'payload-too-large',
    ],
  ];

  test.each(BAD)('when the request has %s, then a precise problem and nothing is written', async (_what, req, status, slug) => {
    const before = await writtenByClientA();
    const fill = (v: unknown): unknown =>
      JSON.parse(
        JSON.stringify(v)
          .replace(/"CUSTOMER"/g, JSON.stringify(customer))
          .replace(/"SKU"/g, JSON.stringify(sku)),
      );
    const body = req.body === 'ORDER' ? orderBody() : req.body === undefined ? undefined : fill(req.body);
    const headers = Object.fromEntries(Object.entries({ 'idempotency-key': key(), ...req.headers }).filter(([, v]) => v !== NO_KEY));
    const reply = await env.call('POST', '/orders', { body, raw: req.raw, headers });
    expectProblem(reply, status, slug);
    expect(reply.body.detail.length).toBeGreaterThan(10);
    expect(await writtenByClientA()).toEqual(before);
  });

  test('when a field is invalid, then the problem points at it', async () => {
    const reply = await env.call('POST', '/orders', {
      body: { customerId: customer, items: [{ sku, quantity: -1 }], x: 1 },
      headers: { 'idempotency-key': key() },
    });
    expectProblem(reply, 400);
    expect(reply.body.errors).toEqual(
      expect.arrayContaining([
        { pointer: '/items/0/quantity', detail: 'quantity must be at least 1' },
        { pointer: '/x', detail: 'unknown field "x"' },
      ]),
    );
  });
});

describe('admin and accounts', () => {
  test('when an admin creates and restocks a product, then stock adds up, and a replay does not add twice', async () => {
    const newSku = uid('ADM');
    const k1 = key();
    const created = await env.call('POST', '/admin/products', {
      key: env.keys.admin.key,
      headers: { 'idempotency-key': k1 },
      body: { sku: newSku, name: 'Lamp', unitPriceMinor: 4500, currency: 'EUR', addStock: 10 },
    });
    expect(created.status).toBe(201);
    const replay = await env.call('POST', '/admin/products', {
      key: env.keys.admin.key,
      headers: { 'idempotency-key': k1 },
      body: { sku: newSku, name: 'Lamp', unitPriceMinor: 4500, currency: 'EUR', addStock: 10 },
    });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    const restocked = await env.call('POST', '/admin/products', {
      key: env.keys.admin.key,
      headers: { 'idempotency-key': key() },
      body: { sku: newSku, name: 'Lamp', unitPriceMinor: 4700, currency: 'EUR', addStock: 5 },
    });
    expect(restocked.status).toBe(200);
    const view = ProductView.parse((await env.call('GET', `/admin/products/${newSku}`, { key: env.keys.admin.key })).body);
    expect(view).toEqual({ sku: newSku, name: 'Lamp', unitPriceMinor: 4700, currency: 'EUR', available: 15, reserved: 0, committed: 0 });
    expectProblem(
      await env.call('POST', '/admin/products', {
        key: env.keys.admin.key,
        headers: { 'idempotency-key': key() },
        body: { sku: newSku, name: 'Lamp', unitPriceMinor: 1, currency: 'USD', addStock: 0 },
      }),
      422,
      'currency-mismatch',
    );
    expectProblem(
      await env.call('POST', '/admin/products', {
        key: env.keys.admin.key,
        headers: { 'idempotency-key': key() },
        body: { sku: newSku, name: 'Lamp', unitPriceMinor: -5, currency: 'EUR' },
      }),
      400,
      'validation-error',
    );
  });

  test('when an admin deposits, then the balance grows by a ledger transaction, once per Idempotency-Key', async () => {
    const cust = uid('acct');
    const k = key();
    const body = { customerId: cust, currency: 'EUR', depositMinor: 1200 };
    expect((await env.call('POST', '/admin/accounts', { key: env.keys.admin.key, headers: { 'idempotency-key': k }, body })).status).toBe(
      201,
    );
    expect(
      (await env.call('POST', '/admin/accounts', { key: env.keys.admin.key, headers: { 'idempotency-key': k }, body })).headers.get(
        'idempotent-replayed',
      ),
    ).toBe('true');
    expect(
      (
        await env.call('POST', '/admin/accounts', {
          key: env.keys.admin.key,
          headers: { 'idempotency-key': key() },
          body: { ...body, depositMinor: 300 },
        })
      ).status,
    ).toBe(200);
    const view = AccountView.parse((await env.call('GET', `/admin/accounts/${cust}`, { key: env.keys.admin.key })).body);
    expect(view.balanceMinor).toBe(1500);
    expect(view.entries.map((e) => [e.kind, e.amountMinor])).toEqual([
      ['DEPOSIT', 300],
      ['DEPOSIT', 1200],
    ]);
  });

  test('when an admin request is bad, then a precise problem and nothing changes', async () => {
    const admin = env.keys.admin.key;
    const cust = uid('bad');
    const post = (path: string, body: unknown, k: string | null = key()) =>
      env.call('POST', path, { key: admin, body, headers: k ? { 'idempotency-key': k } : {} });
    expect((await post('/admin/accounts', { customerId: cust, currency: 'EUR', depositMinor: 100 })).status).toBe(201);
    // Keys of this name only: other test files create keys of their own at the same time.
    const keysBefore = await env.db.apiKey.count({ where: { name: cust } });

    expectProblem(await post('/admin/accounts', { customerId: cust, currency: 'USD', depositMinor: 50 }), 422, 'currency-mismatch');
    expectProblem(await post('/admin/accounts', { customerId: cust, currency: 'EUR', depositMinor: -5 }), 400, 'validation-error');
    expectProblem(
      await post('/admin/accounts', { customerId: cust, currency: 'EUR', depositMinor: 5 }, null),
      400,
      'idempotency-key-missing',
    );
    expectProblem(await post('/admin/api-keys', { name: cust, role: 'root' }), 400, 'validation-error');
    expectProblem(await post('/admin/api-keys', { name: cust, role: 'client' }, null), 400, 'idempotency-key-missing');
    expectProblem(
      await post('/admin/products', { sku: 'bad sku!', name: 'x', unitPriceMinor: 1, currency: 'EUR' }),
      400,
      'validation-error',
    );

    expect(await balance(env.db, cust)).toBe(100);
    expect(await env.db.ledgerEntry.count({ where: { accountId: cust } })).toBe(1);
    expect(await env.db.apiKey.count({ where: { name: cust } })).toBe(keysBefore);
    expect(await env.db.product.findUnique({ where: { sku: 'bad sku!' } })).toBeNull();
  });

  test('when a deposit key is reused after its HTTP record expired with another amount or customer, then 422 and no money moves', async () => {
    const admin = env.keys.admin.key;
    const cust = uid('dep');
    const k = key();
    const deposit = (body: object) => env.call('POST', '/admin/accounts', { key: admin, headers: { 'idempotency-key': k }, body });
    expect((await deposit({ customerId: cust, currency: 'EUR', depositMinor: 700 })).status).toBe(201);
    await env.db.idempotencyKey.update({
      where: { apiKeyId_key: { apiKeyId: env.keys.admin.id, key: k } },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    expectProblem(await deposit({ customerId: cust, currency: 'EUR', depositMinor: 5000 }), 422, 'deposit-key-reused');
    const other = uid('dep');
    await env.db.idempotencyKey.deleteMany({ where: { apiKeyId: env.keys.admin.id, key: k } });
    expectProblem(await deposit({ customerId: other, currency: 'EUR', depositMinor: 700 }), 422, 'deposit-key-reused');
    expect(await balance(env.db, cust)).toBe(700);
    expect(await env.db.ledgerEntry.count({ where: { accountId: cust } })).toBe(1);
  });

  test('when inputs that used to give 500 arrive, then each gets its precise 4xx and nothing changes', async () => {
    const admin = env.keys.admin.key;
    const post = (path: string, body?: unknown) => env.call('POST', path, { key: admin, body, headers: { 'idempotency-key': key() } });
    expectProblem(await post('/admin/dlq/99999999999999999999/replay'), 404, 'not-found');
    expectProblem(await post('/admin/dlq/9999999999999999999/replay'), 404, 'not-found');
    const sku = uid('BIG');
    expect((await post('/admin/products', { sku, name: 'big', unitPriceMinor: 1, currency: 'EUR', addStock: 1_000_000_000 })).status).toBe(
      201,
    );
    expect((await post('/admin/products', { sku, name: 'big', unitPriceMinor: 1, currency: 'EUR', addStock: 1_000_000_000 })).status).toBe(
      200,
    );
    expectProblem(
      await post('/admin/products', { sku, name: 'big', unitPriceMinor: 1, currency: 'EUR', addStock: 1_000_000_000 }),
      422,
      'stock-out-of-range',
    );
    expect((await env.db.product.findUniqueOrThrow({ where: { sku } })).available).toBe(2_000_000_000);
    expectProblem(await post('/admin/accounts', { customerId: 'merchant:EUR', currency: 'EUR', depositMinor: 1 }), 400, 'validation-error');
    expectProblem(await post('/admin/accounts', { customerId: 'external:USD', currency: 'USD', depositMinor: 1 }), 400, 'validation-error');
    expect(await env.db.account.findUnique({ where: { id: 'merchant:EUR' } }).then((a) => a?.kind)).not.toBe('CUSTOMER');
    expectProblem(await env.call('GET', '/admin/dlq?offset=100000000', { key: admin }), 400, 'validation-error');
    expectProblem(await env.call('GET', `/accounts/${customer}?limit=101`), 400, 'validation-error');
    expect((await env.call('GET', `/accounts/${customer}?limit=1`)).body.entries).toHaveLength(1);
  });

  test('the database itself refuses a customer account in a reserved namespace and an order for an ungranted customer', async () => {
    await expect(
      env.db.$executeRawUnsafe(`INSERT INTO accounts (id, kind, currency) VALUES ('merchant:XYZ', 'CUSTOMER', 'XYZ')`),
    ).rejects.toThrow(/accounts_reserved_id_check/);
    await expect(
      env.db.$executeRawUnsafe(
        `INSERT INTO orders (id, customer_id, api_key_id, status, currency, total_minor, workflow_id) VALUES (gen_random_uuid(), $1, $2::uuid, 'PENDING', 'EUR', 1, 'x-' || gen_random_uuid())`,
        customer,
        env.keys.clientB.id,
      ),
    ).rejects.toThrow(/not granted customer/);
  });

  test('the bootstrap admin key follows ADMIN_API_KEY: a revocation sticks across restarts, and unset means invalid', async () => {
    // Its own database: the bootstrap key has a fixed id, and a revocation is forever.
    const { syncBootstrapAdminKey, authenticate, BOOTSTRAP_ADMIN_ID, revokeApiKey } = await import('../../services/access/api-keys');
    const fresh = await createPipelineEnv('bootstrap');
    try {
      const secret = `bootstrap-${crypto.randomBytes(24).toString('base64url')}`;
      await syncBootstrapAdminKey(fresh.db, secret);
      expect((await authenticate(fresh.db, secret))?.role).toBe('admin');
      await syncBootstrapAdminKey(fresh.db, undefined); // a restart without the variable
      expect(await authenticate(fresh.db, secret)).toBeNull();
      await syncBootstrapAdminKey(fresh.db, secret); // set again: valid again
      expect((await authenticate(fresh.db, secret))?.role).toBe('admin');
      await revokeApiKey(fresh.db, BOOTSTRAP_ADMIN_ID);
      await syncBootstrapAdminKey(fresh.db, secret); // a restart with the variable still set
      expect(await authenticate(fresh.db, secret)).toBeNull();
    } finally {
      await fresh.close();
    }
  });
});

describe('service endpoints', () => {
  test('healthz and readyz answer', async () => {
    expect((await env.call('GET', '/healthz', { key: null })).body).toEqual({ status: 'ok' });
    expect((await env.call('GET', '/readyz', { key: null })).body).toEqual({ status: 'ok', checks: { database: 'ok' } });
  });

  test('unknown routes are problems too', async () => {
    expectProblem(await env.call('GET', '/nope', { key: null }), 404, 'not-found');
  });
});

describe('failed keys never lock out good ones', () => {
  /** A well-formed key that no row has: the database is asked, and says no. */
  const badKey = () => `osk_${crypto.randomBytes(16).toString('hex')}_${crypto.randomBytes(32).toString('base64url')}`;
  const randomIp = () => `192.0.2.${crypto.randomInt(1, 255)}`;

  /** An API of its own (fresh counters and keys) with a customer its client key may read. */
  async function ownApi(env2: Record<string, string>) {
    const own = await startPgApiEnv(env2);
    const account = `/accounts/${await createCustomer(own.db, { balanceMinor: 1, grantTo: [own.keys.clientA.id] })}`;
    return { own, account };
  }

  test('when an address has sent more bad keys than its limit, then its valid client and admin keys are still served; only failing attempts get 429', async () => {
    const { own, account } = await ownApi({ RATE_LIMIT_AUTH_FAILURES: '5' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) statuses.push((await own.call('GET', account, { key: badKey() })).status);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
      const noKey = await own.call('GET', account, { key: null });
      expectProblem(noKey, 429, 'rate-limited');
      expect(Number(noKey.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const client = await own.call('GET', account);
      expect({ status: client.status, policy: client.headers.get('ratelimit-policy') }).toEqual({
        status: 200,
        policy: expect.stringMatching(/^"client";/),
      });
      expect((await own.call('GET', `/admin/products/${sku}`, { key: own.keys.admin.key })).status).toBe(200);
    } finally {
      await own.stop();
    }
  });

  test('when 150 bad keys arrive at once against a limit of 20, then at most 20 are answered 401 and the rest 429, and a valid key from the same address is served during and after', async () => {
    const { own, account } = await ownApi({ RATE_LIMIT_AUTH_FAILURES: '20' });
    try {
      const [bad, good] = await Promise.all([
        Promise.all(Array.from({ length: 150 }, () => own.call('GET', account, { key: badKey() }))),
        Promise.all(Array.from({ length: 10 }, () => own.call('GET', account))),
      ]);
      const count = (status: number) => bad.filter((r) => r.status === status).length;
      process.stderr.write(`[auth race] 150 concurrent bad keys, limit 20: ${count(401)} answered 401, ${count(429)} answered 429\n`);
      expect({ unauthorized: count(401), limited: count(429) }).toEqual({ unauthorized: 20, limited: 130 });
      expect(good.map((r) => r.status)).toEqual(Array(10).fill(200));
      expect((await own.call('GET', account)).status).toBe(200);
    } finally {
      await own.stop();
    }
  });

  test('without a trusted proxy, X-Forwarded-For is ignored: a new spoofed address per request does not escape the limit', async () => {
    const { own, account } = await ownApi({ RATE_LIMIT_AUTH_FAILURES: '3' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        statuses.push((await own.call('GET', account, { key: badKey(), headers: { 'x-forwarded-for': randomIp() } })).status);
      }
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
    } finally {
      await own.stop();
    }
  });

  // This test connects from 127.0.0.1, so it is the trusted proxy: it appends the "real" client
  // address after whatever the client itself sent.
  test.each(['1', '127.0.0.0/8'])(
    'with API_TRUST_PROXY=%s, only the entry the proxy added counts: a chosen leftmost value neither escapes the limit nor locks out its victim',
    async (trust) => {
      const { own, account } = await ownApi({ RATE_LIMIT_AUTH_FAILURES: '3', API_TRUST_PROXY: trust });
      const attacker = '203.0.113.7';
      const victim = '198.51.100.9';
      const viaProxy = (client: string, spoofed?: string) => ({ 'x-forwarded-for': spoofed ? `${spoofed}, ${client}` : client });
      try {
        const statuses: number[] = [];
        for (let i = 0; i < 6; i++) {
          const spoofed = i % 2 === 0 ? victim : randomIp();
          statuses.push((await own.call('GET', account, { key: badKey(), headers: viaProxy(attacker, spoofed) })).status);
        }
        expect(statuses).toEqual([401, 401, 401, 429, 429, 429]);
        // The victim's own counter is untouched: its bad key is a plain 401, its good key is served.
        expect((await own.call('GET', account, { key: badKey(), headers: viaProxy(victim) })).status).toBe(401);
        expect((await own.call('GET', account, { headers: viaProxy(victim) })).status).toBe(200);
      } finally {
        await own.stop();
      }
    },
  );
});
