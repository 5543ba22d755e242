/**
 * The short chaos run (docs/chaos.md): the harness of `npm run chaos` with a small
 * workload, two instances of every app process, SIGKILLs of every process type and one
 * Kafka restart, then the whole outside checker. The Kafka broker is one of this file's own
 * (test/support/kafka-broker.ts), so restarting it disturbs no other test file; the
 * shared PostgreSQL and Temporal are not restarted here (other files use them at the same
 * time): `npm run chaos` does that against a stack of its own. The run has its own database,
 * topics, consumer groups and task queues.
 */
import net from 'node:net';
import path from 'node:path';
import { runChaos } from '../../scripts/chaos/harness';
import { formatResult } from '../../scripts/chaos/report';
import { testConfig } from '../setup/test-config';
import { startOwnBroker, type OwnBroker } from '../support/kafka-broker';

const SEED = 20261201;

let broker: OwnBroker | undefined;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A base port whose `offsets` are all free (the fleet's API and metrics ports). */
async function freeBase(lo: number, offsets: number[]): Promise<number> {
  for (;;) {
    const base = lo + Math.floor(Math.random() * 15_000);
    if ((await Promise.all(offsets.map((o) => portFree(base + o)))).every(Boolean)) return base;
  }
}

beforeAll(async () => {
  broker = await startOwnBroker('chaos');
}, 180_000);

afterAll(async () => {
  await broker?.close();
}, 60_000);

test('a short chaos run: every process type SIGKILLed, Kafka restarted, and every invariant holds from the outside', async () => {
  const base = testConfig();
  const result = await runChaos({
    orders: 60,
    // Half a minute, with the kills of a one-minute run (one per process type plus eight):
    // the same orders and faults, closer together; the workload mostly waits between them.
    minutes: 0.5,
    kills: 16,
    seed: SEED,
    servers: ['kafka'],
    env: { ...broker!.env, DATABASE_URL: base.database.url, TEMPORAL_TASK_QUEUE_PREFIX: 'test-chaos' },
    apiPort: await freeBase(20_000, [0, 1]),
    metricsPortBase: await freeBase(40_000, [1, 2, 3, 4, 5, 6, 7, 8, 21, 22, 23, 24, 25, 26, 27, 28]),
    logRoot: path.join(base.stack.dir, 'test-logs', 'chaos'),
    quiescenceTimeoutMs: 180_000,
    log: () => undefined,
  });
  const report = formatResult(result);
  process.stderr.write(`${report}\n`);

  const killed = new Set(result.faults.flatMap((f) => (f.fault.kind === 'kill' && !f.skipped ? [f.fault.role] : [])));
  expect([...killed].sort()).toEqual([
    'api',
    'consumer-audit',
    'consumer-notifications',
    'reconciler',
    'relay',
    'worker-inventory',
    'worker-orders',
    'worker-payments',
  ]);
  expect(result.faults.filter((f) => f.fault.kind === 'restart' && f.recoveryMs !== undefined)).toHaveLength(1);
  expect(result.checks.map((c) => ({ check: c.name, violations: c.violations }))).toEqual(
    result.checks.map((c) => ({ check: c.name, violations: [] })),
  );
  expect(result.ok).toBe(true);
}, 600_000);
