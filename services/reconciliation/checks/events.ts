/**
 * Events vs state: the events an order published tell the same story as its rows. A status
 * change and its event are one statement (activities/orders.ts), and a payment and its event
 * one transaction, so any disagreement is a write that went around the services. The events
 * are read from the outbox and the audit timeline both (published outbox rows are pruned
 * after RELAY_RETENTION_MS; the timeline keeps them).
 */
import { ORDER_EVENTS } from '../../orders/contract';
import { sqlCheck } from './check';

/** Events that record a status change (OrderCreated: the first, PENDING). */
export const STATUS_EVENTS = [
  ORDER_EVENTS.OrderCreated,
  ORDER_EVENTS.OrderStatusChanged,
  ORDER_EVENTS.OrderConfirmed,
  ORDER_EVENTS.OrderRejected,
  ORDER_EVENTS.CompensationStarted,
  ORDER_EVENTS.OrderCompensated,
  ORDER_EVENTS.OrderNeedsAttention,
];

/**
 * The latest status event: walking the order's outbox rows back from its newest (usually the
 * first one read is it), and only for an order whose rows were pruned, its audit timeline.
 */
export const ORDER_STATUS_SQL = `
WITH o AS (
  SELECT id::text AS id, status FROM orders
   WHERE id = ANY($1::uuid[]) AND (updated_at < $3 OR id = ANY($2::uuid[]))
), last AS (
  SELECT o.id, o.status, COALESCE(ob.sequence, tl.sequence) AS sequence, COALESCE(ob.event_id, tl.event_id) AS event_id,
         COALESCE(ob.type, tl.type) AS type, COALESCE(ob.payload, tl.payload) AS payload
    FROM o
    LEFT JOIN LATERAL (
      SELECT e.sequence, e.event_id, e.type, e.payload FROM outbox_events e
       WHERE e.aggregate_id = o.id AND e.type = ANY($4::text[]) ORDER BY e.sequence DESC LIMIT 1
    ) ob ON true
    LEFT JOIN LATERAL (
      SELECT t.sequence, t.event_id, t.type, t.payload FROM audit_timeline t
       WHERE ob.sequence IS NULL AND t.aggregate_id = o.id AND t.type = ANY($4::text[]) ORDER BY t.sequence DESC LIMIT 1
    ) tl ON true
), said AS (
  SELECT last.*, CASE WHEN type = 'OrderCreated' THEN 'PENDING' ELSE payload->>'to' END AS says FROM last WHERE type IS NOT NULL
)
SELECT id AS subject_id,
       jsonb_build_object('status', status, 'lastStatusEvent',
         jsonb_build_object('type', type, 'sequence', sequence, 'eventId', event_id, 'to', says)) AS details
  FROM said
 WHERE says IS DISTINCT FROM status`;

export const PAYMENT_AMOUNTS_SQL = `
WITH o AS (
  SELECT id::text AS id FROM orders
   WHERE id = ANY($1::uuid[]) AND (updated_at < $3 OR id = ANY($2::uuid[]))
), ev AS (
  SELECT 'outbox' AS source, aggregate_id, sequence, event_id, type, payload FROM outbox_events
   WHERE aggregate_id = ANY($1::text[]) AND type IN ('PaymentCaptured', 'PaymentRefunded')
  UNION ALL
  SELECT 'timeline', aggregate_id, sequence, event_id, type, payload FROM audit_timeline
   WHERE aggregate_id = ANY($1::text[]) AND type IN ('PaymentCaptured', 'PaymentRefunded')
), c AS (
  SELECT ev.*, t.id AS tx_id, t.kind AS tx_kind, t.order_id::text AS tx_order,
         CASE WHEN ev.payload->>'amountMinor' ~ '^-?[0-9]{1,18}$' THEN (ev.payload->>'amountMinor')::bigint END AS amount,
         (SELECT sum(e.amount_minor) FROM ledger_entries e
           WHERE e.transaction_id = t.id AND e.account_id = ev.payload->>'customerId') AS customer_delta
    FROM ev
    JOIN o ON o.id = ev.aggregate_id
    LEFT JOIN LATERAL (
      SELECT t.id, t.kind, t.order_id FROM ledger_transactions t
       WHERE t.id = CASE WHEN ev.payload->>'transactionId' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                         THEN (ev.payload->>'transactionId')::uuid END
      OFFSET 0 -- one index probe per event, not a hash of the whole ledger
    ) t ON true
), bad AS (
  SELECT c.*, CASE
      WHEN tx_id IS NULL THEN 'no such ledger transaction'
      WHEN tx_kind <> CASE WHEN type = 'PaymentCaptured' THEN 'CHARGE' ELSE 'REFUND' END THEN 'the ledger transaction is a ' || tx_kind
      WHEN tx_order IS DISTINCT FROM aggregate_id THEN 'the ledger transaction belongs to another order'
      WHEN customer_delta IS DISTINCT FROM CASE WHEN type = 'PaymentCaptured' THEN -amount ELSE amount END
        THEN 'the amount is not the ledger''s'
    END AS reason
    FROM c
)
SELECT aggregate_id AS subject_id,
       jsonb_build_object('events', jsonb_agg(jsonb_build_object(
         'source', source, 'eventId', event_id, 'type', type, 'sequence', sequence, 'amountMinor', payload->'amountMinor',
         'transactionId', payload->'transactionId', 'ledgerCustomerMinor', customer_delta, 'reason', reason) ORDER BY sequence, source)) AS details
  FROM bad
 WHERE reason IS NOT NULL
 GROUP BY aggregate_id`;

export const orderStatus = sqlCheck('events.order_status', 'orders', ORDER_STATUS_SQL, () => [STATUS_EVENTS]);
export const paymentAmounts = sqlCheck('events.payment_amounts', 'orders', PAYMENT_AMOUNTS_SQL);
