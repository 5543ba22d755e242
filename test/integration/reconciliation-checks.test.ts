/**
 * The database and stream checks, each against a fault made the way a real one happens (a
 * service that acknowledges what it never wrote, an operator's hand edit, a relay that is
 * down or lost a message, a consumer that gave up), over real orders run by the real saga.
 * Each test asserts that the reconciler raises exactly that finding, with its fingerprint,
 * and nothing else about the test's subjects; and that the finding resolves after the repair
 * and stays in the log as history.
 */
import crypto from 'node:crypto';
import { createInventoryActivities } from '../../activities/inventory';
import { createPaymentActivities } from '../../activities/payment';
import type { Client } from '@temporalio/client';
import { createLogger } from '../../lib/logger';
import { replayDeadLetter } from '../../services/platform/dlq/dead-letters';
import { ledgerKeys, merchantAccountId } from '../../services/payments/contract';
import { inTransaction } from '../../lib/db';
import { postLedgerTransaction } from '../../services/payments/ledger';
import { ReconciliationChecksFailed } from '../../services/reconciliation/runner';
import { createReconcilerPool, reconcileOnce } from '../../services/reconciliation/service';
import { orderWorkflowId, SIGNALS } from '../../services/orders/contract';
import { createCustomer, createProduct, productStock, waitForStatus } from '../support/fixtures';
import { startReconciliationEnv, TEST_SETTINGS, type Deployment, type ReconciliationEnv } from '../support/reconciliation-env';
import { eventually } from '../support/wait';

let env: ReconciliationEnv;
let saga: Deployment;

beforeAll(async () => {
  env = await startReconciliationEnv('recon-checks');
  saga = await env.deployment();
}, 180_000);
afterAll(async () => {
  await env?.close();
});
afterEach(() => env.consumerFaults.clear());

const db = () => env.pipeline.db;

/**
 * For the faults found only through the saga or stream window (4 s in TEST_SETTINGS, passed
 * twice: a failure is examined once older than the window, and raised once it has lasted
 * it): 1 s windows. The fault and the verdict are the same, found and resolved sooner.
 */
const QUICK = { settings: { sagaGraceMs: 1000, streamLagMs: 1000 } };

/** A confirmed order of its own, with every event on the audit timeline. */
async function confirmedOrder(d: Deployment = saga, priceMinor = 700) {
  const sku = await createProduct(db(), { stock: 10, priceMinor });
  const customer = await createCustomer(db(), { balanceMinor: 100_000 });
  const order = await d.place(customer, [{ sku, quantity: 2 }]);
  await waitForStatus(db(), order.id, 'CONFIRMED');
  return { order, sku, customer };
}

async function waitForTimeline(orderId: string): Promise<void> {
  await eventually(
    async () => {
      const { rows } = await env.owner.query<{ ok: boolean }>(
        `SELECT (SELECT count(*) FROM audit_timeline WHERE aggregate_id = $1) = (SELECT count(*) FROM outbox_events WHERE aggregate_id = $1) AS ok`,
        [orderId],
      );
      return rows[0]?.ok;
    },
    { timeoutMs: 30_000, what: `the audit timeline of ${orderId}` },
  );
}

test('order.payment_ledger: when a payment service acknowledges a charge it never wrote, the CONFIRMED order without its charge is found, and resolves once charged', async () => {
  const phantom = await env.deployment({ phantomCharge: true });
  const { order, customer } = await confirmedOrder(phantom);
  const scope = { orderIds: [order.id] };
  const fingerprint = `order:${order.id}`;

  await env.expectFindings(scope, [{ check: 'order.payment_ledger', fingerprint }]);
  const [finding] = await env.unresolved(scope);
  expect(finding?.details).toMatchObject({ status: 'CONFIRMED', charges: 0, reasons: expect.arrayContaining(['no charge in the ledger']) });

  await createPaymentActivities({ db: db() }).chargePayment({
    orderId: order.id,
    customerId: customer,
    amountMinor: order.totalMinor,
    currency: order.currency,
  });
  await env.expectFindings(scope, []);
  await env.expectRaisedThenResolved('order.payment_ledger', fingerprint);
});

test('ledger.transaction_balanced: when an import posts one leg of a deposit around the balance check, that transaction is found, and resolves once its other leg is posted', async () => {
  const customer = await createCustomer(db(), { balanceMinor: 1000 });
  const tx = crypto.randomUUID();
  const client = await env.owner.connect();
  try {
    // The database owner can switch the commit-time balance check off: what a careless import does.
    // (The balances follow the entries: trigger ledger_entries_apply.)
    await client.query('BEGIN');
    await client.query('ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_balanced');
    await client.query(`INSERT INTO ledger_transactions (id, kind, idempotency_key) VALUES ($1::uuid, 'DEPOSIT', 'import:' || $1::text)`, [
      tx,
    ]);
    await client.query(`INSERT INTO ledger_entries (transaction_id, account_id, amount_minor) VALUES ($1, $2, 500)`, [tx, customer]);
    await client.query('ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_balanced');
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
  const scope = { accountIds: [customer] };
  await env.expectFindings(scope, [{ check: 'ledger.transaction_balanced', fingerprint: `transaction:${tx}` }]);

  await env.owner.query(`INSERT INTO ledger_entries (transaction_id, account_id, amount_minor) VALUES ($1, 'external:EUR', -500)`, [tx]);
  await env.expectFindings(scope, []);
  await env.expectRaisedThenResolved('ledger.transaction_balanced', `transaction:${tx}`);
});

test('ledger.account_balance: when a balance is edited by hand, the account is found, and resolves once the edit is undone', async () => {
  const customer = await createCustomer(db(), { balanceMinor: 2500 });
  await env.owner.query('UPDATE accounts SET balance_minor = balance_minor + 1 WHERE id = $1', [customer]);
  const scope = { accountIds: [customer] };
  await env.expectFindings(scope, [{ check: 'ledger.account_balance', fingerprint: `account:${customer}` }]);
  expect((await env.unresolved(scope))[0]?.details).toMatchObject({ balanceMinor: 2501, entriesSumMinor: 2500 });

  await env.owner.query('UPDATE accounts SET balance_minor = balance_minor - 1 WHERE id = $1', [customer]);
  await env.expectFindings(scope, []);
  await env.expectRaisedThenResolved('ledger.account_balance', `account:${customer}`);
});

test('ledger.order_transactions: when a support tool refunds an order that was never charged, the refund without its charge is found, and resolves once the charge is posted', async () => {
  await confirmedOrder(); // the merchant account holds money to refund from
  const sku = await createProduct(db(), { stock: 10, priceMinor: 700 });
  const poor = await createCustomer(db(), { balanceMinor: 100 });
  const order = await saga.place(poor, [{ sku, quantity: 1 }]);
  await waitForStatus(db(), order.id, 'COMPENSATED');
  const post = (kind: 'CHARGE' | 'REFUND', sign: 1 | -1) =>
    inTransaction(db(), (tx) =>
      postLedgerTransaction(tx, {
        kind,
        orderId: order.id,
        idempotencyKey: kind === 'CHARGE' ? ledgerKeys.charge(order.id) : ledgerKeys.refund(order.id),
        currency: 'EUR',
        entries: [
          { accountId: poor, amountMinor: sign * 700 },
          { accountId: merchantAccountId('EUR'), amountMinor: -sign * 700 },
        ],
      }),
    );
  await post('REFUND', 1);
  const scope = { orderIds: [order.id] };
  const fingerprint = `order:${order.id}`;
  // Only the ledger check: order.payment_ledger leaves a malformed ledger to it.
  await env.expectFindings(scope, [{ check: 'ledger.order_transactions', fingerprint }]);
  expect((await env.unresolved(scope))[0]?.details).toMatchObject({ charges: 0, refunds: 1, reasons: ['a refund without its charge'] });

  await post('CHARGE', -1);
  await env.expectFindings(scope, []);
  await env.expectRaisedThenResolved('ledger.order_transactions', fingerprint);
});

test('inventory.counters: when a product counts stock as reserved with no reservation behind it, the product is found, and resolves once the counter is put right', async () => {
  const { sku } = await confirmedOrder();
  await env.owner.query('UPDATE products SET available = available - 1, reserved = reserved + 1 WHERE sku = $1', [sku]);
  const scope = { skus: [sku] };
  await env.expectFindings(scope, [{ check: 'inventory.counters', fingerprint: `product:${sku}` }]);
  expect((await env.unresolved(scope))[0]?.details).toMatchObject({
    reserved: 1,
    heldByReservations: 0,
    committed: 2,
    committedByReservations: 2,
  });

  await env.owner.query('UPDATE products SET available = available + 1, reserved = reserved - 1 WHERE sku = $1', [sku]);
  await env.expectFindings(scope, []);
  await env.expectRaisedThenResolved('inventory.counters', `product:${sku}`);
});

test('inventory.conservation: when stock appears on a product without the stock journal (a restock around the catalog), the product is found, and resolves once the movement is journaled', async () => {
  const sku = await createProduct(db(), { stock: 10, priceMinor: 300 });
  await env.owner.query('UPDATE products SET available = available + 3 WHERE sku = $1', [sku]);
  const scope = { skus: [sku] };
  await env.expectFindings(scope, [{ check: 'inventory.conservation', fingerprint: `product:${sku}` }]);
  expect((await env.unresolved(scope))[0]?.details).toMatchObject({ stockAdded: 10, onHand: 13 });

  await env.owner.query(
    `INSERT INTO stock_movements (sku, quantity, kind, detail) VALUES ($1, 3, 'ADJUSTMENT', 'found in a stock count')`,
    [sku],
  );
  await env.expectFindings(scope, []);
  await env.expectRaisedThenResolved('inventory.conservation', `product:${sku}`);
});

test('inventory.reservation_status: when an inventory service reports a release it never made, the database refuses COMPENSATED (the saga parks); a hand edit past that guard is found, and resolves once released', async () => {
  const leaky = await env.deployment({ noopRelease: true });
  const sku = await createProduct(db(), { stock: 10, priceMinor: 900 });
  const poor = await createCustomer(db(), { balanceMinor: 100 });
  const order = await leaky.place(poor, [{ sku, quantity: 3 }]);
  // The release "succeeded" but the stock is still held: the orders_guard_compensation trigger refuses COMPENSATED.
  await waitForStatus(db(), order.id, 'NEEDS_ATTENTION');
  expect((await db().reservation.findUniqueOrThrow({ where: { orderId: order.id } })).status).toBe('HELD');

  // An operator forcing the status by hand, guard and all, in one transaction (nobody else sees it disabled).
  const owner = await env.owner.connect();
  try {
    await owner.query('BEGIN');
    await owner.query('ALTER TABLE orders DISABLE TRIGGER orders_guard_compensation');
    await owner.query(`UPDATE orders SET status = 'COMPENSATED', updated_at = now() WHERE id = $1`, [order.id]);
    await owner.query('ALTER TABLE orders ENABLE TRIGGER orders_guard_compensation');
    await owner.query('COMMIT');
  } finally {
    owner.release();
  }
  const scope = { orderIds: [order.id] };
  const fingerprint = `order:${order.id}`;
  // A hand edit leaves more than the stock wrong: no event says COMPENSATED, and Temporal still says NEEDS_ATTENTION.
  const alsoTrue = [
    { check: 'events.order_status' as const, fingerprint },
    { check: 'saga.search_attribute' as const, fingerprint },
  ];
  await env.expectFindings(scope, [alsoTrue[0]!, { check: 'inventory.reservation_status', fingerprint }, alsoTrue[1]!], QUICK);
  const found = await env.unresolved(scope);
  expect(found.find((f) => f.check === 'inventory.reservation_status')?.details).toMatchObject({
    status: 'COMPENSATED',
    reservation: 'HELD',
  });

  await createInventoryActivities({ db: db() }).releaseInventory({ orderId: order.id, reason: 'INSUFFICIENT_FUNDS: released by hand' });
  await env.expectFindings(scope, alsoTrue, QUICK);
  await env.expectRaisedThenResolved('inventory.reservation_status', fingerprint);
  await env.temporal.workflow.getHandle(orderWorkflowId(order.id)).terminate('test over: compensated by hand');
});

test('order.payment_ledger: when a payment service voids the payment and acknowledges the charge anyway, the CONFIRMED order with a VOIDED payment is found, and resolves once the order is compensated', async () => {
  const voiding = await env.deployment({ voidingCharge: true });
  const { order, sku } = await confirmedOrder(voiding);
  const scope = { orderIds: [order.id] };
  const fingerprint = `order:${order.id}`;

  await env.expectFindings(scope, [{ check: 'order.payment_ledger', fingerprint }]);
  expect((await env.unresolved(scope))[0]?.details).toMatchObject({
    status: 'CONFIRMED',
    payment: 'VOIDED',
    reasons: expect.arrayContaining(['a CONFIRMED order with a VOIDED payment']),
  });

  // Compensating finds nothing to refund (the refund is a no-op on the VOIDED row) and restocks.
  await env.temporal.workflow.getHandle(orderWorkflowId(order.id)).signal(SIGNALS.compensate, { reason: 'test: undo the order' });
  await waitForStatus(db(), order.id, 'COMPENSATED');
  expect(await productStock(db(), sku)).toEqual({ available: 10, reserved: 0, committed: 0 });
  await env.expectFindings(scope, []);
  await env.expectRaisedThenResolved('order.payment_ledger', fingerprint);
});

test('inventory.reservation_status: when an operator renames a product while an order for it waits, the reserve fails UNKNOWN_SKU, the release leaves a RELEASED reservation without items, and the COMPENSATED order is no finding', async () => {
  const d = await env.deployment({ workers: ['orders'] });
  // No stock yet, so no journal row pins the sku (the journal is append-only).
  const sku = await createProduct(db(), { stock: 0, priceMinor: 400 });
  const customer = await createCustomer(db(), { balanceMinor: 10_000 });
  const order = await d.place(customer, [{ sku, quantity: 1 }]);
  // No inventory worker yet: the reserve has not run when the product goes away.
  await env.owner.query(`UPDATE products SET sku = sku || '-renamed' WHERE sku = $1`, [sku]);
  await d.start(['inventory', 'payments']);

  const final = await waitForStatus(db(), order.id, 'COMPENSATED');
  expect(final.failureReason).toBe('INVENTORY_UNAVAILABLE');
  expect(await db().reservation.findUnique({ where: { orderId: order.id }, include: { items: true } })).toMatchObject({
    status: 'RELEASED',
    items: [],
  });
  // Checked only once settled: an order that changed within the grace window is not examined yet.
  await eventually(
    async () => {
      const { rows } = await env.owner.query<{ settled: boolean }>(
        `SELECT updated_at < now() - $2 * interval '1 millisecond' AS settled FROM orders WHERE id = $1`,
        [order.id, TEST_SETTINGS.graceMs],
      );
      return rows[0]?.settled;
    },
    { what: `order ${order.id} to settle past the grace window` },
  );
  await env.expectFindings({ orderIds: [order.id] }, []);
});

test('events.payment_amounts: when a PaymentCaptured event carries another amount than the ledger charged, the order is found, and resolves once the event says what the ledger did', async () => {
  await env.relay.stop();
  try {
    const { order } = await confirmedOrder();
    await env.owner.query(
      `UPDATE outbox_events SET payload = jsonb_set(payload, '{amountMinor}', to_jsonb((payload->>'amountMinor')::bigint + 100))
        WHERE aggregate_id = $1 AND type = 'PaymentCaptured'`,
      [order.id],
    );
    env.relay.start();
    await waitForTimeline(order.id);
    const scope = { orderIds: [order.id] };
    const fingerprint = `order:${order.id}`;
    await env.expectFindings(scope, [{ check: 'events.payment_amounts', fingerprint }]);

    for (const table of ['outbox_events', 'audit_timeline']) {
      await env.owner.query(
        `UPDATE ${table} SET payload = jsonb_set(payload, '{amountMinor}', to_jsonb((payload->>'amountMinor')::bigint - 100))
          WHERE aggregate_id = $1 AND type = 'PaymentCaptured'`,
        [order.id],
      );
    }
    await env.expectFindings(scope, []);
    await env.expectRaisedThenResolved('events.payment_amounts', fingerprint);
  } finally {
    env.relay.start();
  }
});

test('stream.outbox_published: when the relay is down, the order whose outbox rows wait past the lag window is found, and resolves once the relay is back', async () => {
  await env.relay.stop();
  try {
    const { order } = await confirmedOrder();
    const scope = { orderIds: [order.id] };
    const fingerprint = `order:${order.id}`;
    await env.expectFindings(scope, [{ check: 'stream.outbox_published', fingerprint }], QUICK);
    expect((await env.unresolved(scope))[0]?.details).toMatchObject({ unpublished: 7, firstSequence: 1 });

    env.relay.start();
    await env.expectFindings(scope, [], QUICK);
    await env.expectRaisedThenResolved('stream.outbox_published', fingerprint);
  } finally {
    env.relay.start();
  }
});

test('stream.timeline: when an event is removed from the audit timeline, the order is found, and resolves once the event is replayed from the outbox', async () => {
  const { order } = await confirmedOrder();
  await waitForTimeline(order.id);
  const { rows } = await env.owner.query<{ event_id: string }>(
    'DELETE FROM audit_timeline WHERE aggregate_id = $1 AND sequence = 3 RETURNING event_id::text',
    [order.id],
  );
  const scope = { orderIds: [order.id] };
  const fingerprint = `order:${order.id}`;
  await env.expectFindings(scope, [{ check: 'stream.timeline', fingerprint }], QUICK);
  expect((await env.unresolved(scope))[0]?.details).toMatchObject({ lastSequence: 7, timelineEvents: 6, missingSequences: [3] });

  // The repair: publish the event again, and let the audit consumer apply it again.
  await env.owner.query('DELETE FROM processed_events WHERE consumer_group = $1 AND event_id = $2', [
    `${env.cfg.consumers.groupPrefix}audit`,
    rows[0]!.event_id,
  ]);
  await env.owner.query('UPDATE outbox_events SET published_at = NULL WHERE event_id = $1', [rows[0]!.event_id]);
  await env.expectFindings(scope, [], QUICK);
  await env.expectRaisedThenResolved('stream.timeline', fingerprint);
});

test('stream.audit_anomalies: when the relay marks an event published without sending it, the gap the audit consumer saw is found, and resolves once the event is sent', async () => {
  await env.relay.stop();
  let order: { id: string };
  try {
    ({ order } = await confirmedOrder());
    await env.owner.query('UPDATE outbox_events SET published_at = now() WHERE aggregate_id = $1 AND sequence = 3', [order.id]);
  } finally {
    env.relay.start();
  }
  const scope = { orderIds: [order.id] };
  const fingerprint = `order:${order.id}`;
  // One finding for one fault: the timeline check leaves a gap the consumer saw to this check.
  await env.expectFindings(scope, [{ check: 'stream.audit_anomalies', fingerprint }], QUICK);
  expect((await env.unresolved(scope))[0]?.details).toMatchObject({
    anomalies: [expect.objectContaining({ kind: 'GAP', sequence: 4, expectedSequence: 3 })],
  });

  await env.owner.query('UPDATE outbox_events SET published_at = NULL WHERE aggregate_id = $1 AND sequence = 3', [order.id]);
  await env.expectFindings(scope, [], QUICK);
  await env.expectRaisedThenResolved('stream.audit_anomalies', fingerprint);
});

test("stream.dead_letters: when the audit consumer gives up on an order's events, each unreplayed dead letter is found, and resolves once replayed", async () => {
  await env.relay.stop();
  let orderId: string;
  try {
    ({
      order: { id: orderId },
    } = await confirmedOrder());
    env.consumerFaults.add({ point: 'consumer.beforeEffect', action: 'fail', orderId });
  } finally {
    env.relay.start();
  }
  const deadLetters = await eventually(
    async () => {
      const { rows } = await env.owner.query<{ id: string }>('SELECT id::text FROM dead_letters WHERE message_key = $1 ORDER BY id', [
        orderId,
      ]);
      return rows.length === 7 ? rows.map((r) => r.id) : undefined;
    },
    { timeoutMs: 60_000, what: 'seven dead letters' },
  );
  const scope = { orderIds: [orderId] };
  // The empty timeline and any gap are the dead letters' doing: reported once, as dead letters.
  await env.expectFindings(
    scope,
    deadLetters.map((id) => ({ check: 'stream.dead_letters' as const, fingerprint: `dead_letter:${id}` })),
  );

  env.consumerFaults.clear();
  for (const id of deadLetters) await replayDeadLetter(db(), env.pipeline.kafka, id);
  await env.expectFindings(scope, []);
  for (const id of deadLetters) await env.expectRaisedThenResolved('stream.dead_letters', `dead_letter:${id}`);
});

test('findings are never deleted, and a resolved one never changes again: the database refuses both, even to its owner', async () => {
  const { rows } = await env.owner.query<{ id: string }>(
    'SELECT id::text FROM reconciliation_findings WHERE resolved_at IS NOT NULL LIMIT 1',
  );
  expect(rows).toHaveLength(1);
  await expect(env.owner.query('DELETE FROM reconciliation_findings WHERE id = $1', [rows[0]!.id])).rejects.toMatchObject({
    code: '23001',
  });
  await expect(env.owner.query('UPDATE reconciliation_findings SET resolved_at = NULL WHERE id = $1', [rows[0]!.id])).rejects.toMatchObject(
    { code: '23001' },
  );
});

test('when Temporal cannot be reached, the database checks still find what they find, and the run is FAILED naming the Temporal checks', async () => {
  const { order, customer } = await confirmedOrder();
  await env.owner.query('UPDATE accounts SET balance_minor = balance_minor + 1 WHERE id = $1', [customer]);
  const unreachable = {
    workflow: {
      list: () => {
        throw new Error('14 UNAVAILABLE: No connection established');
      },
    },
  } as unknown as Client;
  const pg = createReconcilerPool(env.cfg, 2);
  const scope = { orderIds: [order.id] };
  const runOnce = () =>
    reconcileOnce(
      { pg, temporal: unreachable, cfg: env.cfg, log: createLogger('test', 'fatal') },
      { trigger: 'CLI', scope, settings: TEST_SETTINGS },
    );
  try {
    const failure = await eventually(async () => {
      const err = await runOnce().then(
        () => undefined,
        (e: unknown) => e,
      );
      const open = (await env.unresolved(scope)).filter((f) => f.status === 'open');
      return err instanceof ReconciliationChecksFailed && open.length === 1 ? { err, open } : undefined;
    });
    expect(Object.keys(failure.err.errors).sort()).toEqual(['saga.orphan_workflow', 'saga.search_attribute', 'saga.workflow_running']);
    expect(failure.open.map((f) => f.fingerprint)).toEqual([`account:${customer}`]);
    const { rows } = await env.owner.query<{ status: string; error: string }>(
      'SELECT status, error FROM reconciliation_runs WHERE id = $1',
      [failure.err.runId],
    );
    expect(rows[0]).toEqual({ status: 'FAILED', error: expect.stringContaining('saga.workflow_running: 14 UNAVAILABLE') });
  } finally {
    await pg.end();
  }
  await env.owner.query('UPDATE accounts SET balance_minor = balance_minor - 1 WHERE id = $1', [customer]);
  await env.expectFindings(scope, []);
});
