/**
 * Operators who use tctl (1.13.1, pinned and built by the stack) run the runbook's commands.
 * This file runs exactly those argument lists (scripts/operator-commands.ts, from which the
 * runbook is generated), in both forms, against the real server and the workers of this
 * process, and checks what they did to the ledger and stock.
 */
import path from 'node:path';
import { fill, TCTL_COMMANDS as COMMANDS } from '../../scripts/operator-commands';
import { run } from '../../scripts/stack/proc';
import { goToolPath } from '../../scripts/stack/temporal';
import { loadStackConfig } from '../../scripts/stack/config';
import { orderWorkflowId } from '../../services/orders/contract';
import { balance, createCustomer, createProduct, ledgerTransactionsOf, placeOrder, productStock, waitForStatus } from '../support/fixtures';
import { useSagaEnv } from '../support/saga-env';
import { eventually } from '../support/wait';

const ROOT = path.resolve(__dirname, '../..');

const env = useSagaEnv();

/** `npm run -s tctl -- ARGS`: tctl gets the address and namespace from the project's config. */
async function npmTctl(args: string[]): Promise<string> {
  const { stdout } = await run('npm', ['run', '-s', 'tctl', '--', ...args], { cwd: ROOT, env: process.env, timeout: 60_000 });
  return stdout;
}

/** The binary itself with --address and --ns, and none of the variables npm run sets. */
async function rawTctl(args: string[]): Promise<string> {
  const bare = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_CLI_')));
  const global = ['--address', env.cfg.temporal.address, '--ns', env.cfg.temporal.namespace];
  const { stdout } = await run(goToolPath(loadStackConfig(), 'tctl'), [...global, ...args], { env: bare, timeout: 30_000 });
  return stdout;
}

/** The WORKFLOW ID column of `tctl workflow list`'s table. */
function listedWorkflowIds(table: string): string[] {
  return table
    .split('\n')
    .map((line) => line.split('|').map((cell) => cell.trim()))
    .filter((cells) => cells[0] === 'orderSaga')
    .map((cells) => cells[1]!);
}

/** Polls a list command (visibility lags the workflow a little) until it shows the workflow. */
async function listUntilShown(runTctl: (args: string[]) => Promise<string>, args: string[], workflowId: string): Promise<string[]> {
  return eventually(
    async () => {
      const ids = listedWorkflowIds(await runTctl(args));
      return ids.includes(workflowId) ? ids : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 500, what: `tctl ${args.join(' ')} to list ${workflowId}` },
  );
}

/** `tctl workflow query` prints `Query result:` and then the payloads as a JSON array. */
function queryResult(out: string): Record<string, unknown> {
  const [, json] = out.split('Query result:\n');
  if (!json) throw new Error(`no query result in tctl output: ${out}`);
  const parsed: unknown = JSON.parse(json.trim());
  return (Array.isArray(parsed) ? parsed[0] : parsed) as Record<string, unknown>;
}

async function signalsReceived(workflowId: string): Promise<number> {
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'compensate').length;
}

test("when an operator sends tctl's compensate signal twice to a CONFIRMED order, it is refunded and restocked exactly once", async () => {
  const sku = await createProduct(env.db, { stock: 3, priceMinor: 1500 });
  const customerId = await createCustomer(env.db, { balanceMinor: 8000 });
  const order = await placeOrder(env, customerId, [{ sku, quantity: 2 }]);
  await waitForStatus(env.db, order.id, 'CONFIRMED');
  expect(await balance(env.db, customerId)).toBe(5000);
  // Holds the refund for 2 s so that the second send surely finds the saga still open.
  env.faults.add({ point: 'payment.refund.beforeCommit', action: 'delay', delayMs: 2000, times: 1, orderId: order.id });

  const signal = fill(COMMANDS.compensate, { orderId: order.id, customerId });
  await npmTctl(signal);
  await rawTctl(signal);
  const final = await waitForStatus(env.db, order.id, 'COMPENSATED');

  expect(await signalsReceived(order.workflowId)).toBe(2);
  expect(final.failureReason).toBe('MANUAL_COMPENSATION');
  expect(await balance(env.db, customerId)).toBe(8000);
  expect(await productStock(env.db, sku)).toEqual({ available: 3, reserved: 0, committed: 0 });
  const ledger = await ledgerTransactionsOf(env.db, order.id);
  expect(ledger.map((t) => t.kind)).toEqual(['CHARGE', 'REFUND']);
  expect(queryResult(await npmTctl(fill(COMMANDS.queryStatus, { orderId: order.id, customerId })))).toMatchObject({
    status: 'COMPENSATED',
    failureReason: 'MANUAL_COMPENSATION',
    pendingCompensation: [],
  });
  const listed = await listUntilShown(
    npmTctl,
    fill(COMMANDS.listCompensatedOfCustomer, { orderId: order.id, customerId }),
    order.workflowId,
  );
  expect(listed).toEqual([orderWorkflowId(order.id)]);
});

test('when a saga is parked in NEEDS_ATTENTION, tctl lists and queries it, and its compensate signal retries it to COMPENSATED', async () => {
  const sku = await createProduct(env.db, { stock: 2, priceMinor: 700 });
  const customerId = await createCustomer(env.db, { balanceMinor: 3000 });
  const order = await placeOrder(env, customerId, [{ sku, quantity: 1 }]);
  const ids = { orderId: order.id, customerId };
  await waitForStatus(env.db, order.id, 'CONFIRMED');
  env.faults.add({ point: 'payment.refund.beforeCommit', action: 'fail', orderId: order.id });

  await npmTctl(fill(COMMANDS.compensate, ids));
  await waitForStatus(env.db, order.id, 'NEEDS_ATTENTION');

  expect(await listUntilShown(rawTctl, fill(COMMANDS.listNeedsAttention, ids), order.workflowId)).toContain(order.workflowId);
  const parked = queryResult(await rawTctl(fill(COMMANDS.queryStatus, ids)));
  expect(parked).toMatchObject({ status: 'NEEDS_ATTENTION', pendingCompensation: ['refundPayment', 'releaseInventory'] });
  expect(parked.lastError).toMatchObject({ step: 'refundPayment' });
  expect(await balance(env.db, customerId)).toBe(2300);

  env.faults.clear();
  await rawTctl(fill(COMMANDS.compensate, ids));
  const final = await waitForStatus(env.db, order.id, 'COMPENSATED');

  expect(final.failureReason).toBe('MANUAL_COMPENSATION');
  expect(await balance(env.db, customerId)).toBe(3000);
  expect(await productStock(env.db, sku)).toEqual({ available: 2, reserved: 0, committed: 0 });
  expect((await ledgerTransactionsOf(env.db, order.id)).map((t) => t.kind)).toEqual(['CHARGE', 'REFUND']);
  expect(queryResult(await rawTctl(fill(COMMANDS.queryStatus, ids)))).toMatchObject({ status: 'COMPENSATED', lastError: null });
  expect(await listUntilShown(rawTctl, fill(COMMANDS.listCompensatedOfCustomer, ids), order.workflowId)).toEqual([order.workflowId]);
});
