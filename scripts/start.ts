/**
 * npm start: bring the stack up, migrate, seed demo data if empty, then run every app
 * process (API, the three workers, the relay, the consumers) under a small supervisor and
 * print where everything is. Ctrl-C stops the app processes gracefully; the servers of the
 * stack keep running (`npm run stack -- down` stops them).
 *
 * `npm start -- --scale worker-payments=2,relay=2` runs that many instances of the named
 * roles (each with its own metrics port, see app/instances.ts); the others run once.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { exitOnConfigError, repoRoot } from '../lib/config';
import { closeDb, createDb } from '../lib/db';
import { migrate } from '../lib/migrate';
import { instanceEnv, parseScale, scaleArg, ScaleSpecError } from '../app/instances';
import { ROLES, type Role } from '../app/processes';
import { loadStackConfig, type StackConfig } from './stack/config';
import { removeAppState, roleLogFile, writeAppState, type AppProcess, type AppState } from './stack/app-processes';
import { formatStatus, up } from './stack/stack';
import { ensureDatabase } from './stack/postgres';
import { tail } from './stack/proc';
import { tracingEnv } from './stack/tracing-env';
import { seedDemoData } from './seed';

const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 30_000;
const MAX_RESTARTS_PER_MINUTE = 5;

interface Managed {
  role: Role;
  /** `role` or `role#i` when scaled. */
  name: string;
  /** Sets a scaled instance apart from its siblings (ports, Kafka client id). */
  env: Record<string, string>;
  child?: ChildProcess;
  logFile: string;
  restarts: number[];
  ready?: { url?: string; metricsUrl: string };
}

let stopping = false;

/** Records the processes in the stack directory for `npm run stack -- status` and `logs` (set once they run). */
let recordState: () => void = () => {};

/** Added to every app process's environment: the trace backends' OTEL_* variables, if they run. */
let sharedEnv: Record<string, string> = {};

function spawnRole(m: Managed, cfg: StackConfig): Promise<void> {
  const out = fs.openSync(m.logFile, 'a');
  const child = fork(path.join(repoRoot, 'app', 'main.ts'), [m.role], {
    cwd: repoRoot,
    env: { ...process.env, ...sharedEnv, ...m.env },
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', out, out, 'ipc'],
    // Own process group: the terminal's Ctrl-C reaches only this supervisor, which then
    // stops the children one signal each (a second signal would make them exit at once).
    detached: true,
  });
  fs.closeSync(out);
  m.child = child;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${m.name} not ready after ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    child.on('message', (msg: { type?: string; url?: string; metricsUrl?: string }) => {
      if (msg?.type !== 'ready') return;
      clearTimeout(timer);
      m.ready = { url: msg.url, metricsUrl: msg.metricsUrl ?? '' };
      resolve();
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!m.ready) reject(new Error(`${m.name} exited during start (${signal ?? code})\n--- ${m.logFile}\n${tail(m.logFile, 25)}`));
      else if (!stopping) supervise(m, cfg, code, signal);
    });
  });
}

/** Restarts a crashed process, unless it crashes too often. */
function supervise(m: Managed, cfg: StackConfig, code: number | null, signal: NodeJS.Signals | null): void {
  const now = Date.now();
  m.restarts = m.restarts.filter((t) => now - t < 60_000).concat(now);
  if (m.restarts.length > MAX_RESTARTS_PER_MINUTE) {
    console.error(`[start] ${m.name} keeps crashing (${signal ?? code}); not restarting. Log: ${m.logFile}`);
    return;
  }
  console.error(`[start] ${m.name} exited (${signal ?? code}); restarting. Log: ${m.logFile}`);
  m.ready = undefined;
  spawnRole(m, cfg).then(
    () => recordState(),
    (err: unknown) => console.error(`[start] ${(err as Error).message}`),
  );
}

async function stopAll(managed: Managed[]): Promise<void> {
  stopping = true;
  await Promise.all(
    managed.map(async (m) => {
      const child = m.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }),
  );
}

function banner(cfg: StackConfig, managed: Managed[], keys: { client: string; admin: string }): string {
  const api = `http://${cfg.api.host}:${cfg.api.port}`;
  const lines = [
    '',
    'order-saga is running',
    `  Console          ${api}/console   (sign in with the demo admin API key below)`,
    `  API              ${api}   (reference: ${api}/docs, OpenAPI: ${api}/openapi.json)`,
    `  Temporal Web UI  http://${cfg.temporal.host}:${cfg.stack.temporal.uiPort}`,
    `  Temporal gRPC    ${cfg.temporal.address}`,
    `  Kafka            ${cfg.kafka.brokers.join(',')}  (topics ${cfg.kafka.eventsTopic}, ${cfg.kafka.dlqTopic})`,
    `  PostgreSQL       ${cfg.database.url.replace(/:[^:@/]*@/, ':***@')}`,
    `  Traces           ${tracesLine(cfg)}`,
    '  Metrics:',
    ...managed.map((m) => `    ${m.name.padEnd(24)} ${m.ready?.metricsUrl ?? '(not ready)'}`),
    `  App logs         ${path.join(cfg.stack.dir, 'logs')}/<process>.log   (npm run stack -- logs <process>; status lists them)`,
    '',
    `  demo client API key: ${keys.client}`,
    `  demo admin API key:  ${keys.admin}`,
    '',
    '  Try:',
    `    curl -s -X POST ${api}/orders -H "Authorization: Bearer ${keys.client}" -H "Idempotency-Key: $(cat /proc/sys/kernel/random/uuid)" \\`,
    `      -H "Content-Type: application/json" -d '{"customerId":"alice","items":[{"sku":"MUG-LOGO","quantity":2}]}'`,
    '',
    'Ctrl-C stops the app processes; `npm run stack -- down` stops the servers.',
  ];
  return lines.join('\n');
}

function tracesLine(cfg: StackConfig): string {
  const exporters = sharedEnv.OTEL_TRACES_EXPORTER ?? process.env.OTEL_TRACES_EXPORTER;
  if (!exporters && !process.env.OTEL_EXPORTER_OTLP_ENDPOINT) return 'off (`npm run stack -- up --with-tracing`, then restart)';
  const ui = sharedEnv.OTEL_EXPORTER_ZIPKIN_ENDPOINT ? `  UI http://127.0.0.1:${cfg.stack.zipkin.port}/zipkin/` : '';
  return `${exporters ?? 'otlp'} (OTEL_TRACES_EXPORTER)${ui}`;
}

/** One entry per instance: every role once, scaled roles `scale[role]` times. */
function instances(cfg: StackConfig, scale: Partial<Record<Role, number>>, stackDir: string): Managed[] {
  const base = { apiPort: cfg.api.port, metricsPortBase: cfg.metrics.portBase, kafkaClientId: cfg.kafka.clientId };
  return (Object.keys(ROLES) as Role[]).flatMap((role) => {
    const count = scale[role] ?? 1;
    return Array.from({ length: count }, (_, i) => ({
      role,
      name: count > 1 ? `${role}#${i}` : role,
      env: count > 1 ? instanceEnv(base, i) : {},
      logFile: roleLogFile(stackDir, role, count > 1 ? i : undefined),
      restarts: [],
    }));
  });
}

/** What the stack directory records of the running processes (a restarted one has a new pid). */
function appState(managed: Managed[], startedAt: number): AppState {
  const processes = managed.flatMap((m): AppProcess[] => {
    const pid = m.child?.pid;
    if (!pid || !m.ready) return [];
    const { url, metricsUrl } = m.ready;
    return [
      { name: m.name, role: m.role, description: ROLES[m.role].description, pid, ...(url ? { url } : {}), metricsUrl, logFile: m.logFile },
    ];
  });
  return { supervisorPid: process.pid, startedAt: new Date(startedAt).toISOString(), processes };
}

function scaleFromArgs(): Partial<Record<Role, number>> {
  try {
    const spec = scaleArg(process.argv.slice(2));
    return spec === undefined ? {} : parseScale(spec, Object.keys(ROLES) as Role[]);
  } catch (err) {
    if (!(err instanceof ScaleSpecError)) throw err;
    console.error(err.message);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  const scale = scaleFromArgs();
  let cfg: StackConfig;
  try {
    cfg = loadStackConfig();
  } catch (err) {
    exitOnConfigError(err);
  }
  const started = Date.now();
  console.log(formatStatus(await up(cfg)));
  await ensureDatabase(cfg, cfg.database.database);
  const applied = await migrate(cfg.databaseOwner.url);
  if (applied.length) console.log(`[start] applied migrations: ${applied.join(', ')}`);
  const db = createDb(cfg.database.url, 2);
  const { seeded, keys } = await seedDemoData(db, cfg);
  await closeDb(db);
  if (seeded)
    console.log('[start] seeded demo products (TSHIRT-BLUE-M, MUG-LOGO, POSTER-A2, SNEAKER-LTD) and customers (alice, bob, carol)');

  sharedEnv = await tracingEnv(cfg);
  const logDir = path.join(cfg.stack.dir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  const managed = instances(cfg, scale, cfg.stack.dir);

  let shuttingDown = false;
  const shutdown = (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    console.log(`\n[start] ${signal}: stopping app processes (in-flight work finishes first)...`);
    stopAll(managed).then(
      () => {
        removeAppState(cfg.stack.dir, process.pid);
        console.log('[start] stopped');
        process.exit(0);
      },
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));

  try {
    await Promise.all(managed.map((m) => spawnRole(m, cfg)));
  } catch (err) {
    console.error(`[start] ${(err as Error).message}`);
    await stopAll(managed);
    removeAppState(cfg.stack.dir, process.pid);
    process.exit(1);
  }
  recordState = () => writeAppState(cfg.stack.dir, appState(managed, started));
  recordState();
  console.log(banner(cfg, managed, keys));
  console.log(`[start] up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
