/**
 * The order saga against the real database and Temporal server, workers in this process.
 * Every assertion is on durable state: orders, stock, balances, the ledger and the outbox.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { orderWorkflowId } from '../../services/orders/contract';
import { merchantAccountId } from '../../services/payments/contract';
import { compensateSignal, cancelSignal, statusQuery } from '../../workflows/order-saga';
import { describeDuration } from '../../workflows/saga-run';
import {
  balance,
  createCustomer,
  createProduct,
  ledgerTransactionsOf,
  outboxOf,
  placeOrder,
  productStock,
  waitForStatus,
} from '../support/fixtures';
import { useSagaEnv } from '../support/saga-env';
import { eventually } from '../support/wait';

const env = useSagaEnv();

/** Sum of the ledger entries of an order's transactions on one account. */
async function ledgerNet(orderId: string, accountId: string): Promise<number> {
  const txs = await ledgerTransactionsOf(env.db, orderId);
  return txs
    .flatMap((t) => t.entries)
    .filter((e) => e.accountId === accountId)
    .reduce((s, e) => s + Number(e.amountMinor), 0);
}

describe('the order saga', () => {
  test('when stock and funds suffice, the order is CONFIRMED, stock committed, customer debited, merchant credited', async () => {
    const sku = await createProduct(env.db, { stock: 5, priceMinor: 1250 });
    const customer = await createCustomer(env.db, { balanceMinor: 10_000 });
    const merchantBefore = await balance(env.db, merchantAccountId('EUR'));

    const order = await placeOrder(env, customer, [{ sku, quantity: 2 }]);
    await waitForStatus(env.db, order.id, 'CONFIRMED');

    expect(order.totalMinor).toBe(2500);
    expect(await productStock(env.db, sku)).toEqual({ available: 3, reserved: 0, committed: 2 });
    expect(await balance(env.db, customer)).toBe(7500);
    expect(await ledgerNet(order.id, customer)).toBe(-2500);
    expect(await ledgerNet(order.id, merchantAccountId('EUR'))).toBe(2500);
    expect(await balance(env.db, merchantAccountId('EUR'))).toBeGreaterThanOrEqual(merchantBefore + 2500);

    const events = await outboxOf(env.db, order.id);
    expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => i + 1));
    expect(events.map((e) => e.type)).toEqual([
      'OrderCreated',
      'InventoryReserved',
      'OrderStatusChanged',
      'PaymentCaptured',
      'OrderStatusChanged',
      'InventoryCommitted',
      'OrderConfirmed',
    ]);
    const state = await env.client.workflow.getHandle(orderWorkflowId(order.id)).query(statusQuery);
    expect(state).toMatchObject({ status: 'CONFIRMED', completedSteps: ['reserveInventory', 'chargePayment', 'commitInventory'] });
  });

  test('when stock is short, the order is REJECTED with OUT_OF_STOCK and nothing is reserved or charged', async () => {
    const sku = await createProduct(env.db, { stock: 1, priceMinor: 500 });
    const customer = await createCustomer(env.db, { balanceMinor: 10_000 });

    const order = await placeOrder(env, customer, [{ sku, quantity: 2 }]);
    const final = await waitForStatus(env.db, order.id, 'REJECTED');

    expect(final.failureReason).toBe('OUT_OF_STOCK');
    expect(await productStock(env.db, sku)).toEqual({ available: 1, reserved: 0, committed: 0 });
    expect(await balance(env.db, customer)).toBe(10_000);
    expect(await ledgerTransactionsOf(env.db, order.id)).toEqual([]);
    expect(await env.db.payment.findUnique({ where: { orderId: order.id } })).toBeNull();
    expect((await outboxOf(env.db, order.id)).map((e) => e.type)).toEqual(['OrderCreated', 'InventoryRejected', 'OrderRejected']);
  });

  test('when funds are short, the order is COMPENSATED with INSUFFICIENT_FUNDS, the reservation released, the ledger untouched', async () => {
    const sku = await createProduct(env.db, { stock: 4, priceMinor: 3000 });
    const customer = await createCustomer(env.db, { balanceMinor: 1000 });

    const order = await placeOrder(env, customer, [{ sku, quantity: 1 }]);
    const final = await waitForStatus(env.db, order.id, 'COMPENSATED');

    expect(final.failureReason).toBe('INSUFFICIENT_FUNDS');
    expect(await productStock(env.db, sku)).toEqual({ available: 4, reserved: 0, committed: 0 });
    expect(await balance(env.db, customer)).toBe(1000);
    expect(await ledgerNet(order.id, customer)).toBe(0);
    expect((await env.db.reservation.findUniqueOrThrow({ where: { orderId: order.id } })).status).toBe('RELEASED');
    expect((await env.db.payment.findUniqueOrThrow({ where: { orderId: order.id } })).status).toBe('FAILED');
  });

  test('when a cancel arrives mid-saga, the order is COMPENSATED with CANCELLED and stock is back', async () => {
    const sku = await createProduct(env.db, { stock: 3, priceMinor: 700 });
    const customer = await createCustomer(env.db, { balanceMinor: 10_000 });
    // Hold the saga inside its first step until the cancel has been sent.
    let orderId = '';
    env.faults.add({ point: 'inventory.reserve.afterCommit', action: 'delay', delayMs: 1500 });

    const order = await placeOrder(env, customer, [{ sku, quantity: 2 }]);
    orderId = order.id;
    await eventually(async () => env.faults.hits.some((h) => h.orderId === orderId), { what: 'the reserve step to be running' });
    await env.client.workflow.getHandle(orderWorkflowId(order.id)).signal(cancelSignal, { reason: 'changed my mind' });
    const final = await waitForStatus(env.db, order.id, 'COMPENSATED');

    expect(final.failureReason).toBe('CANCELLED');
    expect(await productStock(env.db, sku)).toEqual({ available: 3, reserved: 0, committed: 0 });
    expect(await balance(env.db, customer)).toBe(10_000);
    expect(await ledgerTransactionsOf(env.db, order.id)).toEqual([]);
  });

  test('when a CONFIRMED order gets a compensate signal, it is refunded and restocked exactly once', async () => {
    const sku = await createProduct(env.db, { stock: 2, priceMinor: 900 });
    const customer = await createCustomer(env.db, { balanceMinor: 5000 });
    const order = await placeOrder(env, customer, [{ sku, quantity: 2 }]);
    await waitForStatus(env.db, order.id, 'CONFIRMED');

    const handle = env.client.workflow.getHandle(orderWorkflowId(order.id));
    await handle.signal(compensateSignal, { reason: 'goods returned' });
    await handle.signal(compensateSignal, { reason: 'sent twice by mistake' });
    const final = await waitForStatus(env.db, order.id, 'COMPENSATED');

    expect(final.failureReason).toBe('MANUAL_COMPENSATION');
    expect(await productStock(env.db, sku)).toEqual({ available: 2, reserved: 0, committed: 0 });
    expect(await balance(env.db, customer)).toBe(5000);
    const kinds = (await ledgerTransactionsOf(env.db, order.id)).map((t) => t.kind);
    expect(kinds).toEqual(['CHARGE', 'REFUND']);
    await handle.result();
  });

  test('when a saga runs, the Web UI has a line for the workflow, each step, the compensation window and each undo (user metadata in its history)', async () => {
    const sku = await createProduct(env.db, { stock: 3, priceMinor: 700 });
    const customer = await createCustomer(env.db, { balanceMinor: 5000 });
    const order = await placeOrder(env, customer, [{ sku, quantity: 3 }]);
    await waitForStatus(env.db, order.id, 'CONFIRMED');
    const handle = env.client.workflow.getHandle(orderWorkflowId(order.id));
    await handle.signal(compensateSignal, { reason: 'secret-ish operator text' });
    await waitForStatus(env.db, order.id, 'COMPENSATED');
    await handle.result();

    const workflowSummary = `order ${order.id}: ${customer}, 2100 EUR minor units, 3 units in 1 line`;
    expect(await (await handle.describe()).staticSummary()).toBe(workflowSummary);
    // Each event with a summary, named by its activity type or else its event type.
    const summaries = ((await handle.fetchHistory()).events ?? []).flatMap((e) => {
      const payload = e.userMetadata?.summary;
      if (!payload) return [];
      const kind = e.activityTaskScheduledEventAttributes?.activityType?.name ?? temporal.api.enums.v1.EventType[e.eventType!];
      return [[kind, defaultPayloadConverter.fromPayload<string>(payload)]];
    });
    const window = `compensation window of order ${order.id}: ${describeDuration(env.cfg.workers.compensationWindowMs)}`;
    expect(summaries).toEqual([
      ['EVENT_TYPE_WORKFLOW_EXECUTION_STARTED', workflowSummary],
      ['reserveInventory', `reserve 3 × ${sku} for order ${order.id}`],
      ['chargePayment', `charge ${customer} 2100 EUR minor units for order ${order.id}`],
      ['commitInventory', `commit the reserved stock of order ${order.id}`],
      ['EVENT_TYPE_TIMER_STARTED', window],
      // The compensate signal ended the window early.
      ['EVENT_TYPE_TIMER_CANCELED', window],
      ['refundPayment', `refund ${customer} the charge of order ${order.id}`],
      ['releaseInventory', `release the stock of order ${order.id}`],
    ]);
  });

  test('when a compensation step keeps failing, the saga parks in NEEDS_ATTENTION, searchable, and a compensate signal finishes it', async () => {
    const sku = await createProduct(env.db, { stock: 2, priceMinor: 400 });
    const customer = await createCustomer(env.db, { balanceMinor: 5000 });
    const order = await placeOrder(env, customer, [{ sku, quantity: 1 }]);
    await waitForStatus(env.db, order.id, 'CONFIRMED');
    env.faults.add({ point: 'payment.refund.beforeCommit', action: 'fail', orderId: order.id });

    const handle = env.client.workflow.getHandle(orderWorkflowId(order.id));
    await handle.signal(compensateSignal, { reason: 'customer complaint' });
    await waitForStatus(env.db, order.id, 'NEEDS_ATTENTION');

    const state = await handle.query(statusQuery);
    expect(state).toMatchObject({ status: 'NEEDS_ATTENTION', pendingCompensation: ['refundPayment', 'releaseInventory'] });
    expect(state.lastError).toMatchObject({ step: 'refundPayment' });
    const found = await eventually(
      async () => {
        const ids: string[] = [];
        for await (const wf of env.client.workflow.list({ query: `OrderStatus="NEEDS_ATTENTION" AND OrderId="${order.id}"` }))
          ids.push(wf.workflowId);
        return ids.length > 0 ? ids : undefined;
      },
      { what: 'the order to be listed by OrderStatus="NEEDS_ATTENTION"' },
    );
    expect(found).toEqual([orderWorkflowId(order.id)]);
    expect(await balance(env.db, customer)).toBe(4600);

    env.faults.clear();
    await handle.signal(compensateSignal, { reason: 'refund service fixed' });
    const final = await waitForStatus(env.db, order.id, 'COMPENSATED');

    expect(final.failureReason).toBe('MANUAL_COMPENSATION');
    expect(await balance(env.db, customer)).toBe(5000);
    expect(await productStock(env.db, sku)).toEqual({ available: 2, reserved: 0, committed: 0 });
    expect((await ledgerTransactionsOf(env.db, order.id)).map((t) => t.kind)).toEqual(['CHARGE', 'REFUND']);
  });

  test('when the charge activity fails after its transaction committed, the retry charges nothing more', async () => {
    const sku = await createProduct(env.db, { stock: 2, priceMinor: 1100 });
    const customer = await createCustomer(env.db, { balanceMinor: 5000 });
    env.faults.add({ point: 'payment.charge.afterCommit', action: 'fail', times: 2 });
    env.faults.add({ point: 'inventory.reserve.afterCommit', action: 'fail', times: 1 });

    const order = await placeOrder(env, customer, [{ sku, quantity: 1 }]);
    await waitForStatus(env.db, order.id, 'CONFIRMED');

    expect(env.faults.hits.filter((h) => h.orderId === order.id)).toHaveLength(3);
    expect((await ledgerTransactionsOf(env.db, order.id)).map((t) => t.kind)).toEqual(['CHARGE']);
    expect(await balance(env.db, customer)).toBe(3900);
    expect(await productStock(env.db, sku)).toEqual({ available: 1, reserved: 0, committed: 1 });
    const types = (await outboxOf(env.db, order.id)).map((e) => e.type);
    expect(types.filter((t) => t === 'PaymentCaptured')).toHaveLength(1);
    expect(types.filter((t) => t === 'InventoryReserved')).toHaveLength(1);
  });

  test('when 50 orders race for 10 units, exactly 10 are CONFIRMED and stock never goes negative', async () => {
    const sku = await createProduct(env.db, { stock: 10, priceMinor: 100 });
    const customers = await Promise.all(Array.from({ length: 50 }, () => createCustomer(env.db, { balanceMinor: 1000 })));

    const orders = await Promise.all(customers.map((c) => placeOrder(env, c, [{ sku, quantity: 1 }])));
    const finals = await Promise.all(orders.map((o) => waitForStatus(env.db, o.id, ['CONFIRMED', 'REJECTED'], 90_000)));

    expect(finals.filter((o) => o.status === 'CONFIRMED')).toHaveLength(10);
    expect(finals.filter((o) => o.status === 'REJECTED').every((o) => o.failureReason === 'OUT_OF_STOCK')).toBe(true);
    expect(await productStock(env.db, sku)).toEqual({ available: 0, reserved: 0, committed: 10 });
  });

  test('when 50 orders charge one account concurrently, it is never overdrawn', async () => {
    const sku = await createProduct(env.db, { stock: 100, priceMinor: 300 });
    const customer = await createCustomer(env.db, { balanceMinor: 3000 });

    const orders = await Promise.all(Array.from({ length: 50 }, () => placeOrder(env, customer, [{ sku, quantity: 1 }])));
    const finals = await Promise.all(orders.map((o) => waitForStatus(env.db, o.id, ['CONFIRMED', 'COMPENSATED'], 90_000)));

    expect(finals.filter((o) => o.status === 'CONFIRMED')).toHaveLength(10);
    expect(finals.filter((o) => o.status === 'COMPENSATED').every((o) => o.failureReason === 'INSUFFICIENT_FUNDS')).toBe(true);
    expect(await balance(env.db, customer)).toBe(0);
    expect(await productStock(env.db, sku)).toEqual({ available: 90, reserved: 0, committed: 10 });
  });
});
