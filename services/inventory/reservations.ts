/**
 * Stock reservations: hold stock for an order, commit it when the order is confirmed,
 * release it on compensation. Each is one explicit transaction (the change and its outbox
 * rows) and idempotent by order: the reservation row, keyed by order id, records what was
 * done, so a retry finds it and changes nothing. Products are locked in sku order, so two
 * reservations never deadlock.
 *
 * A release can run before the reserve it undoes, or while that reserve's transaction is
 * still open (a cancelled workflow, an attempt past its timeout). It claims the same row
 * first: the claim waits for an open reserve to end, and if there is no reservation it leaves
 * a RELEASED one without items, so a reserve that comes later fails RESERVATION_RELEASED
 * instead of holding stock nobody will release.
 *
 * The lines reserved are the order's (order_items): a reserve whose lines disagree with them,
 * or that names no order, holds nothing and fails ORDER_INPUT_MISMATCH.
 */
import { inTransaction, type Db } from '../../lib/db';
import { DomainError } from '../../lib/errors';
import { noFaults, type Faults } from '../../lib/faults';
import { prepared, sql, SqlFragment, type Tx } from '../../lib/sql';
import { ORDER_AGGREGATE, ORDER_ERRORS } from '../orders/contract';
import { appendEvents, changeWithEvents } from '../platform/outbox/outbox';
import {
  INVENTORY_ERRORS,
  INVENTORY_EVENTS,
  type CommitInput,
  type InventoryEvent,
  type ReleaseInput,
  type ReleaseResult,
  type ReserveInput,
  type ReserveResult,
  type Shortage,
} from './contract';

export interface InventoryDeps {
  db: Db;
  faults?: Faults;
}

type Line = { sku: string; quantity: number };

/** Sums quantities per sku, sorted by sku: every transaction locks products in this order. */
function bySku(items: Line[]): Line[] {
  const totals = new Map<string, number>();
  for (const { sku, quantity } of items) totals.set(sku, (totals.get(sku) ?? 0) + quantity);
  return [...totals].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([sku, quantity]) => ({ sku, quantity }));
}

function outOfStock(orderId: string, shortages: Shortage[]): DomainError {
  const list = shortages.map((s) => `${s.sku} (requested ${s.requested}, available ${s.available})`).join(', ');
  return new DomainError(INVENTORY_ERRORS.OUT_OF_STOCK, `order ${orderId}: not enough stock for ${list}`, { details: { shortages } });
}

const aggregate = (orderId: string) => ({ type: ORDER_AGGREGATE, id: orderId });

async function reservedLines(tx: Tx, orderId: string): Promise<Line[]> {
  return tx.rows<Line>`SELECT sku, quantity FROM reservation_items WHERE order_id = ${orderId}::uuid ORDER BY sku`;
}

/**
 * A repeat of a reservation already decided: its shortages if it was rejected. A released
 * reservation is not held any more (or never was), so a reserve that finds it fails.
 */
async function priorShortages(tx: Tx, orderId: string): Promise<Shortage[]> {
  const [prior] = await tx.rows<{ status: string }>`SELECT status FROM reservations WHERE order_id = ${orderId}::uuid`;
  if (prior?.status === 'RELEASED') {
    throw new DomainError(INVENTORY_ERRORS.RESERVATION_RELEASED, `order ${orderId}: the reservation was released; nothing is reserved`);
  }
  if (prior?.status !== 'REJECTED') return [];
  const [event] = await tx.rows<{ payload: { shortages?: Shortage[] } }>`
    SELECT payload FROM outbox_events WHERE aggregate_id = ${orderId}::text AND type = ${INVENTORY_EVENTS.InventoryRejected}::text LIMIT 1`;
  return event?.payload.shortages ?? [];
}

/**
 * Refuses a reserve whose lines are not the order's (a forged workflow input) or that names no
 * order: ORDER_INPUT_MISMATCH, non-retryable, nothing written. Order lines never change.
 */
async function checkAgainstOrder(tx: Tx, orderId: string, lines: Line[]): Promise<void> {
  const ordered = await tx.rows<Line>`
    SELECT sku, sum(quantity)::int AS quantity FROM order_items WHERE order_id = ${orderId}::uuid GROUP BY sku`;
  const want = new Map(ordered.map((l) => [l.sku, l.quantity]));
  const same = ordered.length === lines.length && lines.every((l) => want.get(l.sku) === l.quantity);
  if (ordered.length > 0 && same) return;
  const why = ordered.length === 0 ? 'does not exist' : 'has other lines than the reserve asks for';
  throw new DomainError(ORDER_ERRORS.ORDER_INPUT_MISMATCH, `order ${orderId} ${why}`, { details: { orderId } });
}

/** Fails UNKNOWN_SKU if a line names a sku with no product (rolling back the claim). */
function checkKnown(orderId: string, lines: Line[], known: Set<string>): void {
  const unknown = lines.filter((l) => !known.has(l.sku)).map((l) => l.sku);
  if (unknown.length === 0) return;
  throw new DomainError(INVENTORY_ERRORS.UNKNOWN_SKU, `order ${orderId}: no product ${unknown.join(', ')}`, { details: { skus: unknown } });
}

type Counter = 'available' | 'reserved' | 'committed';

/**
 * Locks the lines' products in sku order (every transaction takes them in this order: no
 * deadlock), as a scalar subquery whose value (json) is their available stock. The lock is
 * taken only once `gate` holds (the reservation's claim): a one-time filter evaluated before
 * any product is read, so the claim comes first and the products after it.
 */
function productLocksAfter(lines: Line[], gate: SqlFragment): SqlFragment {
  return sql`(SELECT json_agg(json_build_object('sku', p.sku, 'available', p.available) ORDER BY p.sku)
      FROM (SELECT sku, available FROM products WHERE sku = ANY(${lines.map((l) => l.sku)}::text[]) AND ${gate} ORDER BY sku FOR UPDATE) p)`;
}

/**
 * The CTE `moved` that moves stock between counters for each line, for changeWithEvents. The
 * products must be locked already (productLocksAfter, or `locked` here): an UPDATE ... FROM locks in
 * join order, which could deadlock. With `locked`, the CTE `locked` takes the locks in sku order
 * first, and the update only changes rows it holds, so it acquires no lock of its own.
 */
function moveStock(lines: Line[], from: Counter, to: Counter, lockFirst = false): SqlFragment {
  const skus = lines.map((l) => l.sku);
  const quantities = lines.map((l) => l.quantity);
  // The column names are fixed strings, never input.
  const set = `${from} = p.${from} - m.quantity, ${to} = p.${to} + m.quantity, updated_at = now()`;
  if (!lockFirst) {
    return new SqlFragment(
      `moved AS (UPDATE products p SET ${set} FROM unnest($1::text[], $2::int[]) AS m(sku, quantity) WHERE p.sku = m.sku RETURNING 1)`,
      [skus, quantities],
    );
  }
  return new SqlFragment(
    `locked AS MATERIALIZED (SELECT sku FROM products WHERE sku = ANY($1::text[]) ORDER BY sku FOR UPDATE),
     moved AS (UPDATE products p SET ${set} FROM locked l JOIN unnest($1::text[], $2::int[]) AS m(sku, quantity) USING (sku)
               WHERE p.sku = l.sku RETURNING 1)`,
    [skus, quantities],
  );
}

export function createInventoryService({ db, faults = noFaults }: InventoryDeps) {
  return {
    /** Holds stock for every line, all or nothing; OUT_OF_STOCK if any line is short. */
    async reserve({ orderId, items }: ReserveInput): Promise<ReserveResult> {
      const lines = bySku(items);
      const outcome = await inTransaction(db, async (tx) => {
        // The lines come from the order: a claim is made only if the input's lines are the order's.
        // The claim, then (only if it was made) the products locked in sku order: one statement.
        const {
          rows: [claim],
        } = await tx.query<{ claimed: number; stock: { sku: string; available: number }[] | null }>(
          prepared(sql`
          WITH ordered AS (
            SELECT sku, sum(quantity)::int AS quantity FROM order_items WHERE order_id = ${orderId}::uuid GROUP BY sku
          ), asked AS (
            SELECT sku, quantity FROM unnest(${lines.map((l) => l.sku)}::text[], ${lines.map((l) => l.quantity)}::int[]) AS a(sku, quantity)
          ), claim AS (
            INSERT INTO reservations (order_id, status)
            SELECT ${orderId}::uuid, 'HELD'
             WHERE EXISTS (SELECT 1 FROM ordered)
               AND NOT EXISTS ((SELECT * FROM ordered EXCEPT SELECT * FROM asked) UNION ALL (SELECT * FROM asked EXCEPT SELECT * FROM ordered))
            ON CONFLICT DO NOTHING
            RETURNING 1
          )
          SELECT (SELECT count(*)::int FROM claim) AS claimed,
                 ${productLocksAfter(lines, sql`EXISTS (SELECT 1 FROM claim)`)} AS stock`),
        );
        if (claim!.claimed === 0) {
          await checkAgainstOrder(tx, orderId, lines);
          return { applied: false, shortages: await priorShortages(tx, orderId) };
        }
        const available = new Map((claim!.stock ?? []).map((p) => [p.sku, p.available]));
        checkKnown(orderId, lines, new Set(available.keys()));
        const shortages = lines
          .filter((l) => available.get(l.sku)! < l.quantity)
          .map((l) => ({ sku: l.sku, requested: l.quantity, available: available.get(l.sku)! }));
        if (shortages.length > 0) {
          await tx.exec`UPDATE reservations SET status = 'REJECTED', updated_at = now() WHERE order_id = ${orderId}::uuid`;
          await appendEvents<InventoryEvent>(tx, aggregate(orderId), [
            { type: INVENTORY_EVENTS.InventoryRejected, payload: { orderId, reason: INVENTORY_ERRORS.OUT_OF_STOCK.code, shortages } },
          ]);
          return { applied: true, shortages };
        }
        // The stock moved, the lines held and the event: one statement (the products are locked above).
        const held = sql`${moveStock(lines, 'available', 'reserved')}, held AS (
          INSERT INTO reservation_items (order_id, sku, quantity)
          SELECT ${orderId}::uuid, sku, quantity FROM unnest(${lines.map((l) => l.sku)}::text[], ${lines.map((l) => l.quantity)}::int[]) AS m(sku, quantity))`;
        await changeWithEvents<InventoryEvent>(tx, held, aggregate(orderId), [
          { type: INVENTORY_EVENTS.InventoryReserved, payload: { orderId, items: lines } },
        ]);
        await faults.hit('inventory.reserve.beforeCommit', orderId);
        return { applied: true, shortages: [] as Shortage[] };
      });
      await faults.hit('inventory.reserve.afterCommit', orderId);
      if (outcome.shortages.length > 0) throw outOfStock(orderId, outcome.shortages);
      return { applied: outcome.applied };
    },

    /** Moves held stock to committed once the order is confirmed. */
    async commit({ orderId }: CommitInput): Promise<{ applied: boolean }> {
      const applied = await inTransaction(db, async (tx) => {
        // The lines were written with the reservation and never change: read in the same statement.
        const {
          rows: [moved],
        } = await tx.query<{ lines: Line[] | null }>(
          prepared(sql`
          WITH moved AS (
            UPDATE reservations SET status = 'COMMITTED', updated_at = now() WHERE order_id = ${orderId}::uuid AND status = 'HELD'
            RETURNING order_id
          )
          SELECT (SELECT json_agg(json_build_object('sku', i.sku, 'quantity', i.quantity) ORDER BY i.sku)
                    FROM reservation_items i JOIN moved USING (order_id)) AS lines
            FROM moved`),
        );
        if (!moved) {
          // A fresh statement (a new snapshot): an attempt that committed meanwhile is seen.
          const [prior] = await tx.rows<{ status: string }>`SELECT status FROM reservations WHERE order_id = ${orderId}::uuid`;
          if (prior?.status === 'COMMITTED') return false;
          throw new DomainError(
            INVENTORY_ERRORS.RESERVATION_NOT_HELD,
            `order ${orderId}: cannot commit a reservation that is ${prior?.status ?? 'missing'}`,
          );
        }
        const lines = moved.lines ?? [];
        await changeWithEvents<InventoryEvent>(tx, moveStock(lines, 'reserved', 'committed', true), aggregate(orderId), [
          { type: INVENTORY_EVENTS.InventoryCommitted, payload: { orderId, items: lines } },
        ]);
        return true;
      });
      await faults.hit('inventory.commit.afterCommit', orderId);
      return { applied };
    },

    /**
     * Compensation: returns held or committed stock to available; with no reservation, leaves
     * a RELEASED one so that a later reserve fails. A second call does nothing.
     */
    async release({ orderId, reason }: ReleaseInput): Promise<ReleaseResult> {
      const result = await inTransaction(db, async (tx): Promise<ReleaseResult> => {
        // Waits for a reserve of this order still in flight: its row is then what we release.
        const marked = await tx.exec`
          INSERT INTO reservations (order_id, status) VALUES (${orderId}::uuid, 'RELEASED') ON CONFLICT DO NOTHING`;
        if (marked === 1) {
          await appendEvents<InventoryEvent>(tx, aggregate(orderId), [
            { type: INVENTORY_EVENTS.InventoryReleased, payload: { orderId, releasedFrom: null, reason, items: [] } },
          ]);
          await faults.hit('inventory.release.beforeCommit', orderId);
          return { releasedFrom: null, applied: true };
        }
        const [row] = await tx.rows<{ status: string }>`SELECT status FROM reservations WHERE order_id = ${orderId}::uuid FOR UPDATE`;
        const from = row?.status;
        if (from !== 'HELD' && from !== 'COMMITTED') return { releasedFrom: null, applied: false };
        const lines = await reservedLines(tx, orderId);
        const released = sql`${moveStock(lines, from === 'HELD' ? 'reserved' : 'committed', 'available', true)}, released AS (
          UPDATE reservations SET status = 'RELEASED', updated_at = now() WHERE order_id = ${orderId}::uuid)`;
        await changeWithEvents<InventoryEvent>(tx, released, aggregate(orderId), [
          { type: INVENTORY_EVENTS.InventoryReleased, payload: { orderId, releasedFrom: from, reason, items: lines } },
        ]);
        await faults.hit('inventory.release.beforeCommit', orderId);
        return { releasedFrom: from, applied: true };
      });
      await faults.hit('inventory.release.afterCommit', orderId);
      return result;
    },
  };
}

export type InventoryService = ReturnType<typeof createInventoryService>;
