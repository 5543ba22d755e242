/** The express application: every operation, request ids and metrics, problems. */
import express, { type Express } from 'express';
import { anonymousLimit } from './auth';
import { consoleRouter } from './console/router';
import type { ApiDeps } from './deps';
import { docsRouter } from './docs';
import { httpMetrics, observeRequests, requestId } from './observability';
import { mountOperations, type Operation } from './operation';
import { problemHandler, problems } from './problem';
import { RateLimits } from './rate-limit';
import { ACCOUNT_OPERATIONS } from './routes/accounts';
import { ADMIN_OPERATIONS } from './routes/admin';
import { AUDIT_LOG_OPERATIONS } from './routes/audit-log';
import { DLQ_OPERATIONS } from './routes/dlq';
import { ORDER_OPERATIONS } from './routes/orders';
import { RECONCILIATION_OPERATIONS } from './routes/reconciliation';
import { systemOperations } from './routes/system';

/** Every operation the API serves, in the order the document lists them. */
export const OPERATIONS: readonly Operation[] = [
  ...systemOperations(() => OPERATIONS),
  ...ORDER_OPERATIONS,
  ...ACCOUNT_OPERATIONS,
  ...ADMIN_OPERATIONS,
  ...DLQ_OPERATIONS,
  ...RECONCILIATION_OPERATIONS,
  ...AUDIT_LOG_OPERATIONS,
];

export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // false, a hop count or a list of ranges (lib/config.ts refuses `true`): req.ip is never a client's pick.
  app.set('trust proxy', deps.cfg.api.trustProxy);
  app.use(requestId);
  app.use(observeRequests(deps.log, deps.registry ? httpMetrics(deps.registry) : undefined));
  // One set of limits for the API, the console and the docs: the console is no way around them.
  const limits = new RateLimits(deps.db, deps.cfg, deps.log, deps.registry);
  mountOperations(app, OPERATIONS, deps, limits);
  app.use(docsRouter(anonymousLimit(limits)));
  app.use('/console', consoleRouter(deps, limits));
  app.use((req, _res, next) => next(problems.notFound(`no route ${req.method} ${req.path}`)));
  app.use(problemHandler(deps.log));
  return app;
}
