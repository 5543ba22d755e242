/**
 * The real express app on a random local port, over the real database and Temporal, with
 * the saga's workers in this process. Each call gets fresh API keys.
 */
import crypto from 'node:crypto';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { createApp } from '../../api/app';
import type { DbOptions } from '../../lib/db';
import { createLogger, type Logger } from '../../lib/logger';
import { createApiKey } from '../../services/access/api-keys';
import { startSagaEnv, type SagaEnv } from './saga-env';

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

export async function startApiEnv(env: Record<string, string> = {}, dbOptions?: DbOptions, logger?: Logger): Promise<ApiEnv> {
  // Counters of its own: rate limits per address must not carry over between test files.
  const saga = await startSagaEnv({ RATE_LIMIT_KEY_PREFIX: `test-${crypto.randomUUID().slice(0, 8)}`, ...env }, dbOptions);
  const log = logger ?? createLogger('api-test', 'silent');
  const app = createApp({
    cfg: saga.cfg,
    db: saga.db,
    log,
    temporal: saga.client,
    faults: saga.faults,
    kafka: new Kafka({ clientId: 'api-test', brokers: saga.cfg.kafka.brokers, logLevel: logLevel.NOTHING }),
    readiness: { database: () => saga.db.$queryRaw`SELECT 1` },
  });
  const server: http.Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const keys = {
    clientA: await createApiKey(saga.db, 'test-client-a', 'client'),
    clientB: await createApiKey(saga.db, 'test-client-b', 'client'),
    admin: await createApiKey(saga.db, 'test-admin', 'admin'),
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
    ...saga,
    baseUrl,
    keys,
    call,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await saga.stop();
    },
  };
}
