/** The local stack as a whole: bring every real server up, down, or report on it. */
import fs from 'node:fs';
import type { StackConfig } from './config';
import type { Component, Health } from './component';
import { KafkaBroker } from './kafka';
import { Postgres } from './postgres';
import { log, tail, waitUntil } from './proc';
import { Prometheus } from './prometheus';
import { Temporal } from './temporal';

export interface StackOptions {
  /** Also run Prometheus (optional; status, logs and down include it whenever it runs). */
  withPrometheus?: boolean;
}

export function components(cfg: StackConfig, opts: StackOptions = {}): Component[] {
  const list: Component[] = [new Postgres(cfg), new Temporal(cfg), new KafkaBroker(cfg)];
  const prometheus = new Prometheus(cfg);
  if (opts.withPrometheus || prometheus.pid()) list.push(prometheus);
  return list;
}

export interface ComponentStatus {
  name: string;
  up: boolean;
  health?: Health;
  pid?: number;
  error?: string;
}

const START_TIMEOUT_MS = 180_000;

async function healthy(c: Component): Promise<Health | undefined> {
  try {
    return await c.health();
  } catch {
    return undefined;
  }
}

/** Brings one component to healthy; prints its log tail and throws if it cannot. */
async function upOne(c: Component): Promise<ComponentStatus> {
  let health = await healthy(c);
  if (!health) {
    await c.install();
    if (!c.pid()) {
      log(`starting ${c.name}`);
      await c.start();
    }
    try {
      health = await waitUntil(() => c.health(), {
        timeoutMs: START_TIMEOUT_MS,
        intervalMs: 300,
        what: `${c.name} to answer`,
        abort: () => (c.pid() ? undefined : `${c.name} exited`),
      });
    } catch (err) {
      throw new Error(
        `${c.name} failed to start: ${(err as Error).message}\n--- last lines of ${c.logFile}\n${tail(c.logFile, 40)}`,
      );
    }
  }
  await c.provision();
  return { name: c.name, up: true, health, pid: c.pid() };
}

/** Idempotent: a running, healthy component is left alone. Rejects if any fails. */
export async function up(cfg: StackConfig, opts: StackOptions = {}): Promise<ComponentStatus[]> {
  fs.mkdirSync(cfg.stack.dir, { recursive: true });
  const results = await Promise.allSettled(components(cfg, opts).map(upOne));
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failures.length > 0) {
    throw new Error(failures.map((f) => (f.reason as Error).message).join('\n\n'));
  }
  return results.map((r) => (r as PromiseFulfilledResult<ComponentStatus>).value);
}

export async function status(cfg: StackConfig): Promise<ComponentStatus[]> {
  return Promise.all(
    components(cfg).map(async (c) => {
      try {
        const health = await c.health();
        return { name: c.name, up: true, health, pid: c.pid() };
      } catch (err) {
        return { name: c.name, up: false, pid: c.pid(), error: (err as Error).message };
      }
    }),
  );
}

/** Stops what this stack started, last-started first. Idempotent. */
export async function down(cfg: StackConfig): Promise<void> {
  for (const c of components(cfg).reverse()) {
    if (!c.pid()) continue;
    log(`stopping ${c.name}`);
    await c.stop();
  }
}

export function logs(cfg: StackConfig, name: string | undefined, lines: number): string {
  const chosen = components(cfg, { withPrometheus: name === 'prometheus' }).filter((c) => !name || c.name === name);
  if (chosen.length === 0) throw new Error(`no component named "${name}"`);
  return chosen.map((c) => `=== ${c.name}: ${c.logFile}\n${tail(c.logFile, lines)}`).join('\n\n');
}

export function formatStatus(rows: ComponentStatus[]): string {
  return rows
    .map((r) => {
      const state = r.up ? 'up  ' : 'down';
      const version = r.health?.version ?? r.error ?? '';
      const where = r.health ? `${r.health.endpoint}${r.health.extra ? `  ${r.health.extra}` : ''}` : '';
      const pid = r.pid ? `pid ${r.pid}` : r.up ? 'external' : '';
      return `${r.name.padEnd(9)} ${state}  ${version}\n${' '.repeat(16)}${where}${where ? '  ' : ''}${pid}`;
    })
    .join('\n');
}
