/**
 * One chaos run: its own database, topics, consumer groups and task queues; two instances
 * of every app process; a seeded workload and a seeded fault schedule at the same time;
 * then quiescence and the checker. `npm run chaos` and the short run in `npm test` both
 * call runChaos.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Pool } from 'pg';
import { closeDb, createDb } from '../../lib/db';
import { migrate } from '../../lib/migrate';
import type { Role } from '../../app/processes';
import { loadStackConfig, type StackConfig } from '../stack/config';
import { ensureTopics } from '../stack/kafka';
import { dropDatabase, ensureDatabase } from '../stack/postgres';
import { waitUntil } from '../stack/proc';
import { cliEnv } from '../stack/temporal';
import {
  checkIdempotency,
  checkMoney,
  checkOrders,
  checkReconciler,
  checkStock,
  checkStream,
  orderRows,
  quiescent,
  snapshot,
  type CheckResult,
} from './checks';
import { ChaosClient } from './client';
import { ALL_ROLES, Fleet } from './fleet';
import { createRng, shuffle, type Rng } from './prng';
import { planFaults, type PlannedFault } from './schedule';
import { ensureServerUp, restartServer, type ServerKind } from './servers';
import { createCatalog, pickScenario, runScenario, SCENARIOS, type PlacedOrder, type Scenario, type WorkloadDeps } from './workload';

export interface ChaosOptions {
  orders: number;
  minutes: number;
  seed: number;
  /** Servers to restart during the run (each at least once). */
  servers: readonly ServerKind[];
  /** App-instance kills; default: one per process type plus 8 a minute. */
  kills?: number;
  instances?: number;
  /** Overrides of the environment the stack configuration is read from (addresses, ports). */
  env?: Record<string, string>;
  apiPort: number;
  metricsPortBase: number;
  /** Orders in flight at once. */
  lanes?: number;
  quiescenceTimeoutMs?: number;
  /** Where the run's process logs go (a directory per run); default <STACK_DIR>/chaos. */
  logRoot?: string;
  log?: (msg: string) => void;
}

export interface FaultRecord {
  fault: PlannedFault;
  /** Offset into the run when it actually happened. */
  atMs: number;
  skipped?: string;
  /** Server restarts: stop to answering again, and answering to the next confirmed order. */
  downMs?: number;
  recoveryMs?: number;
  error?: string;
}

export interface ChaosResult {
  seed: number;
  runId: string;
  options: ChaosOptions;
  placed: PlacedOrder[];
  outcomes: Record<string, number>;
  faults: FaultRecord[];
  unplannedExits: Record<string, number>;
  startFailures: number;
  quiescenceMs: number;
  checks: CheckResult[];
  ok: boolean;
  durationMs: number;
  logDir: string;
  database: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The run's environment: everything named after the run, timings shortened for a short run. */
function runEnv(base: StackConfig, runId: string, taskQueuePrefix: string): Record<string, string> {
  const url = new URL(base.database.url);
  url.pathname = `/${base.database.database}_run_${runId}`;
  return {
    DATABASE_URL: url.toString(),
    KAFKA_EVENTS_TOPIC: `chaos-${runId}.events`,
    KAFKA_DLQ_TOPIC: `chaos-${runId}.events.dlq`,
    CONSUMER_GROUP_PREFIX: `chaos-${runId}.`,
    RATE_LIMIT_KEY_PREFIX: `chaos-${runId}`,
    TEMPORAL_TASK_QUEUE_PREFIX: `${taskQueuePrefix || 'chaos'}-${runId}-`,
    RATE_LIMIT_CLIENT: '1000000',
    RATE_LIMIT_ADMIN: '1000000',
    CONSUMER_SESSION_TIMEOUT_MS: '6000',
    RELAY_POLL_INTERVAL_MS: '250',
    RELAY_REBALANCE_INTERVAL_MS: '500',
    RELAY_MAX_BACKOFF_MS: '1000',
    SAGA_START_GRACE_MS: '2000',
    RECONCILE_INTERVAL_MS: '20000',
    DATABASE_POOL_SIZE: '5',
  };
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`[chaos] ${m}\n`));
  const started = Date.now();
  const rng = createRng(opts.seed);
  const runId = crypto.randomUUID().slice(0, 8);
  const baseEnv = { ...process.env, ...opts.env };
  const base = loadStackConfig(baseEnv);
  const env = runEnv(base, runId, base.workers.taskQueuePrefix);
  const cfg = loadStackConfig({ ...baseEnv, ...env });
  const childEnv = { ...baseEnv, ...env };
  const logDir = path.join(opts.logRoot ?? path.join(cfg.stack.dir, 'chaos'), runId);
  const instances = opts.instances ?? 2;
  const durationMs = opts.minutes * 60_000;
  const fleet = new Fleet({
    env: { ...opts.env, ...env },
    instances,
    apiPort: opts.apiPort,
    metricsPortBase: opts.metricsPortBase,
    logDir,
  });
  // A pool, not one client: PostgreSQL restarts under the checker too.
  const pg = new Pool({ connectionString: cfg.databaseOwner.url, max: 2 });
  pg.on('error', () => undefined);
  const result: ChaosResult = {
    seed: opts.seed,
    runId,
    options: opts,
    placed: [],
    outcomes: {},
    faults: [],
    unplannedExits: {},
    startFailures: 0,
    quiescenceMs: 0,
    checks: [],
    ok: false,
    durationMs: 0,
    logDir,
    database: cfg.database.database,
  };
  try {
    log(`run ${runId}, seed ${opts.seed}: database ${cfg.database.database}, topic ${cfg.kafka.eventsTopic}, logs ${logDir}`);
    await ensureDatabase(cfg, cfg.database.database);
    await migrate(cfg.databaseOwner.url);
    await ensureTopics(
      cfg.kafka.brokers,
      [cfg.kafka.eventsTopic, cfg.kafka.dlqTopic].map((topic) => ({ topic, numPartitions: cfg.kafka.eventsPartitions })),
    );
    const db = createDb(cfg.database.url, 2);
    const catalog = await createCatalog(db, runId).finally(() => closeDb(db));
    const before = await snapshot(pg);

    log(`starting ${instances} instances of every app process`);
    await fleet.startAll();
    const client = new ChaosClient(fleet.apiUrls(), catalog.keys, rng.fork('client'));
    const deps: WorkloadDeps = { client, catalog, cliEnv: cliEnv(cfg) };
    const faults = planFaults(rng.fork('faults'), {
      durationMs,
      instances,
      kills: opts.kills ?? ALL_ROLES.length + Math.round(opts.minutes * 8),
      servers: opts.servers,
      restartsPerServer: Math.max(1, Math.floor(opts.minutes / 5)),
    });
    log(`workload: ${opts.orders} orders over ${opts.minutes} min; ${faults.length} faults planned`);
    const t0 = Date.now();
    const [placed, records] = await Promise.all([
      runWorkload(deps, rng.fork('workload'), opts, durationMs, t0),
      runFaults(fleet, cfg, deps, faults, t0, log, result.placed),
    ]);
    result.placed.push(...placed);
    result.faults = records;

    log('workload done; waiting for quiescence');
    const q0 = Date.now();
    await waitUntil(async () => !(await quiescent(pg, result.placed).catch((err: Error) => err.message)), {
      timeoutMs: opts.quiescenceTimeoutMs ?? 300_000,
      intervalMs: 250,
      what: 'quiescence',
    }).catch(async (err: Error) => log(`${err.message}: ${await quiescent(pg, result.placed)}`));
    result.quiescenceMs = Date.now() - q0;

    log('checking');
    const orders = await orderRows(pg);
    result.outcomes = outcomes(result.placed, orders);
    result.checks.push(checkOrders(result.placed, orders));
    result.checks.push(await checkIdempotency(pg, result.placed));
    result.checks.push(await checkMoney(pg, before, result.placed, orders));
    result.checks.push(await checkStock(pg, before, catalog, result.placed, orders));
    result.checks.push(await checkStream(pg, cfg));
    result.checks.push(
      await checkReconciler({ ...childEnv, RECONCILE_GRACE_MS: '2000', RECONCILE_SAGA_GRACE_MS: '2000', RECONCILE_STREAM_LAG_MS: '2000' }),
    );
    result.unplannedExits = fleet.unplannedExits();
    result.startFailures = fleet.startFailures();
    result.ok = result.checks.every((c) => c.violations.length === 0) && result.faults.every((f) => !f.error);
    return result;
  } finally {
    await fleet.stopAll();
    for (const s of opts.servers) await ensureServerUp(cfg, s).catch((err: Error) => log(`could not bring ${s} back: ${err.message}`));
    await pg.end().catch(() => undefined);
    result.durationMs = Date.now() - started;
    if (result.ok) await cleanUp(cfg).catch((err: Error) => log(`cleanup: ${err.message}`));
    else log(`kept database ${cfg.database.database}, topic ${cfg.kafka.eventsTopic} and logs ${logDir} for inspection`);
  }
}

async function cleanUp(cfg: StackConfig): Promise<void> {
  const kafka = new Kafka({ clientId: 'chaos-cleanup', brokers: cfg.kafka.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [cfg.kafka.eventsTopic, cfg.kafka.dlqTopic] }).catch(() => undefined);
  await admin.disconnect();
  await dropDatabase(cfg, cfg.database.database);
}

/** Scenario of each order: every scenario once first (in a seeded order), then by weight. */
function planScenarios(rng: Rng, n: number): Scenario[] {
  const first = shuffle(rng, [...SCENARIOS]);
  return Array.from({ length: n }, (_, i) => first[i] ?? pickScenario(rng));
}

async function runWorkload(deps: WorkloadDeps, rng: Rng, opts: ChaosOptions, durationMs: number, t0: number): Promise<PlacedOrder[]> {
  const scenarios = planScenarios(rng.fork('scenarios'), opts.orders);
  const placed: PlacedOrder[] = [];
  let next = 0;
  const spacing = durationMs / opts.orders;
  const lane = async () => {
    for (let i = next++; i < scenarios.length; i = next++) {
      await sleep(t0 + i * spacing - Date.now());
      placed.push(await runScenario(deps, rng.fork(`order-${i}`), scenarios[i]!));
    }
  };
  await Promise.all(Array.from({ length: opts.lanes ?? 12 }, lane));
  return placed;
}

async function runFaults(
  fleet: Fleet,
  cfg: StackConfig,
  deps: WorkloadDeps,
  faults: PlannedFault[],
  t0: number,
  log: (m: string) => void,
  canaries: PlacedOrder[],
): Promise<FaultRecord[]> {
  const records: FaultRecord[] = [];
  const pending: Promise<void>[] = [];
  let servers = Promise.resolve();
  for (const fault of faults) {
    await sleep(t0 + fault.atMs - Date.now());
    const record: FaultRecord = { fault, atMs: Date.now() - t0 };
    records.push(record);
    if (fault.kind === 'kill') {
      pending.push(killAndRestart(fleet, fault, record, log));
    } else {
      // One server restart at a time; the next waits for the previous recovery.
      servers = servers.then(() => restartAndRecover(cfg, deps, fault.server, fault.downMs, record, log, canaries));
      pending.push(servers);
    }
  }
  await Promise.all(pending);
  return records;
}

async function killAndRestart(
  fleet: Fleet,
  fault: PlannedFault & { kind: 'kill' },
  record: FaultRecord,
  log: (m: string) => void,
): Promise<void> {
  const index = [fault.index, ...[0, 1].filter((i) => i !== fault.index)].find((i) => !fleet.isHeld(fault.role, i));
  if (index === undefined) {
    record.skipped = 'every instance already down';
    return;
  }
  log(`SIGKILL ${fault.role}#${index} (down ${fault.downMs} ms)`);
  try {
    await fleet.kill(fault.role as Role, index);
    await sleep(fault.downMs);
    await fleet.restart(fault.role as Role, index);
  } catch (err) {
    record.error = (err as Error).message;
  }
}

async function restartAndRecover(
  cfg: StackConfig,
  deps: WorkloadDeps,
  server: ServerKind,
  downMs: number,
  record: FaultRecord,
  log: (m: string) => void,
  canaries: PlacedOrder[],
): Promise<void> {
  log(`restarting ${server} (down ${downMs} ms)`);
  try {
    record.downMs = await restartServer(cfg, server, downMs);
    const back = Date.now();
    const canary = await runScenario(deps, createRng(record.atMs), 'confirmed');
    canaries.push(canary);
    if (canary.orderId) await waitConfirmed(deps, canary.orderId);
    record.recoveryMs = Date.now() - back;
    log(`${server} back after ${record.downMs} ms; an order confirmed ${record.recoveryMs} ms later`);
  } catch (err) {
    record.error = (err as Error).message;
    log(`${server} restart failed: ${record.error}`);
  }
}

async function waitConfirmed(deps: WorkloadDeps, orderId: string): Promise<void> {
  const deadline = Date.now() + 240_000;
  while (Date.now() < deadline) {
    const a = await deps.client.send('GET', `/orders/${orderId}`, undefined);
    if ((a.body as { status?: string }).status === 'CONFIRMED') return;
    await sleep(200);
  }
  throw new Error(`canary order ${orderId} not CONFIRMED after 240 s`);
}

function outcomes(placed: PlacedOrder[], orders: Awaited<ReturnType<typeof orderRows>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of placed) {
    const row = p.orderId ? orders.get(p.orderId) : undefined;
    const key = row ? (row.failure_reason ? `${row.status}/${row.failure_reason}` : row.status) : 'not accepted';
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}
