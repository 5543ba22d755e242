/**
 * Crashes mid-saga with the real app processes: workers and the API die (SIGKILL, or the
 * process killing itself at a fault point) and are restarted. Orders still finish, with no
 * double charge, double reservation or double release, and no order is orphaned.
 */
import crypto from 'node:crypto';
import { loadConfig } from '../../lib/config';
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
import { freePort, killAllRoles, spawnRole } from '../support/processes';
import { eventually } from '../support/wait';

const prefix = `e2e-${crypto.randomUUID().slice(0, 8)}-`;
const env = { TEMPORAL_TASK_QUEUE_PREFIX: prefix, SAGA_START_GRACE_MS: '500' };
const cfg = loadConfig({ ...process.env, ...env });
let db: Db;
let client: Client;

beforeAll(async () => {
  db = createDb(cfg.database.url, 5);
  client = await createTemporalClient(cfg);
});
// Every test starts its own workers: leftovers would serve its queues without its faults.
afterEach(() => killAllRoles());
afterAll(async () => {
  await client?.connection.close();
  if (db) await closeDb(db);
});

const fault = (rules: object[]) => ({ ...env, FAULT_INJECTION: JSON.stringify(rules) });

async function workers(overrides: Partial<Record<'orders' | 'payments' | 'inventory', Record<string, string>>> = {}) {
  const [orders, payments, inventory] = await Promise.all(
    (['orders', 'payments', 'inventory'] as const).map((k) => spawnRole(`worker-${k}`, { env: overrides[k] ?? env })),
  );
  return { orders: orders!, payments: payments!, inventory: inventory! };
}

const kinds = async (orderId: string) => (await ledgerTransactionsOf(db, orderId)).map((t) => t.kind);

test('when the payment worker dies right after committing a charge, a restarted worker finishes the order with one charge', async () => {
  const sku = await createProduct(db, { stock: 5, priceMinor: 1500 });
  const customer = await createCustomer(db, { balanceMinor: 10_000 });
  const w = await workers({ payments: fault([{ point: 'payment.charge.afterCommit', action: 'exit', times: 1 }]) });

  const order = await placeOrder({ db, client, cfg }, customer, [{ sku, quantity: 2 }]);
  const died = await w.payments.exited;
  expect(died.signal).toBe('SIGKILL');
  expect(await kinds(order.id)).toEqual(['CHARGE']); // committed before the crash

  await spawnRole('worker-payments', { env });
  await waitForStatus(db, order.id, 'CONFIRMED', 60_000);
  expect(await kinds(order.id)).toEqual(['CHARGE']);
  expect(await balance(db, customer)).toBe(7000);
  expect(await productStock(db, sku)).toEqual({ available: 3, reserved: 0, committed: 2 });
  const types = (await outboxOf(db, order.id)).map((e) => e.type);
  expect(types.filter((t) => t === 'PaymentCaptured')).toHaveLength(1);
});

test('when the orders worker is SIGKILLed mid-saga, a new one picks the saga up from its history', async () => {
  const sku = await createProduct(db, { stock: 5, priceMinor: 700 });
  const customer = await createCustomer(db, { balanceMinor: 10_000 });
  // Hold the charge long enough to kill the orders worker while the saga waits on it.
  const w = await workers({ payments: fault([{ point: 'payment.charge.beforeCommit', action: 'delay', delayMs: 3000, times: 1 }]) });

  const order = await placeOrder({ db, client, cfg }, customer, [{ sku, quantity: 1 }]);
  await waitForStatus(db, order.id, 'INVENTORY_RESERVED');
  await w.orders.kill('SIGKILL');
  await spawnRole('worker-orders', { env });

  await waitForStatus(db, order.id, 'CONFIRMED', 60_000);
  expect(await kinds(order.id)).toEqual(['CHARGE']);
  expect(await balance(db, customer)).toBe(9300);
  expect(await productStock(db, sku)).toEqual({ available: 4, reserved: 0, committed: 1 });
  const history = await db.orderStatusHistory.findMany({ where: { orderId: order.id }, orderBy: { id: 'asc' } });
  expect(history.map((h) => h.step)).toEqual(['orderCreated', 'reserveInventory', 'chargePayment', 'commitInventory']);
});

test('when a release is retried after its commit, and the refund worker dies, compensation still happens once', async () => {
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
  await spawnRole('worker-payments', { env });
  await waitForStatus(db, order.id, 'COMPENSATED', 60_000);

  expect(await kinds(order.id)).toEqual(['CHARGE', 'REFUND']);
  expect(await balance(db, customer)).toBe(5000);
  expect(await productStock(db, sku)).toEqual({ available: 2, reserved: 0, committed: 0 });
  const types = (await outboxOf(db, order.id)).map((e) => e.type);
  expect(types.filter((t) => t === 'InventoryReleased')).toHaveLength(1);
  expect(types.filter((t) => t === 'PaymentRefunded')).toHaveLength(1);
});

test('when the API dies between committing an order and starting its saga, the saga still runs and a retry replays the answer', async () => {
  const sku = await createProduct(db, { stock: 5, priceMinor: 400 });
  const customer = await createCustomer(db, { balanceMinor: 5000 });
  const apiKey = await createApiKey(db, 'e2e-client', 'client', [customer]);
  const port = await freePort();
  const apiEnv = { ...fault([{ point: 'api.order.afterCommit', action: 'exit', times: 1 }]), API_PORT: String(port) };
  const [, api] = await Promise.all([workers(), spawnRole('api', { env: apiEnv })]);
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
  await Promise.all([waitForStatus(db, order!.id, 'CONFIRMED', 60_000), spawnRole('api', { env: { ...env, API_PORT: String(port) } })]);

  const retry = await request();
  expect(retry.status).toBe(202);
  expect(retry.headers.get('idempotent-replayed')).toBe('true');
  expect(((await retry.json()) as { orderId: string }).orderId).toBe(order!.id);
  expect(await db.order.count({ where: { apiKeyId: apiKey.id } })).toBe(1);
  await eventually(async () => (await db.order.findUniqueOrThrow({ where: { id: order!.id } })).sagaStartedAt !== null, {
    what: 'the sweeper to mark the saga started',
  });
});
