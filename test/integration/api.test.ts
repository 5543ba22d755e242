/**
 * The REST API over real HTTP, database and Temporal with the saga's workers: placed orders
 * run to the end, idempotent replays of accepted orders, ownership of placed orders, cancel and
 * manual compensation. Refusals that need no saga are in api-http.test.ts (PostgreSQL only).
 */
import crypto from 'node:crypto';
import { OrderAccepted, OrderView, AccountView } from '../../api/schemas';
import { createCustomer, createProduct, outboxOf, productStock, waitForStatus } from '../support/fixtures';
import { expectProblem, startApiEnv, writtenByKey, type ApiEnv } from '../support/api-env';
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

const writtenByClientA = () => writtenByKey(env.db, env.keys.clientA.id);

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
    expect(cancel.headers.get('location')).toBe(`/orders/${orderId}`);
    const final = await waitForStatus(env.db, orderId, 'COMPENSATED');
    env.faults.clear();
    expect(final.failureReason).toBe('CANCELLED');
    expectProblem(await env.call('POST', `/orders/${orderId}/cancel`, { body: { reason: 'again' } }), 409, 'order-not-cancellable');
    expectProblem(await env.call('POST', `/orders/${orderId}/cancel`, { body: {} }), 400, 'validation-error');
  });
  test('when a cancel reason holds a NUL, then 400 and nothing changes: the order still confirms and its stock is committed', async () => {
    const nulSku = await createProduct(env.db, { stock: 5, priceMinor: 100 });
    const placed = await env.call('POST', '/orders', {
      body: { customerId: customer, items: [{ sku: nulSku, quantity: 2 }] },
      headers: { 'idempotency-key': key() },
    });
    const orderId = placed.body.orderId as string;
    const cancel = await env.call('POST', `/orders/${orderId}/cancel`, { body: { reason: 'x \u0000' } });
    expectProblem(cancel, 400, 'validation-error');
    expect(cancel.body.errors).toEqual([{ pointer: '/reason', detail: expect.stringMatching(/control characters/) }]);
    const final = await waitForStatus(env.db, orderId, 'CONFIRMED');
    expect(final.failureReason).toBeNull();
    expect(await productStock(env.db, nulSku)).toEqual({ available: 3, reserved: 0, committed: 2 });
  });
});

describe('what a client sees of a failed order', () => {
  /** Stands in for the relay and the audit consumer: the order's events, as the timeline stores them. */
  async function projectTimeline(orderId: string): Promise<void> {
    const events = await outboxOf(env.db, orderId);
    await env.db.auditTimelineEntry.createMany({
      skipDuplicates: true,
      data: events.map((e) => ({
        aggregateId: e.aggregateId,
        sequence: e.sequence,
        eventId: e.eventId,
        type: e.type,
        aggregateType: e.aggregateType,
        schemaVersion: e.schemaVersion,
        occurredAt: e.occurredAt,
        payload: e.payload ?? {},
      })),
    });
  }

  /** Every client-visible view of the order, as one JSON text per route. */
  async function views(orderId: string, apiKey: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const path of [`/orders/${orderId}`, `/orders/${orderId}/timeline`]) {
      const reply = await env.call('GET', path, { key: apiKey });
      expect({ path, status: reply.status }).toEqual({ path, status: 200 });
      out[path] = JSON.stringify(reply.body);
    }
    return out;
  }

  async function failedOrder(stock: number, balanceMinor: number, status: string): Promise<string> {
    const s = await createProduct(env.db, { stock, priceMinor: 100 });
    const c = await createCustomer(env.db, { balanceMinor, grantTo: [env.keys.clientA.id] });
    const placed = await env.call('POST', '/orders', {
      body: { customerId: c, items: [{ sku: s, quantity: 3 }] },
      headers: { 'idempotency-key': key() },
    });
    const orderId = placed.body.orderId as string;
    await waitForStatus(env.db, orderId, status);
    await projectTimeline(orderId);
    return orderId;
  }

  test.each([
    ['REJECTED (out of stock)', 2, 1_000_000, 'REJECTED', /"available"/],
    ['COMPENSATED (insufficient funds)', 100, 50, 'COMPENSATED', /"message":"[^"]+"/],
  ])(
    'when the order is %s, then a client key sees no stock counts and no internal text; an admin key sees them',
    async (_what, stock, funds, status, internal) => {
      const orderId = await failedOrder(stock, funds, status);
      const asAdmin = await views(orderId, env.keys.admin.key);
      const asClient = await views(orderId, env.keys.clientA.key);
      // The admin's views hold what the client's must not: the rule has something to hide.
      expect(Object.values(asAdmin).join()).toMatch(internal);
      expect(Object.values(asAdmin).join()).toMatch(/"detail":"[^"]+"/);
      for (const [path, body] of Object.entries(asClient)) {
        expect({ path, stockCounts: /"(available|reserved|committed)"/.test(body) }).toEqual({ path, stockCounts: false });
        expect({ path, text: /"(detail|message)":"/.test(body) }).toEqual({ path, text: false });
        expect({ path, status: body.includes(status) }).toEqual({ path, status: true });
      }
    },
  );
});

describe('admin and accounts', () => {
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
