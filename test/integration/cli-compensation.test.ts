/**
 * Operators compensate by hand with the real Temporal CLI (the pinned binary the stack
 * built), with the runbook's commands (scripts/operator-commands.ts, from which the runbook
 * is generated): a `compensate` signal to a CONFIRMED order refunds and restocks it exactly
 * once, `workflow list` finds the orders parked in NEEDS_ATTENTION, and the `requestCancel`
 * update undoes an order before confirmation and is refused after.
 */
import { fill, TEMPORAL_COMMANDS } from '../../scripts/operator-commands';
import { orderWorkflowId } from '../../services/orders/contract';
import { balance, createCustomer, createProduct, ledgerTransactionsOf, placeOrder, productStock, waitForStatus } from '../support/fixtures';
import { useSagaEnv } from '../support/saga-env';
import { temporalCliAsync } from '../support/temporal-cli';
import { eventually } from '../support/wait';

const env = useSagaEnv();

/** Async, so this process's workers can answer the CLI's queries and updates meanwhile. */
const temporalCli = (args: string[]): Promise<string> => temporalCliAsync(env.cfg, args);

test('when an operator signals compensate with `temporal workflow signal`, the CONFIRMED order is refunded and restocked once', async () => {
  const sku = await createProduct(env.db, { stock: 3, priceMinor: 2000 });
  const customer = await createCustomer(env.db, { balanceMinor: 9000 });
  const order = await placeOrder(env, customer, [{ sku, quantity: 2 }]);
  await waitForStatus(env.db, order.id, 'CONFIRMED');

  const args = fill(TEMPORAL_COMMANDS.compensate, { orderId: order.id });
  await temporalCli(args);
  await temporalCli(args); // an operator's double-send must not refund twice
  const final = await waitForStatus(env.db, order.id, 'COMPENSATED');

  expect(final.failureReason).toBe('MANUAL_COMPENSATION');
  expect(await balance(env.db, customer)).toBe(9000);
  expect(await productStock(env.db, sku)).toEqual({ available: 3, reserved: 0, committed: 0 });
  expect((await ledgerTransactionsOf(env.db, order.id)).map((t) => t.kind)).toEqual(['CHARGE', 'REFUND']);

  const described = JSON.parse(await temporalCli(['workflow', 'describe', '--workflow-id', orderWorkflowId(order.id), '--output', 'json']));
  expect(JSON.stringify(described)).toContain('COMPENSATED');
  expect(await temporalCli(fill(TEMPORAL_COMMANDS.queryStatus, { orderId: order.id }))).toMatch(/"status":\s*"COMPENSATED"/);
});

test('when an order is parked in NEEDS_ATTENTION, `temporal workflow list` shows it and its compensate signal finishes it', async () => {
  const sku = await createProduct(env.db, { stock: 2, priceMinor: 600 });
  const customer = await createCustomer(env.db, { balanceMinor: 4000 });
  const order = await placeOrder(env, customer, [{ sku, quantity: 1 }]);
  await waitForStatus(env.db, order.id, 'CONFIRMED');
  env.faults.add({ point: 'payment.refund.beforeCommit', action: 'fail', orderId: order.id });
  const compensate = fill(TEMPORAL_COMMANDS.compensate, { orderId: order.id });
  await temporalCli(compensate);
  await waitForStatus(env.db, order.id, 'NEEDS_ATTENTION');

  // Visibility lags the workflow a little.
  const listed = await eventually(
    async () => {
      const out = await temporalCli(fill(TEMPORAL_COMMANDS.listNeedsAttention, { orderId: order.id }));
      return out.includes(orderWorkflowId(order.id)) ? out : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 500, what: 'temporal workflow list to show the parked order' },
  );
  const row = listed.split('\n').find((line) => line.includes(orderWorkflowId(order.id)));
  expect(row).toMatch(/\bRunning\b.*\borderSaga\b/);

  env.faults.clear();
  await temporalCli(compensate);
  const final = await waitForStatus(env.db, order.id, 'COMPENSATED');
  expect(final.failureReason).toBe('MANUAL_COMPENSATION');
  expect(await balance(env.db, customer)).toBe(4000);
  expect(await productStock(env.db, sku)).toEqual({ available: 2, reserved: 0, committed: 0 });
});

test('when an operator sends `temporal workflow update execute --name requestCancel` before confirmation, the order is undone', async () => {
  const sku = await createProduct(env.db, { stock: 2, priceMinor: 900 });
  const customer = await createCustomer(env.db, { balanceMinor: 5000 });
  // Holds the charge, so the update surely arrives before confirmation.
  env.faults.add({ point: 'payment.charge.beforeCommit', action: 'delay', delayMs: 3000, times: 1 });
  const order = await placeOrder(env, customer, [{ sku, quantity: 1 }]);
  await waitForStatus(env.db, order.id, 'INVENTORY_RESERVED');

  expect(await temporalCli(fill(TEMPORAL_COMMANDS.requestCancel, { orderId: order.id }))).toContain('accepted');
  const final = await waitForStatus(env.db, order.id, 'COMPENSATED');

  expect(final.failureReason).toBe('CANCELLED');
  expect(await balance(env.db, customer)).toBe(5000);
  expect(await productStock(env.db, sku)).toEqual({ available: 2, reserved: 0, committed: 0 });
});

test('when an operator sends requestCancel to a CONFIRMED order, the saga refuses it and nothing moves', async () => {
  const sku = await createProduct(env.db, { stock: 2, priceMinor: 900 });
  const customer = await createCustomer(env.db, { balanceMinor: 5000 });
  const order = await placeOrder(env, customer, [{ sku, quantity: 1 }]);
  await waitForStatus(env.db, order.id, 'CONFIRMED');

  await expect(temporalCli(fill(TEMPORAL_COMMANDS.requestCancel, { orderId: order.id }))).rejects.toThrow(
    /can no longer be cancelled: it is CONFIRMED/,
  );

  expect(await temporalCli(fill(TEMPORAL_COMMANDS.queryStatus, { orderId: order.id }))).toMatch(/"status":\s*"CONFIRMED"/);
  expect((await env.db.order.findUniqueOrThrow({ where: { id: order.id } })).status).toBe('CONFIRMED');
  expect(await balance(env.db, customer)).toBe(4100);
  expect(await productStock(env.db, sku)).toEqual({ available: 1, reserved: 0, committed: 1 });
});
