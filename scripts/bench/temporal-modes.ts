/**
 * Temporal persistence benchmark (not a test): prints figures, asserts nothing.
 *
 *   npx tsx scripts/bench/temporal-modes.ts [--workflows 100] [--rounds 5] [--concurrency 64]
 *
 * The saga benchmark's bare baseline workflow, on both TEMPORAL_PERSISTENCE modes at once:
 * the stack's Temporal and a second one of the other mode on ports of its own. Bursts
 * alternate between the two, so load from anything else on the machine hits both alike.
 * Per mode: the median burst rate, and the CPU time per workflow of the Temporal server
 * process plus (postgres mode) its PostgreSQL backends.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { Client } from 'pg';
import { loadStackConfig, type StackConfig as Config } from '../stack/config';
import { startSideTemporal } from '../stack/side-temporal';
import { temporalServerPid, up } from '../stack/stack';
import { temporalDatabases } from '../stack/temporal-server';
import * as bareActivities from './bare-activities';
import { bareQueues } from './bare-queues';
import { devServerPid } from './cpu';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const WORKFLOWS = arg('workflows', 100);
const ROUNDS = arg('rounds', 5);
const CONCURRENCY = arg('concurrency', 64);
const CLOCK_TICKS = 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: (m: string) => console.error(m) };

/** CPU seconds a process has used so far (0 once it is gone). */
function cpuSeconds(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** One mode under test: its workers, and the processes whose CPU it costs. */
interface Target {
  cfg: Config;
  client: TemporalClient;
  queues: ReturnType<typeof bareQueues>;
  /** The server's pid, and its PostgreSQL backends' pids (postgres mode). */
  pids(): Promise<number[]>;
  rates: number[];
  cpuMs: number[];
  close(): Promise<void>;
}

async function target(cfg: Config, serverPid: number, pg: Client, prefix: string): Promise<Target> {
  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./bare-workflow'), logger: quiet });
  const connection = await NativeConnection.connect({ address: cfg.temporal.address });
  const queues = bareQueues(`${prefix}${cfg.stack.temporal.persistence}-`);
  const workers = await Promise.all(
    Object.values(queues).map((taskQueue, i) =>
      Worker.create({
        connection,
        namespace: cfg.temporal.namespace,
        taskQueue,
        activities: bareActivities,
        ...(i === 0 ? { workflowBundle: bundle, maxCachedWorkflows: cfg.workers.maxCachedWorkflows } : {}),
      }),
    ),
  );
  const running = workers.map((w) => w.run());
  const client = new TemporalClient({
    connection: await Connection.connect({ address: cfg.temporal.address }),
    namespace: cfg.temporal.namespace,
  });
  const dbs = Object.values(temporalDatabases(cfg));
  return {
    cfg,
    client,
    queues,
    async pids() {
      if (cfg.stack.temporal.persistence !== 'postgres') return [serverPid];
      const { rows } = await pg.query<{ pid: number }>('select pid from pg_stat_activity where datname = any($1)', [dbs]);
      return [serverPid, ...rows.map((r) => r.pid)];
    },
    rates: [],
    cpuMs: [],
    async close() {
      workers.forEach((w) => w.shutdown());
      await Promise.all(running);
      await client.connection.close();
      await connection.close();
    },
  };
}

async function burst(t: Target, tag: string, n: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, n) }, async () => {
      while (next < n) {
        const i = next++;
        await t.client.workflow.execute('bareWorkflow', { taskQueue: t.queues.orders, workflowId: `${tag}-${i}`, args: [t.queues] });
      }
    }),
  );
}

/** A burst with its figures: workflows/s, and CPU ms per workflow of the mode's processes. */
async function measured(t: Target, tag: string): Promise<void> {
  const before = new Map((await t.pids()).map((p) => [p, cpuSeconds(p)]));
  const started = Date.now();
  await burst(t, tag, WORKFLOWS);
  const seconds = (Date.now() - started) / 1000;
  let cpu = 0;
  for (const p of await t.pids()) cpu += cpuSeconds(p) - (before.get(p) ?? 0);
  t.rates.push(WORKFLOWS / seconds);
  t.cpuMs.push((cpu / WORKFLOWS) * 1000);
}

function serverPid(cfg: Config): number {
  const pid = temporalServerPid(cfg) ?? devServerPid(cfg.temporal.port);
  if (!pid) throw new Error(`no Temporal server of this stack runs on ${cfg.temporal.address}`);
  return pid;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const cfg = loadStackConfig();
  await up(cfg);
  const other = cfg.stack.temporal.persistence === 'sqlite' ? 'postgres' : 'sqlite';
  const side = await startSideTemporal(cfg, other, 'bench_modes');
  const pg = new Client({ host: cfg.database.host, port: cfg.database.port, user: 'postgres', database: 'postgres' });
  await pg.connect();
  const prefix = `modes-${crypto.randomUUID().slice(0, 8)}-`;
  const targets = [await target(cfg, serverPid(cfg), pg, prefix), await target(side.cfg, serverPid(side.cfg), pg, prefix)];
  try {
    for (const t of targets) await burst(t, `${prefix}${t.cfg.stack.temporal.persistence}-warm`, 40);
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which goes first, so neither always follows the other's burst.
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) await measured(t, `${prefix}${t.cfg.stack.temporal.persistence}-${round}`);
    }
  } finally {
    await Promise.all(targets.map((t) => t.close()));
    await pg.end();
    await side.stop();
  }
  console.log(`\nTemporal persistence modes, bare workflow (${ROUNDS} alternating bursts of ${WORKFLOWS} at concurrency ${CONCURRENCY})`);
  for (const t of targets) {
    const rates = t.rates.map((r) => r.toFixed(1)).join(' ');
    console.log(
      `  ${t.cfg.stack.temporal.persistence.padEnd(8)} median ${median(t.rates).toFixed(1)} workflows/s (bursts: ${rates}); ` +
        `server${t.cfg.stack.temporal.persistence === 'postgres' ? ' + PostgreSQL backends' : ''} CPU ${median(t.cpuMs).toFixed(0)} ms per workflow`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
