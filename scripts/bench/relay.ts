/**
 * Relay benchmark (not a test): `npx tsx scripts/bench/relay.ts [--events N] [--rate R] [--seconds S]`
 *
 * Runs the real relay process (app/main.ts relay) against its own database (<db>_bench_relay) and
 * its own topic, on the local stack, and prints:
 *   1. drain throughput: N pending rows published from a standing start (events/s);
 *   2. steady load: rows committed at R events/s for S seconds; commit-to-publish lag p50/p99
 *      (published_at - occurred_at; occurred_at is the inserting statement's start, which for
 *      these single-statement transactions is the commit give or take a millisecond;
 *      published_at is written after the broker's ack, so the lag is an upper bound);
 *   3. the raw kafkajs producer on the same messages, same batch size and producer settings
 *      (idempotent, acks=all), with no database in the loop: the ceiling for (1).
 */
import { fork, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { Client } from 'pg';
import { exitOnConfigError, loadConfig, repoRoot, type Config } from '../../lib/config';
import { createLogger } from '../../lib/logger';
import { migrate } from '../../lib/migrate';
import { sql } from '../../lib/sql';
import { toMessage, type OutboxRow } from '../../services/platform/messaging/envelope';
import { ACKS_ALL, createIdempotentProducer, createKafka } from '../../services/platform/messaging/kafka';
import { outboxAppend } from '../../services/platform/outbox/outbox';
import { ensureTopics } from '../stack/kafka';
import { ensureDatabase } from '../stack/postgres';

export interface RelayBenchOptions {
  /** Pending rows drained from a standing start (and sent raw). */
  events: number;
  /** Events per second of the steady phase, and for how long. */
  rate: number;
  seconds: number;
}

export interface RelayBenchResult {
  partitions: number;
  batchSize: number;
  drain: number;
  raw: number;
  steady: { achieved: number; seconds: number; n: number; p50: number; p99: number; max: number };
}

function parseArgs(argv: string[]): RelayBenchOptions {
  const num = (name: string, fallback: number) => {
    const i = argv.indexOf(name);
    const v = i >= 0 ? Number(argv[i + 1]) : fallback;
    if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} needs a positive number`);
    return v;
  };
  return { events: num('--events', 50_000), rate: num('--rate', 5000), seconds: num('--seconds', 20) };
}

const AGGREGATES = 1000;
const PAYLOAD = JSON.stringify({
  from: 'INVENTORY_RESERVED',
  to: 'PAYMENT_CAPTURED',
  step: 'chargePayment',
  failureReason: null,
  detail: null,
});

/** Inserts `count` rows in one statement (one transaction) through the outbox writer, round-robin over the aggregates. */
class Writer {
  private readonly aggregates = Array.from({ length: AGGREGATES }, () => crypto.randomUUID());
  private cursor = 0;

  constructor(private readonly pg: Client) {}

  async insert(count: number): Promise<void> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) ids.push(this.aggregates[this.cursor++ % AGGREGATES]!);
    await this.pg.query(sql`
      WITH ${outboxAppend(sql`
        SELECT 'Order'::text AS aggregate_type, a AS aggregate_id, row_number() OVER (PARTITION BY a ORDER BY i)::int AS ord,
               'OrderStatusChanged'::text AS type, jsonb_build_object('orderId', a) || ${PAYLOAD}::jsonb AS payload, NULL::int AS schema_version
        FROM unnest(${ids}::text[]) WITH ORDINALITY AS t(a, i)`)}
      SELECT count(*) FROM outbox_written`);
  }
}

function startRelay(cfg: Config, env: Record<string, string>): Promise<ChildProcess> {
  const child = fork(path.join(repoRoot, 'app', 'main.ts'), ['relay'], {
    cwd: repoRoot,
    env: { ...process.env, ...env, LOG_LEVEL: 'warn', METRICS_PORT_BASE: String(cfg.metrics.portBase + 100) },
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.on('message', (m: { type?: string }) => m?.type === 'ready' && resolve(child));
    child.once('exit', (code) => reject(new Error(`relay exited with code ${code} before it was ready`)));
  });
}

async function stopRelay(child: ChildProcess): Promise<void> {
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await gone;
}

async function waitUntilPublished(pg: Client, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { rows } = await pg.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox_events WHERE published_at IS NULL');
    if (rows[0]!.n === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the relay did not publish everything in time');
}

async function drain(pg: Client, cfg: Config, env: Record<string, string>, events: number) {
  const writer = new Writer(pg);
  for (let left = events; left > 0; left -= 5000) await writer.insert(Math.min(5000, left));
  const relay = await startRelay(cfg, env);
  await waitUntilPublished(pg, 300_000);
  const { rows } = await pg.query<{ seconds: number }>(
    'SELECT extract(epoch FROM max(published_at) - min(published_at))::float8 AS seconds FROM outbox_events',
  );
  return { relay, writer, eventsPerSecond: events / Math.max(0.001, rows[0]!.seconds) };
}

async function steady(pg: Client, writer: Writer, { rate, seconds }: RelayBenchOptions) {
  const { rows: before } = await pg.query<{ max: string | null }>('SELECT max(id)::text AS max FROM outbox_events');
  const start = Date.now();
  let written = 0;
  while (Date.now() - start < seconds * 1000) {
    const due = Math.floor(((Date.now() - start) / 1000) * rate) - written;
    if (due > 0) {
      await writer.insert(due);
      written += due;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const achieved = written / ((Date.now() - start) / 1000);
  await waitUntilPublished(pg, 120_000);
  const { rows } = await pg.query<{ p50: number; p99: number; max: number; n: number }>(
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99,
            max(ms) AS max, count(*)::int AS n
       FROM (SELECT (extract(epoch FROM published_at - occurred_at) * 1000)::float8 AS ms FROM outbox_events WHERE id > $1) t`,
    [before[0]!.max ?? '0'],
  );
  return { achieved, ...rows[0]! };
}

/** The same rows as messages, sent straight from memory in batches of the relay's size. */
async function rawProducer(pg: Client, cfg: Config, topic: string, events: number, batchSize: number): Promise<number> {
  const { rows } = await pg.query(
    `SELECT id::text AS id, event_id::text AS "eventId", type, aggregate_type AS "aggregateType", aggregate_id AS "aggregateId",
            sequence, schema_version AS "schemaVersion", traceparent, payload, occurred_at AS "occurredAt"
       FROM outbox_events ORDER BY outbox_events.id LIMIT $1`,
    [events],
  );
  const messages = (rows as OutboxRow[]).map(toMessage);
  const producer = createIdempotentProducer(createKafka(cfg, 'bench-raw', createLogger('bench', 'warn')));
  await producer.connect();
  const start = process.hrtime.bigint();
  for (let i = 0; i < messages.length; i += batchSize) {
    await producer.send({ topic, acks: ACKS_ALL, messages: messages.slice(i, i + batchSize) });
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await producer.disconnect();
  return messages.length / seconds;
}

async function setup(base: Config) {
  const url = new URL(base.database.url);
  // Not the saga benchmark's <db>_bench: this one is truncated at the start and dropped at the end.
  url.pathname = `/${base.database.database}_bench_relay`;
  const id = crypto.randomUUID().slice(0, 8);
  const env = {
    DATABASE_URL: url.toString(),
    KAFKA_EVENTS_TOPIC: `bench-${id}.events`,
    KAFKA_DLQ_TOPIC: `bench-${id}.events.dlq`,
    RELAY_RETENTION_MS: '0',
  };
  const cfg = loadConfig({ ...process.env, ...env });
  await ensureDatabase(cfg, cfg.database.database);
  await migrate(cfg.databaseOwner.url);
  const rawTopic = `bench-${id}.raw`;
  const topics = [cfg.kafka.eventsTopic, rawTopic];
  await ensureTopics(
    cfg.kafka.brokers,
    topics.map((topic) => ({ topic, numPartitions: cfg.kafka.eventsPartitions })),
  );
  // Left over by an interrupted run. TRUNCATE is the owner's: the app role may only insert and update.
  const owner = new Client({ connectionString: cfg.databaseOwner.url });
  await owner.connect();
  await owner.query('TRUNCATE outbox_events, outbox_sequences').finally(() => owner.end());
  const pg = new Client({ connectionString: cfg.database.url });
  await pg.connect();
  return { cfg, env, pg, rawTopic, topics };
}

/** The bench database is the bench's alone; nothing of it is left behind. */
async function dropDatabase(cfg: Config): Promise<void> {
  const url = new URL(cfg.databaseOwner.url); // only the owner may drop it
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${cfg.database.database}" WITH (FORCE)`).finally(() => admin.end());
}

/** Runs the three phases against the stack's PostgreSQL and Kafka; prints nothing. */
export async function runRelayBench(base: Config, opts: RelayBenchOptions): Promise<RelayBenchResult> {
  const { cfg, env, pg, rawTopic, topics } = await setup(base);
  const batchSize = loadConfig({ ...process.env, ...env }).relay.batchSize;
  let relay: ChildProcess | undefined;
  try {
    const drained = await drain(pg, cfg, env, opts.events);
    relay = drained.relay;
    const load = await steady(pg, drained.writer, opts);
    await stopRelay(relay);
    relay = undefined;
    const raw = await rawProducer(pg, cfg, rawTopic, opts.events, batchSize);
    return {
      partitions: cfg.kafka.eventsPartitions,
      batchSize,
      drain: drained.eventsPerSecond,
      raw,
      steady: { ...load, seconds: opts.seconds },
    };
  } finally {
    if (relay) await stopRelay(relay);
    await pg.end();
    await dropDatabase(cfg);
    const admin = createKafka(cfg, 'bench-admin', createLogger('bench', 'warn')).admin();
    await admin.connect();
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  }
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  let base: Config;
  try {
    base = loadConfig();
  } catch (err) {
    exitOnConfigError(err);
  }
  const r = await runRelayBench(base, opts);
  const f = (n: number) => n.toFixed(0).padStart(8);
  const load = r.steady;
  console.log(`\nrelay benchmark (${r.partitions} partitions, batch ${r.batchSize}, acks=all, idempotent producer)`);
  console.log(`  drain of ${opts.events} pending rows   relay ${f(r.drain)} events/s`);
  console.log(`  same messages, raw kafkajs producer   ${f(r.raw)} events/s`);
  console.log(
    `  steady load ${f(load.achieved).trim()} events/s for ${opts.seconds} s (${load.n} events): commit-to-publish lag p50 ${load.p50.toFixed(1)} ms, p99 ${load.p99.toFixed(1)} ms, max ${load.max.toFixed(1)} ms`,
  );
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
