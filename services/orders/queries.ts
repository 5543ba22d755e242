/** Read models of the orders, catalog and payment services, as the API shows them. */
import type { Db } from '../../lib/db';
import type { OrderStatus } from './contract';

const iso = (d: Date) => d.toISOString();

export async function findOrderView(db: Db, orderId: string) {
  const order = await db.order.findUnique({
    where: { id: orderId },
    include: { items: { orderBy: { lineNo: 'asc' } }, history: { orderBy: { id: 'asc' } } },
  });
  if (!order) return null;
  return {
    apiKeyId: order.apiKeyId,
    view: {
      orderId: order.id,
      customerId: order.customerId,
      status: order.status as OrderStatus,
      failureReason: order.failureReason,
      currency: order.currency,
      totalMinor: Number(order.totalMinor),
      items: order.items.map((i) => ({ sku: i.sku, quantity: i.quantity, unitPriceMinor: Number(i.unitPriceMinor) })),
      steps: order.history.map((h) => ({
        name: h.step,
        status: h.stepStatus as 'STARTED' | 'COMPLETED' | 'FAILED',
        orderStatus: h.orderStatus as OrderStatus,
        detail: h.detail,
        at: iso(h.at),
      })),
      createdAt: iso(order.createdAt),
      updatedAt: iso(order.updatedAt),
    },
  };
}

export async function findAccountView(db: Db, customerId: string, limit = 100) {
  const account = await db.account.findUnique({ where: { id: customerId } });
  if (!account || account.kind !== 'CUSTOMER') return null;
  const entries = await db.ledgerEntry.findMany({
    where: { accountId: customerId },
    include: { transaction: true },
    orderBy: { id: 'desc' },
    take: limit,
  });
  return {
    customerId: account.id,
    currency: account.currency,
    balanceMinor: Number(account.balanceMinor),
    entries: entries.map((e) => ({
      transactionId: e.transactionId,
      kind: e.transaction.kind as 'DEPOSIT' | 'CHARGE' | 'REFUND',
      orderId: e.transaction.orderId,
      amountMinor: Number(e.amountMinor),
      at: iso(e.createdAt),
    })),
  };
}

export async function findProductView(db: Db, sku: string) {
  const p = await db.product.findUnique({ where: { sku } });
  if (!p) return null;
  return {
    sku: p.sku,
    name: p.name,
    unitPriceMinor: Number(p.unitPriceMinor),
    currency: p.currency,
    available: p.available,
    reserved: p.reserved,
    committed: p.committed,
  };
}
