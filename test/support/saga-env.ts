/**
 * A saga environment for integration tests: the three real workers in this process, on task
 * queues unique to the test file, against the real test database and Temporal server, with
 * a switchable fault plan.
 */
import crypto from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { appWorkersSetup, startSagaWorkers } from '../../app/workers';
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
  const workers = await startSagaWorkers(await appWorkersSetup({ cfg, db, connection, faults }));
  return {
    cfg,
    db,
    client,
    faults,
    async stop() {
      await workers.stop();
      await connection.close();
      await client.connection.close();
      await closeDb(db);
    },
  };
}

/**
 * The hooks every saga test file shares: one environment for the file (two attempts per
 * compensation step, so a failing refund parks the saga in seconds), its fault plan cleared
 * after each test. The object is filled in beforeAll; use it inside tests and hooks only.
 */
export function useSagaEnv(env: Record<string, string> = { SAGA_COMPENSATION_MAX_ATTEMPTS: '2' }): SagaEnv {
  const shared = {} as SagaEnv;
  let started: SagaEnv | undefined;
  beforeAll(async () => {
    started = await startSagaEnv(env);
    Object.assign(shared, started);
  });
  afterAll(async () => {
    await started?.stop();
  });
  afterEach(() => started?.faults.clear());
  return shared;
}
