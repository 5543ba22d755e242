/**
 * Order vs payment vs ledger. Every saga step is one transaction, so on one snapshot each
 * status allows the payment states the orders contract's STATUS_ALLOWS says, and these money
 * states (the statuses in between allow the states a step in flight can leave):
 *
 *   PENDING, REJECTED                no charge, no refund
 *   INVENTORY_RESERVED               no refund; a charge (of the total) only with a CAPTURED row
 *   PAYMENT_CAPTURED, CONFIRMED      one charge of the order total, no refund
 *   COMPENSATED                      nets to zero: charge and refund, or neither
 *   COMPENSATING, NEEDS_ATTENTION    anything a compensation in progress leaves
 *
 * and whatever the status, a CAPTURED or REFUNDED payment row names the ledger transactions
 * that exist, for the order total; a VOIDED row (a refund that came before any charge) has
 * no money behind it and exists only once compensation has started. A malformed ledger (two charges, a refund without its
 * charge) is ledger.order_transactions' finding, so this check leaves those orders to it.
 */
import { sqlCheck } from './check';
import { allowedValuesSql } from './status-allows';

export const ORDER_PAYMENT_LEDGER_SQL = `
WITH allowed(status, payment) AS (
  ${allowedValuesSql('payment')}
), o AS (
  SELECT id, status, total_minor, customer_id
    FROM orders
   WHERE id = ANY($1::uuid[]) AND (updated_at < $3 OR id = ANY($2::uuid[]))
), tx AS (
  SELECT t.order_id, t.id, t.kind,
         (SELECT COALESCE(sum(e.amount_minor), 0) FROM ledger_entries e
           WHERE e.transaction_id = t.id AND e.account_id = o.customer_id) AS customer_delta
    FROM o JOIN ledger_transactions t ON t.order_id = o.id
   WHERE t.order_id = ANY($1::uuid[]) AND t.kind IN ('CHARGE', 'REFUND')
), l AS (
  SELECT order_id,
         count(*) FILTER (WHERE kind = 'CHARGE') AS charges,
         count(*) FILTER (WHERE kind = 'REFUND') AS refunds,
         min(id::text) FILTER (WHERE kind = 'CHARGE') AS charge_id,
         min(id::text) FILTER (WHERE kind = 'REFUND') AS refund_id,
         COALESCE(-sum(customer_delta) FILTER (WHERE kind = 'CHARGE'), 0) AS charged,
         COALESCE(sum(customer_delta) FILTER (WHERE kind = 'REFUND'), 0) AS refunded
    FROM tx GROUP BY order_id
), j AS (
  SELECT o.id, o.status, o.total_minor,
         COALESCE(l.charges, 0) AS charges, COALESCE(l.refunds, 0) AS refunds, l.charge_id, l.refund_id,
         COALESCE(l.charged, 0) AS charged, COALESCE(l.refunded, 0) AS refunded,
         p.status AS payment, p.amount_minor AS payment_amount,
         p.charge_tx_id::text AS payment_charge, p.refund_tx_id::text AS payment_refund
    FROM o LEFT JOIN l ON l.order_id = o.id LEFT JOIN payments p ON p.order_id = o.id AND p.order_id = ANY($1::uuid[])
   WHERE COALESCE(l.charges, 0) <= 1 AND COALESCE(l.refunds, 0) <= 1
     AND (COALESCE(l.refunds, 0) = 0 OR (l.charges = 1 AND l.charged = l.refunded))
), r AS (
  SELECT j.*, array_remove(ARRAY[
    CASE WHEN status IN ('CONFIRMED', 'PAYMENT_CAPTURED') AND charges = 0 THEN 'no charge in the ledger' END,
    CASE WHEN charges = 1 AND charged <> total_minor THEN 'the charge is not the order total' END,
    CASE WHEN status IN ('CONFIRMED', 'PAYMENT_CAPTURED', 'INVENTORY_RESERVED') AND refunds > 0 THEN 'refunded, yet not compensated' END,
    CASE WHEN status IN ('PENDING', 'REJECTED') AND charges + refunds > 0 THEN 'money moved for an order that was never charged' END,
    CASE WHEN status = 'COMPENSATED' AND charges <> refunds THEN 'does not net to zero' END,
    CASE WHEN NOT EXISTS (SELECT 1 FROM allowed a WHERE a.status = j.status
                           AND (a.payment = '*' OR a.payment IS NOT DISTINCT FROM j.payment))
         THEN 'a ' || status || ' order with ' || COALESCE('a ' || payment || ' payment', 'no payment') END,
    CASE WHEN payment = 'CAPTURED' AND (charges <> 1 OR payment_charge IS DISTINCT FROM charge_id)
         THEN 'the CAPTURED payment does not name the ledger''s charge' END,
    CASE WHEN payment = 'REFUNDED' AND (charges <> 1 OR refunds <> 1 OR payment_charge IS DISTINCT FROM charge_id
                                        OR payment_refund IS DISTINCT FROM refund_id)
         THEN 'the REFUNDED payment does not name the ledger''s charge and refund' END,
    CASE WHEN payment IS NOT NULL AND payment_amount <> total_minor THEN 'the payment amount is not the order total' END,
    CASE WHEN payment = 'VOIDED' AND charges + refunds > 0 THEN 'the VOIDED payment has money in the ledger' END
  ]::text[], NULL) AS reasons
    FROM j
)
SELECT id::text AS subject_id,
       jsonb_build_object('status', status, 'totalMinor', total_minor, 'charges', charges, 'refunds', refunds,
                          'chargedMinor', charged, 'refundedMinor', refunded, 'payment', payment,
                          'reasons', to_jsonb(reasons)) AS details
  FROM r
 WHERE cardinality(reasons) > 0`;

export const orderPaymentLedger = sqlCheck('order.payment_ledger', 'orders', ORDER_PAYMENT_LEDGER_SQL);
