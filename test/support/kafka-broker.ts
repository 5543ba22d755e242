/**
 * A real Kafka broker for one test file alone (the stack's KafkaBroker component on free ports
 * and a data directory of its own), for tests that stop or restart the broker: doing that to
 * the shared broker would break the files running beside them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadStackConfig } from '../../scripts/stack/config';
import { KafkaBroker } from '../../scripts/stack/kafka';
import { freePort } from './processes';
import { eventually } from './wait';

export interface OwnBroker {
  /** Environment that points the stack config and the app at this broker (KAFKA_BROKERS, STACK_DIR, ...). */
  env: Record<string, string>;
  /** Starts (again) and waits until the broker answers. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Whether the broker process is alive. */
  running(): boolean;
  /** Stops the broker and removes its data directory. */
  close(): Promise<void>;
}

/** Installs and starts a broker of the file's own; `label` names its data directory. */
export async function startOwnBroker(label: string): Promise<OwnBroker> {
  const stackDir = fs.mkdtempSync(path.join(os.tmpdir(), `order-saga-${label}-`));
  const env = {
    KAFKA_BROKERS: `127.0.0.1:${await freePort()}`,
    KAFKA_CONTROLLER_PORT: String(await freePort()),
    KAFKA_HEAP_MB: '384',
    STACK_DIR: stackDir,
  };
  const broker = new KafkaBroker(loadStackConfig({ ...process.env, ...env }));
  const own: OwnBroker = {
    env,
    async start() {
      await broker.start();
      await eventually(() => broker.health(), { timeoutMs: 120_000, intervalMs: 300, what: `the ${label} test broker to answer` });
    },
    stop: () => broker.stop(),
    running: () => broker.pid() !== undefined,
    async close() {
      await broker.stop();
      fs.rmSync(stackDir, { recursive: true, force: true });
    },
  };
  await broker.install();
  await own.start();
  return own;
}
