/** Temporal connections from configuration. */
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor, type ConnectionOptions } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { NativeConnection } from '@temporalio/worker';
import type { Config } from './config';

export interface ClientOptions {
  /** Trace workflow starts and signals (and carry the trace into the workflow's headers). */
  tracing?: boolean;
}

/** gRPC status RESOURCE_EXHAUSTED. */
const RESOURCE_EXHAUSTED = 8;

type GrpcInterceptor = NonNullable<ConnectionOptions['interceptors']>[number];

/**
 * The SDK's retries of every call, except that a workflow start Temporal refuses as
 * ResourceExhausted is not retried: the SDK would back off 1 s and more (under the API's 2 s
 * start deadline the refusal then surfaces as a deadline), holding the request and adding load.
 * Refused at once, the API closes its door for Retry-After seconds and the sweeper starts the
 * order later (services/orders/admission.ts).
 */
export function startShedsLoad(): GrpcInterceptor {
  const retry = defaultGrpcRetryOptions();
  const everything = makeGrpcRetryInterceptor(retry);
  const starts = makeGrpcRetryInterceptor({
    ...retry,
    retryableDecider: (attempt, status) => status.code !== RESOURCE_EXHAUSTED && retry.retryableDecider(attempt, status),
  });
  return (options, nextCall) =>
    (options.method_definition.path.endsWith('/StartWorkflowExecution') ? starts : everything)(options, nextCall);
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
  const connection = await Connection.connect({ ...temporalConnectionOptions(cfg), interceptors: [startShedsLoad()] });
  return new Client({
    connection,
    namespace: cfg.temporal.namespace,
    ...(opts.tracing ? { interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } } : {}),
  });
}

export function createWorkerConnection(cfg: Config): Promise<NativeConnection> {
  return NativeConnection.connect(temporalConnectionOptions(cfg));
}
