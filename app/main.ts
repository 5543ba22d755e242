/**
 * One entry point for every app process: `tsx app/main.ts <role>`. Each role serves its own
 * /metrics, logs JSON, and shuts down gracefully on SIGINT/SIGTERM (stop taking work, finish
 * what is in flight). A second signal exits at once.
 */
import type http from 'node:http';
import { config, exitOnConfigError, type Config } from '../lib/config';
import { createDb, poolOf, type Db } from '../lib/db';
import { faultsFrom, type Faults } from '../lib/faults';
import { createLogger, type Logger } from '../lib/logger';
import { createRegistry, dbPoolMetrics, serveMetrics } from '../lib/metrics';
import { startTracing, type Tracing } from '../lib/tracing';
import type { Registry } from 'prom-client';
import type { Role } from './processes';

export interface RoleContext {
  cfg: Config;
  log: Logger;
  registry: Registry;
  db: Db;
  faults: Faults;
  /** Tracing of this process (TRACING_OFF unless configured). */
  tracing: Tracing;
}

/** What a started role hands back: how to stop it gracefully. */
export interface Running {
  /** Where the role serves (printed by `npm start`), if anywhere. */
  url?: string;
  stop(): Promise<void>;
}

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
    console.error(`usage: tsx app/main.ts <${Object.keys(ROLES).join('|')}>`);
    process.exit(2);
  }
  const spec = ROLES[role as Role];
  const log = createLogger(role, cfg.logLevel);
  const registry = createRegistry(role);
  const db = createDb(cfg.database.url, cfg.databasePoolSize);
  const pool = poolOf(db);
  if (pool) dbPoolMetrics(registry, pool, cfg.databasePoolSize);
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
      .then(() => db.$disconnect())
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
  console.error('usage: tsx app/main.ts <role> (see app/processes.ts)');
  process.exit(2);
}
main(role).catch((err: unknown) => {
  console.error(JSON.stringify({ level: 'fatal', role, msg: 'failed to start', err: err instanceof Error ? err.stack : String(err) }));
  process.exit(1);
});
