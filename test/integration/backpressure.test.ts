/**
 * Backpressure at the front door (issue 22): past the bound on sagas in flight, POST /orders
 * answers 503 OVERLOADED with Retry-After and writes nothing (no order, no idempotency record, no
 * money or stock moved), while the orders already accepted finish; and a Temporal that refuses
 * starts with ResourceExhausted closes the same door. Real API, database, Temporal and workers;
 * the exhausted Temporal is a gRPC endpoint answering status 8 (test/support/exhausted-temporal.ts).
 */
import crypto from 'node:crypto';
import { loadConfig } from '../../lib/config';
import { closeDb, createDb } from '../../lib/db';
import { countInFlight } from '../../services/orders/admission';
import { expectProblem, startApiEnv, startPgApiEnv, type ApiEnv, type Reply } from '../support/api-env';
import { balance, createCustomer, createProduct, productStock, waitForStatus } from '../support/fixtures';
import { startExhaustedTemporal } from '../support/exhausted-temporal';

const HELD_MS = 4000;

/** Everything a POST /orders for this customer and key could have written. */
async function traces(env: ApiEnv, customerId: string, sku: string, key: string) {
  return {
    orders: await env.db.order.count({ where: { customerId } }),
    idempotencyRecords: await env.db.idempotencyKey.count({ where: { apiKeyId: env.keys.clientA.id, key } }),
    balance: await balance(env.db, customerId),
    ledgerEntries: await env.db.ledgerEntry.count({ where: { accountId: customerId } }),
    stock: await productStock(env.db, sku),
  };
}

const order = (env: ApiEnv, customerId: string, sku: string, key = crypto.randomUUID()) =>
  env.call('POST', '/orders', { body: { customerId, items: [{ sku, quantity: 1 }] }, headers: { 'idempotency-key': key } });

function expectOverloaded(reply: Reply, retryAfterS: number): void {
  expectProblem(reply, 503, 'overloaded');
  expect(reply.body.code).toBe('OVERLOADED');
  expect(reply.headers.get('retry-after')).toBe(String(retryAfterS));
}

describe('with a bound of two more sagas than are in flight now', () => {
  let env: ApiEnv;
  beforeAll(async () => {
    // Other files' orders may sit mid-saga in this shared database (on purpose): the bound is on top of them.
    const probe = createDb(loadConfig().database.url, { poolSize: 1 });
    const inFlight = (await countInFlight(probe, 3_600_000).finally(() => closeDb(probe))).n;
    env = await startApiEnv({
      ORDERS_MAX_IN_FLIGHT: String(inFlight + 2),
      ORDERS_IN_FLIGHT_TARGET_MS: '0',
      ORDERS_IN_FLIGHT_CACHE_MS: '0',
      ORDERS_OVERLOAD_RETRY_AFTER_S: '3',
    });
  });
  afterAll(async () => {
    env?.faults.clear();
    await env?.stop();
  });

  test('when the bound is reached, then an order is refused 503 with Retry-After, writes nothing, and the accepted ones finish', async () => {
    const held = await createCustomer(env.db, { balanceMinor: 100_000, grantTo: [env.keys.clientA.id] });
    const heldSku = await createProduct(env.db, { stock: 100, priceMinor: 100 });
    // Accepted sagas stay in flight a while (their reservation is slow to answer).
    env.faults.add({ point: 'inventory.reserve.afterCommit', action: 'delay', delayMs: HELD_MS });
    const accepted: string[] = [];
    let refused: Reply | undefined;
    for (let i = 0; i < 6 && !refused; i++) {
      const reply = await order(env, held, heldSku);
      if (reply.status === 202) accepted.push(reply.body.orderId as string);
      else refused = reply;
    }
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    expect(accepted.length).toBeLessThanOrEqual(2);
    expectOverloaded(refused!, 3);

    // With the door shut: a new customer's order, under a key of its own.
    const other = await createCustomer(env.db, { balanceMinor: 5_000, grantTo: [env.keys.clientA.id] });
    const sku = await createProduct(env.db, { stock: 10, priceMinor: 700 });
    const key = crypto.randomUUID();
    const before = await traces(env, other, sku, key);
    expectOverloaded(await order(env, other, sku, key), 3);
    expect(await traces(env, other, sku, key)).toEqual(before);
    expect(before).toMatchObject({ orders: 0, idempotencyRecords: 0, balance: 5_000, stock: { available: 10, reserved: 0, committed: 0 } });

    // The accepted orders finish; then the door opens, and the refused request's key is fresh (no 503 replayed).
    env.faults.clear();
    for (const id of accepted) await waitForStatus(env.db, id, 'CONFIRMED', 60_000);
    const retried = await order(env, other, sku, key);
    expect(retried.status).toBe(202);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
    await waitForStatus(env.db, retried.body.orderId as string, 'CONFIRMED', 60_000);
    expect(await balance(env.db, other)).toBe(4_300);
  }, 120_000);
});

test("when Temporal refuses a start with ResourceExhausted, then that order is the sweeper's and the next one is refused 503 before it writes", async () => {
  const temporal = await startExhaustedTemporal();
  const env = await startPgApiEnv({ TEMPORAL_ADDRESS: temporal.address, ORDERS_OVERLOAD_RETRY_AFTER_S: '5' });
  const first: string[] = [];
  try {
    const customerId = await createCustomer(env.db, { balanceMinor: 10_000, grantTo: [env.keys.clientA.id] });
    const sku = await createProduct(env.db, { stock: 10, priceMinor: 100 });
    // Its order row is committed before the start (the saga acts on the row): accepted, left to the sweeper.
    const accepted = await order(env, customerId, sku);
    expect(accepted.status).toBe(202);
    first.push(accepted.body.orderId as string);
    expect(temporal.calls.get('StartWorkflowExecution')).toBe(1); // not retried
    const row = await env.db.order.findUniqueOrThrow({ where: { id: first[0] } });
    expect({ status: row.status, sagaStartedAt: row.sagaStartedAt }).toEqual({ status: 'PENDING', sagaStartedAt: null });

    const key = crypto.randomUUID();
    const refused = await order(env, customerId, sku, key);
    expectOverloaded(refused, 5);
    expect(await env.db.order.count({ where: { customerId } })).toBe(1);
    expect(await env.db.idempotencyKey.count({ where: { apiKeyId: env.keys.clientA.id, key } })).toBe(0);
    expect(temporal.calls.get('StartWorkflowExecution')).toBe(1); // refused before the start, too
  } finally {
    // Never swept by another file's sweeper (this database is shared); its saga never ran.
    if (first.length) await env.db.order.update({ where: { id: first[0] }, data: { sagaStartedAt: new Date(), status: 'REJECTED' } });
    await env.stop();
    await temporal.close();
  }
});
