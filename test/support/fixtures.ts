/** Test data with unique names, written through the same code paths the API uses. */
import crypto from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Config } from '../../lib/config';
import { inTransaction, type Db } from '../../lib/db';
import { upsertProduct } from '../../services/catalog/products';
import { createOrder, priceOrder, type PlacedOrder } from '../../services/orders/place-order';
import { markSagaStarted, startSaga } from '../../services/orders/saga-starter';
import { openAndDeposit } from '../../services/payments/accounts';
import { eventually } from './wait';

export const uid = (prefix: string): string => `${prefix}-${crypto.randomUUID().slice(0, 12)}`;
export const TEST_API_KEY_ID = '00000000-0000-4000-8000-000000000001';
/** An admin key of the fixtures: orders it writes need no grant of their customer. */
export const TEST_ADMIN_KEY_ID = '00000000-0000-4000-8000-000000000002';

export async function createProduct(db: Db, opts: { stock: number; priceMinor: number; currency?: string }): Promise<string> {
  const sku = uid('SKU');
  // Through the catalog, so the stock journal records the stock added.
  await inTransaction(db, (tx) =>
    upsertProduct(tx, {
      sku,
      name: `Test ${sku}`,
      unitPriceMinor: opts.priceMinor,
      currency: opts.currency ?? 'EUR',
      addStock: opts.stock,
    }),
  );
  return sku;
}

/**
 * Opens a customer account with a deposit and grants the customer to the fixtures' own client
 * key (TEST_API_KEY_ID, which placeOrder uses) and to any `grantTo` keys.
 */
export async function createCustomer(db: Db, opts: { balanceMinor: number; currency?: string; grantTo?: string[] }): Promise<string> {
  const customerId = uid('cust');
  await inTransaction(db, async (tx) => {
    await openAndDeposit(tx, {
      customerId,
      currency: opts.currency ?? 'EUR',
      depositMinor: opts.balanceMinor,
      idempotencyKey: `deposit:${customerId}`,
    });
    await tx.exec`
      INSERT INTO api_keys (id, name, role, secret_hash) VALUES (${TEST_API_KEY_ID}::uuid, 'test-fixtures', 'client', ${'0'.repeat(64)}::text)
      ON CONFLICT (id) DO NOTHING`;
    await tx.exec`
      INSERT INTO api_key_customers (api_key_id, customer_id)
      SELECT k::uuid, ${customerId}::text FROM unnest(${[TEST_API_KEY_ID, ...(opts.grantTo ?? [])]}::text[]) AS k`;
  });
  return customerId;
}

export interface OrderRowInput {
  customerId: string;
  currency?: string;
  /** The order's lines; by default one line of a sku no product has, priced at `totalMinor`. */
  items?: { sku: string; quantity: number; unitPriceMinor: number }[];
  totalMinor?: number;
}

/**
 * Writes an order row and its lines only (no event, no saga, no checks against catalog or
 * accounts): what the payment and inventory services read when they are called by hand.
 */
export async function createOrderRow(db: Db, input: OrderRowInput): Promise<string> {
  const id = crypto.randomUUID();
  const items = input.items ?? [{ sku: 'SKU-not-in-catalog', quantity: 1, unitPriceMinor: input.totalMinor ?? 0 }];
  const total = input.totalMinor ?? items.reduce((sum, l) => sum + l.quantity * l.unitPriceMinor, 0);
  await inTransaction(db, async (tx) => {
    await tx.exec`
      INSERT INTO api_keys (id, name, role, secret_hash) VALUES (${TEST_ADMIN_KEY_ID}::uuid, 'test-fixtures-admin', 'admin', ${'0'.repeat(64)}::text)
      ON CONFLICT (id) DO NOTHING`;
    await tx.exec`
      WITH o AS (
        INSERT INTO orders (id, customer_id, api_key_id, status, currency, total_minor, workflow_id)
        VALUES (${id}::uuid, ${input.customerId}::text, ${TEST_ADMIN_KEY_ID}::uuid, 'PENDING', ${input.currency ?? 'EUR'}::text,
                ${total}::bigint, ${`order-${id}`}::text)
        RETURNING id
      )
      INSERT INTO order_items (order_id, line_no, sku, quantity, unit_price_minor)
      SELECT o.id, l.n, l.sku, l.quantity, l.price FROM o,
             unnest(${items.map((_, i) => i + 1)}::int[], ${items.map((l) => l.sku)}::text[], ${items.map((l) => l.quantity)}::int[],
                    ${items.map((l) => String(l.unitPriceMinor))}::bigint[]) AS l(n, sku, quantity, price)`;
  });
  return id;
}

/** Places an order (one transaction) and starts its saga, as the API does. */
export async function placeOrder(
  env: { db: Db; client: Client; cfg: Config },
  customerId: string,
  items: { sku: string; quantity: number }[],
): Promise<PlacedOrder> {
  const cmd = { apiKeyId: TEST_API_KEY_ID, customerId, items };
  const order = await createOrder(env.db, cmd, await priceOrder(env.db, cmd));
  await startSaga(env.client, env.cfg, order);
  await markSagaStarted(env.db, [order.id]);
  return order;
}

export async function waitForStatus(db: Db, orderId: string, status: string | string[], timeoutMs = 30_000) {
  const wanted = Array.isArray(status) ? status : [status];
  return eventually(
    async () => {
      const order = await db.order.findUnique({ where: { id: orderId } });
      return order && wanted.includes(order.status) ? order : undefined;
    },
    { timeoutMs, what: `order ${orderId} to reach ${wanted.join('|')}` },
  );
}

export async function productStock(db: Db, sku: string) {
  const p = await db.product.findUniqueOrThrow({ where: { sku } });
  return { available: p.available, reserved: p.reserved, committed: p.committed };
}

export async function balance(db: Db, accountId: string): Promise<number> {
  const a = await db.account.findUniqueOrThrow({ where: { id: accountId } });
  return Number(a.balanceMinor);
}

export async function ledgerTransactionsOf(db: Db, orderId: string) {
  return db.ledgerTransaction.findMany({ where: { orderId }, include: { entries: true }, orderBy: { createdAt: 'asc' } });
}

export async function outboxOf(db: Db, orderId: string) {
  return db.outboxEvent.findMany({ where: { aggregateId: orderId }, orderBy: { sequence: 'asc' } });
}
