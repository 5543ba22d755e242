/**
 * The operator audit log over the real API, database and Temporal (one app and one set of
 * workers for the file): every sensitive admin action writes its row with the effect's
 * transaction, refusals are rows too, a compensate sent with the temporal CLI straight to
 * Temporal is recorded with the identity the workflow history gives its signal, and
 * GET /admin/audit-log filters and pages by keyset.
 */
import crypto from 'node:crypto';
import { AuditPageView } from '../../api/schemas';
import { orderWorkflowId } from '../../services/orders/contract';
import { expectProblem, startApiEnv, type ApiEnv } from '../support/api-env';
import { createCustomer, createProduct, placeOrder, waitForStatus } from '../support/fixtures';
import { temporalCliAsync } from '../support/temporal-cli';

let env: ApiEnv;

beforeAll(async () => {
  env = await startApiEnv({ SAGA_COMPENSATION_MAX_ATTEMPTS: '2' });
});
afterAll(async () => {
  await env?.stop();
});
afterEach(() => env.faults.clear());

const admin = () => env.keys.admin;
const requestId = () => `audit-${crypto.randomUUID()}`;

/** An admin call with its own X-Request-Id (and an Idempotency-Key, which only some routes read). */
async function adminCall(method: string, path: string, body?: unknown) {
  const id = requestId();
  const reply = await env.call(method, path, {
    key: admin().key,
    body,
    headers: { 'x-request-id': id, 'idempotency-key': crypto.randomUUID() },
  });
  return { reply, requestId: id };
}

async function auditLog(query: Record<string, string>) {
  const reply = await env.call('GET', `/admin/audit-log?${new URLSearchParams(query).toString()}`, { key: admin().key });
  expect(reply.status).toBe(200);
  return AuditPageView.parse(reply.body);
}

const rowsOf = async (subject: string) => (await auditLog({ subject })).items;

describe('admin writes record who did what, in the same transaction', () => {
  test('when an admin creates and restocks a product, deposits, manages a key and starts a run, then each is one row naming the key and the request', async () => {
    const sku = `AUDIT-${crypto.randomUUID().slice(0, 8)}`;
    const customerId = `cust-audit-${crypto.randomUUID().slice(0, 8)}`;
    const product = { sku, name: 'Audited mug', unitPriceMinor: 900, currency: 'EUR', addStock: 5 };
    const created = await adminCall('POST', '/admin/products', product);
    expect(created.reply.status).toBe(201);
    const restocked = await adminCall('POST', '/admin/products', { ...product, addStock: 3 });
    expect(restocked.reply.status).toBe(200);
    const deposit = await adminCall('POST', '/admin/accounts', { customerId, currency: 'EUR', depositMinor: 2500 });
    expect(deposit.reply.status).toBe(201);
    const key = await adminCall('POST', '/admin/api-keys', { name: 'audited key', role: 'client', customers: [customerId] });
    expect(key.reply.status).toBe(201);
    const keyId = key.reply.body.id as string;
    const grant = await adminCall('PUT', `/admin/api-keys/${keyId}/customers`, { customers: [customerId, `${customerId}-2`] });
    expect(grant.reply.status).toBe(200);
    const revoke = await adminCall('DELETE', `/admin/api-keys/${keyId}`);
    expect(revoke.reply.status).toBe(204);
    const run = await adminCall('POST', '/admin/reconciliation/runs', { mode: 'incremental' });
    expect(run.reply.status).toBe(202);

    const actor = { kind: 'api_key', id: admin().id, name: 'test-admin' };
    const expectRow = async (subject: string, action: string, rid: string, detail: Record<string, unknown> = {}) => {
      const rows = (await rowsOf(subject)).filter((r) => r.action === action);
      expect(rows).toEqual([
        expect.objectContaining({ actor, action, requestId: rid, outcome: 'done', detail: expect.objectContaining(detail) }),
      ]);
    };
    await expectRow(sku, 'product.create', created.requestId, { addStock: 5 });
    await expectRow(sku, 'product.restock', restocked.requestId, { addStock: 3 });
    await expectRow(customerId, 'account.deposit', deposit.requestId, { depositMinor: 2500, currency: 'EUR' });
    await expectRow(keyId, 'api_key.create', key.requestId, { role: 'client', customers: [customerId] });
    await expectRow(keyId, 'api_key.grant', grant.requestId, { customers: [customerId, `${customerId}-2`].sort() });
    await expectRow(keyId, 'api_key.revoke', revoke.requestId);
    await expectRow(String(run.reply.body.id), 'reconciliation.run', run.requestId, { mode: 'INCREMENTAL' });
    // The secret shown once is never in the log.
    expect(JSON.stringify(await rowsOf(keyId))).not.toContain(key.reply.body.key);
  });

  test('when an admin write is refused by its rule, then its transaction leaves no audit row either', async () => {
    const sku = `AUDIT-${crypto.randomUUID().slice(0, 8)}`;
    expect((await adminCall('POST', '/admin/products', { sku, name: 'EUR mug', unitPriceMinor: 100, currency: 'EUR' })).reply.status).toBe(
      201,
    );
    const mismatch = await adminCall('POST', '/admin/products', {
      sku,
      name: 'USD mug',
      unitPriceMinor: 100,
      currency: 'USD',
      addStock: 9,
    });
    expectProblem(mismatch.reply, 422);
    expect((await rowsOf(sku)).map((r) => r.action)).toEqual(['product.create']);
  });
});

describe('compensate and resume', () => {
  test('when an admin compensates a CONFIRMED order over the API, then one row records it (the saga adds none) and a second attempt is recorded as refused', async () => {
    const sku = await createProduct(env.db, { stock: 2, priceMinor: 700 });
    const customer = await createCustomer(env.db, { balanceMinor: 5000 });
    const order = await placeOrder(env, customer, [{ sku, quantity: 1 }]);
    await waitForStatus(env.db, order.id, 'CONFIRMED');

    const first = await adminCall('POST', `/admin/orders/${order.id}/compensate`, { reason: 'parcel lost' });
    expect(first.reply.status).toBe(202);
    await waitForStatus(env.db, order.id, 'COMPENSATED');
    const again = await adminCall('POST', `/admin/orders/${order.id}/compensate`, { reason: 'again' });
    expectProblem(again.reply, 409);

    const rows = await rowsOf(order.id);
    expect(rows.map((r) => [r.action, r.outcome, r.reason, r.requestId, r.actor.kind])).toEqual([
      ['order.compensate', 'refused', 'again', again.requestId, 'api_key'],
      ['order.compensate', 'done', 'parcel lost', first.requestId, 'api_key'],
    ]);
    expect(rows[0]!.detail).toMatchObject({ code: 'ORDER_NOT_COMPENSABLE', orderStatus: 'COMPENSATED' });
  });

  test('when a compensate is sent with the temporal CLI, straight to Temporal, then the audit row names the identity in the workflow history', async () => {
    const sku = await createProduct(env.db, { stock: 2, priceMinor: 800 });
    const customer = await createCustomer(env.db, { balanceMinor: 5000 });
    const order = await placeOrder(env, customer, [{ sku, quantity: 1 }]);
    await waitForStatus(env.db, order.id, 'CONFIRMED');
    const identity = `operator-${crypto.randomUUID().slice(0, 8)}@laptop`;
    await temporalCliAsync(env.cfg, [
      'workflow',
      'signal',
      '--workflow-id',
      orderWorkflowId(order.id),
      '--name',
      'compensate',
      '--input',
      JSON.stringify({ reason: 'customer called' }),
      '--identity',
      identity,
    ]);
    await waitForStatus(env.db, order.id, 'COMPENSATED');

    const history = await env.client.workflow.getHandle(orderWorkflowId(order.id)).fetchHistory();
    const signaled = history.events!.find((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'compensate')!;
    expect(signaled.workflowExecutionSignaledEventAttributes!.identity).toBe(identity);
    const rows = await rowsOf(order.id);
    expect(rows).toEqual([
      expect.objectContaining({
        actor: { kind: 'temporal', id: identity, name: identity },
        action: 'order.compensate',
        reason: 'customer called',
        requestId: null,
        outcome: 'done',
        detail: expect.objectContaining({ via: 'temporal-signal', signal: expect.stringMatching(`:${String(signaled.eventId)}$`) }),
      }),
    ]);
  });

  test('when a parked NEEDS_ATTENTION saga is resumed over the API, then the row is order.resume; resuming a finished one is refused', async () => {
    const sku = await createProduct(env.db, { stock: 2, priceMinor: 600 });
    const customer = await createCustomer(env.db, { balanceMinor: 4000 });
    const order = await placeOrder(env, customer, [{ sku, quantity: 1 }]);
    await waitForStatus(env.db, order.id, 'CONFIRMED');
    env.faults.add({ point: 'payment.refund.beforeCommit', action: 'fail', orderId: order.id });
    expect((await adminCall('POST', `/admin/orders/${order.id}/compensate`, { reason: 'refund it' })).reply.status).toBe(202);
    await waitForStatus(env.db, order.id, 'NEEDS_ATTENTION');
    env.faults.clear();
    const resume = await adminCall('POST', `/admin/orders/${order.id}/compensate`, { reason: 'refund service fixed' });
    expect(resume.reply.status).toBe(202);
    await waitForStatus(env.db, order.id, 'COMPENSATED');

    const rows = await rowsOf(order.id);
    expect(rows.map((r) => [r.action, r.outcome, r.reason, r.actor.kind])).toEqual([
      ['order.resume', 'done', 'refund service fixed', 'api_key'],
      ['order.compensate', 'done', 'refund it', 'api_key'],
    ]);
    expect(rows[0]!.requestId).toBe(resume.requestId);
  });

  test("when an admin's cancel is refused by the saga (the order is CONFIRMED), then the refusal is a row", async () => {
    const sku = await createProduct(env.db, { stock: 2, priceMinor: 500 });
    const customer = await createCustomer(env.db, { balanceMinor: 4000 });
    const order = await placeOrder(env, customer, [{ sku, quantity: 1 }]);
    await waitForStatus(env.db, order.id, 'CONFIRMED');
    const cancel = await adminCall('POST', `/orders/${order.id}/cancel`, { reason: 'ops cancel' });
    expectProblem(cancel.reply, 409);
    expect(await rowsOf(order.id)).toEqual([
      expect.objectContaining({ action: 'order.cancel', outcome: 'refused', reason: 'ops cancel', requestId: cancel.requestId }),
    ]);
  });
});

describe('GET /admin/audit-log', () => {
  test('when read by pages of 2, then the keyset cursor walks every row of a filter once, newest first', async () => {
    const sku = `AUDIT-${crypto.randomUUID().slice(0, 8)}`;
    for (const addStock of [1, 2, 3, 4, 5]) {
      const { reply } = await adminCall('POST', '/admin/products', { sku, name: 'paged', unitPriceMinor: 100, currency: 'EUR', addStock });
      expect(reply.status).toBeLessThan(300);
    }
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: ReturnType<typeof AuditPageView.parse> = await auditLog({ subject: sku, limit: '2', ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((r) => r.detail.addStock as number));
      cursor = page.next;
      pages += 1;
    } while (cursor);
    expect(seen).toEqual([5, 4, 3, 2, 1]);
    expect(pages).toBe(3);
    expect((await auditLog({ subject: sku, action: 'product.create' })).items).toHaveLength(1);
    expect((await auditLog({ subject: sku, actor: admin().id, outcome: 'done' })).items).toHaveLength(5);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await auditLog({ subject: sku, from: future })).items).toEqual([]);
    expect((await auditLog({ subject: sku, to: future })).items).toHaveLength(5);
  });

  test.each([
    ['an unknown action', 'action=order.explode'],
    ['a cursor it never gave', 'cursor=bm90LWEtY3Vyc29y'],
    ['a malformed cursor', 'cursor=%24%24'],
    ['a time that is not ISO 8601', 'from=yesterday'],
    ['from after to', 'from=2026-12-02T18:00:00Z&to=2026-12-02T17:00:00Z'],
    ['a limit too large', 'limit=201'],
    ['an unknown filter', 'colour=red'],
  ])('when the query has %s, then 400 problem+json', async (_what, query) => {
    expectProblem(await env.call('GET', `/admin/audit-log?${query}`, { key: admin().key }), 400, 'validation-error');
  });

  test("when a client key (another tenant's) reads the audit log, then 403", async () => {
    expectProblem(await env.call('GET', '/admin/audit-log', { key: env.keys.clientB.key }), 403, 'forbidden');
  });
});

test('the audit log cannot be changed by the app: no UPDATE, no DELETE (test/integration/db-roles.test.ts has the owner and TRUNCATE)', async () => {
  const sku = `AUDIT-${crypto.randomUUID().slice(0, 8)}`;
  await adminCall('POST', '/admin/products', { sku, name: 'kept', unitPriceMinor: 100, currency: 'EUR' });
  const [row] = await rowsOf(sku);
  await expect(env.db.$executeRawUnsafe(`UPDATE operator_audit_log SET reason = 'x' WHERE id = ${row!.id}`)).rejects.toThrow(
    /permission denied/,
  );
  await expect(env.db.$executeRawUnsafe(`DELETE FROM operator_audit_log WHERE id = ${row!.id}`)).rejects.toThrow(/permission denied/);
  expect(await rowsOf(sku)).toEqual([row]);
});
