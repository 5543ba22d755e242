/** The express application: routes, authentication, request ids, problems. */
import crypto from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Kafka } from 'kafkajs';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Config } from '../lib/config';
import type { Db } from '../lib/db';
import type { Faults } from '../lib/faults';
import type { Logger } from '../lib/logger';
import { authn, requireRole } from './auth';
import { buildOpenApi } from './openapi';
import { problemHandler, problems, sendProblem } from './problem';
import { accountsRouter } from './routes/accounts';
import { adminRouter } from './routes/admin';
import { dlqRouter } from './routes/dlq';
import { ordersRouter } from './routes/orders';

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
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const READY_TIMEOUT_MS = 2000;

function requestId(req: Request, res: Response, next: NextFunction): void {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : crypto.randomUUID();
  res.locals.requestId = id;
  res.setHeader('X-Request-Id', id);
  next();
}

function accessLog(log: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log.info(
        { requestId: res.locals.requestId, method: req.method, path: req.originalUrl.split('?')[0], status: res.statusCode, ms: Math.round(ms * 10) / 10 },
        'request',
      );
    });
    next();
  };
}

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
  app.use(accessLog(deps.log));

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
  app.use('/orders', authenticate, ordersRouter(deps));
  app.use('/accounts', authenticate, accountsRouter(deps));
  app.use('/admin/dlq', authenticate, admin, dlqRouter(deps));
  app.use('/admin', authenticate, admin, adminRouter(deps));

  app.use((req, _res, next) => next(problems.notFound(`no route ${req.method} ${req.path}`)));
  app.use(problemHandler(deps.log));
  return app;
}
