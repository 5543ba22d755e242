/**
 * What a check is. Two shapes: a batch check examines a batch of subjects the runner hands it
 * (one set-based query per batch, never one per subject); a listing check enumerates its own
 * subjects (the rows of a partial index, the open workflows of the task queue) page by page.
 */
import type { Client } from '@temporalio/client';
import type { Pool, QueryResultRow } from 'pg';
import type { ReconcilerSettings } from '../../../lib/config';
import { CHECKS, type CheckName, type GraceWindow } from '../contract';

/** One subject that failed a check, and why (shown in the report and the API). */
export interface Failure {
  subjectId: string;
  details: Record<string, unknown>;
}

export interface CheckContext {
  /** The reconciler's read-only pool. */
  pg: Pool;
  temporal: Client;
  settings: ReconcilerSettings;
  /** How long a CONFIRMED order's saga stays open (SAGA_COMPENSATION_WINDOW_MS). */
  compensationWindowMs: number;
  /** The deployment's orders task queue (TEMPORAL_TASK_QUEUE_PREFIX + orders). */
  ordersTaskQueue: string;
  /** The run's clock: the database's now() when it started. */
  now: Date;
}

/** The subject sets the runner enumerates for batch checks (full, incremental or scoped). */
export type SubjectSet = 'orders' | 'live_orders' | 'products' | 'accounts' | 'transactions';

export interface Batch {
  ids: string[];
  /** Computes a value once per batch, shared by the checks of the batch (e.g. a Temporal listing). */
  memo<T>(key: string, compute: () => Promise<T>): Promise<T>;
}

export interface BatchCheck {
  kind: 'batch';
  name: CheckName;
  subjects: SubjectSet;
  /**
   * The failing subjects of the batch. Subjects in `openIds` (they have an open finding or a
   * suspect) must be examined even when they look in flight, so their findings can resolve.
   */
  examine(ctx: CheckContext, batch: Batch, openIds: string[]): Promise<Failure[]>;
}

/** The subjects a scoped run is about, derived from the operator's (or test's) order ids. */
export interface ResolvedScope {
  orderIds: string[];
  accountIds: string[];
  skus: string[];
  transactionIds: string[];
}

export interface ListingCheck {
  kind: 'listing';
  name: CheckName;
  /** Too costly for every incremental pass: runs on full passes (and scoped runs) only. */
  fullPassOnly?: boolean;
  /** Reports failures page by page; every open finding of the check not reported is resolved. */
  examine(ctx: CheckContext, scope: ResolvedScope | null, emit: (failures: Failure[]) => Promise<void>): Promise<void>;
  /** In a scoped run, the subjects whose open findings the run may resolve. */
  scopeSubjects(ctx: CheckContext, scope: ResolvedScope): Promise<string[]>;
}

export type Check = BatchCheck | ListingCheck;

export function graceMs(settings: ReconcilerSettings, window: GraceWindow): number {
  if (window === 'saga') return settings.sagaGraceMs;
  if (window === 'stream') return settings.streamLagMs;
  return settings.graceMs;
}

/** Changes younger than this are in flight for the check. */
export function settledBefore(ctx: CheckContext, check: CheckName): Date {
  return new Date(ctx.now.getTime() - graceMs(ctx.settings, CHECKS[check].grace));
}

interface FailureRow extends QueryResultRow {
  subject_id: string;
  details: Record<string, unknown>;
}

/**
 * A batch check that is one SQL statement returning (subject_id, details) of failing subjects.
 * Parameters: $1 the batch's ids, $2 the ids with open findings, $3 the check's settled-before
 * time, then `extra`.
 */
export function sqlCheck(
  name: CheckName,
  subjects: SubjectSet,
  sql: string,
  extra: (ctx: CheckContext) => unknown[] = () => [],
): BatchCheck {
  // PostgreSQL refuses parameters a statement does not use, so pass only $1..$highest.
  const used = Math.max(0, ...[...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
  return {
    kind: 'batch',
    name,
    subjects,
    async examine(ctx, batch, openIds) {
      const { rows } = await ctx.pg.query<FailureRow>(sql, [batch.ids, openIds, settledBefore(ctx, name), ...extra(ctx)].slice(0, used));
      return rows.map((r) => ({ subjectId: r.subject_id, details: r.details }));
    },
  };
}
