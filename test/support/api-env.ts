/**
 * The real express app on a random local port over the real test database. Two kinds:
 * startPgApiEnv (PostgreSQL only: a lazy Temporal client that never connects unless a test
 * makes it, no workers, no Kafka connection) for what needs no saga (authentication,
 * validation, problems, admin writes, idempotency without a placed order), and startApiEnv
 * (the same over a saga environment with the three workers in this process). Each call gets
 * fresh API keys and rate-limit counters of its own.
 */
import crypto from 'node:crypto';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { Kafka, logLevel } from 'kafkajs';
import { createApp } from '../../api/app';
import { answerClientErrors } from '../../api/client-error';
import { ProblemBody } from '../../api/schemas';
import { loadConfig, type Config } from '../../lib/config';
import { closeDb, createDb, type Db, type DbOptions } from '../../lib/db';
import { FaultPlan } from '../../lib/faults';
import { createLogger, type Logger } from '../../lib/logger';
import { startShedsLoad } from '../../lib/temporal';
import { createApiKey } from '../../services/access/api-keys';
import { startSagaEnv, type SagaEnv } from './saga-env';

/** Rate limits out of the way, for tests that walk many routes or bad keys from one address (429 has its own tests). */
export const LIMITS_OFF = {
  RATE_LIMIT_AUTH_FAILURES: '1000000',
  RATE_LIMIT_CLIENT: '1000000',
  RATE_LIMIT_ADMIN: '1000000',
  RATE_LIMIT_ANONYMOUS: '1000000',
} as const;

/** `test.each` rows of operations, each named "METHOD /path". */
export function routeCases<O extends { method: string; path: string }>(ops: readonly O[]): (readonly [string, O])[] {
  return ops.map((o) => [`${o.method.toUpperCase()} ${o.path}`, o] as const);
}

export interface ApiEnv extends SagaEnv {
  baseUrl: string;
  keys: { clientA: { id: string; key: string }; clientB: { id: string; key: string }; admin: { id: string; key: string } };
  call(
    method: string,
    path: string,
    opts?: { key?: string | null; body?: unknown; headers?: Record<string, string>; raw?: string },
  ): Promise<Reply>;
}

export interface Reply {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Counters of its own: rate limits per address must not carry over between test files. */
const ownCounters = () => ({ RATE_LIMIT_KEY_PREFIX: `test-${crypto.randomUUID().slice(0, 8)}` });

/** The API with the saga's workers: for tests that place orders and watch them run. */
export async function startApiEnv(env: Record<string, string> = {}, dbOptions?: DbOptions, logger?: Logger): Promise<ApiEnv> {
  // An API_PORT given here is where it listens (a redirect URI registered beforehand needs it); else a random port.
  return serveApi(await startSagaEnv({ ...ownCounters(), ...env }, dbOptions), logger, env.API_PORT ? Number(env.API_PORT) : 0);
}

/**
 * The API over PostgreSQL alone. Its Temporal client is lazy and no worker runs: a test here
 * must not place an order that is accepted (its saga would never run).
 */
export async function startPgApiEnv(
  env: Record<string, string> = {},
  dbOptions: DbOptions = { poolSize: 10 },
  logger?: Logger,
): Promise<ApiEnv> {
  const cfg: Config = loadConfig({
    ...process.env,
    TEMPORAL_TASK_QUEUE_PREFIX: `test-${crypto.randomUUID().slice(0, 8)}-`,
    ...ownCounters(),
    ...env,
  });
  const db: Db = createDb(cfg.database.url, dbOptions);
  const client = new Client({
    connection: Connection.lazy({ address: cfg.temporal.address, interceptors: [startShedsLoad()] }),
    namespace: cfg.temporal.namespace,
  });
  const base: SagaEnv = {
    cfg,
    db,
    client,
    faults: new FaultPlan(),
    async stop() {
      await client.connection.close();
      await closeDb(db);
    },
  };
  return serveApi(base, logger);
}

async function serveApi(base: SagaEnv, logger?: Logger, port = 0): Promise<ApiEnv> {
  const log = logger ?? createLogger('api-test', 'silent');
  const app = createApp({
    cfg: base.cfg,
    db: base.db,
    log,
    temporal: base.client,
    faults: base.faults,
    kafka: new Kafka({ clientId: 'api-test', brokers: base.cfg.kafka.brokers, logLevel: logLevel.NOTHING }),
    readiness: { database: () => base.db.$queryRaw`SELECT 1` },
  });
  const server: http.Server = await new Promise((resolve) => {
    const s = app.listen(port, '127.0.0.1', () => resolve(s));
  });
  answerClientErrors(server);
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const keys = {
    clientA: await createApiKey(base.db, 'test-client-a', 'client'),
    clientB: await createApiKey(base.db, 'test-client-b', 'client'),
    admin: await createApiKey(base.db, 'test-admin', 'admin'),
  };
  const call: ApiEnv['call'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    const key = opts.key === undefined ? keys.clientA.key : opts.key;
    if (key) headers.authorization = `Bearer ${key}`;
    let body: string | undefined = opts.raw;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON: keep the text */
    }
    return { status: res.status, headers: res.headers, body: parsed };
  };
  return {
    ...base,
    baseUrl,
    keys,
    call,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await base.stop();
    },
  };
}

/** A problem answer: its status, content type and full body (code included), and its type's slug. */
export function expectProblem(reply: Reply, status: number, slug?: string): void {
  expect(reply.status).toBe(status);
  expect(reply.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  ProblemBody.parse(reply.body);
  expect(reply.body.status).toBe(status);
  if (slug) expect(reply.body.type).toMatch(new RegExp(`/${slug}$`));
}

/** Rows that a POST /orders with this API key could have written. */
export async function writtenByKey(db: Db, apiKeyId: string) {
  const orders = await db.order.findMany({ where: { apiKeyId }, select: { id: true } });
  const ids = orders.map((o) => o.id);
  return {
    orders: ids.length,
    items: await db.orderItem.count({ where: { orderId: { in: ids } } }),
    orderCreatedEvents: await db.outboxEvent.count({ where: { aggregateId: { in: ids }, type: 'OrderCreated' } }),
    idempotencyKeys: await db.idempotencyKey.count({ where: { apiKeyId } }),
  };
}
