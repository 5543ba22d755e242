/**
 * Saga benchmark (not a test): prints figures, asserts nothing.
 *
 *   npx tsx scripts/bench/saga.ts [--orders 400] [--concurrency 64] [--rate 20] [--seconds 20]
 *
 * In one run, against the real local stack:
 *  1. baseline: a bare workflow with the saga's shape (3 activities, 3 local activities, no work);
 *  2. saga throughput: orders through the real HTTP API until all are CONFIRMED;
 *  3. latency: orders at a fixed rate, submit-to-CONFIRMED p50/p95/p99.
 * Workers run in this process, with the same settings as the worker processes.
 * `npm run bench` runs it too (runSagaBench) and prints its figures against the targets.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { createApp } from '../../api/app';
import { createInventoryWorker, createOrdersWorker, createPaymentsWorker } from '../../app/workers';
import { loadConfig } from '../../lib/config';
import { closeDb, createDb, inTransaction } from '../../lib/db';
import { createLogger } from '../../lib/logger';
import { migrate } from '../../lib/migrate';
import { createTemporalClient, createWorkerConnection } from '../../lib/temporal';
import { createApiKey } from '../../services/access/api-keys';
import { taskQueues } from '../../services/orders/task-queues';
import { openAndDeposit } from '../../services/payments/accounts';
import { loadStackConfig, type StackConfig } from '../stack/config';
import { ensureDatabase } from '../stack/postgres';
import { temporalServerPid, up } from '../stack/stack';
import * as bareActivities from './bare-activities';
import { cpuBetween, cpuSnapshot, devServerPid, type ProcessGroup } from './cpu';
import { formatServerRequests, requestCounts, requestsPerItem } from './server-requests';
import { formatProfiles, profileProcess, profileThisProcess, profileThreads, type ProcessProfile } from './profile';

export interface SagaBenchOptions {
  /** Workflows (baseline) and orders (saga) per throughput burst. */
  orders: number;
  /** In flight at once during the bursts. */
  concurrency: number;
  /** Orders per second of the latency phase, and for how long. */
  rate: number;
  seconds: number;
  /** Profile the saga burst into this directory (profile.ts): JavaScript, threads, the Temporal server. */
  profileDir?: string;
}

export interface SagaBenchResult {
  mode: string;
  bareRate: number;
  sagaRate: number;
  latency: { rate: number; seconds: number; p50: number; p95: number; p99: number; max: number };
  /** CPU ms per workflow (bare) and per order (saga) of each process group, during the bursts. */
  cpuMs: { bare: Record<string, number>; saga: Record<string, number> };
  /** The Temporal server's persistence requests per bare workflow and per saga order, by operation. */
  serverRequests: { bare: [string, number][]; saga: [string, number][] };
  /** Where each burst's CPU went inside each process, with --profile. */
  profiles?: { bare: ProcessProfile[]; saga: ProcessProfile[] };
}

/** This process (API, workers, client), the Temporal server, and every PostgreSQL process. */
function processGroups(cfg: StackConfig): ProcessGroup[] {
  const temporalPid = temporalServerPid(cfg) ?? devServerPid(cfg.temporal.port);
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

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: (m: string) => console.error(m) };

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** Runs `task` for 0..n-1 with at most `limit` in flight. */
async function pool(n: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) await task(next++);
    }),
  );
}

/** Runs the three phases in one process against the stack (brought up if needed); prints nothing. */
export async function runSagaBench({
  orders: ORDERS,
  concurrency: CONCURRENCY,
  rate: RATE,
  seconds: SECONDS,
  profileDir,
}: SagaBenchOptions): Promise<SagaBenchResult> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const prefix = `bench-${crypto.randomUUID().slice(0, 8)}-`;
  // A database of its own: the benchmark's products, customers and orders stay out of `npm start`'s.
  const base = loadConfig();
  const url = new URL(base.database.url);
  url.pathname = `/${base.database.database}_bench`;
  const cfg = loadStackConfig({ ...process.env, DATABASE_URL: url.toString(), TEMPORAL_TASK_QUEUE_PREFIX: prefix, LOG_LEVEL: 'silent' });
  await up(cfg);
  await ensureDatabase(cfg, cfg.database.database);
  await migrate(cfg.databaseOwner.url);
  const db = createDb(cfg.database.url, 40);
  const client = await createTemporalClient(cfg);
  const connection = await createWorkerConnection(cfg);

  // Data: one product with ample stock, 50 customers (a single account would serialise charges).
  const sku = `BENCH-${prefix}`;
  await db.product.create({ data: { sku, name: 'bench', unitPriceMinor: 100n, currency: 'EUR', available: 1_000_000 } });
  const customers = Array.from({ length: 50 }, (_, i) => `${prefix}cust-${i}`);
  for (const c of customers) {
    await inTransaction(db, (tx) =>
      openAndDeposit(tx, { customerId: c, currency: 'EUR', depositMinor: 100_000_000, idempotencyKey: `bench:${c}` }),
    );
  }
  const { key } = await createApiKey(db, 'bench', 'client', customers);

  const sagaBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quiet });
  const bareBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./bare-workflow'), logger: quiet });
  const deps = { cfg, db, connection, workflowBundle: sagaBundle };
  const bareQueues = taskQueues(`${prefix}bare-`);
  const workers = [
    await createOrdersWorker(deps),
    await createPaymentsWorker(deps),
    await createInventoryWorker(deps),
    ...(await Promise.all(
      Object.values(bareQueues).map((taskQueue, i) =>
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

  const app = createApp({
    cfg,
    db,
    log: createLogger('bench', 'silent'),
    temporal: client,
    faults: { hit: async () => undefined },
    kafka: new Kafka({ clientId: 'bench', brokers: cfg.kafka.brokers, logLevel: logLevel.NOTHING }),
    readiness: {},
  });
  const server: http.Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const post = async (i: number): Promise<string> => {
    const res = await fetch(`${api}/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'idempotency-key': crypto.randomUUID(), 'content-type': 'application/json' },
      body: JSON.stringify({ customerId: customers[i % customers.length], items: [{ sku, quantity: 1 }] }),
    });
    if (res.status !== 202) throw new Error(`POST /orders answered ${res.status}: ${await res.text()}`);
    return ((await res.json()) as { orderId: string }).orderId;
  };
  /** Resolves when every id is CONFIRMED; returns each one's confirmation time (DB clock). */
  const confirmed = async (ids: string[]): Promise<Map<string, number>> => {
    const done = new Map<string, number>();
    const deadline = Date.now() + 300_000;
    while (done.size < ids.length) {
      if (Date.now() > deadline) throw new Error(`only ${done.size}/${ids.length} orders confirmed`);
      const pending = ids.filter((id) => !done.has(id));
      const rows = await db.orderStatusHistory.findMany({
        where: { orderId: { in: pending }, orderStatus: 'CONFIRMED' },
        select: { orderId: true, at: true },
      });
      rows.forEach((r) => done.set(r.orderId, r.at.getTime()));
      if (done.size < ids.length) await new Promise((r) => setTimeout(r, 50));
    }
    return done;
  };

  // Warm-up: bundles are loaded, connections open, JIT warm.
  await Promise.all(Array.from({ length: 20 }, (_, i) => post(i))).then(confirmed);

  const groups = processGroups(cfg);
  /** With --profile: profiles of this process (JavaScript, threads) and the Temporal server during one burst. */
  const startProfile = async (phase: string) => {
    if (!profileDir) return undefined;
    fs.mkdirSync(profileDir, { recursive: true });
    const js = await profileThisProcess(profileDir, `${phase}-api-workers`);
    const threads = profileThreads();
    const mode = cfg.stack.temporal.persistence;
    const server = profileProcess(groups[1]!.pids?.[0], profileDir, `${phase}-temporal`, `temporal (${mode} mode)`);
    return { stop: async () => [await js.stop(), threads.stop(), await server.stop()] };
  };
  // 1. Baseline.
  const metricsUrl = `http://${cfg.temporal.host}:${cfg.stack.temporal.metricsPort}/metrics`;
  const bareProfiling = await startProfile('bare');
  let requestsBefore = await requestCounts(metricsUrl);
  let t0 = Date.now();
  const bareCpu = await cpuPerItem(groups, ORDERS, () =>
    pool(ORDERS, CONCURRENCY, async (i) => {
      await client.workflow.execute('bareWorkflow', { taskQueue: bareQueues.orders, workflowId: `${prefix}bare-${i}`, args: [bareQueues] });
    }),
  );
  const bareRate = ORDERS / ((Date.now() - t0) / 1000);
  const bareProfile = await bareProfiling?.stop();
  const bareRequests = requestsPerItem(requestsBefore, await requestCounts(metricsUrl), ORDERS);

  // 2. Saga throughput through the API.
  t0 = Date.now();
  const ids: string[] = [];
  const sagaProfile = await startProfile('saga');
  requestsBefore = await requestCounts(metricsUrl);
  const sagaCpu = await cpuPerItem(groups, ORDERS, async () => {
    await pool(ORDERS, CONCURRENCY, async (i) => {
      ids.push(await post(i));
    });
    await confirmed(ids);
  });
  const sagaRate = ORDERS / ((Date.now() - t0) / 1000);
  const sagaRequests = requestsPerItem(requestsBefore, await requestCounts(metricsUrl), ORDERS);
  const profiles = sagaProfile && bareProfile ? { bare: bareProfile, saga: await sagaProfile.stop() } : undefined;

  // 3. Latency at a fixed rate.
  const submitted = new Map<string, number>();
  const total = RATE * SECONDS;
  const start = Date.now();
  await Promise.all(
    Array.from({ length: total }, async (_, i) => {
      const due = start + (i * 1000) / RATE;
      await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
      const sentAt = Date.now();
      submitted.set(await post(i), sentAt);
    }),
  );
  const finals = await confirmed([...submitted.keys()]);
  const latencies = [...submitted].map(([id, sentAt]) => finals.get(id)! - sentAt).sort((a, b) => a - b);

  server.closeAllConnections();
  server.close();
  workers.forEach((w) => w.shutdown());
  await Promise.all(running);
  await connection.close();
  await client.connection.close();
  await closeDb(db);
  return {
    mode: cfg.stack.temporal.persistence,
    bareRate,
    sagaRate,
    latency: {
      rate: RATE,
      seconds: SECONDS,
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? NaN,
    },
    cpuMs: { bare: bareCpu, saga: sagaCpu },
    serverRequests: { bare: bareRequests, saga: sagaRequests },
    profiles,
  };
}

async function main(): Promise<void> {
  const p = process.argv.indexOf('--profile');
  const opts = {
    orders: arg('orders', 400),
    concurrency: arg('concurrency', 64),
    rate: arg('rate', 20),
    seconds: arg('seconds', 20),
    ...(p >= 0 ? { profileDir: path.resolve(process.argv[p + 1] ?? 'bench-profile') } : {}),
  };
  const r = await runSagaBench(opts);
  const burst = `(${opts.orders} at concurrency ${opts.concurrency})`;
  const { latency: l } = r;
  console.log(`\nsaga benchmark (all servers on this machine, TEMPORAL_PERSISTENCE=${r.mode})`);
  console.log(`  baseline: bare workflow, same shape       ${r.bareRate.toFixed(1)} workflows/s  ${burst}`);
  console.log(`  saga: POST /orders -> CONFIRMED            ${r.sagaRate.toFixed(1)} orders/s     ${burst}`);
  console.log(`  saga / baseline                            ${(r.sagaRate / r.bareRate).toFixed(2)}x`);
  console.log(
    `  submit-to-CONFIRMED at ${l.rate}/s for ${l.seconds} s    p50 ${l.p50} ms  p95 ${l.p95} ms  p99 ${l.p99} ms  max ${l.max} ms`,
  );
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
