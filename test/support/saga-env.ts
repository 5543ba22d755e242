/**
 * A saga environment for integration tests: the three real workers in this process, on task
 * queues unique to the test file, against the real test database and Temporal server, with
 * a switchable fault plan.
 */
import crypto from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { createInventoryWorker, createOrdersWorker, createPaymentsWorker } from '../../app/workers';
import { loadConfig, type Config } from '../../lib/config';
import { closeDb, createDb, type Db, type DbOptions } from '../../lib/db';
import { FaultPlan } from '../../lib/faults';
import { createTemporalClient, createWorkerConnection } from '../../lib/temporal';

export interface SagaEnv {
  cfg: Config;
  db: Db;
  client: Client;
  faults: FaultPlan;
  stop(): Promise<void>;
}

export async function startSagaEnv(env: Record<string, string> = {}, dbOptions: DbOptions = { poolSize: 20 }): Promise<SagaEnv> {
  const cfg = loadConfig({
    ...process.env,
    TEMPORAL_TASK_QUEUE_PREFIX: `test-${crypto.randomUUID().slice(0, 8)}-`,
    ...env,
  });
  const db = createDb(cfg.database.url, dbOptions);
  const client = await createTemporalClient(cfg);
  const connection: NativeConnection = await createWorkerConnection(cfg);
  const faults = new FaultPlan();
  const deps = { cfg, db, connection, faults };
  const workers: Worker[] = await Promise.all([createOrdersWorker(deps), createPaymentsWorker(deps), createInventoryWorker(deps)]);
  const running = workers.map((w) => w.run());
  return {
    cfg,
    db,
    client,
    faults,
    async stop() {
      workers.forEach((w) => w.shutdown());
      await Promise.all(running);
      await connection.close();
      await client.connection.close();
      await closeDb(db);
    },
  };
}
