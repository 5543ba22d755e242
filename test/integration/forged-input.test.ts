/**
 * The database is the source of truth for money (issue 19, hole 7): whoever can start a
 * workflow does not decide what is charged or reserved. A saga started by hand with the
 * temporal CLI, for a real order but with a forged input (another amount, another customer),
 * charges nothing: the payment and inventory services read the order row and refuse an input
 * that disagrees with it (ORDER_INPUT_MISMATCH, non-retryable), and the saga ends COMPENSATED
 * with the refusal in its history, where an operator sees it.
 */
import crypto from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { createInventoryActivities } from '../../activities/inventory';
import { createPaymentActivities } from '../../activities/payment';
import { createOrder } from '../../services/orders/place-order';
import { ORDER_ERRORS, ORDER_WORKFLOW_TYPE, orderWorkflowId } from '../../services/orders/contract';
import { markSagaStarted, sagaInput } from '../../services/orders/saga-starter';
import { ordersTaskQueue } from '../../services/orders/task-queues';
import {
  balance,
  createCustomer,
  createOrderRow,
  createProduct,
  ledgerTransactionsOf,
  productStock,
  TEST_API_KEY_ID,
  waitForStatus,
} from '../support/fixtures';
import { useSagaEnv } from '../support/saga-env';
import { temporalCli } from '../support/temporal-cli';

jest.setTimeout(90_000);

const env = useSagaEnv();
const MISMATCH = ORDER_ERRORS.ORDER_INPUT_MISMATCH.code;

/** The ApplicationFailure an activity call was rejected with. */
async function failureOf(call: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

/** A committed order of 2 x 1250 EUR whose saga has not started (as if the API died before starting it). */
async function unstartedOrder(customerId: string, sku: string) {
  const items = [{ sku, quantity: 2, unitPriceMinor: 1250 }];
  const order = await createOrder(
    env.db,
    { apiKeyId: TEST_API_KEY_ID, customerId, items },
    { customerId, currency: 'EUR', totalMinor: 2500, items },
  );
  // The sweeper must not start the real saga: this test starts one by hand.
  await markSagaStarted(env.db, [order.id]);
  return order;
}

/** The ApplicationFailure types of the workflow's failed activities, by activity name. */
async function failedActivities(workflowId: string): Promise<Record<string, string[]>> {
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = new Map<string, string>();
  const failed: Record<string, string[]> = {};
  for (const e of history.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), s.activityType?.name ?? '?');
    const f = e.activityTaskFailedEventAttributes;
    if (f) {
      const name = scheduled.get(String(f.scheduledEventId)) ?? '?';
      (failed[name] ??= []).push(f.failure?.applicationFailureInfo?.type ?? '?');
    }
  }
  return failed;
}

describe('a saga started by hand with a forged input', () => {
  test.each([
    ['an amount of 1 instead of the total', (_victim: string) => ({ totalMinor: 1 })],
    ["another customer's account", (victim: string) => ({ customerId: victim })],
  ])('when the input names %s, then nothing is charged and the order ends COMPENSATED with ORDER_INPUT_MISMATCH', async (_what, forge) => {
    const customer = await createCustomer(env.db, { balanceMinor: 10_000 });
    const victim = await createCustomer(env.db, { balanceMinor: 10_000 });
    const sku = await createProduct(env.db, { stock: 10, priceMinor: 1250 });
    const order = await unstartedOrder(customer, sku);
    const workflowId = orderWorkflowId(order.id);
    const input = { ...sagaInput(env.cfg, order), ...forge(victim) };

    temporalCli(env.cfg, [
      'workflow',
      'start',
      '--type',
      ORDER_WORKFLOW_TYPE,
      '--task-queue',
      ordersTaskQueue(env.cfg.workers.taskQueuePrefix),
      '--workflow-id',
      workflowId,
      '--input',
      JSON.stringify(input),
    ]);

    const ended = await waitForStatus(env.db, order.id, ['CONFIRMED', 'COMPENSATED', 'REJECTED', 'NEEDS_ATTENTION'], 60_000);
    expect(ended.status).toBe('COMPENSATED');
    expect(await ledgerTransactionsOf(env.db, order.id)).toEqual([]);
    expect(await balance(env.db, customer)).toBe(10_000);
    expect(await balance(env.db, victim)).toBe(10_000);
    expect(await env.db.payment.findUnique({ where: { orderId: order.id } })).toBeNull();
    expect(await productStock(env.db, sku)).toEqual({ available: 10, reserved: 0, committed: 0 });
    expect(await failedActivities(workflowId)).toEqual({ chargePayment: [MISMATCH] });
    const history = await env.db.orderStatusHistory.findMany({ where: { orderId: order.id, step: 'chargePayment' } });
    expect(history.map((h) => h.stepStatus)).toContain('FAILED');
  });
});

describe('the services read the order row', () => {
  test('when a charge names another amount, customer or currency than its order, then it fails ORDER_INPUT_MISMATCH and writes nothing', async () => {
    const customer = await createCustomer(env.db, { balanceMinor: 10_000 });
    const other = await createCustomer(env.db, { balanceMinor: 10_000 });
    const orderId = await createOrderRow(env.db, { customerId: customer, totalMinor: 2500 });
    const payments = createPaymentActivities({ db: env.db });
    const real = { orderId, customerId: customer, amountMinor: 2500, currency: 'EUR' };

    for (const forged of [{ amountMinor: 1 }, { customerId: other }, { currency: 'USD' }]) {
      expect(await failureOf(payments.chargePayment({ ...real, ...forged }))).toMatchObject({ type: MISMATCH, nonRetryable: true });
    }
    expect(await env.db.payment.findUnique({ where: { orderId } })).toBeNull();
    expect(await ledgerTransactionsOf(env.db, orderId)).toEqual([]);
    expect([await balance(env.db, customer), await balance(env.db, other)]).toEqual([10_000, 10_000]);

    // The order's own terms still charge (the refusals claimed nothing), and a forged retry is still refused.
    expect(await payments.chargePayment(real)).toEqual({ transactionId: expect.any(String), applied: true });
    expect(await balance(env.db, customer)).toBe(7_500);
    expect(await failureOf(payments.chargePayment({ ...real, amountMinor: 1 }))).toMatchObject({ type: MISMATCH });
  });

  test('when a charge or reserve names an order that does not exist, then it fails ORDER_INPUT_MISMATCH and writes nothing', async () => {
    const customer = await createCustomer(env.db, { balanceMinor: 10_000 });
    const sku = await createProduct(env.db, { stock: 5, priceMinor: 100 });
    const orderId = crypto.randomUUID();

    const charge = createPaymentActivities({ db: env.db }).chargePayment({
      orderId,
      customerId: customer,
      amountMinor: 100,
      currency: 'EUR',
    });
    expect(await failureOf(charge)).toMatchObject({ type: MISMATCH, nonRetryable: true });
    const reserve = createInventoryActivities({ db: env.db }).reserveInventory({ orderId, items: [{ sku, quantity: 1 }] });
    expect(await failureOf(reserve)).toMatchObject({ type: MISMATCH, nonRetryable: true });
    expect(await balance(env.db, customer)).toBe(10_000);
    expect(await productStock(env.db, sku)).toEqual({ available: 5, reserved: 0, committed: 0 });
    expect(await env.db.reservation.findUnique({ where: { orderId } })).toBeNull();
  });

  test("when a reserve names other lines than its order's, then it fails ORDER_INPUT_MISMATCH and holds nothing", async () => {
    const sku = await createProduct(env.db, { stock: 50, priceMinor: 100 });
    const other = await createProduct(env.db, { stock: 50, priceMinor: 100 });
    const orderId = await createOrderRow(env.db, { customerId: 'cust-forged', items: [{ sku, quantity: 2, unitPriceMinor: 100 }] });
    const inventory = createInventoryActivities({ db: env.db });

    for (const items of [
      [{ sku, quantity: 40 }],
      [{ sku: other, quantity: 2 }],
      [
        { sku, quantity: 2 },
        { sku: other, quantity: 1 },
      ],
      [],
    ]) {
      expect(await failureOf(inventory.reserveInventory({ orderId, items }))).toMatchObject({ type: MISMATCH, nonRetryable: true });
    }
    expect(await env.db.reservation.findUnique({ where: { orderId } })).toBeNull();
    expect([await productStock(env.db, sku), await productStock(env.db, other)]).toEqual([
      { available: 50, reserved: 0, committed: 0 },
      { available: 50, reserved: 0, committed: 0 },
    ]);
    // The order's own lines, in any order or split, reserve.
    expect(
      await inventory.reserveInventory({
        orderId,
        items: [
          { sku, quantity: 1 },
          { sku, quantity: 1 },
        ],
      }),
    ).toEqual({ applied: true });
    expect(await productStock(env.db, sku)).toEqual({ available: 48, reserved: 2, committed: 0 });
  });
});
