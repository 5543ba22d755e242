/**
 * The one configuration module. Every port, URL, topic name and tuning knob of every
 * process (and of the local stack manager) is read here from the environment, with
 * defaults, and validated once at start-up. A bad value stops the process with an error
 * that names the variable.
 */
import os from 'node:os';
import path from 'node:path';

/** Thrown when an environment variable holds a value that cannot be used. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** Repository root (this file lives in <root>/lib). */
export const repoRoot = path.resolve(__dirname, '..');

function str(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  return raw.trim();
}

function optional(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw ? raw : undefined;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(name, `expected an integer, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `expected ${min}..${max}, got ${value}`);
  return value;
}

function port(env: Env, name: string, fallback: number): number {
  return int(env, name, fallback, 1, 65535);
}

function hostPort(env: Env, name: string, fallback: string): { host: string; port: number } {
  const value = str(env, name, fallback);
  const match = /^([A-Za-z0-9.\-_]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(value);
  if (!match) throw new ConfigError(name, `expected host:port, got "${value}"`);
  const p = Number(match[2]);
  if (p < 1 || p > 65535) throw new ConfigError(name, `port out of range in "${value}"`);
  return { host: match[1]!, port: p };
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const value = str(env, name, fallback);
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${value}"`);
  }
  return value as T;
}

function topicName(env: Env, name: string, fallback: string): string {
  const value = str(env, name, fallback);
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(value)) {
    throw new ConfigError(name, `not a valid Kafka topic name: "${value}"`);
  }
  return value;
}

function databaseUrl(env: Env, name: string, fallback: string) {
  const value = str(env, name, fallback);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(name, `not a URL: "${value}"`);
  }
  if (url.protocol !== 'postgresql:' && url.protocol !== 'postgres:') {
    throw new ConfigError(name, `expected a postgresql:// URL, got protocol "${url.protocol}"`);
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!database) throw new ConfigError(name, 'the URL names no database');
  if (!url.username) throw new ConfigError(name, 'the URL names no user');
  return {
    url: value,
    host: url.hostname,
    port: url.port ? Number(url.port) : 5432,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database,
  };
}

/** A name that may appear in a Kafka group id or a Prometheus label. */
function name(env: Env, variable: string, fallback: string): string {
  const value = str(env, variable, fallback);
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(value)) throw new ConfigError(variable, `expected letters, digits, '.', '_' or '-', got "${value}"`);
  return value;
}

const HOUR_MS = 3600_000;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Loads and validates the whole configuration. Throws ConfigError on the first bad value. */
export function loadConfig(env: Env = process.env) {
  const temporal = hostPort(env, 'TEMPORAL_ADDRESS', '127.0.0.1:7233');
  const brokers = str(env, 'KAFKA_BROKERS', '127.0.0.1:9092')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  if (brokers.length === 0) throw new ConfigError('KAFKA_BROKERS', 'no broker given');
  brokers.forEach((b) => hostPort({ KAFKA_BROKERS: b }, 'KAFKA_BROKERS', b));
  const firstBroker = hostPort({ KAFKA_BROKERS: brokers[0] }, 'KAFKA_BROKERS', brokers[0]!);
  const metricsBase = port(env, 'METRICS_PORT_BASE', 9400);
  const database = databaseUrl(env, 'DATABASE_URL', 'postgresql://order_saga:order_saga@127.0.0.1:55432/order_saga');
  const cacheRoot = env.XDG_CACHE_HOME ? path.join(env.XDG_CACHE_HOME) : path.join(os.homedir(), '.cache');

  return {
    env: oneOf(env, 'NODE_ENV', 'development', ['development', 'test', 'production'] as const),
    logLevel: oneOf(env, 'LOG_LEVEL', 'info', LOG_LEVELS),
    api: {
      host: str(env, 'API_HOST', '127.0.0.1'),
      port: port(env, 'API_PORT', 3000),
      /** Bootstrap admin key, stored hashed at start. */
      adminApiKey: optional(env, 'ADMIN_API_KEY'),
    },
    database,
    databasePoolSize: int(env, 'DATABASE_POOL_SIZE', 10, 1, 200),
    temporal: {
      address: `${temporal.host}:${temporal.port}`,
      host: temporal.host,
      port: temporal.port,
      namespace: str(env, 'TEMPORAL_NAMESPACE', 'default'),
      uiPort: port(env, 'TEMPORAL_UI_PORT', 8233),
      /** The dev server's HTTP API and Prometheus ports (local stack only). */
      httpPort: port(env, 'TEMPORAL_HTTP_PORT', temporal.port + 10),
      metricsPort: port(env, 'TEMPORAL_METRICS_PORT', temporal.port + 11),
    },
    kafka: {
      brokers,
      clientId: str(env, 'KAFKA_CLIENT_ID', 'order-saga'),
      /** The KRaft controller listener of the local single-node broker. */
      controllerPort: port(env, 'KAFKA_CONTROLLER_PORT', firstBroker.port + 1),
      eventsTopic: topicName(env, 'KAFKA_EVENTS_TOPIC', 'orders.events'),
      dlqTopic: topicName(env, 'KAFKA_DLQ_TOPIC', 'orders.events.dlq'),
      eventsPartitions: int(env, 'KAFKA_EVENTS_PARTITIONS', 3, 3, 1000),
      heapMb: int(env, 'KAFKA_HEAP_MB', 768, 256, 16384),
    },
    metrics: {
      /** Each process serves /metrics on base + its offset (see app/processes.ts). */
      portBase: metricsBase,
      host: str(env, 'METRICS_HOST', '127.0.0.1'),
    },
    workers: {
      /** Prepended to every task queue name, so two deployments can share one Temporal server. */
      taskQueuePrefix: str(env, 'TEMPORAL_TASK_QUEUE_PREFIX', ''),
      maxConcurrentActivities: int(env, 'WORKER_MAX_CONCURRENT_ACTIVITIES', 100, 1, 10000),
      maxConcurrentWorkflowTasks: int(env, 'WORKER_MAX_CONCURRENT_WORKFLOW_TASKS', 100, 1, 10000),
      maxCachedWorkflows: int(env, 'WORKER_MAX_CACHED_WORKFLOWS', 2000, 0, 1000000),
      /** A CONFIRMED order's saga stays open this long for manual compensation. */
      compensationWindowMs: int(env, 'SAGA_COMPENSATION_WINDOW_MS', 7 * 24 * 3600 * 1000, 0, 365 * 24 * 3600 * 1000),
      compensationMaxAttempts: int(env, 'SAGA_COMPENSATION_MAX_ATTEMPTS', 10, 1, 1000),
      /** Orders whose saga is not known to have started after this long are started by the sweeper. */
      sagaStartGraceMs: int(env, 'SAGA_START_GRACE_MS', 5000, 100, 3600_000),
    },
    relay: {
      /** Rows claimed, published and marked per round trip. */
      batchSize: int(env, 'RELAY_BATCH_SIZE', 1000, 1, 10_000),
      /** Fallback poll when no NOTIFY arrives (the LISTEN connection may be down). */
      pollIntervalMs: int(env, 'RELAY_POLL_INTERVAL_MS', 1000, 10, 60_000),
      /** How often a relay re-counts its peers and takes or gives back shards. */
      rebalanceIntervalMs: int(env, 'RELAY_REBALANCE_INTERVAL_MS', 2000, 100, 60_000),
      /** Published rows older than this are deleted; 0 keeps them forever. */
      retentionMs: int(env, 'RELAY_RETENTION_MS', 7 * 24 * HOUR_MS, 0, 365 * 24 * HOUR_MS),
      pruneIntervalMs: int(env, 'RELAY_PRUNE_INTERVAL_MS', 60_000, 100, 24 * HOUR_MS),
      /** Ceiling of the backoff after a failed publish (broker down) or database error. */
      maxBackoffMs: int(env, 'RELAY_MAX_BACKOFF_MS', 5000, 10, 300_000),
    },
    consumers: consumerSettings(env),
    reconciler: reconcilerSettings(env, database.url),
    otel: otelSettings(env),
    /** The local stack's optional Prometheus server (`npm run stack -- up --with-prometheus`). */
    prometheus: {
      port: port(env, 'PROMETHEUS_PORT', 9090),
    },
    stack: {
      /** Data and logs of the local stack (git-ignored). */
      dir: path.resolve(repoRoot, str(env, 'STACK_DIR', '.stack')),
      /** Heavy downloads and builds, shared by every clone, keyed by version. */
      cacheDir: path.resolve(str(env, 'ORDER_SAGA_CACHE_DIR', path.join(cacheRoot, 'order-saga'))),
    },
  };
}

function otelSettings(env: Env) {
  const nodeEnv = str(env, 'NODE_ENV', 'development');
  const tracesFile = optional(env, 'OTEL_TRACES_FILE');
  if (tracesFile && nodeEnv === 'production') throw new ConfigError('OTEL_TRACES_FILE', 'refused when NODE_ENV=production (tests only)');
  return {
    /** OTLP/HTTP endpoint of a trace backend (e.g. Jaeger's http://127.0.0.1:4318); tracing is off when unset. */
    endpoint: optional(env, 'OTEL_EXPORTER_OTLP_ENDPOINT'),
    /** Tests only: every finished span is appended to this file as a JSON line. */
    tracesFile: tracesFile ? path.resolve(tracesFile) : undefined,
  };
}

function consumerSettings(env: Env) {
  const sessionTimeoutMs = int(env, 'CONSUMER_SESSION_TIMEOUT_MS', 30_000, 6000, 300_000);
  return {
    /** Prepended to each consumer's name to form its Kafka group id and processed_events key. */
    groupPrefix: name(env, 'CONSUMER_GROUP_PREFIX', 'order-saga.'),
    /** Attempts of a message (the first included) before it is dead-lettered. */
    maxAttempts: int(env, 'CONSUMER_MAX_ATTEMPTS', 5, 1, 100),
    retryBaseMs: int(env, 'CONSUMER_RETRY_BASE_MS', 200, 1, 60_000),
    retryMaxMs: int(env, 'CONSUMER_RETRY_MAX_MS', 10_000, 1, 300_000),
    /** Kafka group session timeout: how long a dead member holds its partitions. */
    sessionTimeoutMs,
    heartbeatIntervalMs: Math.min(3000, Math.floor(sessionTimeoutMs / 3)),
    /** Partitions processed at once (each partition stays strictly in order). */
    partitionsConcurrently: int(env, 'CONSUMER_PARTITIONS_CONCURRENTLY', 3, 1, 1000),
  };
}

/** The reconciler's read-only database role (created by the migration; LOGIN on the local stack). */
export const RECONCILER_DB_ROLE = 'order_saga_reconciler';

function reconcilerSettings(env: Env, appDatabaseUrl: string) {
  // By default the same server and database as the app, as the read-only role.
  const fallback = new URL(appDatabaseUrl);
  fallback.username = RECONCILER_DB_ROLE;
  fallback.password = RECONCILER_DB_ROLE;
  const day = 24 * HOUR_MS;
  return {
    database: databaseUrl(env, 'RECONCILER_DATABASE_URL', fallback.toString()),
    /** A pass every this often (the first one at start). */
    intervalMs: int(env, 'RECONCILE_INTERVAL_MS', 60_000, 1000, day),
    /** Every Nth scheduled pass is a full pass; the others are incremental from the last watermark. */
    fullPassEvery: int(env, 'RECONCILE_FULL_PASS_EVERY', 60, 1, 1_000_000),
    /** Subjects (orders, products, accounts...) per set-based query. */
    batchSize: int(env, 'RECONCILE_BATCH_SIZE', 1000, 10, 50_000),
    /** Grace window of the database checks: newer changes are in flight, a failure must outlast it. */
    graceMs: int(env, 'RECONCILE_GRACE_MS', 30_000, 0, day),
    /** Grace window of the Temporal checks (workflow start, search attribute upserts, visibility lag). */
    sagaGraceMs: int(env, 'RECONCILE_SAGA_GRACE_MS', 60_000, 0, day),
    /** Grace window of the stream checks: outbox to Kafka to the audit timeline. */
    streamLagMs: int(env, 'RECONCILE_STREAM_LAG_MS', 60_000, 0, day),
    /** An order in one in-flight status for longer than this is stuck. */
    stuckMs: int(env, 'RECONCILE_STUCK_MS', HOUR_MS, 1000, 30 * day),
    /** More new findings of one check in one run than this: one meta-finding instead. */
    floodCap: int(env, 'RECONCILE_FLOOD_CAP', 100, 1, 1_000_000),
    /** How often a standby instance tries to become the active one. */
    standbyPollMs: int(env, 'RECONCILE_STANDBY_POLL_MS', 5000, 100, HOUR_MS),
  };
}

export type Config = ReturnType<typeof loadConfig>;
export type ReconcilerSettings = Config['reconciler'];
export type RelaySettings = Config['relay'];
export type ConsumerSettings = Config['consumers'];

let cached: Config | undefined;

/** The process-wide configuration, loaded on first use. */
export function config(): Config {
  cached ??= loadConfig();
  return cached;
}

/** Prints a ConfigError plainly and exits; anything else is rethrown. */
export function exitOnConfigError(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`configuration error: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
