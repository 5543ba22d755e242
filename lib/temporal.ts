/** Temporal connections from configuration. */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Config } from './config';

export async function createTemporalClient(cfg: Config): Promise<Client> {
  const connection = await Connection.connect({ address: cfg.temporal.address });
  return new Client({ connection, namespace: cfg.temporal.namespace });
}

export function createWorkerConnection(cfg: Config): Promise<NativeConnection> {
  return NativeConnection.connect({ address: cfg.temporal.address });
}
