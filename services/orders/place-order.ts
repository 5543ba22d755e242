/**
 * Placing an order: validate against the catalog and accounts, then one transaction that
 * writes the order, its lines, its first history row and the OrderCreated event (plus, when
 * given, whatever the caller must commit atomically with it, e.g. the idempotency record).
 */
import crypto from 'node:crypto';
import type { Db, Tx } from '../../lib/db';
import { appendEvents } from '../outbox/outbox';
import { EVENT_TYPES, ORDER_AGGREGATE, orderWorkflowId } from './contract';
import type { StartableOrder } from './saga-starter';

export interface PlaceOrderCommand {
  apiKeyId: string;
  customerId: string;
  items: { sku: string; quantity: number }[];
}

/** A request that cannot become an order; `field` is a JSON pointer into the request body. */
export class OrderRejectedError extends Error {
  override name = 'OrderRejectedError';
  constructor(
    readonly code: 'UNKNOWN_SKU' | 'UNKNOWN_CUSTOMER' | 'CURRENCY_MISMATCH' | 'DUPLICATE_SKU' | 'TOTAL_TOO_LARGE',
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export interface PlacedOrder extends StartableOrder {
  workflowId: string;
  status: 'PENDING';
}

/** Checks the command against the catalog and accounts; writes nothing. */
export async function priceOrder(db: Db, cmd: PlaceOrderCommand): Promise<Omit<PlacedOrder, 'id' | 'workflowId' | 'status'>> {
  const seen = new Map<string, number>();
  cmd.items.forEach((item, i) => {
    const first = seen.get(item.sku);
    if (first !== undefined) {
      throw new OrderRejectedError('DUPLICATE_SKU', `items/${i}/sku repeats items/${first}/sku "${item.sku}"; combine the quantities`, `/items/${i}/sku`);
    }
    seen.set(item.sku, i);
  });
  const [products, account] = await Promise.all([
    db.product.findMany({ where: { sku: { in: cmd.items.map((i) => i.sku) } } }),
    db.account.findUnique({ where: { id: cmd.customerId } }),
  ]);
  const bySku = new Map(products.map((p) => [p.sku, p]));
  cmd.items.forEach((item, i) => {
    if (!bySku.has(item.sku)) throw new OrderRejectedError('UNKNOWN_SKU', `items/${i}/sku: no product "${item.sku}"`, `/items/${i}/sku`);
  });
  if (!account || account.kind !== 'CUSTOMER') {
    throw new OrderRejectedError('UNKNOWN_CUSTOMER', `customerId: no customer account "${cmd.customerId}"`, '/customerId');
  }
  const currency = account.currency;
  cmd.items.forEach((item, i) => {
    const product = bySku.get(item.sku)!;
    if (product.currency !== currency) {
      throw new OrderRejectedError(
        'CURRENCY_MISMATCH',
        `items/${i}/sku: "${item.sku}" is priced in ${product.currency}, the customer's account is in ${currency}`,
        `/items/${i}/sku`,
      );
    }
  });
  const items = cmd.items.map((item) => ({ sku: item.sku, quantity: item.quantity, unitPriceMinor: Number(bySku.get(item.sku)!.unitPriceMinor) }));
  const totalMinor = items.reduce((sum, i) => sum + i.quantity * i.unitPriceMinor, 0);
  if (!Number.isSafeInteger(totalMinor)) throw new OrderRejectedError('TOTAL_TOO_LARGE', 'the order total is too large', '/items');
  return { customerId: cmd.customerId, currency, totalMinor, items };
}

/** Writes a priced order in one transaction; `alsoInTx` runs inside it (same commit or none). */
export async function createOrder(
  db: Db,
  cmd: PlaceOrderCommand,
  priced: Awaited<ReturnType<typeof priceOrder>>,
  alsoInTx?: (tx: Tx, order: PlacedOrder) => Promise<void>,
): Promise<PlacedOrder> {
  const id = crypto.randomUUID();
  const order: PlacedOrder = { id, workflowId: orderWorkflowId(id), status: 'PENDING', ...priced };
  await db.$transaction(async (tx) => {
    await tx.order.create({
      data: {
        id,
        customerId: order.customerId,
        apiKeyId: cmd.apiKeyId,
        status: 'PENDING',
        currency: order.currency,
        totalMinor: BigInt(order.totalMinor),
        workflowId: order.workflowId,
        items: {
          createMany: {
            data: order.items.map((item, lineNo) => ({ lineNo: lineNo + 1, sku: item.sku, quantity: item.quantity, unitPriceMinor: BigInt(item.unitPriceMinor) })),
          },
        },
        history: {
          create: { transitionKey: '0:orderCreated:COMPLETED', step: 'orderCreated', stepStatus: 'COMPLETED', orderStatus: 'PENDING' },
        },
      },
    });
    await appendEvents(tx, { type: ORDER_AGGREGATE, id }, [
      {
        type: EVENT_TYPES.OrderCreated,
        payload: { orderId: id, customerId: order.customerId, currency: order.currency, totalMinor: order.totalMinor, items: order.items },
      },
    ]);
    if (alsoInTx) await alsoInTx(tx, order);
  });
  return order;
}
