/**
 * Operators compensate by hand with the real Temporal CLI (the pinned binary the stack
 * built): a `compensate` signal to a CONFIRMED order refunds and restocks it exactly once,
 * and `workflow list` finds the orders parked in NEEDS_ATTENTION.
 */
import { orderWorkflowId } from '../../services/orders/contract';
import { balance, createCustomer, createProduct, ledgerTransactionsOf, placeOrder, productStock, waitForStatus } from '../support/fixtures';
import { useSagaEnv } from '../support/saga-env';
import { temporalCli as runTemporalCli } from '../support/temporal-cli';
import { eventually } from '../support/wait';

const env = useSagaEnv();

const temporalCli = (args: string[]): string => runTemporalCli(env.cfg, args);

test('when an operator signals compensate with `temporal workflow signal`, the CONFIRMED order is refunded and restocked once', async () => {
  const sku = await createProduct(env.db, { stock: 3, priceMinor: 2000 });
  const customer = await createCustomer(env.db, { balanceMinor: 9000 });
  const order = await placeOrder(env, customer, [{ sku, quantity: 2 }]);
  await waitForStatus(env.db, order.id, 'CONFIRMED');

  // The README's command, word for word apart from the ids.
  const args = [
    'workflow',
    'signal',
    '--workflow-id',
    orderWorkflowId(order.id),
    '--name',
    'compensate',
    '--input',
    '{"reason":"customer returned the goods"}',
  ];
  temporalCli(args);
  temporalCli(args); // an operator's double-send must not refund twice
  const final = await waitForStatus(env.db, order.id, 'COMPENSATED');

  expect(final.failureReason).toBe('MANUAL_COMPENSATION');
  expect(await balance(env.db, customer)).toBe(9000);
  expect(await productStock(env.db, sku)).toEqual({ available: 3, reserved: 0, committed: 0 });
  expect((await ledgerTransactionsOf(env.db, order.id)).map((t) => t.kind)).toEqual(['CHARGE', 'REFUND']);

  const described = JSON.parse(temporalCli(['workflow', 'describe', '--workflow-id', orderWorkflowId(order.id), '--output', 'json']));
  expect(JSON.stringify(described)).toContain('COMPENSATED');
});

test("when an order is parked in NEEDS_ATTENTION, the README's `temporal workflow list` shows it and its compensate signal finishes it", async () => {
  const sku = await createProduct(env.db, { stock: 2, priceMinor: 600 });
  const customer = await createCustomer(env.db, { balanceMinor: 4000 });
  const order = await placeOrder(env, customer, [{ sku, quantity: 1 }]);
  await waitForStatus(env.db, order.id, 'CONFIRMED');
  env.faults.add({ point: 'payment.refund.beforeCommit', action: 'fail', orderId: order.id });
  const compensate = [
    'workflow',
    'signal',
    '--workflow-id',
    orderWorkflowId(order.id),
    '--name',
    'compensate',
    '--input',
    '{"reason":"customer returned the goods"}',
  ];
  temporalCli(compensate);
  await waitForStatus(env.db, order.id, 'NEEDS_ATTENTION');

  // The README's command, word for word; visibility lags the workflow a little.
  const listed = await eventually(
    async () => {
      const out = temporalCli(['workflow', 'list', '--query', 'OrderStatus="NEEDS_ATTENTION"']);
      return out.includes(orderWorkflowId(order.id)) ? out : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 500, what: 'temporal workflow list to show the parked order' },
  );
  const row = listed.split('\n').find((line) => line.includes(orderWorkflowId(order.id)));
  expect(row).toMatch(/\bRunning\b.*\borderSaga\b/);

  env.faults.clear();
  temporalCli(compensate);
  const final = await waitForStatus(env.db, order.id, 'COMPENSATED');
  expect(final.failureReason).toBe('MANUAL_COMPENSATION');
  expect(await balance(env.db, customer)).toBe(4000);
  expect(await productStock(env.db, sku)).toEqual({ available: 2, reserved: 0, committed: 0 });
});
