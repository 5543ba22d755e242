/**
 * The local stack's own settings: where it keeps data and caches, and the ports and sizes of
 * the servers it runs beside the app's (Temporal's UI, HTTP and metrics ports, the Kafka
 * controller, Prometheus). Only the stack manager (scripts/stack/*) and `npm start` read
 * them; no app process does. The stack serves the app's addresses, so it loads the app
 * configuration too, and its derived defaults follow the app's TEMPORAL_ADDRESS and
 * KAFKA_BROKERS.
 */
import os from 'node:os';
import path from 'node:path';
import { APP_VARIABLES, loadConfig, repoRoot, type Config } from '../../lib/config';
import { bool, declareVariables, derived, filePath, integer, oneOf, port, secret, type Env } from '../../lib/env-vars';

const firstBrokerPort = (env: Env) => Number(APP_VARIABLES.readOne(env, 'KAFKA_BROKERS')[0]!.split(':').pop());
const temporalPort = (env: Env) => APP_VARIABLES.readOne(env, 'TEMPORAL_ADDRESS').port;
const jaegerQueryPort = (env: Env) => port().schema.parse(env.JAEGER_QUERY_PORT?.trim() || '16686');
const cacheHome = (env: Env) => env.XDG_CACHE_HOME?.trim() || path.join(os.homedir(), '.cache');

/** Every variable of the local stack, in the order docs/configuration.md lists them. */
export const STACK_VARIABLES = declareVariables('stack', {
  STACK_DIR: { parser: filePath(repoRoot), default: '.stack', doc: 'data and logs of the local stack (git-ignored)' },
  STACK_SECURE: {
    parser: bool(),
    default: 'false',
    doc: 'the secure stack (`npm run stack -- up --secure` sets it): TLS and authentication on every server, docs/security.md; a stack directory whose CA exists is secure whatever this says',
  },
  POSTGRES_SUPERUSER_PASSWORD: {
    parser: secret(1),
    fromFile: true,
    doc: "the secure stack's PostgreSQL superuser (`postgres`) password, for provisioning roles and databases; the developer stack's superuser needs none (trust)",
  },
  ORDER_SAGA_CACHE_DIR: {
    parser: filePath(),
    default: derived('`$XDG_CACHE_HOME/order-saga` (`~/.cache/order-saga`)', (env) => path.join(cacheHome(env), 'order-saga')),
    doc: 'downloads and builds, shared by every clone and keyed by version',
  },
  TEMPORAL_PERSISTENCE: {
    parser: oneOf(['sqlite', 'postgres']),
    default: 'sqlite',
    doc: "Temporal's store: the dev server on SQLite, or the full server 1.29.1 on the stack's PostgreSQL (docs/benchmarks.md)",
  },
  TEMPORAL_NAMESPACE_RETENTION_DAYS: {
    parser: integer(1, 3650),
    default: '7',
    doc: "how long closed workflows stay in Temporal (the namespace's retention, set at every `stack up`, either mode); 7 days, like Kafka's and the outbox's",
  },
  TEMPORAL_UI_PORT: { parser: port(), default: '8233', doc: "Temporal's Web UI (the read-only `temporal-ui` process, either mode)" },
  TEMPORAL_HTTP_PORT: {
    parser: port(),
    default: derived('`TEMPORAL_ADDRESS` port + 10', (env) => String(temporalPort(env) + 10)),
    doc: "Temporal's HTTP API",
  },
  TEMPORAL_METRICS_PORT: {
    parser: port(),
    default: derived('`TEMPORAL_ADDRESS` port + 11', (env) => String(temporalPort(env) + 11)),
    doc: "Temporal's Prometheus metrics",
  },
  KAFKA_CONTROLLER_PORT: {
    parser: port(),
    default: derived('first `KAFKA_BROKERS` port + 1', (env) => String(firstBrokerPort(env) + 1)),
    doc: 'KRaft controller listener of the single-node broker',
  },
  KAFKA_HEAP_MB: { parser: integer(256, 16_384), default: '768', doc: "broker's JVM heap" },
  PROMETHEUS_PORT: { parser: port(), default: '9090', doc: 'optional Prometheus (`npm run stack -- up --with-prometheus`)' },
  IDENTITY_PORT: {
    parser: port(),
    default: '4460',
    doc: 'optional authorization server, oidc-provider (`npm run stack -- up --with-identity`; the tests start it); its issuer is `http://127.0.0.1:<port>`',
  },
  ZIPKIN_PORT: {
    parser: port(),
    default: '9411',
    doc: 'optional trace backend with its UI, Zipkin (`npm run stack -- up --with-tracing`): UI at `/zipkin/`, spans at `/api/v2/spans`',
  },
  ZIPKIN_HEAP_MB: { parser: integer(128, 16_384), default: '384', doc: "Zipkin's JVM heap (spans are kept in memory)" },
  JAEGER_OTLP_HTTP_PORT: { parser: port(), default: '4318', doc: 'optional OTLP receiver, Jaeger (`--with-tracing`): OTLP/HTTP' },
  JAEGER_OTLP_GRPC_PORT: { parser: port(), default: '4317', doc: "Jaeger's OTLP/gRPC receiver" },
  JAEGER_QUERY_PORT: { parser: port(), default: '16686', doc: "Jaeger's query API (`/api/traces/<id>`) and UI" },
  JAEGER_QUERY_GRPC_PORT: {
    parser: port(),
    default: derived('`JAEGER_QUERY_PORT` - 1', (env) => String(jaegerQueryPort(env) - 1)),
    doc: "Jaeger's query gRPC API",
  },
});

/** Loads the app configuration and the stack's own settings under `stack`. Throws ConfigError. */
export function loadStackConfig(env: Env = process.env) {
  const app = loadConfig(env);
  const v = STACK_VARIABLES.read(env);
  return {
    ...app,
    stack: {
      dir: v.STACK_DIR,
      secure: v.STACK_SECURE,
      postgresSuperuserPassword: v.POSTGRES_SUPERUSER_PASSWORD,
      cacheDir: v.ORDER_SAGA_CACHE_DIR,
      temporal: {
        persistence: v.TEMPORAL_PERSISTENCE,
        namespaceRetentionDays: v.TEMPORAL_NAMESPACE_RETENTION_DAYS,
        uiPort: v.TEMPORAL_UI_PORT,
        httpPort: v.TEMPORAL_HTTP_PORT,
        metricsPort: v.TEMPORAL_METRICS_PORT,
      },
      kafka: { controllerPort: v.KAFKA_CONTROLLER_PORT, heapMb: v.KAFKA_HEAP_MB },
      prometheus: { port: v.PROMETHEUS_PORT },
      identity: { port: v.IDENTITY_PORT },
      zipkin: { port: v.ZIPKIN_PORT, heapMb: v.ZIPKIN_HEAP_MB },
      jaeger: {
        otlpHttpPort: v.JAEGER_OTLP_HTTP_PORT,
        otlpGrpcPort: v.JAEGER_OTLP_GRPC_PORT,
        queryPort: v.JAEGER_QUERY_PORT,
        queryGrpcPort: v.JAEGER_QUERY_GRPC_PORT,
      },
    },
  } satisfies Config & { stack: unknown };
}

export type StackConfig = ReturnType<typeof loadStackConfig>;
