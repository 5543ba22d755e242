/**
 * The reconciler as a long-running service. Several instances may run; one is active: it holds
 * a session-level advisory lock on a connection of its own, and loses it with that connection
 * (a standby then takes over within RECONCILE_STANDBY_POLL_MS). The active instance runs a
 * pass every RECONCILE_INTERVAL_MS (a full pass when the last one is RECONCILE_FULL_PASS_EVERY
 * intervals old, else incremental) and every run the API requested (woken by NOTIFY). Each pass
 * holds a second lock, which `npm run reconcile` takes too, so passes never overlap.
 */
import type { Client as TemporalClient } from '@temporalio/client';
import { Client, type Pool } from 'pg';
import type { Registry } from 'prom-client';
import type { Config } from '../../lib/config';
import { createPool } from '../../lib/db';
import { holdConnection } from '../../lib/sql';
import type { Logger } from '../../lib/logger';
import { RunLoop } from '../../lib/run-loop';
import { LOCKS, RUNS_CHANNEL, type RunMode, type RunScope } from './contract';
import { openFindingCounts } from './findings';
import { reconciliationMetrics, setFindingGauges, type ReconciliationMetrics } from './metrics';
import { instanceName, runReconciliation, type ReconcilerDeps, type RunOptions, type RunOutcome } from './runner';

/** The read-only role's pool, with a server-side ceiling on any one statement. */
export function createReconcilerPool(cfg: Config, max = 4, onIdleError?: (err: Error) => void): Pool {
  return createPool(cfg.reconciler.database.url, {
    poolSize: max,
    connectTimeoutMs: 0, // a pass waits for its connections, as it always did
    // A pass reads for minutes and waits on the pass lock: no lock or idle limit, a 10 min statement ceiling.
    limits: { statementTimeoutMs: 600_000, lockTimeoutMs: 0, idleInTransactionTimeoutMs: 0 },
    serverOptions: '-c random_page_cost=1.1 -c jit=off -c max_parallel_workers_per_gather=0',
    onIdleError,
  });
}

/** Runs `fn` holding the pass lock; null if another pass holds it (and `wait` is false). */
export async function withRunLock<T>(pg: Pool, wait: boolean, fn: () => Promise<T>): Promise<T | null> {
  // Held for the whole run, idle while `fn` works on other connections: a server restart must
  // fail the unlock below, not crash the reconciler with an unheard 'error' (found by the chaos run).
  const held = await holdConnection(pg);
  const client = held.client;
  // A failed unlock means the connection is gone (the server ended it), whether or not its
  // 'error' has arrived yet: it is destroyed, never handed to the pool's next query.
  let unlockFailed: Error | undefined;
  try {
    if (wait) await client.query('SELECT pg_advisory_lock($1, $2)', [...LOCKS.run]);
    else {
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS locked', [...LOCKS.run]);
      if (!rows[0]?.locked) return null;
    }
    try {
      // Whoever holds the lock is the only one running: a RUNNING run left behind by a crash is over.
      await client.query(`UPDATE reconciliation_runs SET status = 'FAILED', finished_at = now(), error = 'abandoned: its reconciler stopped during the run'
                           WHERE status = 'RUNNING'`);
      return await fn();
    } finally {
      await client.query('SELECT pg_advisory_unlock($1, $2)', [...LOCKS.run]).catch((err: Error) => (unlockFailed = err));
    }
  } finally {
    client.release(held.lost() ?? unlockFailed);
    held.done();
  }
}

/** One pass, holding the pass lock (waiting for a pass in progress to finish): the CLI's way in. */
export async function reconcileOnce(deps: ReconcilerDeps, opts: RunOptions): Promise<RunOutcome> {
  return (await withRunLock(deps.pg, true, () => runReconciliation(deps, opts)))!;
}

interface Claimed {
  id: string;
  mode: RunMode;
  scope: RunScope | null;
}

export interface ServiceDeps {
  pg: Pool;
  temporal: TemporalClient;
  cfg: Config;
  log: Logger;
  registry: Registry;
  /** Overrides of the settings (tests). */
  settings?: Partial<Config['reconciler']>;
}

export class ReconciliationService {
  private readonly loop: RunLoop;
  private readonly metrics: ReconciliationMetrics;
  private readonly settings: Config['reconciler'];
  private session: Client | undefined;
  private nextAt = 0;

  constructor(private readonly deps: ServiceDeps) {
    this.settings = { ...deps.cfg.reconciler, ...deps.settings };
    this.metrics = reconciliationMetrics(deps.registry, deps.pg);
    this.metrics.interval.set(this.settings.intervalMs / 1000);
    this.metrics.active.set(0);
    this.loop = new RunLoop({
      round: () => this.round(),
      // A standby polls for the active lock; the active instance wakes for a requested run (NOTIFY) or the schedule.
      idleMs: () => (this.session ? Math.max(10, Math.min(this.nextAt - Date.now(), 1000)) : this.settings.standbyPollMs),
      failed: async (err, failures) => {
        this.deps.log.error({ err, failures }, 'reconciler step failed');
        if (this.session && !(await this.sessionAlive())) await this.resign();
      },
      backoffMs: (failures) => Math.min(30_000, 500 * 2 ** Math.min(failures, 6)),
    });
  }

  /** True while this instance is the active one. */
  get active(): boolean {
    return this.session !== undefined;
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    await this.resign();
  }

  /** A round: standing by (false: the lock is another instance's), or one step of the active instance. */
  private async round(): Promise<boolean> {
    if (!this.session && !(await this.becomeActive())) return false;
    await this.session!.query('SELECT 1'); // the lock lives as long as this connection
    return this.step();
  }

  private async sessionAlive(): Promise<boolean> {
    return this.session!.query('SELECT 1').then(
      () => true,
      () => false,
    );
  }

  /** Tries to take the active lock on a connection of its own. */
  private async becomeActive(): Promise<boolean> {
    const client = new Client({ connectionString: this.deps.cfg.reconciler.database.url });
    client.on('error', (err) => this.deps.log.warn({ err }, 'reconciler lock connection failed'));
    await client.connect();
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS locked', [...LOCKS.active]);
    if (!rows[0]?.locked) {
      await client.end();
      return false;
    }
    client.on('notification', () => this.loop.wake());
    await client.query(`LISTEN ${RUNS_CHANNEL}`);
    this.session = client;
    this.nextAt = 0;
    this.metrics.active.set(1);
    this.deps.log.info('this reconciler is now the active instance');
    return true;
  }

  private async resign(): Promise<void> {
    const session = this.session;
    if (!session) return;
    this.session = undefined;
    this.metrics.active.set(0);
    this.metrics.findings.reset();
    this.metrics.suspects.reset();
    await session.end().catch(() => undefined);
  }

  /** One requested run, or the scheduled one when due; false if there was nothing to do. */
  private async step(): Promise<boolean> {
    const due = Date.now() >= this.nextAt;
    const done = await withRunLock(this.deps.pg, false, async () => {
      const requested = await this.claimRequested();
      if (requested) {
        await this.execute({ trigger: 'API', mode: requested.mode, scope: requested.scope, runId: requested.id });
        return true;
      }
      if (!due) return false;
      await this.execute({ trigger: 'SCHEDULE', mode: await this.scheduledMode() });
      this.nextAt = Date.now() + this.settings.intervalMs;
      return true;
    });
    return done ?? false;
  }

  private async claimRequested(): Promise<Claimed | null> {
    const { rows } = await this.deps.pg.query<Claimed>(
      `UPDATE reconciliation_runs SET status = 'RUNNING', started_at = now(), instance = $1
        WHERE id = (SELECT id FROM reconciliation_runs WHERE status = 'REQUESTED' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING id::text, mode, scope`,
      [instanceName()],
    );
    return rows[0] ?? null;
  }

  private async scheduledMode(): Promise<RunMode> {
    const { rows } = await this.deps.pg.query<{ at: Date | null }>(
      `SELECT max(finished_at) AS at FROM reconciliation_runs WHERE status = 'SUCCEEDED' AND mode = 'FULL' AND scope IS NULL`,
    );
    const last = rows[0]?.at?.getTime();
    const fullEvery = this.settings.fullPassEvery * this.settings.intervalMs;
    return last !== undefined && Date.now() - last < fullEvery ? 'INCREMENTAL' : 'FULL';
  }

  private async execute(opts: RunOptions): Promise<RunOutcome | undefined> {
    const { pg, temporal, cfg, log } = this.deps;
    try {
      const outcome = await runReconciliation({ pg, temporal, cfg, log }, { ...opts, settings: this.deps.settings });
      this.metrics.duration.observe({ mode: outcome.mode }, outcome.durationMs / 1000);
      this.metrics.runs.inc({ mode: outcome.mode, outcome: 'succeeded' });
      return outcome;
    } catch (err) {
      this.metrics.runs.inc({ mode: opts.mode ?? 'FULL', outcome: 'failed' });
      log.error({ err, trigger: opts.trigger }, 'reconciliation run failed');
      return undefined;
    } finally {
      const counts = await openFindingCounts(pg).catch(() => undefined);
      if (counts && this.session) setFindingGauges(this.metrics, counts.open, counts.suspects);
    }
  }
}
