/**
 * Inventory. Reserve, commit and release move stock between a product's counters in the same
 * transaction as the reservation row, so on one snapshot the counters are exactly what the
 * reservations say; the stock journal (stock_movements) says what came in, so the three
 * counters must add up to it.
 */
import { sqlCheck } from './check';
import { allowedValuesSql } from './status-allows';

export const COUNTERS_SQL = `
WITH r AS (
  SELECT ri.sku,
         COALESCE(sum(ri.quantity) FILTER (WHERE r.status = 'HELD'), 0) AS held,
         COALESCE(sum(ri.quantity) FILTER (WHERE r.status = 'COMMITTED'), 0) AS committed
    FROM reservation_items ri JOIN reservations r ON r.order_id = ri.order_id
   WHERE ri.sku = ANY($1::text[])
   GROUP BY ri.sku
)
SELECT p.sku AS subject_id,
       jsonb_build_object('available', p.available, 'reserved', p.reserved, 'committed', p.committed,
                          'heldByReservations', COALESCE(r.held, 0), 'committedByReservations', COALESCE(r.committed, 0)) AS details
  FROM products p LEFT JOIN r ON r.sku = p.sku
 WHERE p.sku = ANY($1::text[])
   AND (p.reserved <> COALESCE(r.held, 0) OR p.committed <> COALESCE(r.committed, 0))`;

export const CONSERVATION_SQL = `
WITH m AS (
  SELECT sku, sum(quantity) AS added FROM stock_movements WHERE sku = ANY($1::text[]) GROUP BY sku
)
SELECT p.sku AS subject_id,
       jsonb_build_object('stockAdded', COALESCE(m.added, 0), 'available', p.available, 'reserved', p.reserved,
                          'committed', p.committed, 'onHand', p.available + p.reserved + p.committed) AS details
  FROM products p LEFT JOIN m ON m.sku = p.sku
 WHERE p.sku = ANY($1::text[])
   AND COALESCE(m.added, 0) <> p.available + p.reserved + p.committed`;

/** The reservation states each order status allows (STATUS_ALLOWS; '*': any; NULL: no reservation). */
export const RESERVATION_STATUS_SQL = `
WITH allowed(status, reservation) AS (
  ${allowedValuesSql('reservation')}
), o AS (
  SELECT o.id, o.status, r.status AS reservation
    FROM orders o LEFT JOIN reservations r ON r.order_id = o.id AND r.order_id = ANY($1::uuid[])
   WHERE o.id = ANY($1::uuid[]) AND (o.updated_at < $3 OR o.id = ANY($2::uuid[]))
), held AS (
  -- A RELEASED reservation without items is a release that came before any reserve: it held nothing.
  SELECT id FROM o WHERE reservation IN ('HELD', 'COMMITTED')
     OR (reservation = 'RELEASED' AND EXISTS (SELECT 1 FROM reservation_items ri WHERE ri.order_id = o.id AND ri.order_id = ANY($1::uuid[])))
), lines AS (
  -- A reservation that held stock holds the order's lines, summed per sku.
  SELECT COALESCE(want.order_id, got.order_id) AS order_id
    FROM (SELECT oi.order_id, oi.sku, sum(oi.quantity) AS quantity FROM order_items oi JOIN held ON held.id = oi.order_id
           WHERE oi.order_id = ANY($1::uuid[]) GROUP BY oi.order_id, oi.sku) want
    FULL JOIN (SELECT ri.order_id, ri.sku, ri.quantity FROM reservation_items ri JOIN held ON held.id = ri.order_id
                WHERE ri.order_id = ANY($1::uuid[])) got
      ON got.order_id = want.order_id AND got.sku = want.sku
   WHERE want.quantity IS DISTINCT FROM got.quantity
), r AS (
  SELECT o.*, array_remove(ARRAY[
    CASE WHEN NOT EXISTS (SELECT 1 FROM allowed a WHERE a.status = o.status
                           AND (a.reservation = '*' OR a.reservation IS NOT DISTINCT FROM o.reservation))
         THEN 'a ' || o.status || ' order with ' || COALESCE('a ' || o.reservation || ' reservation', 'no reservation') END,
    CASE WHEN EXISTS (SELECT 1 FROM lines l WHERE l.order_id = o.id) THEN 'the reservation does not hold the order''s lines' END
  ]::text[], NULL) AS reasons
    FROM o
)
SELECT id::text AS subject_id, jsonb_build_object('status', status, 'reservation', reservation, 'reasons', to_jsonb(reasons)) AS details
  FROM r
 WHERE cardinality(reasons) > 0`;

export const inventoryCounters = sqlCheck('inventory.counters', 'products', COUNTERS_SQL);
export const inventoryConservation = sqlCheck('inventory.conservation', 'products', CONSERVATION_SQL);
export const reservationStatus = sqlCheck('inventory.reservation_status', 'orders', RESERVATION_STATUS_SQL);
