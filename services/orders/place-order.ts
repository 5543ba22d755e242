/**
 * Placing an order, as a story: check the request against the catalog and the customer's
 * account (writes nothing), then one transaction that writes the order, its lines, its
 * first history row and the OrderCreated event (plus whatever the caller must commit
 * atomically with it, e.g. the idempotency record), then start its saga. If the start
 * fails, the order is committed anyway and the sweeper starts it (saga-starter.ts).
 */
import crypto from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Config } from '../../lib/config';
import { inTransaction, runStatement, type Db } from '../../lib/db';
import { COMMON_ERRORS, DomainError, type ErrorKind } from '../../lib/errors';
import type { Faults } from '../../lib/faults';
import type { Logger } from '../../lib/logger';
import { sql, type SqlFragment, type StatementPart, type Tx } from '../../lib/sql';
import { INVENTORY_ERRORS } from '../inventory/contract';
import { changeWithEvents } from '../platform/outbox/outbox';
import { ORDER_AGGREGATE, ORDER_ERRORS, ORDER_EVENTS, orderWorkflowId, type OrderEvent } from './contract';
import { isResourceExhausted } from './admission';
import { markSagaStarted, startSaga, type StartableOrder } from './saga-starter';

export interface PlaceOrderCommand {
  apiKeyId: string;
  customerId: string;
  items: { sku: string; quantity: number }[];
}

export interface PlacedOrder extends StartableOrder {
  workflowId: string;
  status: 'PENDING';
}

export type PricedOrder = Omit<PlacedOrder, 'id' | 'workflowId' | 'status'>;

/** A request that cannot become an order; `pointer` is a JSON pointer into the request body. */
function rejected(kind: ErrorKind, message: string, pointer: string): DomainError {
  return new DomainError(kind, message, { details: { errors: [{ pointer, detail: message }] } });
}

function checkNoRepeatedSku(items: PlaceOrderCommand['items']): void {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const first = seen.get(item.sku);
    if (first !== undefined) {
      throw rejected(
        ORDER_ERRORS.DUPLICATE_SKU,
        `items/${i}/sku repeats items/${first}/sku "${item.sku}"; combine the quantities`,
        `/items/${i}/sku`,
      );
    }
    seen.set(item.sku, i);
  });
}

/** A product's price as the catalog has it (unitPriceMinor as text: bigint in JSON). */
interface CatalogPrice {
  sku: string;
  currency: string;
  unitPriceMinor: string;
}

/** What pricing reads: the customer's account and the products named (one row, `catalogRead`). */
export interface CatalogRow {
  account: { kind: string; currency: string } | null;
  products: CatalogPrice[];
}

/** Checks what needs no database (a repeated sku); priceOrder does it too. */
export function checkOrderShape(cmd: PlaceOrderCommand): void {
  checkNoRepeatedSku(cmd.items);
}

/**
 * The statement that reads what pricing needs, exactly one row (CatalogRow): plain SQL, no query
 * compiler in between. A caller may run it alongside another statement (the idempotency lease).
 */
export function catalogRead(cmd: PlaceOrderCommand): SqlFragment {
  return sql`SELECT (SELECT json_build_object('kind', kind, 'currency', currency) FROM accounts WHERE id = ${cmd.customerId}::text) AS account,
               COALESCE((SELECT json_agg(json_build_object('sku', sku, 'currency', currency, 'unitPriceMinor', unit_price_minor::text))
                         FROM products WHERE sku = ANY(${cmd.items.map((i) => i.sku)}::text[])), '[]'::json) AS products`;
}

/** Checks the command against the catalog and accounts; writes nothing. */
export async function priceOrder(db: Db, cmd: PlaceOrderCommand): Promise<PricedOrder> {
  checkOrderShape(cmd);
  const [row] = await runStatement<CatalogRow & Record<string, unknown>>(db, catalogRead(cmd));
  return priceFrom(cmd, row!);
}

/** Prices the command from what catalogRead read (the same checks as priceOrder). */
export function priceFrom(cmd: PlaceOrderCommand, row: CatalogRow): PricedOrder {
  checkOrderShape(cmd);
  const { account, products } = row;
  const bySku = new Map(products.map((p) => [p.sku, p]));
  cmd.items.forEach((item, i) => {
    if (!bySku.has(item.sku)) throw rejected(INVENTORY_ERRORS.UNKNOWN_SKU, `items/${i}/sku: no product "${item.sku}"`, `/items/${i}/sku`);
  });
  if (!account || account.kind !== 'CUSTOMER') throw new DomainError('NOT_FOUND', `no customer "${cmd.customerId}"`);
  const currency = account.currency;
  cmd.items.forEach((item, i) => {
    const product = bySku.get(item.sku)!;
    if (product.currency !== currency) {
      const why = `"${item.sku}" is priced in ${product.currency}, the customer's account is in ${currency}`;
      throw rejected(COMMON_ERRORS.CURRENCY_MISMATCH, `items/${i}/sku: ${why}`, `/items/${i}/sku`);
    }
  });
  const items = cmd.items.map((item) => ({
    sku: item.sku,
    quantity: item.quantity,
    unitPriceMinor: Number(bySku.get(item.sku)!.unitPriceMinor),
  }));
  const totalMinor = items.reduce((sum, i) => sum + i.quantity * i.unitPriceMinor, 0);
  if (!Number.isSafeInteger(totalMinor)) throw rejected(ORDER_ERRORS.TOTAL_TOO_LARGE, 'the order total is too large', '/items');
  return { customerId: cmd.customerId, currency, totalMinor, items };
}

/**
 * What else an order's transaction does: `beforeWrite` runs in it before the order is written,
 * `inStatement`'s part rides in the statement that writes it, `inTx` runs in it after (same commit
 * or none for all three).
 */
export interface AlsoInOrderTx {
  beforeWrite?: (tx: Tx, order: PlacedOrder) => Promise<void>;
  inStatement?: (order: PlacedOrder) => StatementPart;
  inTx?: (tx: Tx, order: PlacedOrder) => Promise<void>;
}

/** Writes a priced order in one transaction, with what `also` adds to it. */
export async function createOrder(db: Db, cmd: PlaceOrderCommand, priced: PricedOrder, also: AlsoInOrderTx = {}): Promise<PlacedOrder> {
  const id = crypto.randomUUID();
  const order: PlacedOrder = { id, workflowId: orderWorkflowId(id), status: 'PENDING', ...priced };
  const lines = order.items;
  await inTransaction(db, async (tx) => {
    if (also.beforeWrite) await also.beforeWrite(tx, order);
    // The order, its lines, its first history row and OrderCreated: one statement.
    const written = sql`o AS (
        INSERT INTO orders (id, customer_id, api_key_id, status, currency, total_minor, workflow_id)
        VALUES (${id}::uuid, ${order.customerId}::text, ${cmd.apiKeyId}::uuid, 'PENDING', ${order.currency}::text,
                ${order.totalMinor}::bigint, ${order.workflowId}::text)
        RETURNING id
      ), lines AS (
        INSERT INTO order_items (order_id, line_no, sku, quantity, unit_price_minor)
        SELECT o.id, l.line_no, l.sku, l.quantity, l.unit_price_minor FROM o,
               unnest(${lines.map((_, i) => i + 1)}::int[], ${lines.map((l) => l.sku)}::text[], ${lines.map((l) => l.quantity)}::int[],
                      ${lines.map((l) => String(l.unitPriceMinor))}::bigint[]) AS l(line_no, sku, quantity, unit_price_minor)
      ), history AS (
        INSERT INTO order_status_history (order_id, transition_key, step, step_status, order_status)
        SELECT o.id, '0:orderCreated:COMPLETED', 'orderCreated', 'COMPLETED', 'PENDING' FROM o
      )`;
    await changeWithEvents<OrderEvent>(
      tx,
      written,
      { type: ORDER_AGGREGATE, id },
      [
        {
          type: ORDER_EVENTS.OrderCreated,
          payload: {
            orderId: id,
            customerId: order.customerId,
            currency: order.currency,
            totalMinor: order.totalMinor,
            items: order.items,
          },
        },
      ],
      also.inStatement ? [also.inStatement(order)] : [],
    );
    if (also.inTx) await also.inTx(tx, order);
  });
  return order;
}

export interface PlaceOrderDeps {
  db: Db;
  cfg: Config;
  temporal: Client;
  log: Logger;
  faults: Faults;
  /** Told when Temporal refused the start with ResourceExhausted (the API then refuses new orders for a while). */
  onStartExhausted?: () => void;
}

/**
 * The whole use case: price, commit (with what `also` adds to the order's transaction), start the saga. The answer is the
 * committed order whether or not the start succeeded: the sweeper owns a failed start.
 */
export async function placeOrder(
  deps: PlaceOrderDeps,
  cmd: PlaceOrderCommand,
  priced: PricedOrder,
  also: Omit<AlsoInOrderTx, 'beforeWrite'> = {},
): Promise<PlacedOrder> {
  const { db, cfg, temporal, log, faults } = deps;
  const order = await createOrder(db, cmd, priced, {
    ...also,
    // Inside the transaction, before anything of the order is written (nothing of it commits if this fails).
    beforeWrite: (_tx, o) => faults.hit('api.order.beforeCommit', o.id),
  });
  await faults.hit('api.order.afterCommit', order.id);
  try {
    // Bounded: under overload Temporal may queue the start for long; the order is committed, so
    // the caller gets its 202 and the sweeper owns the start (a late start of this one is harmless).
    await temporal.withDeadline(Date.now() + cfg.workers.sagaStartTimeoutMs, () => startSaga(temporal, cfg, order));
    await markSagaStarted(db, [order.id]);
  } catch (err) {
    // ResourceExhausted: this order is committed (its row must be, before its saga may act on
    // it), so it is accepted and the sweeper's; the orders after it are refused before they write.
    if (isResourceExhausted(err)) deps.onStartExhausted?.();
    log.warn({ err, orderId: order.id, workflowId: order.workflowId }, 'saga start deferred to the sweeper');
  }
  log.info(
    { orderId: order.id, workflowId: order.workflowId, customerId: order.customerId, totalMinor: order.totalMinor },
    'order accepted',
  );
  return order;
}
