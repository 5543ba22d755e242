/** Read models of the orders context, as the API shows them. */
import type { Db } from '../../lib/db';
import { ORDER_STATUSES, type OrderStatus } from './contract';

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

/** Statuses in which the saga is still working (not final, not CONFIRMED, not parked). */
export const IN_FLIGHT_STATUSES: readonly OrderStatus[] = ['PENDING', 'INVENTORY_RESERVED', 'PAYMENT_CAPTURED', 'COMPENSATING'];

export interface OrderSummary {
  orderId: string;
  customerId: string;
  status: OrderStatus;
  failureReason: string | null;
  currency: string;
  totalMinor: number;
  createdAt: string;
  updatedAt: string;
}

const SUMMARY = {
  id: true,
  customerId: true,
  status: true,
  failureReason: true,
  currency: true,
  totalMinor: true,
  createdAt: true,
  updatedAt: true,
} as const;

type SummaryRow = {
  id: string;
  customerId: string;
  status: string;
  failureReason: string | null;
  currency: string;
  totalMinor: bigint;
  createdAt: Date;
  updatedAt: Date;
};

const summaryOf = (o: SummaryRow): OrderSummary => ({
  orderId: o.id,
  customerId: o.customerId,
  status: o.status as OrderStatus,
  failureReason: o.failureReason,
  currency: o.currency,
  totalMinor: Number(o.totalMinor),
  createdAt: iso(o.createdAt),
  updatedAt: iso(o.updatedAt),
});

/** How many orders are in each status (every status listed, zeros included). */
export async function countByStatus(db: Db): Promise<Record<OrderStatus, number>> {
  const rows = await db.order.groupBy({ by: ['status'], _count: { _all: true } });
  const counts = Object.fromEntries(ORDER_STATUSES.map((s) => [s, 0])) as Record<OrderStatus, number>;
  for (const r of rows) counts[r.status as OrderStatus] = r._count._all;
  return counts;
}

/** Orders in these statuses, the longest waiting first. */
export async function ordersInStatus(db: Db, statuses: readonly OrderStatus[], limit: number): Promise<OrderSummary[]> {
  const rows = await db.order.findMany({
    where: { status: { in: [...statuses] } },
    orderBy: [{ updatedAt: 'asc' }, { id: 'asc' }],
    take: limit,
    select: SUMMARY,
  });
  return rows.map(summaryOf);
}

export interface OrderSearch {
  orderId?: string;
  customerId?: string;
  status?: OrderStatus;
  /** Created at or after. */
  from?: Date;
  /** Created before. */
  to?: Date;
  /** Keyset cursor: the last row of the previous page (newest first). */
  after?: { createdAt: Date; orderId: string };
  limit: number;
}

/** Newest first, keyset-paginated on (created_at, id); `next` is the cursor of the following page. */
export async function searchOrders(
  db: Db,
  q: OrderSearch,
): Promise<{ items: OrderSummary[]; next: { createdAt: string; orderId: string } | null }> {
  const rows = await db.order.findMany({
    where: {
      ...(q.orderId ? { id: q.orderId } : {}),
      ...(q.customerId ? { customerId: q.customerId } : {}),
      ...(q.status ? { status: q.status } : {}),
      ...(q.from || q.to ? { createdAt: { ...(q.from ? { gte: q.from } : {}), ...(q.to ? { lt: q.to } : {}) } } : {}),
      ...(q.after ? { OR: [{ createdAt: { lt: q.after.createdAt } }, { createdAt: q.after.createdAt, id: { lt: q.after.orderId } }] } : {}),
    },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: q.limit + 1,
    select: SUMMARY,
  });
  const items = rows.slice(0, q.limit).map(summaryOf);
  const last = items[items.length - 1];
  return { items, next: rows.length > q.limit && last ? { createdAt: last.createdAt, orderId: last.orderId } : null };
}

/** The compensation window of an order: when it closes (or closed), and whether it is open now. */
export async function compensationWindow(
  db: Db,
  orderId: string,
): Promise<{ closesAt: string | null; closedAt: string | null; open: boolean } | null> {
  const o = await db.order.findUnique({
    where: { id: orderId },
    select: { status: true, compensationWindowClosesAt: true, compensationWindowClosedAt: true },
  });
  if (!o) return null;
  const closesAt = o.compensationWindowClosesAt;
  const closedAt = o.compensationWindowClosedAt;
  const open = o.status === 'CONFIRMED' && !closedAt && !!closesAt && closesAt.getTime() > Date.now();
  return { closesAt: closesAt ? iso(closesAt) : null, closedAt: closedAt ? iso(closedAt) : null, open };
}
