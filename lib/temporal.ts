/** Temporal connections from configuration. */
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { NativeConnection } from '@temporalio/worker';
import type { Config } from './config';

export interface ClientOptions {
  /** Trace workflow starts and signals (and carry the trace into the workflow's headers). */
  tracing?: boolean;
}

/**
 * Address and TLS of every connection to the frontend (client and worker take the same
 * shape): with TEMPORAL_TLS_CA and/or a client certificate, TLS with the server's
 * certificate checked against that CA and the client's presented (mTLS).
 */
export function temporalConnectionOptions(cfg: Pick<Config, 'temporal'>): Pick<ConnectionOptions, 'address' | 'tls'> {
  const tls = cfg.temporal.tls;
  if (!tls) return { address: cfg.temporal.address };
  return {
    address: cfg.temporal.address,
    tls: {
      ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
      ...(tls.ca ? { serverRootCACertificate: Buffer.from(tls.ca) } : {}),
      ...(tls.clientCert ? { clientCertPair: { crt: Buffer.from(tls.clientCert.cert), key: Buffer.from(tls.clientCert.key) } } : {}),
    },
  };
}

export async function createTemporalClient(cfg: Config, opts: ClientOptions = {}): Promise<Client> {
  const connection = await Connection.connect(temporalConnectionOptions(cfg));
  return new Client({
    connection,
    namespace: cfg.temporal.namespace,
    ...(opts.tracing ? { interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } } : {}),
  });
}

export function createWorkerConnection(cfg: Config): Promise<NativeConnection> {
  return NativeConnection.connect(temporalConnectionOptions(cfg));
}
