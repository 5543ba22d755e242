/**
 * The saga's edges where money or intent could be lost (issue 10), against the real database,
 * Temporal server and REST API, with the workers in this process: the compensation window as a
 * fact of the order, a compensate after it (API and a fresh run alike), the database's refusal
 * of COMPENSATED with something still in effect, a cancel or compensate that arrives during the
 * last step, and `temporal workflow cancel` on a CONFIRMED order.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Client as PgClient } from 'pg';
import { orderWorkflowId, SIGNALS } from '../../services/orders/contract';
import { signalSaga } from '../../services/orders/saga-starter';
import { balance, createCustomer, createProduct, ledgerTransactionsOf, productStock, waitForStatus } from '../support/fixtures';
import { startApiEnv, type ApiEnv } from '../support/api-env';
import { temporalCli as runTemporalCli } from '../support/temporal-cli';
import { eventually } from '../support/wait';
import crypto from 'node:crypto';

/** Short enough to watch it close, long enough to act inside it. */
const WINDOW_MS = 6000;

jest.setTimeout(150_000);

let env: ApiEnv;
let sku: string;

beforeAll(async () => {
  env = await startApiEnv({ SAGA_COMPENSATION_WINDOW_MS: String(WINDOW_MS) });
  sku = await createProduct(env.db, { stock: 1000, priceMinor: 300 });
});
afterAll(async () => {
  await env?.stop();
});
afterEach(() => env.faults.clear());

const temporalCli = (args: string[]): string => runTemporalCli(env.cfg, args);

async function customerFor(balanceMinor: number): Promise<string> {
  return createCustomer(env.db, { balanceMinor, grantTo: [env.keys.clientA.id] });
}

async function place(customer: string, quantity = 1): Promise<string> {
  const reply = await env.call('POST', '/orders', {
    body: { customerId: customer, items: [{ sku, quantity }] },
    headers: { 'idempotency-key': crypto.randomUUID() },
  });
  expect(reply.status).toBe(202);
  return reply.body.orderId as string;
}

const windowOf = (orderId: string) =>
  env.db.order.findUniqueOrThrow({
    where: { id: orderId },
    select: { compensationWindowClosesAt: true, compensationWindowClosedAt: true },
  });

/** Waits until the workflow's window timer has elapsed and the order says its window is closed. */
async function windowClosed(orderId: string): Promise<Date> {
  return eventually(async () => (await windowOf(orderId)).compensationWindowClosedAt ?? undefined, {
    what: `order ${orderId}'s compensation window to close`,
    timeoutMs: WINDOW_MS + 20_000,
  });
}

/** What retention does to a closed run: its history is gone, so the next signal-with-start makes a fresh run. */
async function dropClosedRun(orderId: string): Promise<void> {
  const handle = env.client.workflow.getHandle(orderWorkflowId(orderId));
  await handle.result().catch(() => undefined);
  temporalCli(['workflow', 'delete', '--workflow-id', orderWorkflowId(orderId)]);
  // The server deletes in the background once the close task is checkpointed (about 3 s on the stack's dev server).
  await eventually(async () => ((await handle.describe().catch(() => null)) === null ? true : undefined), {
    what: `the run of order ${orderId} to be deleted`,
    timeoutMs: 90_000,
    intervalMs: 500,
  });
}

describe('the compensation window is a fact of the order', () => {
  test('when the window closes, the order says when; a compensate after it is a 409 and moves nothing', async () => {
    const customer = await customerFor(10_000);
    const orderId = await place(customer, 2);
    await waitForStatus(env.db, orderId, 'CONFIRMED');
    const { compensationWindowClosesAt: closesAt } = await windowOf(orderId);
    expect(closesAt).not.toBeNull();
    const closedAt = await windowClosed(orderId);
    expect(closedAt.getTime()).toBeGreaterThanOrEqual(closesAt!.getTime() - 1000);
    const balanceBefore = await balance(env.db, customer);

    const reply = await env.call('POST', `/admin/orders/${orderId}/compensate`, { key: env.keys.admin.key, body: { reason: 'too late' } });
    expect(reply.status).toBe(409);
    expect(reply.body.type).toMatch(/\/compensation-window-closed$/);
    expect(reply.body.detail).toContain(closedAt.toISOString());

    expect(await balance(env.db, customer)).toBe(balanceBefore);
    expect((await env.db.order.findUniqueOrThrow({ where: { id: orderId } })).status).toBe('CONFIRMED');
    expect((await ledgerTransactionsOf(env.db, orderId)).map((t) => t.kind)).toEqual(['CHARGE']);
  });

  test('when retention has dropped the closed run, a compensate signal-with-start makes a fresh run that refuses, and nothing is marked undone', async () => {
    const customer = await customerFor(10_000);
    const orderId = await place(customer, 1);
    await waitForStatus(env.db, orderId, 'CONFIRMED');
    await windowClosed(orderId);
    await dropClosedRun(orderId);

    // What tctl or the temporal CLI would do (signal-with-start), past the API's own check.
    await signalSaga(env.client, env.cfg, env.db, orderId, SIGNALS.compensate, { reason: 'by hand, months later' });
    const failure = await env.client.workflow
      .getHandle(orderWorkflowId(orderId))
      .result()
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    // The saga's own refusal (not an activity failure passed through): it says nothing was undone.
    expect(cause).toMatchObject({ type: 'COMPENSATION_WINDOW_CLOSED', message: expect.stringContaining('nothing was undone') });

    const order = await env.db.order.findUniqueOrThrow({ where: { id: orderId } });
    expect(order.status).toBe('CONFIRMED');
    expect(await balance(env.db, customer)).toBe(10_000 - 300);
    expect((await ledgerTransactionsOf(env.db, orderId)).map((t) => t.kind)).toEqual(['CHARGE']);
  });

  test('when a run lost its memory inside the window, its compensation undoes what the database says was done', async () => {
    const customer = await customerFor(10_000);
    const orderId = await place(customer, 2);
    await waitForStatus(env.db, orderId, 'CONFIRMED');
    // This order's window is ten minutes (this file's default is seconds; dropping a run takes a few).
    await env.db.order.update({ where: { id: orderId }, data: { compensationWindowClosesAt: new Date(Date.now() + 10 * 60_000) } });
    const handle = env.client.workflow.getHandle(orderWorkflowId(orderId));
    await handle.terminate('test: the run is lost');
    await dropClosedRun(orderId);

    await signalSaga(env.client, env.cfg, env.db, orderId, SIGNALS.compensate, { reason: 'goods returned' });
    const final = await waitForStatus(env.db, orderId, 'COMPENSATED');

    expect(final.failureReason).toBe('MANUAL_COMPENSATION');
    expect(await balance(env.db, customer)).toBe(10_000);
    expect((await ledgerTransactionsOf(env.db, orderId)).map((t) => t.kind)).toEqual(['CHARGE', 'REFUND']);
    expect((await env.db.reservation.findUniqueOrThrow({ where: { orderId } })).status).toBe('RELEASED');
  });

  test('the database refuses COMPENSATED while the payment is captured, and COMPENSATING after the window, whoever asks', async () => {
    const customer = await customerFor(10_000);
    const orderId = await place(customer, 1);
    await waitForStatus(env.db, orderId, 'CONFIRMED');
    const pg = new PgClient({ connectionString: env.cfg.database.url });
    await pg.connect();
    try {
      await expect(pg.query(`UPDATE orders SET status = 'COMPENSATED' WHERE id = $1`, [orderId])).rejects.toMatchObject({
        code: 'OS002',
        message: expect.stringContaining('payment CAPTURED'),
      });
      await pg.query(`UPDATE orders SET compensation_window_closes_at = now() - interval '1 second' WHERE id = $1`, [orderId]);
      await expect(pg.query(`UPDATE orders SET status = 'COMPENSATING' WHERE id = $1`, [orderId])).rejects.toMatchObject({ code: 'OS001' });
    } finally {
      await pg.end();
    }
    expect((await env.db.order.findUniqueOrThrow({ where: { id: orderId } })).status).toBe('CONFIRMED');
  });
});

describe('intent that arrives during the last step is not lost', () => {
  test('a cancel accepted while the commit runs answers with the saga decision and ends COMPENSATED, refunded and restocked', async () => {
    const customer = await customerFor(10_000);
    const stockBefore = await productStock(env.db, sku);
    env.faults.add({ point: 'inventory.commit.afterCommit', action: 'delay', delayMs: 2000 });
    const orderId = await place(customer, 1);
    await eventually(async () => env.faults.hits.some((h) => h.orderId === orderId && h.point === 'inventory.commit.afterCommit'), {
      what: 'the commit step to be running',
    });

    const reply = await env.call('POST', `/orders/${orderId}/cancel`, { body: { reason: 'changed my mind' } });
    expect(reply.status).toBe(202);
    expect(reply.body).toEqual({ orderId, status: 'PAYMENT_CAPTURED', accepted: true });
    const final = await waitForStatus(env.db, orderId, 'COMPENSATED');

    expect(final.failureReason).toBe('CANCELLED');
    expect(await balance(env.db, customer)).toBe(10_000);
    expect((await ledgerTransactionsOf(env.db, orderId)).map((t) => t.kind)).toEqual(['CHARGE', 'REFUND']);
    expect(await productStock(env.db, sku)).toEqual(stockBefore);
  });

  test('a compensate signal sent while the commit runs is acted on right after it', async () => {
    const customer = await customerFor(10_000);
    env.faults.add({ point: 'inventory.commit.afterCommit', action: 'delay', delayMs: 2000 });
    const orderId = await place(customer, 1);
    await eventually(async () => env.faults.hits.some((h) => h.orderId === orderId && h.point === 'inventory.commit.afterCommit'), {
      what: 'the commit step to be running',
    });

    await env.client.workflow.getHandle(orderWorkflowId(orderId)).signal(SIGNALS.compensate, { reason: 'sent before it confirmed' });
    const final = await waitForStatus(env.db, orderId, 'COMPENSATED');

    expect(final.failureReason).toBe('MANUAL_COMPENSATION');
    expect(await balance(env.db, customer)).toBe(10_000);
  });
});

describe('operators cancelling workflows', () => {
  test('`temporal workflow cancel` on a CONFIRMED order closes its window and refunds nothing; compensate then answers 409', async () => {
    const customer = await customerFor(10_000);
    const orderId = await place(customer, 1);
    await waitForStatus(env.db, orderId, 'CONFIRMED');

    temporalCli(['workflow', 'cancel', '--workflow-id', orderWorkflowId(orderId)]);
    await windowClosed(orderId);
    await env.client.workflow
      .getHandle(orderWorkflowId(orderId))
      .result()
      .catch(() => undefined);

    expect((await env.db.order.findUniqueOrThrow({ where: { id: orderId } })).status).toBe('CONFIRMED');
    expect(await balance(env.db, customer)).toBe(10_000 - 300);
    expect((await ledgerTransactionsOf(env.db, orderId)).map((t) => t.kind)).toEqual(['CHARGE']);
    const reply = await env.call('POST', `/admin/orders/${orderId}/compensate`, { key: env.keys.admin.key, body: { reason: 'x' } });
    expect(reply.status).toBe(409);
    expect(reply.body.type).toMatch(/\/compensation-window-closed$/);
  });
});
