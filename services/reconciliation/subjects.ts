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
import { sql, type SqlFragment } from '../../lib/sql';

export interface Plan {
  mode: RunMode;
  scope: ResolvedScope | null;
  /** Incremental: where the last pass stopped. */
  from: Watermark | null;
  /** CONFIRMED orders last changed before this are past their compensation window. */
  windowStart: Date;
  batchSize: number;
}

const UUID_RE = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';

/** What the enumeration queries are given. */
interface Params {
  limit: number;
  checks: string[];
  finalStatuses: readonly string[];
  liveStatuses: string[];
  outboxId: string;
  ledgerEntryId: string;
  stockMovementId: string;
  windowStart: Date;
  after: string | null;
}

/** Open subjects of the checks, after the key: one branch of an enumeration. */
const openBranch = (p: Params, type: string) => sql`
  (SELECT subject_id AS id FROM reconciliation_findings
    WHERE resolved_at IS NULL AND subject_type = ${type}::text AND check_name = ANY(${p.checks}::text[])
      AND (${p.after}::text IS NULL OR subject_id > ${p.after}::text)
    ORDER BY subject_id LIMIT ${p.limit})`;

/** Orders the services changed since the watermark: every change writes an outbox row, every payment ledger rows. */
const changedOrders = (p: Params) => sql`
  (SELECT DISTINCT aggregate_id AS id FROM outbox_events
    WHERE id > ${p.outboxId}::bigint AND aggregate_type = 'Order' AND aggregate_id ~ ${UUID_RE}::text
      AND (${p.after}::text IS NULL OR aggregate_id > ${p.after}::text)
    ORDER BY 1 LIMIT ${p.limit})
  UNION
  (SELECT DISTINCT t.order_id::text FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
    WHERE e.id > ${p.ledgerEntryId}::bigint AND t.order_id IS NOT NULL AND (${p.after}::text IS NULL OR t.order_id > ${p.after}::uuid)
    ORDER BY 1 LIMIT ${p.limit})`;

const FULL: Record<SubjectSet, (p: Params) => SqlFragment> = {
  orders: (p) =>
    sql`SELECT id::text AS id FROM orders WHERE (${p.after}::text IS NULL OR id > ${p.after}::uuid) ORDER BY id LIMIT ${p.limit}`,
  live_orders: (p) => sql`
    SELECT id FROM (
      (SELECT id::text AS id FROM orders
        WHERE (${p.after}::text IS NULL OR id > ${p.after}::uuid) AND status <> ALL(${p.finalStatuses}::text[])
          -- a CONFIRMED order past its compensation window has nothing left running
          AND NOT (status = 'CONFIRMED' AND updated_at < ${p.windowStart}::timestamptz)
        ORDER BY id LIMIT ${p.limit})
      UNION ${openBranch(p, 'order')}
    ) s ORDER BY id LIMIT ${p.limit}`,
  products: (p) =>
    sql`SELECT sku AS id FROM products WHERE (${p.after}::text IS NULL OR sku > ${p.after}::text) ORDER BY sku LIMIT ${p.limit}`,
  accounts: (p) => sql`SELECT id FROM accounts WHERE (${p.after}::text IS NULL OR id > ${p.after}::text) ORDER BY id LIMIT ${p.limit}`,
  transactions: (p) =>
    sql`SELECT id::text AS id FROM ledger_transactions WHERE (${p.after}::text IS NULL OR id > ${p.after}::uuid) ORDER BY id LIMIT ${p.limit}`,
};

const INCREMENTAL: Record<SubjectSet, (p: Params) => SqlFragment> = {
  orders: (p) => sql`SELECT id FROM (${changedOrders(p)} UNION ${openBranch(p, 'order')}) s ORDER BY id LIMIT ${p.limit}`,
  live_orders: (p) => sql`
    SELECT id FROM (
      (SELECT id::text AS id FROM orders WHERE status = ANY(${p.liveStatuses}::text[]) AND (${p.after}::text IS NULL OR id > ${p.after}::uuid)
        ORDER BY id LIMIT ${p.limit})
      UNION ${changedOrders(p)}
      UNION ${openBranch(p, 'order')}
    ) s ORDER BY id LIMIT ${p.limit}`,
  products: (p) => sql`
    SELECT id FROM (
      (SELECT DISTINCT sku AS id FROM stock_movements WHERE id > ${p.stockMovementId}::bigint AND (${p.after}::text IS NULL OR sku > ${p.after}::text)
        ORDER BY 1 LIMIT ${p.limit})
      UNION
      (SELECT DISTINCT ri.sku FROM reservation_items ri
        WHERE ri.order_id = ANY(ARRAY(SELECT DISTINCT aggregate_id::uuid FROM outbox_events
                                       WHERE id > ${p.outboxId}::bigint AND aggregate_type = 'Order' AND aggregate_id ~ ${UUID_RE}::text))
          AND (${p.after}::text IS NULL OR ri.sku > ${p.after}::text)
        ORDER BY 1 LIMIT ${p.limit})
      UNION ${openBranch(p, 'product')}
    ) s ORDER BY id LIMIT ${p.limit}`,
  accounts: (p) => sql`
    SELECT id FROM (
      (SELECT DISTINCT account_id AS id FROM ledger_entries WHERE id > ${p.ledgerEntryId}::bigint AND (${p.after}::text IS NULL OR account_id > ${p.after}::text)
        ORDER BY 1 LIMIT ${p.limit})
      UNION ${openBranch(p, 'account')}
    ) s ORDER BY id LIMIT ${p.limit}`,
  transactions: (p) => sql`
    SELECT id FROM (
      (SELECT DISTINCT transaction_id::text AS id FROM ledger_entries
        WHERE id > ${p.ledgerEntryId}::bigint AND (${p.after}::text IS NULL OR transaction_id > ${p.after}::uuid)
        ORDER BY 1 LIMIT ${p.limit})
      UNION ${openBranch(p, 'transaction')}
    ) s ORDER BY id LIMIT ${p.limit}`,
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
  const query = plan.mode === 'INCREMENTAL' && plan.from ? INCREMENTAL[set] : FULL[set];
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
    const statement = query({ ...fixed, after });
    const { rows } = await pg.query<{ id: string }>(statement.text, statement.values);
    if (rows.length === 0) return;
    yield rows.map((r) => r.id);
    if (rows.length < plan.batchSize) return;
    after = rows[rows.length - 1]!.id;
  }
}
