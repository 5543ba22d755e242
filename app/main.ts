/**
 * One entry point for every app process: `node dist/app/main.js <role>` in production (after
 * `npm run build`), `tsx app/main.ts <role>` from source. Each role serves its own
 * /metrics, logs JSON, and shuts down gracefully on SIGINT/SIGTERM (stop taking work, finish
 * what is in flight). A second signal exits at once.
 */
import type http from 'node:http';
import { config, exitOnConfigError, type Config } from '../lib/config';
import { closeDb, createDb, poolOf } from '../lib/db';
import { faultsFrom } from '../lib/faults';
import { createLogger } from '../lib/logger';
import { createRegistry, dbPoolMetrics, serveMetrics } from '../lib/metrics';
import { startTracing } from '../lib/tracing';
import type { Role } from './processes';

async function main(role: string): Promise<void> {
  let cfg: Config;
  try {
    cfg = config();
  } catch (err) {
    exitOnConfigError(err);
  }
  // Tracing first: its instrumentations patch http and express as they are loaded, so the
  // roles (which load express, kafkajs, Temporal...) are required only after it started.
  const tracing = startTracing(role, cfg.otel);
  const { ROLES } = require('./processes') as typeof import('./processes');
  if (!(role in ROLES)) {
    console.error(`usage: app/main <${Object.keys(ROLES).join('|')}>`);
    process.exit(2);
  }
  const spec = ROLES[role as Role];
  const log = createLogger(role, cfg.logLevel);
  const registry = createRegistry(role);
  const db = createDb(cfg.database.url, {
    poolSize: cfg.databasePoolSize,
    limits: cfg.databaseLimits,
    connectTimeoutMs: cfg.databaseConnectTimeoutMs,
    onIdleError: (err) => log.warn({ err }, 'idle database connection lost; the pool reconnects on demand'),
  });
  dbPoolMetrics(registry, poolOf(db), cfg.databasePoolSize);
  const faults = faultsFrom(cfg.faultInjection);
  const metricsPort = cfg.metrics.portBase + spec.metricsOffset;
  const metricsServer: http.Server = await serveMetrics(registry, cfg.metrics.host, metricsPort);
  const running = await spec.start({ cfg, log, registry, db, faults, tracing });
  const metricsUrl = `http://${cfg.metrics.host}:${metricsPort}/metrics`;
  log.info({ role, metricsUrl, url: running.url, tracing: tracing.enabled }, `${role} started`);
  process.send?.({ type: 'ready', role, url: running.url, metricsUrl });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, `${role} shutting down`);
    running
      .stop()
      .then(() => closeDb(db))
      .then(() => tracing.shutdown())
      .then(() => new Promise((resolve) => metricsServer.close(resolve)))
      .then(
        () => {
          log.info(`${role} stopped`);
          process.exit(0);
        },
        (err: unknown) => {
          log.error({ err }, `${role} failed to stop cleanly`);
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  // Under `npm start` the parent owns Ctrl-C; if it dies, so do we (gracefully).
  process.on('disconnect', () => shutdown('parent exited'));
}

const role = process.argv[2];
if (!role) {
  console.error('usage: app/main <role> (see app/processes.ts)');
  process.exit(2);
}
main(role).catch((err: unknown) => {
  console.error(JSON.stringify({ level: 'fatal', role, msg: 'failed to start', err: err instanceof Error ? err.stack : String(err) }));
  process.exit(1);
});
