/**
 * One reconciliation pass: every check over every subject (full), over what changed since the
 * last watermark (incremental), or over a scope; the observations written to the findings
 * log; the run recorded with its counts and duration. Reads with the read-only role only.
 */
import os from 'node:os';
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { Config } from '../../lib/config';
import type { Logger } from '../../lib/logger';
import { ordersTaskQueue } from '../orders/task-queues';
import {
  CHECK_NAMES,
  CHECKS,
  type CheckName,
  type NeedsAttention,
  type RunMode,
  type RunScope,
  type RunSummary,
  type RunTrigger,
  type SubjectType,
  type Watermark,
} from './contract';
import { CHECK_TABLE } from './checks';
import type { Batch, BatchCheck, CheckContext, ListingCheck, ResolvedScope, SubjectSet } from './checks/check';
import { FindingRecorder, openSubjects } from './findings';
import { subjectBatches, type Plan } from './subjects';

export interface ReconcilerDeps {
  /** A pool of the read-only role (RECONCILER_DATABASE_URL). */
  pg: Pool;
  temporal: Client;
  cfg: Config;
  log: Logger;
}

export interface RunOptions {
  trigger: RunTrigger;
  /** Default FULL. A scoped run is always full over its scope. */
  mode?: RunMode;
  scope?: RunScope | null;
  /** A REQUESTED run already claimed (status RUNNING) by the caller. */
  runId?: string;
  /** Overrides of the settings (tests use short grace windows). */
  settings?: Partial<Config['reconciler']>;
}

export interface RunOutcome {
  runId: string;
  mode: RunMode;
  durationMs: number;
  summary: RunSummary;
  /** Open findings after the run (within the scope, if any), not counting suspects. */
  openFindings: number;
}

const SETS: { set: SubjectSet; subject: SubjectType }[] = [
  { set: 'orders', subject: 'order' },
  { set: 'live_orders', subject: 'order' },
  { set: 'transactions', subject: 'transaction' },
  { set: 'accounts', subject: 'account' },
  { set: 'products', subject: 'product' },
];

const NEEDS_ATTENTION_LISTED = 100;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function memoBatch(ids: string[]): Batch {
  const cache = new Map<string, Promise<unknown>>();
  return {
    ids,
    memo<T>(key: string, compute: () => Promise<T>): Promise<T> {
      if (!cache.has(key)) cache.set(key, compute());
      return cache.get(key) as Promise<T>;
    },
  };
}

/** Validates a scope's ids (an unknown id is just an empty subject, not an error). */
export function normalizeScope(scope: RunScope | null | undefined): RunScope | null {
  if (!scope) return null;
  const orderIds = [...new Set((scope.orderIds ?? []).map((id) => id.toLowerCase()))];
  const bad = orderIds.filter((id) => !UUID.test(id));
  if (bad.length > 0) throw new Error(`scope.orderIds: not order ids: ${bad.slice(0, 3).join(', ')}`);
  return { orderIds, accountIds: [...new Set(scope.accountIds ?? [])], skus: [...new Set(scope.skus ?? [])] };
}

/** The subjects a scope covers: its orders, their customers and products, their ledger transactions. */
async function resolveScope(pg: Pool, scope: RunScope): Promise<ResolvedScope> {
  const orderIds = scope.orderIds ?? [];
  const { rows } = await pg.query<{ accounts: string[]; skus: string[]; transactions: string[] }>(
    `WITH a AS (
       SELECT DISTINCT customer_id AS id FROM orders WHERE id = ANY($1::uuid[])
       UNION SELECT unnest($2::text[])
     )
     SELECT ARRAY(SELECT id FROM a ORDER BY id) AS accounts,
            ARRAY(SELECT DISTINCT sku FROM order_items WHERE order_id = ANY($1::uuid[])
                  UNION SELECT unnest($3::text[]) ORDER BY 1) AS skus,
            ARRAY(SELECT id::text FROM ledger_transactions WHERE order_id = ANY($1::uuid[])
                  UNION SELECT DISTINCT transaction_id::text FROM ledger_entries WHERE account_id IN (SELECT id FROM a)
                  ORDER BY 1) AS transactions`,
    [orderIds, scope.accountIds ?? [], scope.skus ?? []],
  );
  const r = rows[0]!;
  return { orderIds, accountIds: r.accounts, skus: r.skus, transactionIds: r.transactions };
}

/**
 * Change-log positions settled for this run: the newest row older than the smallest grace
 * window (a transaction still open may yet commit a row below a newer id; rows from the
 * window are looked at again by the next incremental pass).
 */
async function currentWatermark(pg: Pool, settledBefore: Date, previous: Watermark | null): Promise<Watermark> {
  const { rows } = await pg.query<Watermark>(
    `SELECT COALESCE((SELECT id FROM outbox_events WHERE occurred_at < $1 ORDER BY id DESC LIMIT 1), 0)::text AS "outboxId",
            COALESCE((SELECT id FROM ledger_entries WHERE created_at < $1 ORDER BY id DESC LIMIT 1), 0)::text AS "ledgerEntryId",
            COALESCE((SELECT id FROM stock_movements WHERE created_at < $1 ORDER BY id DESC LIMIT 1), 0)::text AS "stockMovementId"`,
    [settledBefore],
  );
  const now = rows[0]!;
  const max = (a: string, b: string | undefined) => (BigInt(a) >= BigInt(b ?? '0') ? a : b!);
  return {
    outboxId: max(now.outboxId, previous?.outboxId),
    ledgerEntryId: max(now.ledgerEntryId, previous?.ledgerEntryId),
    stockMovementId: max(now.stockMovementId, previous?.stockMovementId),
  };
}

/** The watermark of the last successful pass over everything (null: none yet). */
async function lastWatermark(pg: Pool): Promise<Watermark | null> {
  const { rows } = await pg.query<{ watermark: Watermark | null }>(
    `SELECT watermark FROM reconciliation_runs WHERE status = 'SUCCEEDED' AND scope IS NULL AND watermark IS NOT NULL ORDER BY id DESC LIMIT 1`,
  );
  return rows[0]?.watermark ?? null;
}

async function needsAttention(pg: Pool, now: Date, scope: ResolvedScope | null): Promise<RunSummary['needsAttention']> {
  const { rows } = await pg.query<{ id: string; failure_reason: string | null; updated_at: Date; total: number }>(
    `SELECT id::text, failure_reason, updated_at, count(*) OVER ()::int AS total FROM orders
      WHERE status = 'NEEDS_ATTENTION' AND ($1::uuid[] IS NULL OR id = ANY($1::uuid[]))
      ORDER BY updated_at LIMIT $2`,
    [scope?.orderIds ?? null, NEEDS_ATTENTION_LISTED],
  );
  const orders: NeedsAttention[] = rows.map((r) => ({
    orderId: r.id,
    failureReason: r.failure_reason,
    ageMs: now.getTime() - r.updated_at.getTime(),
  }));
  return { count: rows[0]?.total ?? 0, orders };
}

/** host/pid of this process, recorded with each run. */
export function instanceName(): string {
  return `${os.hostname()}/${process.pid}`;
}

async function startRun(pg: Pool, opts: RunOptions, mode: RunMode, scope: RunScope | null): Promise<string> {
  if (opts.runId) return opts.runId;
  const { rows } = await pg.query<{ id: string }>(
    `INSERT INTO reconciliation_runs (trigger, mode, status, scope, started_at, instance)
     VALUES ($1, $2, 'RUNNING', $3, now(), $4) RETURNING id::text`,
    [opts.trigger, mode, scope ? JSON.stringify(scope) : null, instanceName()],
  );
  return rows[0]!.id;
}

/** A pass in which some checks could not run (the others' findings are recorded). */
export class ReconciliationChecksFailed extends Error {
  override name = 'ReconciliationChecksFailed';
  constructor(
    readonly runId: string,
    readonly errors: Partial<Record<CheckName, string>>,
  ) {
    super(
      Object.entries(errors)
        .map(([check, message]) => `${check}: ${message}`)
        .join('; '),
    );
  }
}

type CheckErrors = Map<CheckName, string>;

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Runs one pass. A check that cannot run (Temporal unreachable, say) does not blind the
 * others: their findings are recorded, the run is FAILED naming the check, and this throws
 * ReconciliationChecksFailed. Anything else failing fails the whole run.
 */
export async function runReconciliation(deps: ReconcilerDeps, opts: RunOptions): Promise<RunOutcome> {
  const { pg, cfg } = deps;
  const settings = { ...cfg.reconciler, ...opts.settings };
  const scope = normalizeScope(opts.scope);
  const started = Date.now();
  const previous = await lastWatermark(pg);
  const mode: RunMode = scope ? 'FULL' : opts.mode === 'INCREMENTAL' && previous ? 'INCREMENTAL' : 'FULL';
  const runId = await startRun(pg, opts, mode, scope);
  try {
    return await pass(deps, { runId, mode, scope, settings, previous, started });
  } catch (err) {
    if (!(err instanceof ReconciliationChecksFailed)) {
      await pg
        .query(`UPDATE reconciliation_runs SET status = 'FAILED', finished_at = now(), duration_ms = $2, error = $3 WHERE id = $1`, [
          runId,
          Date.now() - started,
          messageOf(err),
        ])
        .catch(() => undefined);
    }
    throw err;
  }
}

interface PassInput {
  runId: string;
  mode: RunMode;
  scope: RunScope | null;
  settings: Config['reconciler'];
  previous: Watermark | null;
  started: number;
}

async function pass(deps: ReconcilerDeps, { runId, mode, scope, settings, previous, started }: PassInput): Promise<RunOutcome> {
  const { pg, cfg, log } = deps;
  const { rows } = await pg.query<{ now: Date }>('SELECT now() AS now');
  const now = rows[0]!.now;
  const ctx: CheckContext = {
    pg,
    temporal: deps.temporal,
    settings,
    compensationWindowMs: cfg.workers.compensationWindowMs,
    ordersTaskQueue: ordersTaskQueue(cfg.workers.taskQueuePrefix),
    now,
  };
  const smallestGrace = Math.min(settings.graceMs, settings.sagaGraceMs, settings.streamLagMs);
  const watermark = await currentWatermark(pg, new Date(now.getTime() - smallestGrace), previous);
  const resolved = scope ? await resolveScope(pg, scope) : null;
  const plan: Plan = {
    mode,
    scope: resolved,
    from: mode === 'INCREMENTAL' ? previous : null,
    batchSize: settings.batchSize,
    windowStart: new Date(now.getTime() - ctx.compensationWindowMs),
  };
  const recorder = new FindingRecorder(pg, runId, now, settings);
  const errors: CheckErrors = new Map();

  let examined = 0;
  for (const { set, subject } of SETS) examined += await runBatchChecks(ctx, recorder, set, subject, plan, errors);
  const ran: CheckName[] = CHECK_NAMES.filter((n) => CHECK_TABLE[n].kind === 'batch');
  const scopeSubjects = resolved ? [...resolved.orderIds, ...resolved.accountIds, ...resolved.skus, ...resolved.transactionIds] : null;
  for (const name of CHECK_NAMES) {
    const check = CHECK_TABLE[name];
    if (check.kind !== 'listing' || (check.fullPassOnly && mode === 'INCREMENTAL')) continue;
    ran.push(name);
    try {
      scopeSubjects?.push(...((await runListingCheck(ctx, recorder, check, resolved)) ?? []));
    } catch (err) {
      errors.set(name, messageOf(err));
    }
  }
  await recorder.finish(ran, mode === 'FULL' && !resolved && errors.size === 0);
  const summary: RunSummary = {
    checks: await recorder.summary(CHECK_NAMES, scopeSubjects),
    needsAttention: await needsAttention(pg, now, resolved),
    ...(errors.size > 0 ? { errors: Object.fromEntries(errors) } : {}),
  };
  const totals = Object.values(summary.checks).reduce(
    (acc, c) => ({
      failing: acc.failing + c.failing,
      raised: acc.raised + c.raised,
      resolved: acc.resolved + c.resolved,
      open: acc.open + c.open,
    }),
    { failing: 0, raised: 0, resolved: 0, open: 0 },
  );
  const durationMs = Date.now() - started;
  const failed = errors.size > 0 ? new ReconciliationChecksFailed(runId, Object.fromEntries(errors)) : null;
  // A watermark only for a complete pass: the next incremental one must not skip what a failed check missed.
  await pg.query(
    `UPDATE reconciliation_runs
        SET status = $11, mode = $2, finished_at = now(), duration_ms = $3, watermark = $4, subjects_examined = $5,
            failing = $6, raised = $7, resolved = $8, open_findings = $9, summary = $10, error = $12
      WHERE id = $1`,
    [
      runId,
      mode,
      durationMs,
      resolved || failed ? null : JSON.stringify(watermark),
      examined,
      totals.failing,
      totals.raised,
      totals.resolved,
      totals.open,
      JSON.stringify(summary),
      failed ? 'FAILED' : 'SUCCEEDED',
      failed?.message ?? null,
    ],
  );
  log.info({ runId, mode, durationMs, examined, ...totals, errors: failed?.errors }, 'reconciliation run finished');
  if (failed) throw failed;
  return { runId, mode, durationMs, summary, openFindings: totals.open };
}

async function runBatchChecks(
  ctx: CheckContext,
  recorder: FindingRecorder,
  set: SubjectSet,
  subject: SubjectType,
  plan: Plan,
  errors: CheckErrors,
): Promise<number> {
  const checks = CHECK_NAMES.map((n) => CHECK_TABLE[n]).filter((c): c is BatchCheck => c.kind === 'batch' && c.subjects === set);
  if (checks.length === 0) return 0;
  const names = checks.map((c) => c.name);
  let examined = 0;
  for await (const ids of subjectBatches(ctx.pg, set, plan, names)) {
    examined += ids.length;
    const open = await openSubjects(ctx.pg, subject, ids, names);
    const batch = memoBatch(ids);
    // The checks of a batch are independent (each writes only its own findings): run them side by side.
    await Promise.all(
      checks
        .filter((check) => !errors.has(check.name))
        .map(async (check) => {
          const openIds = open.get(check.name) ?? [];
          const t0 = performance.now();
          try {
            const failures = await check.examine(ctx, batch, openIds);
            recorder.timed(check.name, performance.now() - t0);
            await recorder.recordBatch(check.name, failures, openIds);
          } catch (err) {
            errors.set(check.name, messageOf(err));
          }
        }),
    );
  }
  return examined;
}

/** Returns, for a scoped run, the subjects the check covered. */
async function runListingCheck(
  ctx: CheckContext,
  recorder: FindingRecorder,
  check: ListingCheck,
  scope: ResolvedScope | null,
): Promise<string[] | null> {
  const t0 = performance.now();
  await check.examine(ctx, scope, (failures) => recorder.recordListing(check.name, failures));
  recorder.timed(check.name, performance.now() - t0);
  const subjects = scope ? await check.scopeSubjects(ctx, scope) : null;
  await recorder.finishListing(check.name, subjects);
  return subjects;
}

export { CHECKS };
