/**
 * A second Temporal, of either persistence mode, on free ports of its own next to the stack:
 * how the smoke test proves the mode the stack does not run, and how the mode benchmark
 * compares both under the same load.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadStackConfig, type StackConfig } from './config';
import { portFree } from './proc';
import { downTemporal, upTemporal } from './stack';

/** Ports a side server binds, as offsets from its frontend port (internal services and membership: temporal-server.ts). */
const PORT_OFFSETS = { http: 10, metrics: 11, ui: 20 } as const;
const BLOCK = [0, 1, 2, 6, PORT_OFFSETS.http, PORT_OFFSETS.metrics, PORT_OFFSETS.ui, -300, -299, -298, -294];

async function freeFrontendPort(host: string): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 21_000 + Math.floor(Math.random() * 8000);
    const free = await Promise.all(BLOCK.map((o) => portFree(host, port + o)));
    if (free.every(Boolean)) return port;
  }
  throw new Error('no free block of ports for a second Temporal server');
}

export interface SideTemporal {
  cfg: StackConfig;
  stop(): Promise<void>;
}

/**
 * Starts a Temporal of `persistence` mode on free ports. `name` keeps its PostgreSQL
 * databases apart from the stack's (`order_saga_<name>_temporal...`); they are kept between
 * runs, like the stack's. Needs the stack's PostgreSQL up for the postgres mode.
 */
export async function startSideTemporal(
  base: StackConfig,
  persistence: StackConfig['stack']['temporal']['persistence'],
  name: string,
): Promise<SideTemporal> {
  const port = await freeFrontendPort(base.temporal.host);
  const url = new URL(base.database.url);
  url.pathname = `/${base.database.database.replace(/_(test|bench)$/, '')}_${name}`;
  const cfg = loadStackConfig({
    ...process.env,
    TEMPORAL_PERSISTENCE: persistence,
    TEMPORAL_ADDRESS: `${base.temporal.host}:${port}`,
    TEMPORAL_HTTP_PORT: String(port + PORT_OFFSETS.http),
    TEMPORAL_METRICS_PORT: String(port + PORT_OFFSETS.metrics),
    TEMPORAL_UI_PORT: String(port + PORT_OFFSETS.ui),
    DATABASE_URL: url.toString(),
    STACK_DIR: fs.mkdtempSync(path.join(os.tmpdir(), `order-saga-${name}-temporal-`)),
  });
  const stop = async () => {
    await downTemporal(cfg);
    fs.rmSync(cfg.stack.dir, { recursive: true, force: true });
  };
  try {
    await upTemporal(cfg);
  } catch (err) {
    await stop();
    throw err;
  }
  return { cfg, stop };
}
