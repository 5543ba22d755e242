/**
 * Restarts of the real servers, through the stack's own components: Kafka (SIGTERM, then
 * start), PostgreSQL (immediate shutdown: a crash, WAL recovery at start) and the Temporal
 * dev server (SIGTERM, then start on its SQLite file). Each measures how long the server was
 * away; the harness then measures how long the system took to confirm an order again.
 */
import type { StackConfig } from '../stack/config';
import type { Component } from '../stack/component';
import { KafkaBroker } from '../stack/kafka';
import { Postgres } from '../stack/postgres';
import { waitUntil } from '../stack/proc';
import { Temporal } from '../stack/temporal';

export const SERVER_KINDS = ['kafka', 'postgres', 'temporal'] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];

function component(cfg: StackConfig, kind: ServerKind): Component {
  if (kind === 'kafka') return new KafkaBroker(cfg);
  if (kind === 'postgres') return new Postgres(cfg);
  return new Temporal(cfg);
}

/** Stops the server, keeps it down `downMs`, starts it and waits until it answers. Returns ms from stop to healthy. */
export async function restartServer(cfg: StackConfig, kind: ServerKind, downMs: number): Promise<number> {
  const c = component(cfg, kind);
  if (!c.pid()) throw new Error(`${kind} was not started by this stack (${cfg.stack.dir}): cannot restart it`);
  await c.install();
  const stopped = Date.now();
  if (c instanceof Postgres) await c.stop('immediate');
  else await c.stop();
  await new Promise((r) => setTimeout(r, downMs));
  await c.start();
  await waitUntil(() => c.health(), { timeoutMs: 180_000, intervalMs: 300, what: `${kind} to answer again` });
  return Date.now() - stopped;
}

/** Starts the server again if a failed run left it down (the harness's cleanup). */
export async function ensureServerUp(cfg: StackConfig, kind: ServerKind): Promise<void> {
  const c = component(cfg, kind);
  try {
    await c.health();
    return;
  } catch {
    // down: start it below
  }
  await c.install();
  if (!c.pid()) await c.start();
  await waitUntil(() => c.health(), { timeoutMs: 180_000, intervalMs: 300, what: `${kind} to answer again` });
}
