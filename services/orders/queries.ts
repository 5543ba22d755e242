/** Read models of the orders context, as the API shows them. */
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
      /** When its compensation window ends (set when CONFIRMED): until then a manual compensation refunds and restocks it. */
      compensationWindowClosesAt: order.compensationWindowClosesAt ? iso(order.compensationWindowClosesAt) : null,
      /** When the window was closed early (the saga's workflow cancelled while CONFIRMED), or as it elapsed; null while open. */
      compensationWindowClosedAt: order.compensationWindowClosedAt ? iso(order.compensationWindowClosedAt) : null,
      createdAt: iso(order.createdAt),
      updatedAt: iso(order.updatedAt),
    },
  };
}
