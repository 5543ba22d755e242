/**
 * POST /orders stores its idempotent reply in the statement that writes the order
 * (services/access/idempotency.ts completion()). A request whose lease a retry took over
 * meanwhile must not commit its order: the statement reports that it completed no lease and
 * the whole transaction rolls back. And the pricing read that rides in the lease's statement
 * leaves a conflicting lease refused as before.
 */
import crypto from 'node:crypto';
import { loadConfig } from '../../lib/config';
import { closeDb, createDb, runStatement, type Db } from '../../lib/db';
import { DomainError } from '../../lib/errors';
import { sql } from '../../lib/sql';
import { beginIdempotent, completion, type Lease } from '../../services/access/idempotency';
import { catalogRead, createOrder, priceFrom, type CatalogRow } from '../../services/orders/place-order';
import { outboxOf, createCustomer, createProduct, TEST_API_KEY_ID } from '../support/fixtures';

const cfg = loadConfig();
let db: Db;

beforeAll(() => {
  db = createDb(cfg.database.url, { poolSize: 4 });
});
afterAll(async () => {
  await closeDb(db);
});

async function newCommand() {
  const sku = await createProduct(db, { stock: 5, priceMinor: 100 });
  const customerId = await createCustomer(db, { balanceMinor: 1000 });
  return { apiKeyId: TEST_API_KEY_ID, customerId, items: [{ sku, quantity: 2 }] };
}

async function leaseOf(key: string, read: ReturnType<typeof catalogRead>) {
  const begun = await beginIdempotent(db, TEST_API_KEY_ID, key, 'fingerprint', read);
  if (begun.kind !== 'proceed') throw new Error(`expected a lease, got ${begun.kind}`);
  return begun;
}

async function keyRow(key: string) {
  const [row] = await runStatement<{ state: string; lease_token: string | null; response_body: unknown }>(
    db,
    sql`SELECT state, lease_token::text, response_body FROM idempotency_keys WHERE api_key_id = ${TEST_API_KEY_ID}::uuid AND key = ${key}::text`,
  );
  return row;
}

async function ordersOf(customerId: string): Promise<string[]> {
  const rows = await runStatement<{ id: string }>(db, sql`SELECT id::text FROM orders WHERE customer_id = ${customerId}::text`);
  return rows.map((r) => r.id);
}

describe('the stored reply in the order statement', () => {
  test('when the lease is still held, then the order and its stored reply commit together', async () => {
    const cmd = await newCommand();
    const key = crypto.randomUUID();
    const begun = await leaseOf(key, catalogRead(cmd));
    const priced = priceFrom(cmd, begun.alongside as unknown as CatalogRow);
    expect(priced.totalMinor).toBe(200);
    const order = await createOrder(db, cmd, priced, {
      inStatement: (o) => completion(begun.lease, { status: 202, body: { orderId: o.id }, headers: {} }),
    });
    expect(await ordersOf(cmd.customerId)).toEqual([order.id]);
    expect(await keyRow(key)).toEqual({ state: 'COMPLETED', lease_token: null, response_body: { orderId: order.id } });
    expect((await outboxOf(db, order.id)).map((e) => e.type)).toEqual(['OrderCreated']);
  });

  test('when a retry took the lease over, then the order statement fails IDEMPOTENCY_KEY_IN_FLIGHT and nothing of the order is written', async () => {
    const cmd = await newCommand();
    const key = crypto.randomUUID();
    const begun = await leaseOf(key, catalogRead(cmd));
    const takenOver = crypto.randomUUID();
    await runStatement(
      db,
      sql`UPDATE idempotency_keys SET lease_token = ${takenOver}::uuid WHERE api_key_id = ${TEST_API_KEY_ID}::uuid AND key = ${key}::text`,
    );
    const stale: Lease = begun.lease;
    let orderId: string | undefined;
    const attempt = createOrder(db, cmd, priceFrom(cmd, begun.alongside as unknown as CatalogRow), {
      inStatement: (o) => {
        orderId = o.id;
        return completion(stale, { status: 202, body: { orderId: o.id }, headers: {} });
      },
    });
    await expect(attempt).rejects.toBeInstanceOf(DomainError);
    await expect(attempt).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_IN_FLIGHT' });
    expect(orderId).toBeDefined();
    expect(await ordersOf(cmd.customerId)).toEqual([]);
    expect(await outboxOf(db, orderId!)).toEqual([]);
    expect(await keyRow(key)).toEqual({ state: 'IN_FLIGHT', lease_token: takenOver, response_body: null });
  });

  test('when the key is already in flight, then a second lease with the pricing read alongside is refused as in flight', async () => {
    const cmd = await newCommand();
    const key = crypto.randomUUID();
    await leaseOf(key, catalogRead(cmd));
    const again = await beginIdempotent(db, TEST_API_KEY_ID, key, 'fingerprint', catalogRead(cmd));
    expect(again.kind).toBe('in-flight');
  });
});
