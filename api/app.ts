/** The express application: routes, authentication, request ids, problems. */
import type { Client } from '@temporalio/client';
import type { Kafka } from 'kafkajs';
import express, { type Express } from 'express';
import type { Registry } from 'prom-client';
import type { Config } from '../lib/config';
import type { Db } from '../lib/db';
import type { Faults } from '../lib/faults';
import type { Logger } from '../lib/logger';
import { authn, requireRole } from './auth';
import { httpMetrics, mountPoint, observeRequests, requestId } from './observability';
import { buildOpenApi } from './openapi';
import { problemHandler, problems, sendProblem } from './problem';
import { accountsRouter } from './routes/accounts';
import { adminRouter } from './routes/admin';
import { dlqRouter } from './routes/dlq';
import { ordersRouter } from './routes/orders';
import { reconciliationRouter } from './routes/reconciliation';

export interface ApiDeps {
  cfg: Config;
  db: Db;
  log: Logger;
  temporal: Client;
  faults: Faults;
  /** For dead-letter replay. */
  kafka: Kafka;
  /** Named readiness checks (database, Temporal, Kafka); each resolves or throws. */
  readiness: Record<string, () => Promise<unknown>>;
  /** Where HTTP metrics go (the API role's registry); none in tests that do not look. */
  registry?: Registry;
}

const READY_TIMEOUT_MS = 2000;

async function check(fn: () => Promise<unknown>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      }),
    ]);
    return 'ok';
  } catch (err) {
    return `failing: ${(err as Error).message}`;
  } finally {
    clearTimeout(timer);
  }
}

export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestId);
  app.use(observeRequests(deps.log, deps.registry ? httpMetrics(deps.registry) : undefined));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const names = Object.keys(deps.readiness);
    const results = await Promise.all(names.map((n) => check(deps.readiness[n]!)));
    const checks = Object.fromEntries(names.map((n, i) => [n, results[i]!]));
    const ok = results.every((r) => r === 'ok');
    if (ok) {
      res.json({ status: 'ok', checks });
      return;
    }
    sendProblem(res, problems.unavailable('a dependency is not reachable', { checks }), '/readyz');
  });
  const openapi = buildOpenApi();
  app.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });

  const authenticate = authn(deps.db);
  const admin = requireRole('admin');
  app.use('/orders', mountPoint, authenticate, ordersRouter(deps));
  app.use('/accounts', mountPoint, authenticate, accountsRouter(deps));
  app.use('/admin/dlq', mountPoint, authenticate, admin, dlqRouter(deps));
  app.use('/admin/reconciliation', mountPoint, authenticate, admin, reconciliationRouter(deps));
  app.use('/admin', mountPoint, authenticate, admin, adminRouter(deps));

  app.use((req, _res, next) => next(problems.notFound(`no route ${req.method} ${req.path}`)));
  app.use(problemHandler(deps.log));
  return app;
}
