/** The express application: every operation, request ids and metrics, problems. */
import express, { type Express } from 'express';
import { Admission, admissionMetrics, countInFlight } from '../services/orders/admission';
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

/** What createApp needs: ApiDeps, whose admission it makes from the configuration unless given. */
export type AppDeps = Omit<ApiDeps, 'admission'> & Partial<Pick<ApiDeps, 'admission'>>;

/** The process's bound on sagas in flight (ORDERS_MAX_IN_FLIGHT, adaptive with ORDERS_IN_FLIGHT_TARGET_MS), counted in the database. */
export function orderAdmission(deps: Omit<AppDeps, 'admission'>): Admission {
  const settings = deps.cfg.api.admission;
  return new Admission(
    settings,
    (since) => countInFlight(deps.db, settings.horizonMs, since),
    deps.registry ? admissionMetrics(deps.registry) : undefined,
  );
}

export function createApp(appDeps: AppDeps): Express {
  const deps: ApiDeps = { ...appDeps, admission: appDeps.admission ?? orderAdmission(appDeps) };
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
