/**
 * The REST API over real HTTP, database and Temporal: authentication, idempotency, every
 * bad input (a precise problem, nothing written), ownership, and the order lifecycle.
 */
import crypto from 'node:crypto';
import { OrderAccepted, OrderView, ProblemBody, ProductView, AccountView, ApiKeyCreated } from '../../api/schemas';
import { balance, createCustomer, createProduct, uid, waitForStatus } from '../support/fixtures';
import { startApiEnv, type ApiEnv, type Reply } from '../support/api-env';
import { createPipelineEnv } from '../support/processes';
import { eventually } from '../support/wait';

let env: ApiEnv;
let sku: string;
let customer: string;

beforeAll(async () => {
  env = await startApiEnv();
  sku = await createProduct(env.db, { stock: 1000, priceMinor: 250 });
  customer = await createCustomer(env.db, { balanceMinor: 1_000_000, grantTo: [env.keys.clientA.id] });
});
afterAll(async () => {
  await env?.stop();
});

const key = () => crypto.randomUUID();
const orderBody = (quantity = 1) => ({ customerId: customer, items: [{ sku, quantity }] });

function expectProblem(reply: Reply, status: number, slug?: string): void {
  expect(reply.status).toBe(status);
  expect(reply.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  ProblemBody.parse(reply.body);
  expect(reply.body.status).toBe(status);
  if (slug) expect(reply.body.type).toMatch(new RegExp(`/${slug}$`));
}

/** Rows that a POST /orders by client A could have written. */
async function writtenByClientA() {
  const orders = await env.db.order.findMany({ where: { apiKeyId: env.keys.clientA.id }, select: { id: true } });
  const ids = orders.map((o) => o.id);
  return {
    orders: ids.length,
    items: await env.db.orderItem.count({ where: { orderId: { in: ids } } }),
    orderCreatedEvents: await env.db.outboxEvent.count({ where: { aggregateId: { in: ids }, type: 'OrderCreated' } }),
    idempotencyKeys: await env.db.idempotencyKey.count({ where: { apiKeyId: env.keys.clientA.id } }),
  };
}

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

describe('POST /orders', () => {
  test('when the order is valid, then 202 with Location, and the saga confirms it', async () => {
    const reply = await env.call('POST', '/orders', { body: orderBody(2), headers: { 'idempotency-key': key() } });
    expect(reply.status).toBe(202);
    const accepted = OrderAccepted.parse(reply.body);
    expect(accepted).toMatchObject({ status: 'PENDING', workflowId: `order-${accepted.orderId}` });
    expect(reply.headers.get('location')).toBe(`/orders/${accepted.orderId}`);

    await waitForStatus(env.db, accepted.orderId, 'CONFIRMED');
    const view = OrderView.parse((await env.call('GET', `/orders/${accepted.orderId}`)).body);
    expect(view).toMatchObject({ status: 'CONFIRMED', failureReason: null, currency: 'EUR', totalMinor: 500, customerId: customer });
    expect(view.items).toEqual([{ sku, quantity: 2, unitPriceMinor: 250 }]);
    expect(view.steps.map((s) => `${s.name}:${s.status}`)).toEqual([
      'orderCreated:COMPLETED',
      'reserveInventory:COMPLETED',
      'chargePayment:COMPLETED',
      'commitInventory:COMPLETED',
    ]);
  });

  test('when the same key and body are sent again, then the first response is replayed and no second order exists', async () => {
    const k = key();
    const first = await env.call('POST', '/orders', { body: orderBody(), headers: { 'idempotency-key': k } });
    const again = await env.call('POST', '/orders', { body: orderBody(), headers: { 'idempotency-key': k } });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
    expect(first.headers.get('idempotent-replayed')).toBeNull();
  });

  test('when the same key comes with a different body, then 422 and nothing new is written', async () => {
    const k = key();
    await env.call('POST', '/orders', { body: orderBody(1), headers: { 'idempotency-key': k } });
    const before = await writtenByClientA();
    expectProblem(
      await env.call('POST', '/orders', { body: orderBody(3), headers: { 'idempotency-key': k } }),
      422,
      'idempotency-key-reused',
    );
    expect(await writtenByClientA()).toEqual(before);
  });

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

  test('when a request died holding the key, then a retry after the lease expires goes through', async () => {
    const k = key();
    const body = orderBody(1);
    const { beginIdempotent, requestFingerprint } = await import('../../services/access/idempotency');
    await beginIdempotent(env.db, env.keys.clientA.id, k, requestFingerprint('POST', '/orders', body));
    await env.db.idempotencyKey.update({
      where: { apiKeyId_key: { apiKeyId: env.keys.clientA.id, key: k } },
      data: { lockedUntil: new Date(Date.now() - 1000) },
    });
    const reply = await env.call('POST', '/orders', { body, headers: { 'idempotency-key': k } });
    expect(reply.status).toBe(202);
  });

  test('when a slow request loses its lease to a retry, then it answers 409 with Retry-After (not 500) and one order exists', async () => {
    const k = key();
    const body = orderBody(1);
    const before = (await writtenByClientA()).orders;
    env.faults.add({ point: 'api.order.beforeCommit', action: 'delay', delayMs: 1500, times: 1 });
    const slow = env.call('POST', '/orders', { body, headers: { 'idempotency-key': k } });
    await eventually(async () => env.faults.hits.some((h) => h.point === 'api.order.beforeCommit'), {
      what: 'the first request to hold its lease',
    });
    // Its lease runs out (as if 30 s passed); the client's retry takes the key over and completes.
    await env.db.idempotencyKey.update({
      where: { apiKeyId_key: { apiKeyId: env.keys.clientA.id, key: k } },
      data: { lockedUntil: new Date(Date.now() - 1000) },
    });
    const retry = await env.call('POST', '/orders', { body, headers: { 'idempotency-key': k } });
    expect(retry.status).toBe(202);
    const first = await slow;
    expectProblem(first, 409, 'idempotency-key-in-flight');
    expect(first.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await writtenByClientA()).orders).toBe(before + 1);
    const replay = await env.call('POST', '/orders', { body, headers: { 'idempotency-key': k } });
    expect(replay.body).toEqual(retry.body);
  });

  test('when 20 requests with one key arrive at once, then exactly one order is created', async () => {
    const k = key();
    const before = (await writtenByClientA()).orders;
    const replies = await Promise.all(
      Array.from({ length: 20 }, () => env.call('POST', '/orders', { body: orderBody(), headers: { 'idempotency-key': k } })),
    );
    expect(replies.every((r) => r.status === 202 || r.status === 409)).toBe(true);
    const ids = new Set(replies.filter((r) => r.status === 202).map((r) => r.body.orderId));
    expect(ids.size).toBe(1);
    expect((await writtenByClientA()).orders).toBe(before + 1);
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

describe('reading and cancelling orders', () => {
  test("when client B asks for client A's order, then 404", async () => {
    const placed = await env.call('POST', '/orders', { body: orderBody(), headers: { 'idempotency-key': key() } });
    expectProblem(await env.call('GET', `/orders/${placed.body.orderId}`, { key: env.keys.clientB.key }), 404, 'not-found');
    expectProblem(
      await env.call('POST', `/orders/${placed.body.orderId}/cancel`, { key: env.keys.clientB.key, body: { reason: 'x' } }),
      404,
    );
    expect((await env.call('GET', `/orders/${placed.body.orderId}`, { key: env.keys.admin.key })).status).toBe(200);
    expectProblem(await env.call('GET', '/orders/not-a-uuid'), 404);
  });

  test('when an order is final, then cancel answers 409; a cancel before confirmation compensates it', async () => {
    const slowSku = await createProduct(env.db, { stock: 5, priceMinor: 100 });
    env.faults.add({ point: 'inventory.reserve.afterCommit', action: 'delay', delayMs: 1500 });
    const placed = await env.call('POST', '/orders', {
      body: { customerId: customer, items: [{ sku: slowSku, quantity: 1 }] },
      headers: { 'idempotency-key': key() },
    });
    const orderId = placed.body.orderId as string;
    await eventually(async () => env.faults.hits.some((h) => h.orderId === orderId), { what: 'the saga to be in its first step' });
    const cancel = await env.call('POST', `/orders/${orderId}/cancel`, { body: { reason: 'ordered by mistake' } });
    expect(cancel.status).toBe(202);
    const final = await waitForStatus(env.db, orderId, 'COMPENSATED');
    env.faults.clear();
    expect(final.failureReason).toBe('CANCELLED');
    expectProblem(await env.call('POST', `/orders/${orderId}/cancel`, { body: { reason: 'again' } }), 409, 'order-not-cancellable');
    expectProblem(await env.call('POST', `/orders/${orderId}/cancel`, { body: {} }), 400, 'validation-error');
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
    const keysBefore = await env.db.apiKey.count();

    expectProblem(await post('/admin/accounts', { customerId: cust, currency: 'USD', depositMinor: 50 }), 422, 'currency-mismatch');
    expectProblem(await post('/admin/accounts', { customerId: cust, currency: 'EUR', depositMinor: -5 }), 400, 'validation-error');
    expectProblem(
      await post('/admin/accounts', { customerId: cust, currency: 'EUR', depositMinor: 5 }, null),
      400,
      'idempotency-key-missing',
    );
    expectProblem(await post('/admin/api-keys', { name: 'x', role: 'root' }), 400, 'validation-error');
    expectProblem(await post('/admin/api-keys', { name: 'x', role: 'client' }, null), 400, 'idempotency-key-missing');
    expectProblem(
      await post('/admin/products', { sku: 'bad sku!', name: 'x', unitPriceMinor: 1, currency: 'EUR' }),
      400,
      'validation-error',
    );

    expect(await balance(env.db, cust)).toBe(100);
    expect(await env.db.ledgerEntry.count({ where: { accountId: cust } })).toBe(1);
    expect(await env.db.apiKey.count()).toBe(keysBefore);
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

  test('when an admin grants a customer to a key, then that key may order for it; a rotated key with the same grant sees the old orders', async () => {
    const admin = env.keys.admin.key;
    const cust = await createCustomer(env.db, { balanceMinor: 10_000 });
    const mk = await env.call('POST', '/admin/api-keys', {
      key: admin,
      headers: { 'idempotency-key': key() },
      body: { name: 'old', role: 'client', customers: [] },
    });
    expect(mk.body.customers).toEqual([]);
    const order = { body: { customerId: cust, items: [{ sku, quantity: 1 }] }, headers: { 'idempotency-key': key() } };
    expectProblem(await env.call('POST', '/orders', { ...order, key: mk.body.key }), 404, 'not-found');
    const granted = await env.call('PUT', `/admin/api-keys/${mk.body.id}/customers`, { key: admin, body: { customers: [cust] } });
    expect(granted.body.customers).toEqual([cust]);
    const placed = await env.call('POST', '/orders', { ...order, key: mk.body.key });
    expect(placed.status).toBe(202);
    const rotated = await env.call('POST', '/admin/api-keys', {
      key: admin,
      headers: { 'idempotency-key': key() },
      body: { name: 'new', role: 'client', customers: [cust] },
    });
    expect((await env.call('DELETE', `/admin/api-keys/${mk.body.id}`, { key: admin })).status).toBe(204);
    expect((await env.call('GET', `/orders/${placed.body.orderId}`, { key: mk.body.key })).status).toBe(401);
    expect((await env.call('GET', `/orders/${placed.body.orderId}`, { key: rotated.body.key })).status).toBe(200);
    const listed = await env.call('GET', '/admin/api-keys?limit=500', { key: admin });
    expect(listed.body.items.find((k: { id: string }) => k.id === mk.body.id)).toMatchObject({
      customers: [cust],
      revokedAt: expect.any(String),
    });
    expect(JSON.stringify(listed.body)).not.toContain(rotated.body.key);
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

  test('when an Idempotency-Key has expired, then it may be reused for a new request', async () => {
    const k = key();
    const first = await env.call('POST', '/orders', { body: orderBody(1), headers: { 'idempotency-key': k } });
    expect(first.status).toBe(202);
    await env.db.idempotencyKey.update({
      where: { apiKeyId_key: { apiKeyId: env.keys.clientA.id, key: k } },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    const reused = await env.call('POST', '/orders', { body: orderBody(2), headers: { 'idempotency-key': k } });
    expect(reused.status).toBe(202);
    expect(reused.body.orderId).not.toBe(first.body.orderId);
    expect(reused.headers.get('idempotent-replayed')).toBeNull();
  });

  test("when a client reads a customer's account, then it sees it only for its granted customers", async () => {
    expectProblem(await env.call('GET', `/accounts/${customer}`, { key: env.keys.clientB.key }), 404);
    const view = AccountView.parse((await env.call('GET', `/accounts/${customer}`)).body);
    expect(view.customerId).toBe(customer);
    expect(view.entries.some((e) => e.kind === 'CHARGE')).toBe(true);
  });

  test('when an admin compensates a CONFIRMED order over the API, then it is refunded and restocked', async () => {
    const placed = await env.call('POST', '/orders', { body: orderBody(4), headers: { 'idempotency-key': key() } });
    const orderId = placed.body.orderId as string;
    await waitForStatus(env.db, orderId, 'CONFIRMED');
    expectProblem(await env.call('POST', `/admin/orders/${orderId}/compensate`, { body: { reason: 'x' } }), 403);
    const reply = await env.call('POST', `/admin/orders/${orderId}/compensate`, { key: env.keys.admin.key, body: { reason: 'returned' } });
    expect(reply.status).toBe(202);
    const final = await waitForStatus(env.db, orderId, 'COMPENSATED');
    expect(final.failureReason).toBe('MANUAL_COMPENSATION');
    expectProblem(
      await env.call('POST', `/admin/orders/${orderId}/compensate`, { key: env.keys.admin.key, body: { reason: 'again' } }),
      409,
    );
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
