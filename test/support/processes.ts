/**
 * App roles as real child processes (`node --import tsx app/main.ts <role>`, or compiled:
 * `node dist/app/main.js <role>`), so tests can kill them (SIGKILL) or stop them (SIGTERM)
 * like an orchestrator would; plus what tests of the event pipeline share: an isolated
 * database and topics per test file, order events written through the real outbox writer,
 * and a raw reader of a topic.
 */
import { fork, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { ROLES } from '../../app/processes';
import { loadConfig, repoRoot, type Config } from '../../lib/config';
import { closeDb, createDb, inTransaction, type Db } from '../../lib/db';
import { migrate } from '../../lib/migrate';
import { headerStrings, parseEnvelope, type Envelope } from '../../services/platform/messaging/envelope';
import { INVENTORY_EVENTS } from '../../services/inventory/contract';
import { ORDER_AGGREGATE, ORDER_EVENTS } from '../../services/orders/contract';
import { PAYMENT_EVENTS } from '../../services/payments/contract';
import { appendEvents, type NewEvent } from '../../services/platform/outbox/outbox';
import { loadStackConfig } from '../../scripts/stack/config';
import { dropDatabase, ensureDatabase } from '../../scripts/stack/postgres';
import { ensureTopics } from '../../scripts/stack/kafka';
import { tail } from '../../scripts/stack/proc';
import { testConfig } from '../setup/test-config';
import { eventually } from './wait';

// ---------------------------------------------------------------- child processes

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RoleProcess {
  role: string;
  pid: number;
  logFile: string;
  metricsUrl: string;
  url?: string;
  exited: Promise<Exit>;
  /** SIGKILL: dies at once. SIGTERM: graceful; SIGKILLed if not gone after `graceMs`. */
  kill(signal?: 'SIGKILL' | 'SIGTERM', graceMs?: number): Promise<Exit>;
  /** The process's Prometheus text. */
  metrics(): Promise<string>;
}

export interface SpawnOptions {
  /** Added to (and overriding) this process's environment. */
  env?: Record<string, string>;
  /** Where stdout and stderr go (appended); default .stack/test-logs/<role>-<time>.log. */
  logFile?: string;
  readyTimeoutMs?: number;
  /** Run the compiled role (`node dist/app/main.js`, no TypeScript loader; `npm run build` first). */
  compiled?: boolean;
}

const running = new Set<ChildProcess>();

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** METRICS_PORT_BASE such that the role's own metrics port is free. */
async function metricsBaseFor(role: string): Promise<number> {
  const spec = (ROLES as Record<string, { metricsOffset: number }>)[role];
  if (!spec) throw new Error(`unknown role ${role}`);
  for (;;) {
    const port = await freePort();
    if (port - spec.metricsOffset > 0) return port - spec.metricsOffset;
  }
}

/** Starts `app/main.ts <role>` and resolves once it reported ready over IPC. */
/** One JSON request to a role's API with a key and a fresh Idempotency-Key: the status and the parsed body. */
export async function callRole(role: RoleProcess, method: string, path: string, key: string, body?: unknown) {
  const res = await fetch(`${role.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

export async function spawnRole(role: string, opts: SpawnOptions = {}): Promise<RoleProcess> {
  const logDir = path.join(loadStackConfig().stack.dir, 'test-logs');
  fs.mkdirSync(logDir, { recursive: true });
  const logFile = opts.logFile ?? path.join(logDir, `${role}-${Date.now()}-${crypto.randomUUID().slice(0, 6)}.log`);
  const out = fs.openSync(logFile, 'a');
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'test', METRICS_PORT_BASE: String(await metricsBaseFor(role)), ...opts.env };
  if (opts.compiled) {
    // As in the image: nothing preloads a TypeScript loader; dist/'s own workflow bundles.
    delete env.NODE_OPTIONS;
    if (!opts.env?.WORKFLOW_BUNDLE_DIR) delete env.WORKFLOW_BUNDLE_DIR;
  }
  const child = fork(opts.compiled ? path.join(repoRoot, 'dist', 'app', 'main.js') : path.join(repoRoot, 'app', 'main.ts'), [role], {
    cwd: repoRoot,
    env,
    execArgv: opts.compiled ? [] : ['--import', 'tsx'],
    stdio: ['ignore', out, out, 'ipc'],
  });
  fs.closeSync(out);
  running.add(child);
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  void exited.then(() => running.delete(child));

  const ready = await waitForReady(child, exited, opts.readyTimeoutMs ?? 60_000).catch(async (err: Error) => {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`${role} did not start: ${err.message}\n--- ${logFile}\n${tail(logFile)}`);
  });
  return {
    role,
    pid: child.pid!,
    logFile,
    metricsUrl: ready.metricsUrl,
    url: ready.url,
    exited,
    async kill(signal = 'SIGKILL', graceMs = 20_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
    async metrics() {
      const res = await fetch(ready.metricsUrl);
      return res.text();
    },
  };
}

function waitForReady(child: ChildProcess, exited: Promise<Exit>, timeoutMs: number): Promise<{ metricsUrl: string; url?: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no 'ready' message within ${timeoutMs} ms`)), timeoutMs);
    child.on('message', (m: { type?: string; metricsUrl?: string; url?: string }) => {
      if (m?.type !== 'ready') return;
      clearTimeout(timer);
      resolve({ metricsUrl: m.metricsUrl ?? '', url: m.url });
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`exited before ready (code ${code}, signal ${signal})`));
    });
  });
}

/** SIGKILLs every role process still running (for afterAll). */
export async function killAllRoles(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          if (!child.kill('SIGKILL')) resolve();
        }),
    ),
  );
}

/** The value of one sample in Prometheus text, summed over series whose labels include `labels`. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

// ---------------------------------------------------------------- an isolated pipeline per test file

export interface PipelineEnv {
  /** The configuration the pipeline's processes see. */
  cfg: Config;
  /** Environment overrides for spawned roles (database, topics, group prefix, fast timings). */
  env: Record<string, string>;
  db: Db;
  kafka: Kafka;
  close(): Promise<void>;
}

/**
 * A database of its own (migrated) and topics of their own. A relay publishes every pending
 * row of its database, so tests that run relays cannot share one: relays of two test files
 * would publish each other's rows to their own topics.
 */
export async function createPipelineEnv(label: string, extra: Record<string, string> = {}): Promise<PipelineEnv> {
  const base = testConfig();
  const id = crypto.randomUUID().slice(0, 8);
  const url = new URL(base.database.url);
  url.pathname = `/${base.database.database}_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${id}`;
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    DATABASE_URL: url.toString(),
    KAFKA_EVENTS_TOPIC: `test-${label}-${id}.events`,
    KAFKA_DLQ_TOPIC: `test-${label}-${id}.events.dlq`,
    CONSUMER_GROUP_PREFIX: `test-${label}-${id}.`,
    RATE_LIMIT_KEY_PREFIX: `test-${label}-${id}`,
    CONSUMER_SESSION_TIMEOUT_MS: '6000',
    CONSUMER_RETRY_BASE_MS: '20',
    CONSUMER_RETRY_MAX_MS: '200',
    RELAY_POLL_INTERVAL_MS: '250',
    RELAY_REBALANCE_INTERVAL_MS: '250',
    RELAY_MAX_BACKOFF_MS: '1000',
    ...extra,
  };
  const cfg = loadConfig({ ...process.env, ...env });
  await ensureDatabase(cfg, cfg.database.database);
  await migrate(cfg.databaseOwner.url);
  const topics = [cfg.kafka.eventsTopic, cfg.kafka.dlqTopic];
  await ensureTopics(
    cfg.kafka.brokers,
    topics.map((topic) => ({ topic, numPartitions: cfg.kafka.eventsPartitions })),
  );
  const db = createDb(cfg.database.url, 10);
  const kafka = new Kafka({ clientId: `test-${label}`, brokers: cfg.kafka.brokers, logLevel: logLevel.NOTHING });
  return { cfg, env, db, kafka, close: () => dropPipeline(cfg, db, kafka, topics) };
}

async function dropPipeline(cfg: Config, db: Db, kafka: Kafka, topics: string[]): Promise<void> {
  await closeDb(db);
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
  await dropDatabase(cfg, cfg.database.database);
}

// ---------------------------------------------------------------- order events

/** Every event type about an order, whichever context owns it. */
export const EVENT_TYPES = { ...ORDER_EVENTS, ...PAYMENT_EVENTS, ...INVENTORY_EVENTS } as const;
export type EventType = (typeof EVENT_TYPES)[keyof typeof EVENT_TYPES];

/** The events of a confirmed order, in the order the saga writes them. */
export const CONFIRMED_ORDER: EventType[] = [
  EVENT_TYPES.OrderCreated,
  EVENT_TYPES.InventoryReserved,
  EVENT_TYPES.OrderStatusChanged,
  EVENT_TYPES.PaymentCaptured,
  EVENT_TYPES.OrderStatusChanged,
  EVENT_TYPES.InventoryCommitted,
  EVENT_TYPES.OrderConfirmed,
];

/** A plausible payload of each event type (see the event catalogue, docs/events.md). */
export function orderEvent(
  type: EventType,
  orderId: string,
  customerId = 'cust-test',
): NewEvent<EventType> & { payload: Record<string, unknown> } {
  const items = [{ sku: 'SKU-TEST', quantity: 2 }];
  const base = { orderId };
  const payloads: Partial<Record<EventType, Record<string, unknown>>> = {
    OrderCreated: {
      ...base,
      customerId,
      currency: 'EUR',
      totalMinor: 2500,
      items: [{ sku: 'SKU-TEST', quantity: 2, unitPriceMinor: 1250 }],
    },
    InventoryReserved: { ...base, items },
    InventoryCommitted: { ...base, items },
    PaymentCaptured: { ...base, customerId, amountMinor: 2500, currency: 'EUR', transactionId: crypto.randomUUID() },
    PaymentRefunded: { ...base, customerId, amountMinor: 2500, currency: 'EUR', transactionId: crypto.randomUUID(), reason: 'test' },
  };
  const status = { ...base, from: 'PENDING', to: 'CONFIRMED', step: 'test', failureReason: null, detail: null };
  return { type, payload: payloads[type] ?? status };
}

/**
 * Writes an order's events through appendEvents, one transaction per event (as the saga does).
 * A transaction the server ended (its guards: a test process starved of CPU by a loaded machine
 * can sit idle in a transaction past idle_in_transaction_session_timeout) is tried again, as an
 * activity's retry would; three tries at most.
 */
export async function writeOrderEvents(db: Db, orderId: string, types: EventType[] = CONFIRMED_ORDER): Promise<void> {
  for (const type of types) {
    for (let attempt = 1; ; attempt++) {
      try {
        await inTransaction(db, (tx) => appendEvents(tx, { type: ORDER_AGGREGATE, id: orderId }, [orderEvent(type, orderId)]));
        break;
      } catch (err) {
        if (attempt >= 3) throw err;
      }
    }
  }
}

/** Writes many orders' events concurrently, so that their rows interleave in the outbox. */
export async function writeOrders(db: Db, count: number, types: EventType[] = CONFIRMED_ORDER, concurrency = 8): Promise<string[]> {
  const ids = Array.from({ length: count }, () => crypto.randomUUID());
  const queue = [...ids];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let id = queue.shift(); id; id = queue.shift()) await writeOrderEvents(db, id, types);
    }),
  );
  return ids;
}

// ---------------------------------------------------------------- reading a topic

export interface TopicMessage {
  partition: number;
  offset: string;
  key: string | null;
  headers: Record<string, string>;
  value: Buffer | null;
}

export function envelopeOf(m: TopicMessage): Envelope {
  return parseEnvelope(m.value);
}

/** Reads a topic from the beginning (fresh group) until `done(messages)` holds. */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  done: (messages: TopicMessage[]) => boolean,
  timeoutMs = 30_000,
): Promise<TopicMessage[]> {
  const consumer = kafka.consumer({ groupId: `test-reader-${crypto.randomUUID()}`, maxWaitTimeInMs: 200 });
  const messages: TopicMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          messages.push({
            partition: batch.partition,
            offset: m.offset,
            key: m.key?.toString('utf8') ?? null,
            headers: headerStrings(m.headers),
            value: m.value,
          });
        }
      },
    });
    await eventually(async () => done(messages), { timeoutMs, what: `messages on ${topic}` }).catch((err: Error) => {
      throw new Error(`${err.message} (read ${messages.length})`);
    });
    return messages;
  } finally {
    await consumer.disconnect();
  }
}
