/**
 * The saga-start sweeper (issue 10, edge 6): one order whose start Temporal refuses must not
 * hold back the orders after it, and what the sweeper did is counted and logged per order.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { Registry } from 'prom-client';
import { createApiKey } from '../../services/access/api-keys';
import { orderWorkflowId } from '../../services/orders/contract';
import { sweepUnstartedSagas } from '../../services/orders/saga-starter';
import { placeOrder, priceOrder } from '../../services/orders/place-order';
import { noFaults } from '../../lib/faults';
import { createCustomer, createProduct, waitForStatus } from '../support/fixtures';
import { eventually } from '../support/wait';
import { createLogger } from '../../lib/logger';
import { metricValue } from '../support/processes';
import { startSagaEnv, type SagaEnv } from '../support/saga-env';

let env: SagaEnv;
beforeAll(async () => {
  env = await startSagaEnv();
});
afterAll(async () => {
  await env?.stop();
});

/** An order committed `ageMs` ago whose saga never started (the API died, or Temporal said no). */
async function unstartedOrder(apiKeyId: string, customerId: string, ageMs: number): Promise<string> {
  const id = crypto.randomUUID();
  await env.db.$executeRawUnsafe(
    `INSERT INTO orders (id, customer_id, api_key_id, status, currency, total_minor, workflow_id, created_at)
     VALUES ($1::uuid, $2, $3::uuid, 'PENDING', 'EUR', 100, $4, now() - make_interval(secs => $5::int / 1000.0))`,
    id,
    customerId,
    apiKeyId,
    orderWorkflowId(id),
    ageMs,
  );
  await env.db.$executeRawUnsafe(
    `INSERT INTO order_items (order_id, line_no, sku, quantity, unit_price_minor) VALUES ($1::uuid, 1, 'NOPE', 1, 100)`,
    id,
  );
  return id;
}

test('when the oldest unstarted order cannot be started, then the sweep still starts the ones after it, and counts and logs both', async () => {
  const admin = await createApiKey(env.db, 'sweeper-test', 'admin');
  // Temporal refuses a search attribute value this long (Keyword values are capped), so this start fails every time.
  const refused = await unstartedOrder(admin.id, `x${'y'.repeat(5000)}`, 120_000);
  const fine = await unstartedOrder(admin.id, 'sweeper-customer', 60_000);
  const lines: string[] = [];
  const log = createLogger('sweeper-test', 'info', { write: (line: string) => void lines.push(line) });
  const registry = new Registry();
  try {
    const result = await sweepUnstartedSagas(env.db, env.client, env.cfg, log, { registry, limit: 1000 });
    expect(result.failed).toContain(refused);
    expect(result.started).toContain(fine);
    const described = await env.client.workflow.getHandle(orderWorkflowId(fine)).describe();
    expect(described.type).toBe('orderSaga');
    const rows = await env.db.order.findMany({ where: { id: { in: [refused, fine] } }, select: { id: true, sagaStartedAt: true } });
    expect(Object.fromEntries(rows.map((r) => [r.id, r.sagaStartedAt !== null]))).toEqual({ [refused]: false, [fine]: true });
    const text = await registry.metrics();
    expect(metricValue(text, 'saga_sweeper_starts_total', { outcome: 'failed' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'saga_sweeper_starts_total', { outcome: 'started' })).toBeGreaterThanOrEqual(1);
    expect(lines.some((l) => l.includes(refused) && l.includes('could not start'))).toBe(true);
    expect(lines.some((l) => l.includes(fine) && l.includes('started an orphaned order saga'))).toBe(true);
  } finally {
    // Never sweep the refused one again (other test files share this database).
    await env.db.order.update({ where: { id: refused }, data: { sagaStartedAt: new Date(), status: 'REJECTED' } });
  }
});

test('when a sweep is still running, then the next tick is skipped: one sweep in flight', async () => {
  const { singleFlight } = await import('../../services/orders/saga-starter');
  let release: () => void = () => undefined;
  let runs = 0;
  const sweep = singleFlight(async () => {
    runs += 1;
    await new Promise<void>((resolve) => (release = resolve));
    return 'swept';
  });
  const first = sweep();
  expect(await sweep()).toBe('skipped');
  release();
  expect(await first).toBe('swept');
  expect(runs).toBe(1);
  const again = sweep();
  release();
  expect(await again).toBe('swept');
});

test('when Temporal takes no start (it accepts the connection and never answers), placing an order still returns within SAGA_START_TIMEOUT_MS, and the sweeper starts its saga', async () => {
  // A server that takes the TCP connection and never says a word: a Temporal too loaded to answer.
  const sockets: net.Socket[] = [];
  const mute = net.createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
  const address = `127.0.0.1:${(mute.address() as net.AddressInfo).port}`;
  const silent = new Client({ connection: Connection.lazy({ address }), namespace: env.cfg.temporal.namespace });
  try {
    const cfg = { ...env.cfg, workers: { ...env.cfg.workers, sagaStartTimeoutMs: 500, sagaStartGraceMs: 1000 } };
    const sku = await createProduct(env.db, { stock: 5, priceMinor: 300 });
    const customerId = await createCustomer(env.db, { balanceMinor: 10_000 });
    const key = await createApiKey(env.db, `start-timeout-${crypto.randomUUID().slice(0, 8)}`, 'client', [customerId]);
    const cmd = { apiKeyId: key.id, customerId, items: [{ sku, quantity: 1 }] };
    const deps = { db: env.db, cfg, temporal: silent, log: createLogger('sweeper-test', 'silent'), faults: noFaults };
    const order = await placeOrder(deps, cmd, await priceOrder(env.db, cmd));

    const row = await env.db.order.findUniqueOrThrow({ where: { id: order.id } });
    expect({ status: row.status, sagaStartedAt: row.sagaStartedAt }).toEqual({ status: 'PENDING', sagaStartedAt: null });
    // The real Temporal: the sweeper's start runs the saga to the end.
    await eventually(
      async () => (await sweepUnstartedSagas(env.db, env.client, cfg, createLogger('sweeper-test', 'silent'))).started.includes(order.id),
      {
        what: `the sweeper to start the saga of ${order.id}`,
      },
    );
    await waitForStatus(env.db, order.id, 'CONFIRMED');
  } finally {
    await silent.connection.close().catch(() => undefined);
    sockets.forEach((s) => s.destroy());
    mute.close();
  }
}, 30_000);
