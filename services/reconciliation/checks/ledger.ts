/**
 * Ledger integrity, from the outside (the database enforces most of it at write time; these
 * checks prove it held, whatever wrote the rows): every transaction balances, every balance
 * is the sum of its entries, nothing that may not go negative did, and an order's money moved
 * at most once each way.
 */
import { sqlCheck } from './check';

export const TRANSACTION_BALANCED_SQL = `
SELECT t.id::text AS subject_id,
       jsonb_build_object('kind', t.kind, 'orderId', t.order_id, 'entries', count(e.id),
                          'sumMinor', COALESCE(sum(e.amount_minor), 0),
                          'currencies', to_jsonb(array_remove(array_agg(DISTINCT a.currency::text), NULL))) AS details
  FROM ledger_transactions t
  LEFT JOIN ledger_entries e ON e.transaction_id = t.id
  LEFT JOIN accounts a ON a.id = e.account_id
 WHERE t.id = ANY($1::uuid[])
 GROUP BY t.id, t.kind, t.order_id
HAVING count(e.id) < 2 OR COALESCE(sum(e.amount_minor), 0) <> 0 OR count(DISTINCT a.currency) > 1`;

export const ACCOUNT_BALANCE_SQL = `
SELECT a.id AS subject_id,
       jsonb_build_object('kind', a.kind, 'balanceMinor', a.balance_minor, 'entriesSumMinor', s.total, 'entries', s.n,
                          'reasons', to_jsonb(array_remove(ARRAY[
                            CASE WHEN a.balance_minor <> s.total THEN 'the balance is not the sum of its entries' END,
                            CASE WHEN a.kind <> 'EXTERNAL' AND (a.balance_minor < 0 OR s.total < 0) THEN 'negative balance' END
                          ]::text[], NULL))) AS details
  FROM accounts a
  CROSS JOIN LATERAL (SELECT COALESCE(sum(e.amount_minor), 0) AS total, count(*) AS n
                        FROM ledger_entries e WHERE e.account_id = a.id) s
 WHERE a.id = ANY($1::text[])
   AND (a.balance_minor <> s.total OR (a.kind <> 'EXTERNAL' AND (a.balance_minor < 0 OR s.total < 0)))`;

export const ORDER_TRANSACTIONS_SQL = `
WITH o AS (
  SELECT id, customer_id FROM orders
   WHERE id = ANY($1::uuid[]) AND (updated_at < $3 OR id = ANY($2::uuid[]))
), t AS (
  SELECT t.order_id, t.id, t.kind, t.idempotency_key,
         (SELECT COALESCE(sum(e.amount_minor), 0) FROM ledger_entries e
           WHERE e.transaction_id = t.id AND e.account_id = o.customer_id) AS customer_delta
    FROM o JOIN ledger_transactions t ON t.order_id = o.id AND t.order_id = ANY($1::uuid[])
), agg AS (
  SELECT order_id,
         count(*) FILTER (WHERE kind = 'CHARGE') AS charges,
         count(*) FILTER (WHERE kind = 'REFUND') AS refunds,
         count(*) FILTER (WHERE kind NOT IN ('CHARGE', 'REFUND')) AS others,
         count(*) FILTER (WHERE idempotency_key <> lower(kind) || ':' || order_id::text) AS foreign_keys,
         COALESCE(-sum(customer_delta) FILTER (WHERE kind = 'CHARGE'), 0) AS charged,
         COALESCE(sum(customer_delta) FILTER (WHERE kind = 'REFUND'), 0) AS refunded,
         jsonb_agg(jsonb_build_object('id', id, 'kind', kind, 'idempotencyKey', idempotency_key, 'customerMinor', customer_delta)
                   ORDER BY kind, id) AS transactions
    FROM t GROUP BY order_id
), r AS (
  SELECT agg.*, array_remove(ARRAY[
    CASE WHEN charges > 1 THEN 'more than one charge' END,
    CASE WHEN refunds > 1 THEN 'more than one refund' END,
    CASE WHEN refunds > 0 AND charges = 0 THEN 'a refund without its charge' END,
    CASE WHEN refunds = 1 AND charges = 1 AND refunded <> charged THEN 'the refund is not the amount charged' END,
    CASE WHEN others > 0 THEN 'a non-payment transaction carries the order id' END,
    CASE WHEN foreign_keys > 0 THEN 'a charge or refund outside the order''s idempotency keys' END
  ]::text[], NULL) AS reasons
    FROM agg
)
SELECT order_id::text AS subject_id,
       jsonb_build_object('charges', charges, 'refunds', refunds, 'chargedMinor', charged, 'refundedMinor', refunded,
                          'transactions', transactions, 'reasons', to_jsonb(reasons)) AS details
  FROM r
 WHERE cardinality(reasons) > 0`;

export const transactionBalanced = sqlCheck('ledger.transaction_balanced', 'transactions', TRANSACTION_BALANCED_SQL);
export const accountBalance = sqlCheck('ledger.account_balance', 'accounts', ACCOUNT_BALANCE_SQL);
export const orderTransactions = sqlCheck('ledger.order_transactions', 'orders', ORDER_TRANSACTIONS_SQL);
