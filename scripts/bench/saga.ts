/**
 * Saga benchmark (not a test): prints figures, asserts nothing.
 *
 *   npx tsx scripts/bench/saga.ts [--orders 200] [--concurrency 64] [--rates 10,20,40] [--seconds 10]
 *                                 [--overload-rate N] [--sustained [minutes]] [--sustained-rate 50] [--profile DIR]
 *
 * In one run, against the real local stack (or the Temporal given in `temporal`):
 *  1. baseline: a bare workflow with the saga's shape (3 activities, 3 local activities, no work);
 *  2. saga throughput: orders through the real HTTP API until all are CONFIRMED;
 *  3. latency: orders at each fixed rate, submit-to-CONFIRMED p50/p95/p99/max, the backlog
 *     drained before the next rate;
 *  4. a sweep of rates below capacity for the rate at which p99 crosses 1 s;
 *  5. overload: well above capacity, open loop, counted by answer, then every accepted order
 *     followed to a final status;
 *  6. (asked for) sustained: a fixed rate for minutes, CONFIRMED/s over the window.
 * Workers run in this process, with the same settings as the worker processes, and so does
 * the saga-start sweeper the orders worker role runs. `npm run bench` runs it per mode.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { Registry } from 'prom-client';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { createApp, orderAdmission } from '../../api/app';
import { appWorkersSetup, createSagaWorkers } from '../../app/workers';
import { loadConfig } from '../../lib/config';
import { closeDb, createDb, inTransaction, poolOf, runStatement, type Db } from '../../lib/db';
import { createLogger } from '../../lib/logger';
import { migrate } from '../../lib/migrate';
import { sql } from '../../lib/sql';
import { createTemporalClient, createWorkerConnection } from '../../lib/temporal';
import { createApiKey } from '../../services/access/api-keys';
import { upsertProduct } from '../../services/catalog/products';
import { singleFlight, sweepUnstartedSagas } from '../../services/orders/saga-starter';
import { openAndDeposit } from '../../services/payments/accounts';
import { loadStackConfig, type StackConfig } from '../stack/config';
import { dropDatabase, ensureDatabase } from '../stack/postgres';
import { countPool, countsPerItem, type DbCounts } from './db-counts';
import { temporalServerPid, up } from '../stack/stack';
import * as bareActivities from './bare-activities';
import { bareQueues } from './bare-queues';
import { cpuBetween, cpuSnapshot, devServerPid, type ProcessGroup } from './cpu';
import { formatServerRequests, requestCounts, requestsPerItem } from './server-requests';
import {
  crossing,
  latencySummary,
  noAnswers,
  offerOrder,
  openLoop,
  sweepRates,
  type AnswerCounts,
  type Latency,
  type Offered,
  type SweepPoint,
} from './load';
import { formatProfiles, profileProcess, profileThisProcess, profileThreads, type ProcessProfile } from './profile';

/** Parts of the run `--only` may name (comma-separated); unset: all of them. */
export const PHASES = ['bare', 'saga', 'latency', 'sweep', 'overload', 'sustained'] as const;
export type Phase = (typeof PHASES)[number];

export interface SagaBenchOptions {
  /** Only these parts (the burst capacity is measured too when the sweep or overload rates need it). */
  only?: ReadonlySet<Phase | 'relay'>;
  /** Workflows (baseline) and orders (saga) per throughput burst. */
  orders: number;
  /** In flight at once during the bursts. */
  concurrency: number;
  /** Orders per second of each latency phase, each for `seconds`. */
  rates: number[];
  seconds: number;
  /** The p99 sweep: from `start`/s up to 1.2x the burst capacity in at most `steps` rates, each for `seconds`; 0 steps: none. */
  sweep: { start: number; steps: number; seconds: number; limitMs: number };
  /** Overload: `rate`/s (default `factor` x the burst capacity) for `seconds`; 0 seconds: none. */
  overload: { rate?: number; factor: number; seconds: number };
  /** A fixed rate for minutes (not run unless given). */
  sustained?: { rate: number; minutes: number };
  /** The Temporal to run against (a side server of the other mode); default the stack's. */
  temporal?: StackConfig;
  /** Profile the saga burst into this directory (profile.ts): JavaScript, threads, the Temporal server. */
  profileDir?: string;
}

/** Orders offered at one rate, and what became of them. */
export interface PhaseResult {
  rate: number;
  seconds: number;
  offered: number;
  answers: AnswerCounts;
  /** Submit-to-CONFIRMED of the accepted orders that were CONFIRMED. */
  latency: Latency;
  /** Orders of the phase's customers not answered 202 whose payment was charged (must be 0). */
  chargedNotAccepted: number;
  /** Accepted orders by final status (and `unsettled`: not final by the deadline). */
  outcomes: Record<string, number>;
  /** Orders the phase committed: more than the accepted ones when an answer was lost (a timeout after the commit). */
  committed: number;
  /** Some answers of each class other than 202, as answered. */
  samples: string[];
  /** Seconds from the last offer until every order of the run was final. */
  drainS: number;
}

export interface SagaBenchResult {
  mode: string;
  /** NaN when not run (--only). */
  bareRate: number;
  sagaRate: number;
  /** ORDERS_MAX_IN_FLIGHT the bench's API ran with (0: none): the bound, or the adaptive bound's cap. */
  maxInFlight: number;
  /** The bound on sagas in flight as configured, in words (fixed, or adaptive with its target and limits). */
  boundSetting: string;
  /** The bound the door had reached at the end of the saga burst and of the overload phase. */
  boundReached: { burst?: number; overload?: number };
  /** PostgreSQL round trips and transactions per saga order (the burst; API, workers, sweeper) and per bare workflow (0: it touches none). */
  dbCounts?: { saga: DbCounts };
  latency: PhaseResult[];
  sweep?: { points: SweepPoint[]; limitMs: number; under?: SweepPoint; over?: SweepPoint };
  overload?: PhaseResult & { sweeperStarted: number };
  sustained?: {
    rate: number;
    minutes: number;
    offered: number;
    answers: AnswerCounts;
    confirmedPerS: number;
    latency: Latency;
    /** Orders of the run not final when the window closed. */
    backlog: number;
  };
  /** The bench key's rate limit, and whether the bench raised it above the configured one. */
  rateLimit: { points: number; windowS: number; configured: number };
  /** CPU ms per workflow (bare) and per order (saga) of each process group, during the bursts. */
  cpuMs: { bare: Record<string, number>; saga: Record<string, number> };
  /** The Temporal server's persistence requests per bare workflow and per saga order, by operation. */
  serverRequests: { bare: [string, number][]; saga: [string, number][] };
  /** Where each burst's CPU went inside each process, with --profile. */
  profiles?: { bare: ProcessProfile[]; saga: ProcessProfile[] };
}

/** Statuses an order settles in: the end of its saga as a submitter sees it. */
const SETTLED = ['CONFIRMED', 'REJECTED', 'COMPENSATED', 'NEEDS_ATTENTION'];
const SWEEP_INTERVAL_MS = 2000;
const DRAIN_DEADLINE_MS = 300_000;
const REQUEST_TIMEOUT_MS = 10_000;

/** This process (API, workers, client), the Temporal server, and every PostgreSQL process. */
function processGroups(temporal: StackConfig): ProcessGroup[] {
  const temporalPid = temporalServerPid(temporal) ?? devServerPid(temporal.temporal.port);
  return [
    { name: 'api+workers', pids: [process.pid] },
    { name: 'temporal', pids: temporalPid ? [temporalPid] : [] },
    { name: 'postgres', comm: 'postgres' },
  ];
}

/** Runs fn and returns the CPU ms per item each group spent meanwhile. */
async function cpuPerItem(groups: ProcessGroup[], items: number, fn: () => Promise<void>): Promise<Record<string, number>> {
  const before = cpuSnapshot(groups);
  await fn();
  const used = cpuBetween(before, cpuSnapshot(groups));
  return Object.fromEntries([...used].map(([name, seconds]) => [name, (seconds * 1000) / items]));
}

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: (m: string) => console.error(m) };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const progress = (m: string) => process.stderr.write(`[bench] ${m}\n`);

/** Runs `task` for 0..n-1 with at most `limit` in flight. */
async function pool(n: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) await task(next++);
    }),
  );
}

/** The run's orders as the database has them: one raw statement each, no Prisma in the harness. */
function orderBook(db: Db, customers: string[]) {
  return {
    /** Orders of the run so far. */
    async count(): Promise<number> {
      const [row] = await runStatement<{ n: number }>(
        db,
        sql`SELECT count(*)::int AS n FROM orders WHERE customer_id = ANY(${customers}::text[])`,
      );
      return row!.n;
    },
    /** Orders of the run not yet final. */
    async backlog(): Promise<number> {
      const [row] = await runStatement<{ n: number }>(
        db,
        sql`SELECT count(*)::int AS n FROM orders WHERE customer_id = ANY(${customers}::text[]) AND status <> ALL(${SETTLED}::text[])`,
      );
      return row!.n;
    },
    /** Orders of the run created since `since`, not among `accepted`, whose payment was charged. */
    async chargedExcept(since: Date, accepted: string[]): Promise<number> {
      const [row] = await runStatement<{ n: number }>(
        db,
        sql`SELECT count(*)::int AS n FROM ledger_transactions t JOIN orders o ON o.id = t.order_id
             WHERE o.customer_id = ANY(${customers}::text[]) AND o.created_at >= ${since}::timestamptz
               AND t.kind = 'CHARGE' AND NOT (o.id = ANY(${accepted}::uuid[]))`,
      );
      return row!.n;
    },
    /** Each order's status and, once CONFIRMED, when (the database's clock, ms). */
    async outcomes(ids: string[]): Promise<Map<string, { status: string; confirmedAt: number | null }>> {
      const rows = await runStatement<{ id: string; status: string; confirmed_at: number | null }>(
        db,
        sql`SELECT o.id, o.status,
                   (SELECT extract(epoch FROM min(h.at)) * 1000 FROM order_status_history h
                     WHERE h.order_id = o.id AND h.order_status = 'CONFIRMED')::float8 AS confirmed_at
              FROM orders o WHERE o.id = ANY(${ids}::uuid[])`,
      );
      return new Map(rows.map((r) => [r.id, { status: r.status, confirmedAt: r.confirmed_at }]));
    },
  };
}

/** Runs the phases in one process against the stack (brought up if needed); prints progress only. */
export async function runSagaBench(opts: SagaBenchOptions): Promise<SagaBenchResult> {
  // Core's warnings (e.g. "workflow task duration exceeded 5 seconds" under overload) would flood stdout's table.
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
  });
  const prefix = `bench-${crypto.randomUUID().slice(0, 8)}-`;
  // A database of its own: the benchmark's products, customers and orders stay out of `npm start`'s.
  const base = loadConfig();
  const url = new URL(base.database.url);
  url.pathname = `/${base.database.database}_bench`;
  // The bench key is a client key; the highest rate offered must not hit its per-key limit, or
  // overload would measure the rate limiter rather than the system.
  const offeredMax = Math.max(...opts.rates, opts.overload.rate ?? 0, opts.sustained?.rate ?? 0);
  const configured = base.api.rateLimits.clientPoints;
  const needed = Math.ceil(offeredMax * base.api.rateLimits.windowS * 1.5);
  const stackCfg = loadStackConfig({
    ...process.env,
    DATABASE_URL: url.toString(),
    TEMPORAL_TASK_QUEUE_PREFIX: prefix,
    LOG_LEVEL: 'silent',
    ...(needed > configured ? { RATE_LIMIT_CLIENT: String(needed) } : {}),
  });
  await up(stackCfg);
  const temporalCfg = opts.temporal ?? stackCfg;
  const cfg = { ...stackCfg, temporal: temporalCfg.temporal };
  const mode = temporalCfg.stack.temporal.persistence;
  // A fresh database: orders a killed run left mid-saga would count against the bound on sagas in flight.
  await dropDatabase(cfg, cfg.database.database);
  await ensureDatabase(cfg, cfg.database.database);
  await migrate(cfg.databaseOwner.url);
  const db = createDb(cfg.database.url, 40);
  const dbCounter = countPool(poolOf(db));
  // The harness's own statements (polling, outcomes) on a pool of their own: not counted as the system's.
  const harnessDb = createDb(cfg.database.url, 4);
  // Orders an earlier run left unstarted are not this run's: its sweeper must not start them.
  await runStatement(db, sql`UPDATE orders SET saga_started_at = now() WHERE saga_started_at IS NULL`);
  const client = await createTemporalClient(cfg);
  const connection = await createWorkerConnection(cfg);

  // Data: one product with ample stock, 50 customers (a single account would serialise charges).
  const sku = `BENCH-${prefix}`;
  await inTransaction(db, (tx) => upsertProduct(tx, { sku, name: 'bench', unitPriceMinor: 100, currency: 'EUR', addStock: 10_000_000 }));
  const customers = Array.from({ length: 50 }, (_, i) => `${prefix}cust-${i}`);
  for (const c of customers) {
    await inTransaction(db, (tx) =>
      openAndDeposit(tx, { customerId: c, currency: 'EUR', depositMinor: 1_000_000_000, idempotencyKey: `bench:${c}` }),
    );
  }
  const { key } = await createApiKey(db, 'bench', 'client', customers);
  const book = orderBook(harnessDb, customers);

  const sagaBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quiet });
  const bareBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./bare-workflow'), logger: quiet });
  const bare = bareQueues(`${prefix}bare-`);
  const workers = [
    ...(await createSagaWorkers(await appWorkersSetup({ cfg, db, connection, workflowBundle: sagaBundle }))),
    ...(await Promise.all(
      Object.values(bare).map((taskQueue, i) =>
        Worker.create({
          connection,
          namespace: cfg.temporal.namespace,
          taskQueue,
          activities: bareActivities,
          ...(i === 0 ? { workflowBundle: bareBundle, maxCachedWorkflows: cfg.workers.maxCachedWorkflows } : {}),
        }),
      ),
    )),
  ];
  const running = workers.map((w) => w.run());
  // The saga-start sweeper, as the orders worker role runs it (app/roles/workers.ts).
  const log = createLogger('bench', 'silent');
  const registry = new Registry();
  const sweep = singleFlight(() => sweepUnstartedSagas(db, client, cfg, log, { registry }));
  let sweeping: Promise<unknown> = Promise.resolve();
  const sweeper = setInterval(() => {
    sweeping = sweep().catch(() => undefined);
  }, SWEEP_INTERVAL_MS);
  const sweeperStarted = async () =>
    (await registry.getSingleMetric('saga_sweeper_starts_total')?.get())?.values.find((v) => v.labels.outcome === 'started')?.value ?? 0;

  const appDeps = {
    cfg,
    db,
    log,
    temporal: client,
    faults: { hit: async () => undefined },
    kafka: new Kafka({ clientId: 'bench', brokers: cfg.kafka.brokers, logLevel: logLevel.NOTHING }),
    readiness: {},
  };
  // The door of the API, held here to say what bound it reached.
  const admission = orderAdmission(appDeps);
  const boundReached: SagaBenchResult['boundReached'] = {};
  const app = createApp({ ...appDeps, admission });
  const server: http.Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`;
  const offer = (i: number, idempotencyKey: string = crypto.randomUUID()): Promise<Offered> =>
    offerOrder(
      api,
      { authorization: `Bearer ${key}`, 'idempotency-key': idempotencyKey, 'content-type': 'application/json' },
      { customerId: customers[i % customers.length], items: [{ sku, quantity: 1 }] },
      REQUEST_TIMEOUT_MS,
    );
  /**
   * A closed-loop client: a 503 with Retry-After (the bound on sagas in flight) is retried after
   * it, a lost answer (network error) at most 3 times; one Idempotency-Key per order, so a retry
   * never places a second one.
   */
  const post = async (i: number): Promise<string> => {
    const idempotencyKey = crypto.randomUUID();
    for (let lost = 0; ;) {
      const o = await offer(i, idempotencyKey);
      if (o.orderId) return o.orderId;
      if (o.answer === 'networkError' && ++lost <= 3) continue;
      if (o.answer !== 'unavailableRetryAfter' && o.answer !== 'networkError') {
        throw new Error(`POST /orders answered ${o.status ?? o.answer}: ${o.detail}`);
      }
      if (o.answer === 'networkError') throw new Error(`POST /orders: no answer 4 times: ${o.detail}`);
      await sleep(Number(o.retryAfter ?? 1) * 1000);
    }
  };
  /** Waits (polling, deadline) until no order of the run is unsettled; returns how long it took. */
  const drain = async (deadlineMs = DRAIN_DEADLINE_MS): Promise<number> => {
    const t0 = Date.now();
    while ((await book.backlog()) > 0 && Date.now() - t0 < deadlineMs) await sleep(100);
    return (Date.now() - t0) / 1000;
  };
  const allConfirmed = async (ids: string[]): Promise<void> => {
    await drain();
    const outcomes = await book.outcomes(ids);
    const confirmed = ids.filter((id) => outcomes.get(id)?.status === 'CONFIRMED').length;
    if (confirmed < ids.length) throw new Error(`only ${confirmed}/${ids.length} orders confirmed`);
  };
  /** Offers `rate`/s for `seconds` (open loop), waits until every order of the run is final, and sums it up. */
  const phase = async (rate: number, seconds: number, offersDone?: () => void): Promise<PhaseResult> => {
    const offered: Offered[] = [];
    const countBefore = await book.count();
    const [{ started }] = (await runStatement<{ started: Date }>(harnessDb, sql`SELECT now() AS started`)) as [{ started: Date }];
    await openLoop(rate, seconds, async (i) => {
      offered.push(await offer(i));
    });
    offersDone?.();
    const drainS = await drain();
    const committed = (await book.count()) - countBefore;
    const answers = noAnswers();
    const samples = new Map<string, string>();
    for (const o of offered) {
      answers[o.answer]++;
      if (o.answer !== 'accepted' && !samples.has(o.answer)) samples.set(o.answer, `${o.status ?? o.answer}: ${o.detail ?? ''}`);
    }
    const accepted = offered.filter((o) => o.orderId);
    const outcomes = await book.outcomes(accepted.map((o) => o.orderId!));
    const chargedNotAccepted = await book.chargedExcept(
      started,
      accepted.map((o) => o.orderId!),
    );
    const counts: Record<string, number> = {};
    const latencies: number[] = [];
    for (const o of accepted) {
      const out = outcomes.get(o.orderId!);
      const status = out && SETTLED.includes(out.status) ? out.status : 'unsettled';
      counts[status] = (counts[status] ?? 0) + 1;
      if (out?.confirmedAt != null) latencies.push(out.confirmedAt - o.sentAt);
    }
    return {
      rate,
      seconds,
      offered: offered.length,
      answers,
      latency: latencySummary(latencies),
      chargedNotAccepted,
      outcomes: counts,
      committed,
      samples: [...samples.values()],
      drainS,
    };
  };

  // Warm-up: bundles are loaded, connections open, JIT warm.
  await allConfirmed(await Promise.all(Array.from({ length: 20 }, (_, i) => post(i))));

  const groups = processGroups(temporalCfg);
  /** With --profile: profiles of this process (JavaScript, threads) and the Temporal server during one burst. */
  const startProfile = async (name: string) => {
    if (!opts.profileDir) return undefined;
    const dir = opts.profileDir;
    fs.mkdirSync(dir, { recursive: true });
    const js = await profileThisProcess(dir, `${mode}-${name}-api-workers`);
    const threads = profileThreads();
    const serverProfile = profileProcess(groups[1]!.pids?.[0], dir, `${mode}-${name}-temporal`, `temporal (${mode} mode)`);
    return { stop: async () => [await js.stop(), threads.stop(), await serverProfile.stop()] };
  };
  const want = (p: Phase) => !opts.only || opts.only.has(p);
  // The sweep and the overload are sized from the burst capacity unless given a rate.
  const needBurst = want('saga') || want('sweep') || (want('overload') && opts.overload.rate === undefined);
  // 1. Baseline.
  const metricsUrl = `http://${temporalCfg.temporal.host}:${temporalCfg.stack.temporal.metricsPort}/metrics`;
  let bareRate = NaN;
  let bareCpu: Record<string, number> = {};
  let bareRequests: [string, number][] = [];
  let bareProfile: ProcessProfile[] | undefined;
  if (want('bare') || want('saga')) {
    progress(`${mode}: bare burst of ${opts.orders}`);
    const bareProfiling = await startProfile('bare');
    const requestsBefore = await requestCounts(metricsUrl);
    const t0 = Date.now();
    bareCpu = await cpuPerItem(groups, opts.orders, () =>
      pool(opts.orders, opts.concurrency, async (i) => {
        await client.workflow.execute('bareWorkflow', { taskQueue: bare.orders, workflowId: `${prefix}bare-${i}`, args: [bare] });
      }),
    );
    bareRate = opts.orders / ((Date.now() - t0) / 1000);
    bareProfile = await bareProfiling?.stop();
    bareRequests = requestsPerItem(requestsBefore, await requestCounts(metricsUrl), opts.orders);
  }

  // 2. Saga throughput through the API (a closed loop: refusals by the bound are retried after Retry-After).
  let sagaRate = NaN;
  let sagaCpu: Record<string, number> = {};
  let sagaRequests: [string, number][] = [];
  let profiles: SagaBenchResult['profiles'];
  let dbCounts: SagaBenchResult['dbCounts'];
  if (needBurst) {
    progress(`${mode}: saga burst of ${opts.orders}`);
    const t0 = Date.now();
    const ids: string[] = [];
    const sagaProfiling = await startProfile('saga');
    const requestsBefore = await requestCounts(metricsUrl);
    const countsBefore = dbCounter.read();
    sagaCpu = await cpuPerItem(groups, opts.orders, async () => {
      await pool(opts.orders, opts.concurrency, async (i) => {
        ids.push(await post(i));
      });
      await allConfirmed(ids);
    });
    sagaRate = opts.orders / ((Date.now() - t0) / 1000);
    dbCounts = { saga: countsPerItem(countsBefore, dbCounter.read(), opts.orders) };
    boundReached.burst = admission.bound();
    sagaRequests = requestsPerItem(requestsBefore, await requestCounts(metricsUrl), opts.orders);
    profiles = sagaProfiling && bareProfile ? { bare: bareProfile, saga: await sagaProfiling.stop() } : undefined;
  }

  // 3. Latency at each fixed rate (each phase drains before the next begins).
  const latency: PhaseResult[] = [];
  for (const rate of want('latency') ? opts.rates : []) {
    progress(`${mode}: latency at ${rate}/s for ${opts.seconds} s`);
    latency.push(await phase(rate, opts.seconds));
  }

  // 4. Where p99 crosses the limit: ascending rates below capacity, stopping at the first over it.
  let sweepResult: SagaBenchResult['sweep'];
  if (opts.sweep.steps > 0 && want('sweep')) {
    const points: SweepPoint[] = [];
    for (const rate of sweepRates(opts.sweep.start, Math.max(opts.sweep.start, Math.round(sagaRate * 1.2)), opts.sweep.steps)) {
      progress(`${mode}: p99 sweep at ${rate}/s for ${opts.sweep.seconds} s`);
      points.push({ rate, p99: (await phase(rate, opts.sweep.seconds)).latency.p99 });
      if (!(points.at(-1)!.p99 <= opts.sweep.limitMs)) break;
    }
    sweepResult = { points, limitMs: opts.sweep.limitMs, ...crossing(points, opts.sweep.limitMs) };
  }

  // 5. Overload: well above the capacity just measured.
  let overload: SagaBenchResult['overload'];
  if (opts.overload.seconds > 0 && want('overload')) {
    const rate = opts.overload.rate ?? Math.max(1, Math.ceil(sagaRate * opts.overload.factor));
    progress(`${mode}: overload at ${rate}/s for ${opts.overload.seconds} s`);
    const before = await sweeperStarted();
    const r = await phase(rate, opts.overload.seconds, () => (boundReached.overload = admission.bound()));
    overload = { ...r, sweeperStarted: (await sweeperStarted()) - before };
  }

  // 6. Sustained (last: its backlog is left to Temporal, not drained).
  let sustained: SagaBenchResult['sustained'];
  if (opts.sustained && want('sustained')) {
    const { rate, minutes } = opts.sustained;
    progress(`${mode}: sustained ${rate}/s for ${minutes} min`);
    const offered: Offered[] = [];
    const windowStart = Date.now();
    await openLoop(rate, minutes * 60, async (i) => {
      offered.push(await offer(i));
    });
    const windowEnd = Date.now();
    const backlog = await book.backlog();
    const answers = noAnswers();
    offered.forEach((o) => answers[o.answer]++);
    const outcomes = await book.outcomes(offered.flatMap((o) => (o.orderId ? [o.orderId] : [])));
    const inWindow = offered.flatMap((o) => {
      const at = o.orderId ? outcomes.get(o.orderId)?.confirmedAt : null;
      return at != null && at <= windowEnd ? [at - o.sentAt] : [];
    });
    sustained = {
      rate,
      minutes,
      offered: offered.length,
      answers,
      confirmedPerS: inWindow.length / ((windowEnd - windowStart) / 1000),
      latency: latencySummary(inWindow),
      backlog,
    };
  }

  clearInterval(sweeper);
  await sweeping;
  server.closeAllConnections();
  server.close();
  workers.forEach((w) => w.shutdown());
  await Promise.all(running);
  await connection.close();
  await client.connection.close();
  await closeDb(db);
  await closeDb(harnessDb);
  return {
    mode,
    bareRate,
    sagaRate,
    maxInFlight: cfg.api.admission.maxInFlight,
    boundSetting: describeBound(cfg.api.admission),
    boundReached,
    dbCounts,
    latency,
    sweep: sweepResult,
    overload,
    sustained,
    rateLimit: { points: cfg.api.rateLimits.clientPoints, windowS: cfg.api.rateLimits.windowS, configured },
    cpuMs: { bare: bareCpu, saga: sagaCpu },
    serverRequests: { bare: bareRequests, saga: sagaRequests },
    profiles,
  };
}

/** The bound on sagas in flight as configured (lib/config.ts), in words. */
export function describeBound(a: { maxInFlight: number; minInFlight: number; targetMs: number }): string {
  if (a.targetMs <= 0) return a.maxInFlight > 0 ? `${a.maxInFlight}, fixed (ORDERS_MAX_IN_FLIGHT)` : 'none (ORDERS_MAX_IN_FLIGHT=0)';
  const cap = a.maxInFlight > 0 ? `${a.maxInFlight}` : 'none';
  return `adaptive, measured throughput x ${a.targetMs} ms (ORDERS_IN_FLIGHT_TARGET_MS), floor ${a.minInFlight}, cap ${cap}`;
}

/** `--name N` as a number (fallback when absent). */
export function numberArg(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} needs a number >= 0`);
  return v;
}

/** `--only overload,relay`: the parts to run (PHASES, and `relay` for npm run bench). */
function onlyArg(argv: string[]): { only?: ReadonlySet<Phase | 'relay'> } {
  const i = argv.indexOf('--only');
  if (i < 0) return {};
  const names = (argv[i + 1] ?? '').split(',').filter(Boolean);
  const known: readonly string[] = [...PHASES, 'relay'];
  for (const n of names) if (!known.includes(n)) throw new Error(`--only: "${n}" is not one of ${known.join(', ')}`);
  if (names.length === 0) throw new Error(`--only needs one or more of ${known.join(', ')}`);
  return { only: new Set(names as (Phase | 'relay')[]) };
}

/** The options both `npm run bench` and this script take, from argv. */
export function sagaOptionsFromArgv(argv: string[]): Omit<SagaBenchOptions, 'temporal'> {
  const ratesAt = argv.indexOf('--rates');
  const rates = (ratesAt >= 0 ? argv[ratesAt + 1]! : '10,20,40').split(',').map(Number);
  if (rates.some((r) => !(r > 0))) throw new Error('--rates needs positive numbers, comma-separated');
  const seconds = numberArg(argv, 'seconds', 10);
  const s = argv.indexOf('--sustained');
  const minutesArg = s >= 0 ? Number(argv[s + 1]) : NaN;
  const p = argv.indexOf('--profile');
  const overloadRate = numberArg(argv, 'overload-rate', 0);
  return {
    orders: numberArg(argv, 'orders', 200),
    concurrency: numberArg(argv, 'concurrency', 64),
    rates,
    seconds,
    sweep: {
      start: numberArg(argv, 'sweep-start', 2),
      steps: numberArg(argv, 'sweep-steps', 5),
      seconds: numberArg(argv, 'sweep-seconds', seconds),
      limitMs: 1000,
    },
    overload: { ...(overloadRate > 0 ? { rate: overloadRate } : {}), factor: 3, seconds: numberArg(argv, 'overload-seconds', 60) },
    ...onlyArg(argv),
    ...(s >= 0 ? { sustained: { rate: numberArg(argv, 'sustained-rate', 50), minutes: minutesArg > 0 ? minutesArg : 10 } } : {}),
    ...(p >= 0 ? { profileDir: path.resolve(argv[p + 1] ?? 'bench-profile') } : {}),
  };
}

async function main(): Promise<void> {
  const opts = sagaOptionsFromArgv(process.argv);
  const r = await runSagaBench(opts);
  const burst = `(${opts.orders} at concurrency ${opts.concurrency})`;
  console.log(`\nsaga benchmark (all servers on this machine, TEMPORAL_PERSISTENCE=${r.mode})`);
  console.log(`  baseline: bare workflow, same shape       ${r.bareRate.toFixed(1)} workflows/s  ${burst}`);
  console.log(`  saga: POST /orders -> CONFIRMED            ${r.sagaRate.toFixed(1)} orders/s     ${burst}`);
  console.log(`  saga / baseline                            ${(r.sagaRate / r.bareRate).toFixed(2)}x`);
  for (const l of r.latency) {
    const t = l.latency;
    console.log(
      `  submit-to-CONFIRMED at ${l.rate}/s for ${l.seconds} s    p50 ${t.p50} ms  p95 ${t.p95} ms  p99 ${t.p99} ms  max ${t.max} ms`,
    );
  }
  console.log(JSON.stringify({ sweep: r.sweep, overload: r.overload, sustained: r.sustained }, null, 2));
  const cpu = (per: Record<string, number>) =>
    Object.entries(per)
      .map(([k, ms]) => `${k} ${ms.toFixed(1)}`)
      .join(', ');
  console.log(`  CPU ms per bare workflow: ${cpu(r.cpuMs.bare)}`);
  console.log(`  CPU ms per saga order:    ${cpu(r.cpuMs.saga)}`);
  console.log(`  ${formatServerRequests(r.serverRequests)}`);
  if (r.profiles) console.log(`\n${formatProfiles(r.profiles, r.cpuMs)}`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
