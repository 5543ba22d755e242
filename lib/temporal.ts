/** Temporal connections from configuration. */
import { Client, Connection } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { NativeConnection } from '@temporalio/worker';
import type { Config } from './config';

export interface ClientOptions {
  /** Trace workflow starts and signals (and carry the trace into the workflow's headers). */
  tracing?: boolean;
}

export async function createTemporalClient(cfg: Config, opts: ClientOptions = {}): Promise<Client> {
  const connection = await Connection.connect({ address: cfg.temporal.address });
  return new Client({
    connection,
    namespace: cfg.temporal.namespace,
    ...(opts.tracing ? { interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } } : {}),
  });
}

export function createWorkerConnection(cfg: Config): Promise<NativeConnection> {
  return NativeConnection.connect({ address: cfg.temporal.address });
}
