/** Reading the findings log and the runs (API and CLI), and requesting a run (API). */
import type { Db } from '../../lib/db';
import type { Tx } from '../../lib/sql';
import { RUNS_CHANNEL, type FindingStatus, type FindingView, type RunMode, type RunScope, type RunSummary, type RunView } from './contract';

type RunRow = NonNullable<Awaited<ReturnType<Db['reconciliationRun']['findUnique']>>>;
type FindingRow = NonNullable<Awaited<ReturnType<Db['reconciliationFinding']['findUnique']>>>;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function runView(r: RunRow): RunView {
  return {
    id: r.id.toString(),
    trigger: r.trigger as RunView['trigger'],
    mode: r.mode as RunMode,
    status: r.status as RunView['status'],
    scope: (r.scope as RunScope | null) ?? null,
    requestedAt: r.requestedAt.toISOString(),
    startedAt: iso(r.startedAt),
    finishedAt: iso(r.finishedAt),
    durationMs: r.durationMs,
    subjectsExamined: r.subjectsExamined,
    failing: r.failing,
    raised: r.raised,
    resolved: r.resolved,
    openFindings: r.openFindings,
    summary: (r.summary as RunSummary | null) ?? null,
    error: r.error,
  };
}

export function findingStatus(f: { raisedAt: Date | null; resolvedAt: Date | null }): FindingStatus {
  if (f.resolvedAt) return 'resolved';
  return f.raisedAt ? 'open' : 'suspect';
}

export function findingView(f: FindingRow): FindingView {
  return {
    id: f.id.toString(),
    check: f.checkName,
    fingerprint: f.fingerprint,
    subjectType: f.subjectType,
    subjectId: f.subjectId,
    status: findingStatus(f),
    details: f.details,
    firstSeenAt: f.firstSeenAt.toISOString(),
    lastSeenAt: f.lastSeenAt.toISOString(),
    raisedAt: iso(f.raisedAt),
    resolvedAt: iso(f.resolvedAt),
    occurrences: f.occurrences,
  };
}

export async function getRun(db: Db, id: string): Promise<RunView | null> {
  if (!/^\d{1,18}$/.test(id)) return null;
  const row = await db.reconciliationRun.findUnique({ where: { id: BigInt(id) } });
  return row ? runView(row) : null;
}

export interface FindingFilter {
  status: FindingStatus | 'all';
  check?: string;
  /** Only findings about these subjects (order ids, account ids, skus, workflow ids...). */
  subjectIds?: string[];
  limit: number;
  offset?: number;
}

function where(filter: FindingFilter) {
  const status =
    filter.status === 'open'
      ? { resolvedAt: null, raisedAt: { not: null } }
      : filter.status === 'suspect'
        ? { resolvedAt: null, raisedAt: null }
        : filter.status === 'resolved'
          ? { resolvedAt: { not: null } }
          : {};
  return {
    ...status,
    ...(filter.check ? { checkName: filter.check } : {}),
    ...(filter.subjectIds ? { subjectId: { in: filter.subjectIds } } : {}),
  };
}

/** Newest first. */
export async function listFindings(db: Db, filter: FindingFilter): Promise<{ total: number; items: FindingView[] }> {
  const w = where(filter);
  const [total, rows] = await Promise.all([
    db.reconciliationFinding.count({ where: w }),
    db.reconciliationFinding.findMany({ where: w, orderBy: { id: 'desc' }, take: filter.limit, skip: filter.offset ?? 0 }),
  ]);
  return { total, items: rows.map(findingView) };
}

/** Records a run request; the active reconciler is woken on commit and runs it. */
export async function requestRun(tx: Tx, request: { mode: RunMode; scope: RunScope | null }): Promise<RunView> {
  const [row] = await tx.rows<RunRow>`
    INSERT INTO reconciliation_runs (trigger, mode, status, scope)
    VALUES ('API', ${request.mode}::text, 'REQUESTED', ${request.scope === null ? null : JSON.stringify(request.scope)}::jsonb)
    RETURNING id, trigger, mode, status, scope, requested_at AS "requestedAt", started_at AS "startedAt", finished_at AS "finishedAt",
              duration_ms AS "durationMs", watermark, subjects_examined AS "subjectsExamined", failing, raised, resolved,
              open_findings AS "openFindings", summary, error, instance`;
  await tx.rows`SELECT pg_notify(${RUNS_CHANNEL}::text, ${row!.id.toString()}::text)`;
  return runView(row!);
}
