/** Read models of the inventory context, as operators see them. */
import type { Db } from '../../lib/db';
import type { ReservationState } from '../orders/contract';

/** An order's stock reservation and its lines, with each product's stock now; null if none was made. */
export async function findOrderReservation(db: Db, orderId: string) {
  const r = await db.reservation.findUnique({ where: { orderId }, include: { items: { orderBy: { sku: 'asc' } } } });
  if (!r) return null;
  const products = await db.product.findMany({
    where: { sku: { in: r.items.map((i) => i.sku) } },
    select: { sku: true, name: true, available: true, reserved: true, committed: true },
  });
  const bySku = new Map(products.map((p) => [p.sku, p]));
  return {
    status: r.status as ReservationState,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
    items: r.items.map((i) => {
      const p = bySku.get(i.sku);
      return {
        sku: i.sku,
        name: p?.name ?? null,
        quantity: i.quantity,
        stock: p ? { available: p.available, reserved: p.reserved, committed: p.committed } : null,
      };
    }),
  };
}
