/** The local stack as a whole: bring every real server up, down, or report on it. */
import fs from 'node:fs';
import type { StackConfig } from './config';
import type { Component, ComponentStatus, Health } from './component';
import { ROLES } from '../../app/processes';
import { appProcessesNamed, appStatus, readAppState, roleLogFile, type AppProcess } from './app-processes';
import { KafkaBroker } from './kafka';
import { Postgres } from './postgres';
import { IdentityProvider } from './identity';
import { Jaeger } from './jaeger';
import { log, tail, waitUntil } from './proc';
import { Prometheus } from './prometheus';
import { goToolPath, goToolVersion, installGoTool, Temporal, type GoTool } from './temporal';
import { TemporalServer } from './temporal-server';
import { TemporalUi } from './temporal-ui';
import { Zipkin } from './zipkin';

export interface StackOptions {
  /** Also run Prometheus (optional; status, logs and down include it whenever it runs). */
  withPrometheus?: boolean;
  /** Also run the authorization server (optional likewise; the tests' global setup asks for it). */
  withIdentity?: boolean;
  /** Also run the trace backends, Zipkin (UI) and Jaeger (OTLP receiver); likewise optional. */
  withTracing?: boolean;
}

/** The trace backends `--with-tracing` runs. */
export function tracingComponents(cfg: StackConfig): [Zipkin, Jaeger] {
  return [new Zipkin(cfg), new Jaeger(cfg)];
}

/** Temporal as TEMPORAL_PERSISTENCE selects (the dev server on SQLite, or the full server on PostgreSQL), and its read-only Web UI. */
function temporalComponents(cfg: StackConfig, persistence = cfg.stack.temporal.persistence): Component[] {
  const server = persistence === 'postgres' ? new TemporalServer(cfg) : new Temporal(cfg);
  return [server, new TemporalUi(cfg, server)];
}

export function components(cfg: StackConfig, opts: StackOptions = {}): Component[] {
  const list: Component[] = [new Postgres(cfg), ...temporalComponents(cfg), new KafkaBroker(cfg)];
  const prometheus = new Prometheus(cfg);
  if (opts.withPrometheus || prometheus.pid()) list.push(prometheus);
  const identity = new IdentityProvider(cfg);
  if (opts.withIdentity || identity.pid()) list.push(identity);
  for (const c of tracingComponents(cfg)) if (opts.withTracing || c.pid()) list.push(c);
  return list;
}

/** Client binaries the stack builds next to its servers (tests and operators run them). */
export const TOOLS: readonly GoTool[] = ['tctl'];

export type { ComponentStatus };

const START_TIMEOUT_MS = 180_000;

async function healthy(c: Component): Promise<Health | undefined> {
  try {
    return await c.health();
  } catch {
    return undefined;
  }
}

/** Waits for a check to pass while the component's process lives (or, if it was not ours, at all). */
function until<T>(c: Component, check: () => Promise<T>, external: boolean): Promise<T> {
  return waitUntil(check, {
    timeoutMs: START_TIMEOUT_MS,
    intervalMs: 300,
    what: `${c.name} to answer`,
    abort: () => (c.pid() || external ? undefined : `${c.name} exited`),
  });
}

/** Brings one component to healthy; prints its log tail and throws if it cannot. */
export async function upOne(c: Component): Promise<ComponentStatus> {
  let health = await healthy(c);
  if (health) {
    await c.provision();
    return { name: c.name, up: true, health, pid: c.pid() };
  }
  await c.install();
  await c.reclaim?.();
  // A server that answers but is not provisioned yet (ready() passes) is not started again.
  const answers = c.ready
    ? await c.ready().then(
        () => true,
        () => false,
      )
    : false;
  if (!c.pid() && !answers) {
    log(`starting ${c.name}`);
    await c.start();
  }
  try {
    if (c.ready) {
      await until(c, () => c.ready!().then(() => true), answers);
      await c.provision();
      health = await until(c, () => c.health(), answers);
    } else {
      health = await until(c, () => c.health(), answers);
      await c.provision();
    }
  } catch (err) {
    throw new Error(`${c.name} failed to start: ${(err as Error).message}\n--- last lines of ${c.logFile}\n${tail(c.logFile, 40)}`);
  }
  return { name: c.name, up: true, health, pid: c.pid() };
}

/** A tool's row: the version the built binary reports, or `not built`. */
async function toolStatus(cfg: StackConfig, tool: GoTool): Promise<ComponentStatus> {
  try {
    const version = await goToolVersion(cfg, tool);
    if (!version) return { name: tool, tool: true, up: false, error: 'not built (npm run stack -- up builds it)' };
    return { name: tool, tool: true, up: true, health: { version, endpoint: goToolPath(cfg, tool) } };
  } catch (err) {
    return { name: tool, tool: true, up: false, error: (err as Error).message };
  }
}

/** Builds a tool once (cached by version); a cold build runs alongside the servers' start. */
async function buildTool(cfg: StackConfig, tool: GoTool): Promise<ComponentStatus> {
  try {
    await installGoTool(cfg, tool);
  } catch (err) {
    throw new Error(`${tool} failed to build: ${(err as Error).message}`);
  }
  const row = await toolStatus(cfg, tool);
  if (!row.up) throw new Error(`${tool} was built but does not run: ${row.error}`);
  return row;
}

/**
 * Brings each component up once, in parallel except where one names others in `after`: it waits
 * for them to be up (and fails if one of them fails). One promise per component, in list order.
 */
export function upInOrder(
  list: readonly Component[],
  bringUp: (c: Component) => Promise<ComponentStatus> = upOne,
): Promise<ComponentStatus>[] {
  const started = new Map<Component, Promise<ComponentStatus>>();
  const upAfterDependencies = (c: Component): Promise<ComponentStatus> => {
    let p = started.get(c);
    if (!p) {
      p = Promise.all((c.after ?? []).map(upAfterDependencies)).then(
        () => bringUp(c),
        (err: unknown) => {
          throw new Error(`${c.name} not started: ${(err as Error).message.split('\n')[0]}`);
        },
      );
      started.set(c, p);
    }
    return p;
  };
  return list.map(upAfterDependencies);
}

/** Idempotent: a running, healthy component and a built tool are left alone. Rejects if any fails. */
export async function up(cfg: StackConfig, opts: StackOptions = {}): Promise<ComponentStatus[]> {
  fs.mkdirSync(cfg.stack.dir, { recursive: true });
  const results = await Promise.allSettled([...upInOrder(components(cfg, opts)), ...TOOLS.map((tool) => buildTool(cfg, tool))]);
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failures.length > 0) {
    throw new Error(failures.map((f) => (f.reason as Error).message).join('\n\n'));
  }
  return results.map((r) => (r as PromiseFulfilledResult<ComponentStatus>).value);
}

/**
 * Only Temporal (and its UI), in the mode cfg selects: how a benchmark runs a second Temporal
 * of the other mode on other ports next to the stack. Rejects if any fails.
 */
export async function upTemporal(cfg: StackConfig): Promise<ComponentStatus[]> {
  fs.mkdirSync(cfg.stack.dir, { recursive: true });
  return Promise.all(upInOrder(temporalComponents(cfg)));
}

/** Stops what upTemporal started. */
export async function downTemporal(cfg: StackConfig): Promise<void> {
  for (const c of temporalComponents(cfg).reverse()) await c.stop();
}

/** The pid of the Temporal server this stack runs in cfg's mode, if it runs. */
export function temporalServerPid(cfg: StackConfig): number | undefined {
  return temporalComponents(cfg)[0]!.pid();
}

/** The servers, the tools, then the app processes `npm start` recorded (one `not running` row when none). */
export async function status(cfg: StackConfig): Promise<ComponentStatus[]> {
  const apps = appRows(cfg);
  const rows = await Promise.all([
    ...components(cfg).map(async (c): Promise<ComponentStatus> => {
      try {
        const health = await c.health();
        return { name: c.name, up: true, health, pid: c.pid() };
      } catch (err) {
        return { name: c.name, up: false, pid: c.pid(), error: (err as Error).message };
      }
    }),
    ...TOOLS.map((tool) => toolStatus(cfg, tool)),
  ]);
  return [...rows, ...(await apps)];
}

async function appRows(cfg: StackConfig): Promise<ComponentStatus[]> {
  try {
    return await appStatus(readAppState(cfg.stack.dir));
  } catch (err) {
    return [{ name: 'app', up: false, error: (err as Error).message }];
  }
}

/** True when every server answers (a missing tool stops nothing from running). */
export function serversUp(rows: ComponentStatus[]): boolean {
  return rows.every((r) => r.up || r.tool);
}

/** Stops what this stack started, last-started first. Idempotent. */
export async function down(cfg: StackConfig): Promise<void> {
  // Either Temporal mode's processes, whichever runs: switching modes is `down`, then `up`.
  const all: Component[] = [
    new Postgres(cfg),
    ...temporalComponents(cfg, 'sqlite'),
    ...temporalComponents(cfg, 'postgres'),
    new KafkaBroker(cfg),
    new Prometheus(cfg),
    new IdentityProvider(cfg),
    ...tracingComponents(cfg),
  ];
  for (const c of all.reverse()) {
    if (!c.pid()) continue;
    log(`stopping ${c.name}`);
    await c.stop();
  }
}

/** The tail of the named component's log, an app process's (by name or role), or of every server's. */
export function logs(cfg: StackConfig, name: string | undefined, lines: number): string {
  const app = name ? appLogFiles(cfg, name) : [];
  if (app.length > 0) return app.map(([n, file]) => `=== ${n}: ${file}\n${tail(file, lines)}`).join('\n\n');
  const chosen = components(cfg, {
    withPrometheus: name === 'prometheus',
    withIdentity: name === 'identity',
    withTracing: name === 'zipkin' || name === 'jaeger',
  }).filter((c) => !name || c.name === name);
  if (chosen.length === 0) throw new Error(`no component or app process named "${name}"`);
  return chosen.map((c) => `=== ${c.name}: ${c.logFile}\n${tail(c.logFile, lines)}`).join('\n\n');
}

/**
 * An app process's log files by name: those `npm start` recorded, else (it has stopped; the logs
 * stay) the one it writes for a role of that name.
 */
function appLogFiles(cfg: StackConfig, name: string): [string, string][] {
  let recorded: AppProcess[] = [];
  try {
    recorded = appProcessesNamed(readAppState(cfg.stack.dir), name);
  } catch {
    // an unreadable state file: fall back to the log directory
  }
  if (recorded.length > 0) return recorded.map((p) => [p.name, p.logFile]);
  return name in ROLES ? [[name, roleLogFile(cfg.stack.dir, name)]] : [];
}

export function formatStatus(rows: ComponentStatus[]): string {
  // App process names (`consumer-notifications`) are longer than the servers'.
  const width = Math.max(11, ...rows.map((r) => r.name.length));
  return rows
    .map((r) => {
      const state = r.tool ? (r.up ? 'ok  ' : '--  ') : r.up ? 'up  ' : 'down';
      const version = r.health?.version ?? r.error ?? '';
      const where = r.health ? `${r.health.endpoint}${r.health.extra ? `  ${r.health.extra}` : ''}` : '';
      const pid = r.pid ? `pid ${r.pid}` : r.up && !r.tool ? 'external' : '';
      const second = [where, pid].filter(Boolean).join('  ');
      return `${r.name.padEnd(width)} ${state}  ${version}\n${' '.repeat(width + 7)}${second}`;
    })
    .join('\n');
}
