/**
 * What a run examines, batch by batch (memory bounded by RECONCILE_BATCH_SIZE): keyset pages
 * over a table in a full pass; in an incremental pass, what the change logs (outbox, ledger
 * entries, stock journal) show changed since the last watermark, plus every subject with an
 * open finding (so findings resolve); in a scoped run, the scope.
 */
import type { Pool } from 'pg';
import { FINAL_STATUSES } from '../orders/contract';
import type { RunMode, Watermark } from './contract';
import type { ResolvedScope, SubjectSet } from './checks/check';
import { IN_FLIGHT_STATUSES } from './checks/saga';
import { named } from './sql';

export interface Plan {
  mode: RunMode;
  scope: ResolvedScope | null;
  /** Incremental: where the last pass stopped. */
  from: Watermark | null;
  /** CONFIRMED orders last changed before this are past their compensation window. */
  windowStart: Date;
  batchSize: number;
}

const UUID_RE = `'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'`;

/** Open subjects of the checks, after the key: one branch of an enumeration. */
const openBranch = (type: string) => `
  (SELECT subject_id AS id FROM reconciliation_findings
    WHERE resolved_at IS NULL AND subject_type = '${type}' AND check_name = ANY(:checks::text[])
      AND (:after::text IS NULL OR subject_id > :after::text)
    ORDER BY subject_id LIMIT :limit)`;

/** Orders the services changed since the watermark: every change writes an outbox row, every payment ledger rows. */
const changedOrders = `
  (SELECT DISTINCT aggregate_id AS id FROM outbox_events
    WHERE id > :outboxId::bigint AND aggregate_type = 'Order' AND aggregate_id ~ ${UUID_RE}
      AND (:after::text IS NULL OR aggregate_id > :after::text)
    ORDER BY 1 LIMIT :limit)
  UNION
  (SELECT DISTINCT t.order_id::text FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
    WHERE e.id > :ledgerEntryId::bigint AND t.order_id IS NOT NULL AND (:after::text IS NULL OR t.order_id > :after::uuid)
    ORDER BY 1 LIMIT :limit)`;

const FULL: Record<SubjectSet, string> = {
  orders: `SELECT id::text AS id FROM orders WHERE (:after::text IS NULL OR id > :after::uuid) ORDER BY id LIMIT :limit`,
  live_orders: `
    SELECT id FROM (
      (SELECT id::text AS id FROM orders
        WHERE (:after::text IS NULL OR id > :after::uuid) AND status <> ALL(:finalStatuses::text[])
          -- a CONFIRMED order past its compensation window has nothing left running
          AND NOT (status = 'CONFIRMED' AND updated_at < :windowStart::timestamptz)
        ORDER BY id LIMIT :limit)
      UNION ${openBranch('order')}
    ) s ORDER BY id LIMIT :limit`,
  products: `SELECT sku AS id FROM products WHERE (:after::text IS NULL OR sku > :after::text) ORDER BY sku LIMIT :limit`,
  accounts: `SELECT id FROM accounts WHERE (:after::text IS NULL OR id > :after::text) ORDER BY id LIMIT :limit`,
  transactions: `SELECT id::text AS id FROM ledger_transactions WHERE (:after::text IS NULL OR id > :after::uuid) ORDER BY id LIMIT :limit`,
};

const INCREMENTAL: Record<SubjectSet, string> = {
  orders: `SELECT id FROM (${changedOrders} UNION ${openBranch('order')}) s ORDER BY id LIMIT :limit`,
  live_orders: `
    SELECT id FROM (
      (SELECT id::text AS id FROM orders WHERE status = ANY(:liveStatuses::text[]) AND (:after::text IS NULL OR id > :after::uuid)
        ORDER BY id LIMIT :limit)
      UNION ${changedOrders}
      UNION ${openBranch('order')}
    ) s ORDER BY id LIMIT :limit`,
  products: `
    SELECT id FROM (
      (SELECT DISTINCT sku AS id FROM stock_movements WHERE id > :stockMovementId::bigint AND (:after::text IS NULL OR sku > :after::text)
        ORDER BY 1 LIMIT :limit)
      UNION
      (SELECT DISTINCT ri.sku FROM reservation_items ri
        WHERE ri.order_id = ANY(ARRAY(SELECT DISTINCT aggregate_id::uuid FROM outbox_events
                                       WHERE id > :outboxId::bigint AND aggregate_type = 'Order' AND aggregate_id ~ ${UUID_RE}))
          AND (:after::text IS NULL OR ri.sku > :after::text)
        ORDER BY 1 LIMIT :limit)
      UNION ${openBranch('product')}
    ) s ORDER BY id LIMIT :limit`,
  accounts: `
    SELECT id FROM (
      (SELECT DISTINCT account_id AS id FROM ledger_entries WHERE id > :ledgerEntryId::bigint AND (:after::text IS NULL OR account_id > :after::text)
        ORDER BY 1 LIMIT :limit)
      UNION ${openBranch('account')}
    ) s ORDER BY id LIMIT :limit`,
  transactions: `
    SELECT id FROM (
      (SELECT DISTINCT transaction_id::text AS id FROM ledger_entries
        WHERE id > :ledgerEntryId::bigint AND (:after::text IS NULL OR transaction_id > :after::uuid)
        ORDER BY 1 LIMIT :limit)
      UNION ${openBranch('transaction')}
    ) s ORDER BY id LIMIT :limit`,
};

function scoped(scope: ResolvedScope, set: SubjectSet): string[] {
  if (set === 'products') return scope.skus;
  if (set === 'accounts') return scope.accountIds;
  if (set === 'transactions') return scope.transactionIds;
  return scope.orderIds;
}

/** The batches of one subject set, for the checks named (whose open subjects are included). */
export async function* subjectBatches(pg: Pool, set: SubjectSet, plan: Plan, checks: string[]): AsyncGenerator<string[]> {
  if (plan.scope) {
    const ids = scoped(plan.scope, set);
    for (let i = 0; i < ids.length; i += plan.batchSize) yield ids.slice(i, i + plan.batchSize);
    return;
  }
  const sql = plan.mode === 'INCREMENTAL' && plan.from ? INCREMENTAL[set] : FULL[set];
  const fixed = {
    limit: plan.batchSize,
    checks,
    finalStatuses: FINAL_STATUSES,
    liveStatuses: [...IN_FLIGHT_STATUSES, 'NEEDS_ATTENTION'],
    outboxId: plan.from?.outboxId ?? '0',
    ledgerEntryId: plan.from?.ledgerEntryId ?? '0',
    stockMovementId: plan.from?.stockMovementId ?? '0',
    windowStart: plan.windowStart,
  };
  let after: string | null = null;
  for (;;) {
    const q = named(sql, { ...fixed, after });
    const { rows } = await pg.query<{ id: string }>(q.text, q.values);
    if (rows.length === 0) return;
    yield rows.map((r) => r.id);
    if (rows.length < plan.batchSize) return;
    after = rows[rows.length - 1]!.id;
  }
}
