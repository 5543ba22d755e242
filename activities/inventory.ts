/**
 * Inventory activities (task queue `inventory`): hold stock for an order, commit it when the
 * order is confirmed, release it on compensation. Each is one transaction (the change and
 * its outbox rows) and idempotent by order: the reservation row, keyed by order id, records
 * what was done, so a retry finds it and changes nothing.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Db, Tx } from '../lib/db';
import { noFaults, type Faults } from '../lib/faults';
import {
  INVENTORY_FAILURES,
  type CommitInput,
  type ReleaseInput,
  type ReleaseResult,
  type ReserveInput,
  type ReserveResult,
} from '../services/inventory/contract';
import { EVENT_TYPES, ORDER_AGGREGATE } from '../services/orders/contract';
import { appendEvents } from '../services/outbox/outbox';

export interface InventoryDeps {
  db: Db;
  faults?: Faults;
}

interface Shortage {
  sku: string;
  requested: number;
  available: number;
}

/** Sums quantities per sku, sorted by sku: every transaction locks products in this order. */
function bySku(items: { sku: string; quantity: number }[]): { sku: string; quantity: number }[] {
  const totals = new Map<string, number>();
  for (const { sku, quantity } of items) totals.set(sku, (totals.get(sku) ?? 0) + quantity);
  return [...totals].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([sku, quantity]) => ({ sku, quantity }));
}

function outOfStock(orderId: string, shortages: Shortage[]): ApplicationFailure {
  const list = shortages.map((s) => `${s.sku} (requested ${s.requested}, available ${s.available})`).join(', ');
  return ApplicationFailure.create({
    type: INVENTORY_FAILURES.OUT_OF_STOCK,
    message: `order ${orderId}: not enough stock for ${list}`,
    nonRetryable: true,
    details: [{ shortages }],
  });
}

async function reservedItems(tx: Tx, orderId: string) {
  return tx.reservationItem.findMany({ where: { orderId }, orderBy: { sku: 'asc' } });
}

export function createInventoryActivities({ db, faults = noFaults }: InventoryDeps) {
  const aggregate = (orderId: string) => ({ type: ORDER_AGGREGATE, id: orderId });

  return {
    /** Holds stock for every line, all or nothing. OUT_OF_STOCK (non-retryable) if any is short. */
    async reserveInventory({ orderId, items }: ReserveInput): Promise<ReserveResult> {
      const lines = bySku(items);
      const outcome = await db.$transaction(async (tx) => {
        const claimed = await tx.$executeRaw`
          INSERT INTO reservations (order_id, status) VALUES (${orderId}::uuid, 'HELD') ON CONFLICT DO NOTHING`;
        if (claimed === 0) {
          const prior = await tx.reservation.findUniqueOrThrow({ where: { orderId } });
          if (prior.status !== 'REJECTED') return { applied: false, shortages: [] as Shortage[] };
          const event = await tx.outboxEvent.findFirst({ where: { aggregateId: orderId, type: EVENT_TYPES.InventoryRejected } });
          const shortages = ((event?.payload as { shortages?: Shortage[] } | null)?.shortages ?? []) as Shortage[];
          return { applied: false, shortages };
        }
        const skus = lines.map((l) => l.sku);
        const stock = await tx.$queryRaw<{ sku: string; available: number }[]>`
          SELECT sku, available FROM products WHERE sku = ANY(${skus}) ORDER BY sku FOR UPDATE`;
        const available = new Map(stock.map((p) => [p.sku, p.available]));
        const shortages = lines
          .filter((l) => (available.get(l.sku) ?? 0) < l.quantity)
          .map((l) => ({ sku: l.sku, requested: l.quantity, available: available.get(l.sku) ?? 0 }));
        if (shortages.length > 0) {
          await tx.reservation.update({ where: { orderId }, data: { status: 'REJECTED', updatedAt: new Date() } });
          await appendEvents(tx, aggregate(orderId), [
            { type: EVENT_TYPES.InventoryRejected, payload: { orderId, reason: INVENTORY_FAILURES.OUT_OF_STOCK, shortages } },
          ]);
          return { applied: true, shortages };
        }
        for (const { sku, quantity } of lines) {
          await tx.$executeRaw`
            UPDATE products SET available = available - ${quantity}, reserved = reserved + ${quantity}, updated_at = now()
            WHERE sku = ${sku}`;
        }
        await tx.reservationItem.createMany({ data: lines.map((l) => ({ orderId, ...l })) });
        await appendEvents(tx, aggregate(orderId), [{ type: EVENT_TYPES.InventoryReserved, payload: { orderId, items: lines } }]);
        return { applied: true, shortages: [] as Shortage[] };
      });
      await faults.hit('inventory.reserve.afterCommit', orderId);
      if (outcome.shortages.length > 0) throw outOfStock(orderId, outcome.shortages);
      return { applied: outcome.applied };
    },

    /** Moves held stock to committed once the order is confirmed. */
    async commitInventory({ orderId }: CommitInput): Promise<{ applied: boolean }> {
      const applied = await db.$transaction(async (tx) => {
        const moved = await tx.$executeRaw`
          UPDATE reservations SET status = 'COMMITTED', updated_at = now() WHERE order_id = ${orderId}::uuid AND status = 'HELD'`;
        if (moved === 0) {
          const prior = await tx.reservation.findUnique({ where: { orderId } });
          if (prior?.status === 'COMMITTED') return false;
          throw ApplicationFailure.create({
            type: 'RESERVATION_NOT_HELD',
            message: `order ${orderId}: cannot commit a reservation that is ${prior?.status ?? 'missing'}`,
            nonRetryable: true,
          });
        }
        const items = await reservedItems(tx, orderId);
        for (const { sku, quantity } of items) {
          await tx.$executeRaw`
            UPDATE products SET reserved = reserved - ${quantity}, committed = committed + ${quantity}, updated_at = now()
            WHERE sku = ${sku}`;
        }
        await appendEvents(tx, aggregate(orderId), [
          { type: EVENT_TYPES.InventoryCommitted, payload: { orderId, items: items.map(({ sku, quantity }) => ({ sku, quantity })) } },
        ]);
        return true;
      });
      await faults.hit('inventory.commit.afterCommit', orderId);
      return { applied };
    },

    /** Compensation: returns held or committed stock to available. A second call does nothing. */
    async releaseInventory({ orderId, reason }: ReleaseInput): Promise<ReleaseResult> {
      const result = await db.$transaction(async (tx) => {
        const rows = await tx.$queryRaw<{ status: string }[]>`
          SELECT status FROM reservations WHERE order_id = ${orderId}::uuid FOR UPDATE`;
        const from = rows[0]?.status;
        if (from !== 'HELD' && from !== 'COMMITTED') return { releasedFrom: null, applied: false };
        const items = await reservedItems(tx, orderId);
        for (const { sku, quantity } of items) {
          if (from === 'HELD') {
            await tx.$executeRaw`
              UPDATE products SET available = available + ${quantity}, reserved = reserved - ${quantity}, updated_at = now()
              WHERE sku = ${sku}`;
          } else {
            await tx.$executeRaw`
              UPDATE products SET available = available + ${quantity}, committed = committed - ${quantity}, updated_at = now()
              WHERE sku = ${sku}`;
          }
        }
        await tx.reservation.update({ where: { orderId }, data: { status: 'RELEASED', updatedAt: new Date() } });
        await appendEvents(tx, aggregate(orderId), [
          {
            type: EVENT_TYPES.InventoryReleased,
            payload: { orderId, releasedFrom: from, reason, items: items.map(({ sku, quantity }) => ({ sku, quantity })) },
          },
        ]);
        await faults.hit('inventory.release.beforeCommit', orderId);
        return { releasedFrom: from, applied: true } as ReleaseResult;
      });
      await faults.hit('inventory.release.afterCommit', orderId);
      return result;
    },
  };
}

export type InventoryActivities = ReturnType<typeof createInventoryActivities>;
