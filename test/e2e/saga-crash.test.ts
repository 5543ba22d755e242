/**
 * Crashes mid-saga with the real app processes: workers and the API die (SIGKILL, or the
 * process killing itself at a fault point) and are restarted. Orders still finish, with no
 * double charge, double reservation or double release, and no order is orphaned.
 *
 * Each test runs on task queues of its own (a lane) with workers of its own, so the worker
 * crashes run at the same time: most of each is Temporal waiting out the dead worker's
 * activity or workflow task timeout.
 */
import crypto from 'node:crypto';
import { loadConfig, type Config } from '../../lib/config';
import { closeDb, createDb, type Db } from '../../lib/db';
import { createTemporalClient } from '../../lib/temporal';
import type { Client } from '@temporalio/client';
import { createApiKey } from '../../services/access/api-keys';
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
import { freePort, killAllRoles, spawnRole, type RoleProcess } from '../support/processes';
import { eventually } from '../support/wait';

let db: Db;
let client: Client;

beforeAll(async () => {
  const cfg = loadConfig();
  db = createDb(cfg.database.url, 5);
  client = await createTemporalClient(cfg);
});
afterAll(async () => {
  await killAllRoles();
  await client?.connection.close();
  if (db) await closeDb(db);
});

type Kind = 'orders' | 'payments' | 'inventory';

interface Lane {
  env: Record<string, string>;
  cfg: Config;
  fault(rules: object[]): Record<string, string>;
  spawn(role: string, env?: Record<string, string>): Promise<RoleProcess>;
  workers(overrides?: Partial<Record<Kind, Record<string, string>>>): Promise<Record<Kind, RoleProcess>>;
  /** SIGKILLs what the lane started: leftovers would serve its queues without its faults. */
  stop(): Promise<void>;
}

/**
 * A test's own task queues and processes. Every orders worker sweeps the whole database for
 * unstarted orders and starts them on its own queues; `sweepAfterMs` keeps a lane's sweeper
 * off the orders of the lanes running beside it (theirs are started at once, by placeOrder).
 */
function lane(sweepAfterMs: number): Lane {
  const env = {
    TEMPORAL_TASK_QUEUE_PREFIX: `e2e-${crypto.randomUUID().slice(0, 8)}-`,
    SAGA_START_GRACE_MS: String(sweepAfterMs),
  };
  const started: RoleProcess[] = [];
  const spawn = async (role: string, roleEnv: Record<string, string> = env) => {
    const p = await spawnRole(role, { env: roleEnv });
    started.push(p);
    return p;
  };
  return {
    env,
    cfg: loadConfig({ ...process.env, ...env }),
    fault: (rules) => ({ ...env, FAULT_INJECTION: JSON.stringify(rules) }),
    spawn,
    async workers(overrides = {}) {
      const [orders, payments, inventory] = await Promise.all(
        (['orders', 'payments', 'inventory'] as const).map((k) => spawn(`worker-${k}`, overrides[k] ?? env)),
      );
      return { orders: orders!, payments: payments!, inventory: inventory! };
    },
    async stop() {
      await Promise.all(started.map((p) => p.kill('SIGKILL')));
    },
  };
}

/** A lane for a test whose orders are started by placeOrder: its sweeper waits a minute. */
async function inLane(body: (l: Lane) => Promise<void>): Promise<void> {
  const l = lane(60_000);
  try {
    await body(l);
  } finally {
    await l.stop();
  }
}

const kinds = async (orderId: string) => (await ledgerTransactionsOf(db, orderId)).map((t) => t.kind);

test.concurrent('when the payment worker dies right after committing a charge, a restarted worker finishes the order with one charge', () =>
  inLane(async ({ cfg, fault, spawn, workers }) => {
    const sku = await createProduct(db, { stock: 5, priceMinor: 1500 });
    const customer = await createCustomer(db, { balanceMinor: 10_000 });
    const w = await workers({ payments: fault([{ point: 'payment.charge.afterCommit', action: 'exit', times: 1 }]) });

    const order = await placeOrder({ db, client, cfg }, customer, [{ sku, quantity: 2 }]);
    const died = await w.payments.exited;
    expect(died.signal).toBe('SIGKILL');
    expect(await kinds(order.id)).toEqual(['CHARGE']); // committed before the crash

    await spawn('worker-payments');
    await waitForStatus(db, order.id, 'CONFIRMED', 60_000);
    expect(await kinds(order.id)).toEqual(['CHARGE']);
    expect(await balance(db, customer)).toBe(7000);
    expect(await productStock(db, sku)).toEqual({ available: 3, reserved: 0, committed: 2 });
    const types = (await outboxOf(db, order.id)).map((e) => e.type);
    expect(types.filter((t) => t === 'PaymentCaptured')).toHaveLength(1);
  }),
);

test.concurrent('when the orders worker is SIGKILLed mid-saga, a new one picks the saga up from its history', () =>
  inLane(async ({ cfg, fault, spawn, workers }) => {
    const sku = await createProduct(db, { stock: 5, priceMinor: 700 });
    const customer = await createCustomer(db, { balanceMinor: 10_000 });
    // Hold the charge long enough to kill the orders worker while the saga waits on it.
    const w = await workers({ payments: fault([{ point: 'payment.charge.beforeCommit', action: 'delay', delayMs: 3000, times: 1 }]) });

    const order = await placeOrder({ db, client, cfg }, customer, [{ sku, quantity: 1 }]);
    await waitForStatus(db, order.id, 'INVENTORY_RESERVED');
    await w.orders.kill('SIGKILL');
    await spawn('worker-orders');

    await waitForStatus(db, order.id, 'CONFIRMED', 60_000);
    expect(await kinds(order.id)).toEqual(['CHARGE']);
    expect(await balance(db, customer)).toBe(9300);
    expect(await productStock(db, sku)).toEqual({ available: 4, reserved: 0, committed: 1 });
    const history = await db.orderStatusHistory.findMany({ where: { orderId: order.id }, orderBy: { id: 'asc' } });
    expect(history.map((h) => h.step)).toEqual(['orderCreated', 'reserveInventory', 'chargePayment', 'commitInventory']);
  }),
);

test.concurrent('when a release is retried after its commit, and the refund worker dies, compensation still happens once', () =>
  inLane(async ({ cfg, fault, spawn, workers }) => {
    const sku = await createProduct(db, { stock: 2, priceMinor: 900 });
    const customer = await createCustomer(db, { balanceMinor: 5000 });
    const w = await workers({
      payments: fault([{ point: 'payment.refund.afterCommit', action: 'exit', times: 1 }]),
      inventory: fault([{ point: 'inventory.release.afterCommit', action: 'fail', times: 2 }]),
    });
    const order = await placeOrder({ db, client, cfg }, customer, [{ sku, quantity: 2 }]);
    await waitForStatus(db, order.id, 'CONFIRMED', 60_000);

    await client.workflow.getHandle(`order-${order.id}`).signal('compensate', { reason: 'returned' });
    await w.payments.exited;
    await spawn('worker-payments');
    await waitForStatus(db, order.id, 'COMPENSATED', 60_000);

    expect(await kinds(order.id)).toEqual(['CHARGE', 'REFUND']);
    expect(await balance(db, customer)).toBe(5000);
    expect(await productStock(db, sku)).toEqual({ available: 2, reserved: 0, committed: 0 });
    const types = (await outboxOf(db, order.id)).map((e) => e.type);
    expect(types.filter((t) => t === 'InventoryReleased')).toHaveLength(1);
    expect(types.filter((t) => t === 'PaymentRefunded')).toHaveLength(1);
  }),
);

// Not beside the other lanes: its order is left to a sweeper, which must be this lane's.
test('when the API dies between committing an order and starting its saga, the saga still runs and a retry replays the answer', async () => {
  const { env, fault, spawn, workers, stop } = lane(500);
  try {
    const sku = await createProduct(db, { stock: 5, priceMinor: 400 });
    const customer = await createCustomer(db, { balanceMinor: 5000 });
    const apiKey = await createApiKey(db, 'e2e-client', 'client', [customer]);
    const port = await freePort();
    const apiEnv = { ...fault([{ point: 'api.order.afterCommit', action: 'exit', times: 1 }]), API_PORT: String(port) };
    const [, api] = await Promise.all([workers(), spawn('api', apiEnv)]);
    const request = () =>
      fetch(`${api.url}/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey.key}`, 'idempotency-key': 'crash-1', 'content-type': 'application/json' },
        body: JSON.stringify({ customerId: customer, items: [{ sku, quantity: 1 }] }),
      });

    await expect(request()).rejects.toThrow(); // the connection dies with the process
    expect((await api.exited).signal).toBe('SIGKILL');
    const [order] = await db.order.findMany({ where: { apiKeyId: apiKey.id } });
    expect(order).toBeDefined();
    // Started by the orders worker's sweeper; the API starts no saga, so it restarts meanwhile.
    await Promise.all([waitForStatus(db, order!.id, 'CONFIRMED', 60_000), spawn('api', { ...env, API_PORT: String(port) })]);

    const retry = await request();
    expect(retry.status).toBe(202);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(((await retry.json()) as { orderId: string }).orderId).toBe(order!.id);
    expect(await db.order.count({ where: { apiKeyId: apiKey.id } })).toBe(1);
    await eventually(async () => (await db.order.findUniqueOrThrow({ where: { id: order!.id } })).sagaStartedAt !== null, {
      what: 'the sweeper to mark the saga started',
    });
  } finally {
    await stop();
  }
});
