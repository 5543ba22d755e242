/**
 * The app's configuration: every variable an app process (`tsx app/main.ts <role>`) reads,
 * declared once below with its parser, default and doc, loaded and validated once at
 * start-up. A bad value stops the process with an error that names the variable. The local
 * stack's own settings are declared apart, in scripts/stack/config.ts; docs/configuration.md
 * is generated from both (`npm run config:docs`).
 */
import path from 'node:path';
import { z } from 'zod';
import { FaultRules } from './faults';
import { DEFAULT_TX_LIMITS } from './sql';
import {
  ConfigError,
  declareVariables,
  decimal,
  durationMs,
  filePath,
  host,
  hostPort,
  hostPortList,
  httpUrl,
  integer,
  json,
  kafkaTopic,
  label,
  oneOf,
  oneOfList,
  port,
  derived,
  pem,
  bool,
  postgresUrl,
  rawSetting,
  secret,
  text,
  trustedProxies,
  type Env,
} from './env-vars';

export { ConfigError } from './env-vars';

/** Repository (or image) root: this file lives in <root>/lib, compiled in <root>/dist/lib. */
export const repoRoot = path.resolve(__dirname, path.basename(path.dirname(__dirname)) === 'dist' ? '../..' : '..');

const SECOND_MS = 1000;
const HOUR_MS = 3600 * SECOND_MS;
const DAY_MS = 24 * HOUR_MS;

/** ADMIN_API_KEY's shortest length: a shorter key that is not `osk_...` needs no database lookup. */
export const ADMIN_API_KEY_MIN_LENGTH = 32;

/** The audience the API expects in access tokens unless IDENTITY_AUDIENCE says otherwise. */
export const IDENTITY_DEFAULT_AUDIENCE = 'urn:order-saga:api';
/** Signature algorithms an access token may use: asymmetric only (never `none`, never HS*, whose key would be the public one). */
export const IDENTITY_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/** OTEL_TRACES_EXPORTER's values that sdk-node builds (`none`: no exporter). */
export const TRACES_EXPORTERS = ['otlp', 'zipkin', 'console', 'none'] as const;
export type TracesExporter = Exclude<(typeof TRACES_EXPORTERS)[number], 'none'>;
/** OTEL_TRACES_SAMPLER's values, as the SDK names them. */
const TRACES_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

/** A trace UI link with a `{traceId}` placeholder. */
function traceUrlTemplate() {
  const url = httpUrl();
  return {
    ...url,
    kind: 'traceUrlTemplate',
    schema: url.schema.refine((v) => v.includes('{traceId}'), {
      error: (iss) => `expected a URL containing {traceId}, got "${String(iss.input)}"`,
    }),
    accepts: 'http(s) URL with `{traceId}`',
  };
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const DEFAULT_DATABASE_URL = 'postgresql://order_saga:order_saga@127.0.0.1:55432/order_saga';

/** The reconciler's database role (its own grants: domain tables read, its findings written). */
export const RECONCILER_DB_ROLE = 'order_saga_reconciler';

/** The same database as another login (local default: password = role name). */
function withRole(url: string, role: string): string {
  try {
    const u = new URL(url);
    u.username = role;
    u.password = role;
    return u.toString();
  } catch {
    return url; // DATABASE_URL's own parser reports it
  }
}

/** Every variable of the app, in the order docs/configuration.md lists them. */
export const APP_VARIABLES = declareVariables('app', {
  NODE_ENV: {
    parser: oneOf(['development', 'test', 'production']),
    default: 'development',
    doc: 'only `test` accepts the tests-only variables',
  },
  LOG_LEVEL: { parser: oneOf(LOG_LEVELS), default: 'info', doc: 'pino level' },
  API_HOST: { parser: host(), default: '127.0.0.1', doc: 'REST API listen address' },
  API_PORT: { parser: port(), default: '3000', doc: 'REST API listen port' },
  API_TLS_CERT: {
    parser: pem('CERTIFICATE'),
    fromFile: true,
    doc: 'serve the API over HTTPS with this certificate (chain); needs `API_TLS_KEY`; unset: plain HTTP (behind a TLS-terminating proxy)',
  },
  API_TLS_KEY: { parser: pem('PRIVATE KEY'), fromFile: true, doc: "the HTTPS certificate's private key" },
  ADMIN_API_KEY: {
    parser: secret(ADMIN_API_KEY_MIN_LENGTH),
    fromFile: true,
    doc: 'bootstrap admin key, stored hashed at start; valid only while set (a revocation sticks)',
  },
  API_TRUST_PROXY: {
    parser: trustedProxies(10),
    default: 'false',
    doc: "proxies believed about the client address (rate limits): `false` counts the socket address and ignores X-Forwarded-For; a hop count (the entry that many proxies from the API) or the proxies' addresses/CIDRs; never `true`",
  },
  IDENTITY_ISSUER: {
    parser: httpUrl(),
    doc: 'OAuth2/OIDC issuer whose JWT access tokens the API accepts (`Authorization: Bearer <JWT>`, docs/security.md); unset: API keys only',
  },
  IDENTITY_AUDIENCE: {
    parser: text(),
    default: IDENTITY_DEFAULT_AUDIENCE,
    doc: "the `aud` an access token must name (the API's resource indicator)",
  },
  IDENTITY_ALGORITHMS: {
    parser: oneOfList(IDENTITY_ALGORITHMS),
    default: 'RS256,PS256,ES256,EdDSA',
    doc: 'signature algorithms accepted on access tokens (asymmetric only: `none` and HS* are never accepted)',
  },
  IDENTITY_CLOCK_SKEW_S: { parser: integer(0, 300), default: '30', doc: 'tolerance on `exp` and `nbf` for clocks that disagree (s)' },
  IDENTITY_TOKEN_TYPE: {
    parser: oneOf(['at+jwt', 'any']),
    default: 'at+jwt',
    doc: 'the JWT `typ` header required: `at+jwt` (RFC 9068 access tokens, so an ID token is refused) or `any`',
  },
  IDENTITY_CLIENT_ID_CLAIM: {
    parser: text(),
    default: 'client_id',
    doc: 'the claim naming the OAuth2 client; its grants (PUT /admin/token-clients/{clientId}) are the customers it acts for',
  },
  IDENTITY_SCOPE_PERMISSIONS: {
    parser: json(z.record(z.string(), z.array(z.string())), 'JSON object: scope -> [permission, ...]'),
    doc: 'scope to permission mapping (services/access/permissions.ts); unset: the default mapping (`orders:write`, `admin:keys`, ...)',
  },
  IDENTITY_JWKS_URL: { parser: httpUrl(), doc: "the issuer's JWKS; unset: `jwks_uri` of its `/.well-known/openid-configuration`" },
  IDENTITY_JWKS_MAX_AGE_MS: {
    parser: durationMs(1000, DAY_MS),
    default: '600000',
    doc: 'how long fetched signing keys are trusted before they are fetched again',
  },
  IDENTITY_JWKS_COOLDOWN_MS: {
    parser: durationMs(0, HOUR_MS),
    default: '30000',
    doc: 'a token with an unknown `kid` refetches the JWKS at most this often (a rotated key is picked up without a restart)',
  },
  IDENTITY_TIMEOUT_MS: { parser: durationMs(100, 60 * SECOND_MS), default: '5000', doc: 'timeout of a discovery or JWKS request' },
  IDENTITY_CONSOLE_CLIENT_ID: {
    parser: text(),
    doc: "the console's OAuth2 client at `IDENTITY_ISSUER`: people sign in to /console with OIDC (authorization code + PKCE, docs/security.md); unset: no sign-in for people",
  },
  IDENTITY_CONSOLE_CLIENT_SECRET: {
    parser: secret(16),
    doc: "that client's secret (client_secret_basic at the token endpoint); it also keys the encrypted sign-in cookie, so every API instance needs the same",
  },
  IDENTITY_CONSOLE_REDIRECT_URI: {
    parser: httpUrl(),
    default: derived(
      '`http://127.0.0.1:<API_PORT>/console/auth/callback`',
      (env) => `http://127.0.0.1:${env.API_PORT?.trim() || '3000'}/console/auth/callback`,
    ),
    doc: "the console's callback as the browser reaches it (behind a proxy: the public URL), registered with the issuer exactly",
  },
  IDENTITY_CONSOLE_SCOPES: {
    parser: text(),
    default: 'openid profile roles',
    doc: 'scopes the console asks for, space-separated; `openid` required, the others whatever makes the issuer send the name and roles',
  },
  IDENTITY_ROLES_CLAIM: {
    parser: text(),
    default: 'roles',
    doc: "the ID token (or userinfo) claim naming a person's roles: an array of strings or one space-separated string",
  },
  IDENTITY_ROLE_MAPPING: {
    parser: json(z.record(z.string(), z.array(z.string())), 'JSON object: issuer role -> [people role, ...]'),
    doc: 'issuer roles to the console roles `operator`, `finance`, `key-admin`, `auditor`; unset: a claim value that is one of these names is that role; anything unmapped is ignored',
  },
  CONSOLE_SESSION_IDLE_MS: {
    parser: durationMs(60 * SECOND_MS, DAY_MS),
    default: String(30 * 60 * SECOND_MS),
    doc: 'a /console session unused this long is over (sign in again)',
  },
  CONSOLE_SESSION_MAX_MS: {
    parser: durationMs(60 * SECOND_MS, 30 * DAY_MS),
    default: String(12 * HOUR_MS),
    doc: 'a /console session ends this long after sign-in, however busy',
  },
  TEMPORAL_UI_URL: {
    parser: httpUrl(),
    doc: "Temporal Web UI the console links each order's workflow to; unset: `http://<TEMPORAL_ADDRESS host>:8233`",
  },
  RATE_LIMIT_KEY_PREFIX: {
    parser: label(),
    default: 'rl',
    doc: 'prefix of every counter in `rate_limits` (deployments sharing a database keep theirs apart)',
  },
  RATE_LIMIT_WINDOW_S: { parser: integer(1, 3600), default: '10', doc: 'window of the per-key and anonymous rate limits (s)' },
  RATE_LIMIT_CLIENT: { parser: integer(1, 1_000_000), default: '1000', doc: 'requests per window per client key' },
  RATE_LIMIT_ADMIN: { parser: integer(1, 1_000_000), default: '300', doc: 'requests per window per admin key' },
  RATE_LIMIT_ANONYMOUS: { parser: integer(1, 1_000_000), default: '200', doc: 'unauthenticated requests per window per client address' },
  RATE_LIMIT_AUTH_FAILURES: {
    parser: integer(1, 1_000_000),
    default: '20',
    doc: 'failed authentications per client address before it is refused (429) for the rest of its window',
  },
  RATE_LIMIT_AUTH_FAILURE_WINDOW_S: { parser: integer(1, 86_400), default: '300', doc: 'window of the failed-authentication limit (s)' },
  DATABASE_STATEMENT_TIMEOUT_MS: {
    parser: durationMs(100, 600 * SECOND_MS),
    default: String(DEFAULT_TX_LIMITS.statementTimeoutMs),
    doc: 'PostgreSQL statement_timeout of every statement',
  },
  DATABASE_LOCK_TIMEOUT_MS: {
    parser: durationMs(100, 600 * SECOND_MS),
    default: String(DEFAULT_TX_LIMITS.lockTimeoutMs),
    doc: 'PostgreSQL lock_timeout of every statement',
  },
  DATABASE_IDLE_IN_TX_TIMEOUT_MS: {
    parser: durationMs(100, 600 * SECOND_MS),
    default: String(DEFAULT_TX_LIMITS.idleInTransactionTimeoutMs),
    doc: 'PostgreSQL idle_in_transaction_session_timeout: the server ends a session idle inside a transaction',
  },
  DATABASE_TX_DEADLINE_MS: {
    parser: durationMs(100, 600 * SECOND_MS),
    default: String(DEFAULT_TX_LIMITS.deadlineMs),
    doc: "longest a money/stock/outbox transaction may take, BEGIN to COMMIT; below the activities' 10 s start-to-close",
  },
  DATABASE_CONNECT_TIMEOUT_MS: {
    parser: durationMs(10, 60 * SECOND_MS),
    default: '5000',
    doc: 'how long a caller waits for a free pooled connection before it gets DATABASE_BUSY (503)',
  },
  DATABASE_URL: {
    parser: postgresUrl(),
    fromFile: true,
    default: DEFAULT_DATABASE_URL,
    doc: "PostgreSQL as the app's least-privilege role (member of `order_saga_app`); its port is the local stack's port. TLS: `?sslmode=verify-full&sslrootcert=<CA file>`",
  },
  DATABASE_OWNER_URL: {
    parser: postgresUrl(),
    fromFile: true,
    default: derived('`DATABASE_URL` as role `order_saga_owner`', (env) =>
      withRole(rawSetting(env, 'DATABASE_URL') ?? DEFAULT_DATABASE_URL, 'order_saga_owner'),
    ),
    doc: 'the role that owns the schema: migrations only (app processes use `DATABASE_URL`)',
  },
  DATABASE_READER_URL: {
    parser: postgresUrl(),
    fromFile: true,
    default: derived('`DATABASE_URL` as role `order_saga_reporting`', (env) =>
      withRole(rawSetting(env, 'DATABASE_URL') ?? DEFAULT_DATABASE_URL, 'order_saga_reporting'),
    ),
    doc: 'a read-only login (member of `order_saga_reader`) for reporting and reconciliation',
  },
  DATABASE_POOL_SIZE: { parser: integer(1, 200), default: '10', doc: 'connections per process' },
  RECONCILER_DATABASE_URL: {
    parser: postgresUrl(),
    fromFile: true,
    default: derived('`DATABASE_URL` as role `order_saga_reconciler`', (env) =>
      withRole(rawSetting(env, 'DATABASE_URL') ?? DEFAULT_DATABASE_URL, RECONCILER_DB_ROLE),
    ),
    doc: "the reconciler's login: reads the domain tables, writes only its own findings and runs",
  },
  RECONCILE_INTERVAL_MS: {
    parser: durationMs(1000, DAY_MS),
    default: '60000',
    doc: 'a reconciliation pass every this often (the first one at start)',
  },
  RECONCILE_FULL_PASS_EVERY: {
    parser: integer(1, 1_000_000),
    default: '60',
    doc: 'every Nth scheduled pass is full; the others are incremental from the last watermark',
  },
  RECONCILE_BATCH_SIZE: { parser: integer(10, 50_000), default: '1000', doc: 'subjects (orders, products, accounts) per set-based query' },
  RECONCILE_GRACE_MS: {
    parser: durationMs(0, DAY_MS),
    default: '30000',
    doc: 'grace window of the database checks: a failure must outlast it to be a finding',
  },
  RECONCILE_SAGA_GRACE_MS: {
    parser: durationMs(0, DAY_MS),
    default: '60000',
    doc: 'grace window of the Temporal checks (start, search-attribute upserts, visibility lag)',
  },
  RECONCILE_STREAM_LAG_MS: {
    parser: durationMs(0, DAY_MS),
    default: '60000',
    doc: 'grace window of the stream checks: outbox to Kafka to the audit timeline',
  },
  RECONCILE_STUCK_MS: {
    parser: durationMs(1000, 30 * DAY_MS),
    default: String(HOUR_MS),
    doc: 'an order in one in-flight status longer than this is stuck',
  },
  RECONCILE_FLOOD_CAP: {
    parser: integer(1, 1_000_000),
    default: '100',
    doc: 'more new findings of one check in one run than this: one meta-finding instead',
  },
  RECONCILE_STANDBY_POLL_MS: {
    parser: durationMs(100, HOUR_MS),
    default: '5000',
    doc: 'how often a standby reconciler tries to become the active one',
  },
  TEMPORAL_ADDRESS: { parser: hostPort(), default: '127.0.0.1:7233', doc: 'Temporal frontend (gRPC)' },
  TEMPORAL_TLS_CA: {
    parser: pem('CERTIFICATE'),
    fromFile: true,
    doc: "CA that signed the Temporal frontend's certificate; setting it, or a client certificate, turns TLS on",
  },
  TEMPORAL_TLS_CERT: {
    parser: pem('CERTIFICATE'),
    fromFile: true,
    doc: "this process's client certificate for Temporal's mTLS (needs `TEMPORAL_TLS_KEY`)",
  },
  TEMPORAL_TLS_KEY: { parser: pem('PRIVATE KEY'), fromFile: true, doc: 'its private key' },
  TEMPORAL_TLS_SERVER_NAME: {
    parser: text(),
    doc: "the name the frontend's certificate must carry, when `TEMPORAL_ADDRESS` is an address it does not name",
  },
  TEMPORAL_NAMESPACE: { parser: text(), default: 'default', doc: 'Temporal namespace' },
  TEMPORAL_TASK_QUEUE_PREFIX: {
    parser: text(),
    default: '',
    doc: 'prepended to every task queue, so two deployments (or test runs) can share one Temporal server',
  },
  WORKER_MAX_CONCURRENT_ACTIVITIES: { parser: integer(1, 10_000), default: '100', doc: 'activity executions at once, per worker' },
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: { parser: integer(1, 10_000), default: '100', doc: 'workflow tasks at once (orders worker)' },
  WORKER_MAX_CACHED_WORKFLOWS: { parser: integer(0, 1_000_000), default: '2000', doc: "orders worker's sticky workflow cache" },
  WORKFLOW_BUNDLE_DIR: {
    parser: filePath(),
    doc: "orders worker: directory of the prebuilt workflow bundles (`npm run build` writes them to dist/); unset: dist/'s own when run compiled, else workflows/ is bundled at start",
  },
  SAGA_COMPENSATION_WINDOW_MS: {
    parser: durationMs(0, 365 * DAY_MS),
    default: String(7 * DAY_MS),
    doc: 'how long a CONFIRMED order accepts `compensate` (its saga stays open)',
  },
  SAGA_COMPENSATION_MAX_ATTEMPTS: { parser: integer(1, 1000), default: '10', doc: 'attempts per compensation step before NEEDS_ATTENTION' },
  SAGA_START_TIMEOUT_MS: {
    parser: durationMs(100, 60_000),
    default: '2000',
    doc: 'how long POST /orders waits for Temporal to take the saga start; then it answers 202 and the sweeper starts it',
  },
  SAGA_START_GRACE_MS: {
    parser: durationMs(100, HOUR_MS),
    default: '5000',
    doc: 'age after which the sweeper starts a saga not known to have started',
  },
  ORDERS_MAX_IN_FLIGHT: {
    parser: integer(0, 1_000_000),
    default: '200',
    doc: "sagas in flight (orders PENDING, INVENTORY_RESERVED, PAYMENT_CAPTURED or COMPENSATING, created within `RECONCILE_STUCK_MS`) past which `POST /orders` answers 503 `OVERLOADED` and writes nothing, whatever the throughput: the adaptive bound's cap, or the bound itself with `ORDERS_IN_FLIGHT_TARGET_MS=0`; 0: none",
  },
  ORDERS_MIN_IN_FLIGHT: {
    parser: integer(1, 1_000_000),
    default: '20',
    doc: "the adaptive bound's floor: fewer sagas in flight than this are never a reason to refuse (a quiet system's throughput says nothing of its capacity)",
  },
  ORDERS_IN_FLIGHT_TARGET_MS: {
    parser: durationMs(0, 10 * 60 * SECOND_MS),
    default: '3000',
    doc: "the wait an accepted order should expect under overload: the bound on sagas in flight is the measured throughput (sagas leaving flight per second) x this, within `ORDERS_MIN_IN_FLIGHT`..`ORDERS_MAX_IN_FLIGHT` (Little's law; docs/benchmarks.md derives the default from the 5 s p99 target); 0: the bound is `ORDERS_MAX_IN_FLIGHT`",
  },
  ORDERS_IN_FLIGHT_CACHE_MS: {
    parser: durationMs(0, 60 * SECOND_MS),
    default: '250',
    doc: 'how long one API process reuses its count of sagas in flight (plus the orders it admitted since); each instance may overshoot the bound by what it admits in this time',
  },
  ORDERS_OVERLOAD_RETRY_AFTER_S: {
    parser: integer(1, 3600),
    default: '2',
    doc: '`Retry-After` of an `OVERLOADED` answer (s); after a Temporal ResourceExhausted on a start, `POST /orders` refuses for this long',
  },
  KAFKA_BROKERS: { parser: hostPortList(), default: '127.0.0.1:9092', doc: 'bootstrap brokers, comma-separated' },
  KAFKA_SSL: { parser: bool(), default: 'false', doc: 'TLS to the brokers (SSL or SASL_SSL listeners)' },
  KAFKA_SSL_CA: {
    parser: pem('CERTIFICATE'),
    fromFile: true,
    doc: "CA that signed the brokers' certificates (with `KAFKA_SSL=true`); unset: the system's CAs",
  },
  KAFKA_SASL_MECHANISM: {
    parser: oneOf(['none', 'plain', 'scram-sha-256', 'scram-sha-512']),
    default: 'none',
    doc: "SASL authentication to the brokers; each process role has its own principal (the brokers' ACLs, docs/security.md)",
  },
  KAFKA_SASL_USERNAME: { parser: text(), doc: "this process's Kafka principal (with a SASL mechanism)" },
  KAFKA_SASL_PASSWORD: { parser: secret(1), fromFile: true, doc: 'its password' },
  KAFKA_CLIENT_ID: { parser: text(), default: 'order-saga', doc: 'client id prefix (each process appends its own suffix)' },
  KAFKA_EVENTS_TOPIC: { parser: kafkaTopic(), default: 'orders.events', doc: 'topic the relay publishes the outbox to' },
  KAFKA_DLQ_TOPIC: { parser: kafkaTopic(), default: 'orders.events.dlq', doc: 'dead-letter topic of the consumers' },
  KAFKA_EVENTS_PARTITIONS: { parser: integer(3, 1000), default: '3', doc: 'partitions of both topics when they are created' },
  RELAY_BATCH_SIZE: { parser: integer(1, 10_000), default: '1000', doc: 'outbox rows per claim, publish and mark' },
  RELAY_POLL_INTERVAL_MS: { parser: durationMs(10, 60 * SECOND_MS), default: '1000', doc: 'fallback poll when no NOTIFY arrives' },
  RELAY_REBALANCE_INTERVAL_MS: {
    parser: durationMs(100, 60 * SECOND_MS),
    default: '2000',
    doc: 'how often a relay re-counts its peers and takes or gives back shards',
  },
  RELAY_RETENTION_MS: {
    parser: durationMs(0, 365 * DAY_MS),
    default: String(7 * DAY_MS),
    doc: 'published outbox rows older than this are deleted; 0 keeps them forever',
  },
  RELAY_PRUNE_INTERVAL_MS: { parser: durationMs(100, DAY_MS), default: '60000', doc: 'how often published rows are pruned' },
  RELAY_MAX_BACKOFF_MS: {
    parser: durationMs(10, 300 * SECOND_MS),
    default: '5000',
    doc: "ceiling of the relay's backoff while Kafka or PostgreSQL is down",
  },
  CONSUMER_GROUP_PREFIX: {
    parser: label(),
    default: 'order-saga.',
    doc: "prepended to each consumer's name to form its Kafka group id and processed-events key",
  },
  CONSUMER_MAX_ATTEMPTS: {
    parser: integer(1, 100),
    default: '5',
    doc: 'attempts of a message (the first included) before it is dead-lettered',
  },
  CONSUMER_RETRY_BASE_MS: {
    parser: durationMs(1, 60 * SECOND_MS),
    default: '200',
    doc: 'first retry delay (exponential backoff with jitter)',
  },
  CONSUMER_RETRY_MAX_MS: { parser: durationMs(1, 300 * SECOND_MS), default: '10000', doc: 'ceiling of the retry delay' },
  CONSUMER_SESSION_TIMEOUT_MS: {
    parser: durationMs(6 * SECOND_MS, 300 * SECOND_MS),
    default: '30000',
    doc: 'Kafka group session timeout: how long a dead consumer holds its partitions',
  },
  CONSUMER_PARTITIONS_CONCURRENTLY: {
    parser: integer(1, 1000),
    default: '3',
    doc: 'partitions processed at once, each one strictly in order',
  },
  METRICS_HOST: { parser: host(), default: '127.0.0.1', doc: '`/metrics` listen address' },
  METRICS_PORT_BASE: { parser: port(), default: '9400', doc: 'each process serves `/metrics` on base + its offset (app/processes.ts)' },
  // Tracing: the standard OpenTelemetry variables, read by the SDK itself (sdk-node); declared
  // here so a bad value stops the process and the docs list them. lib/tracing.ts says which.
  OTEL_SDK_DISABLED: { parser: oneOf(['true', 'false']), default: 'false', doc: '`true` turns tracing off whatever else is set' },
  OTEL_TRACES_EXPORTER: {
    parser: oneOfList(TRACES_EXPORTERS),
    doc: 'where spans go; unset: `otlp` when an OTLP endpoint below is set, else tracing is off (`npm start` sets it when the stack runs a trace backend)',
  },
  OTEL_EXPORTER_OTLP_ENDPOINT: {
    parser: httpUrl(),
    doc: 'OTLP base URL (e.g. `http://127.0.0.1:4318`; `/v1/traces` is appended for HTTP)',
  },
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: { parser: httpUrl(), doc: 'OTLP URL for traces, used as is (overrides the base URL)' },
  OTEL_EXPORTER_OTLP_PROTOCOL: {
    parser: oneOf(['http/protobuf', 'http/json', 'grpc']),
    default: 'http/protobuf',
    doc: "OTLP transport (`grpc`: the endpoint is the receiver's gRPC port, e.g. 4317)",
  },
  OTEL_EXPORTER_ZIPKIN_ENDPOINT: {
    parser: httpUrl(),
    default: 'http://localhost:9411/api/v2/spans',
    doc: "Zipkin's span intake, for `OTEL_TRACES_EXPORTER=zipkin`",
  },
  OTEL_TRACES_SAMPLER: {
    parser: oneOf(TRACES_SAMPLERS),
    default: 'parentbased_always_on',
    doc: "which traces are recorded; `parentbased_traceidratio` with `OTEL_TRACES_SAMPLER_ARG` keeps a share of new traces and follows the caller's decision",
  },
  OTEL_TRACES_SAMPLER_ARG: { parser: decimal(0, 1), doc: 'the ratio of the `*traceidratio` samplers (the SDK takes 1 when unset)' },
  OTEL_TRACES_FILE: { parser: filePath(), doc: 'append every finished span to this file as JSON lines', testOnly: true },
  TRACE_URL_TEMPLATE: {
    parser: traceUrlTemplate(),
    doc: "link to one trace in a trace UI, `{traceId}` replaced (e.g. `http://127.0.0.1:16686/trace/{traceId}`); unset: Zipkin's UI when exporting to Zipkin, else no link",
  },
  FAULT_INJECTION: {
    parser: json(FaultRules, 'JSON array of fault rules'),
    doc: 'fault rules for failure tests, see `lib/faults.ts`',
    testOnly: true,
  },
});

type AppValues = ReturnType<typeof APP_VARIABLES.read>;

/** Loads and validates the whole app configuration. Throws ConfigError on the first bad value. */
export function loadConfig(env: Env = process.env) {
  const v = APP_VARIABLES.read(env);
  refuseTestOnlyOutsideTests(v);
  const consoleSignInSettings = consoleSignIn(v);
  const temporal = v.TEMPORAL_ADDRESS;
  pairOrNeither('API_TLS_CERT', v.API_TLS_CERT, 'API_TLS_KEY', v.API_TLS_KEY);
  pairOrNeither('TEMPORAL_TLS_CERT', v.TEMPORAL_TLS_CERT, 'TEMPORAL_TLS_KEY', v.TEMPORAL_TLS_KEY);
  return {
    env: v.NODE_ENV,
    logLevel: v.LOG_LEVEL,
    api: {
      host: v.API_HOST,
      port: v.API_PORT,
      adminApiKey: v.ADMIN_API_KEY,
      /** HTTPS; undefined: plain HTTP. */
      tls: v.API_TLS_CERT && v.API_TLS_KEY ? { cert: v.API_TLS_CERT, key: v.API_TLS_KEY } : undefined,
      trustProxy: v.API_TRUST_PROXY,
      /** Backpressure: the bound on sagas in flight (services/orders/admission.ts). */
      admission: {
        maxInFlight: v.ORDERS_MAX_IN_FLIGHT,
        minInFlight: v.ORDERS_MIN_IN_FLIGHT,
        targetMs: v.ORDERS_IN_FLIGHT_TARGET_MS,
        cacheMs: v.ORDERS_IN_FLIGHT_CACHE_MS,
        retryAfterS: v.ORDERS_OVERLOAD_RETRY_AFTER_S,
        horizonMs: v.RECONCILE_STUCK_MS,
      },
      rateLimits: {
        keyPrefix: v.RATE_LIMIT_KEY_PREFIX,
        windowS: v.RATE_LIMIT_WINDOW_S,
        clientPoints: v.RATE_LIMIT_CLIENT,
        adminPoints: v.RATE_LIMIT_ADMIN,
        anonymousPoints: v.RATE_LIMIT_ANONYMOUS,
        authFailurePoints: v.RATE_LIMIT_AUTH_FAILURES,
        authFailureWindowS: v.RATE_LIMIT_AUTH_FAILURE_WINDOW_S,
      },
    },
    /** The operator console (/console, api/console). */
    console: {
      sessionIdleMs: v.CONSOLE_SESSION_IDLE_MS,
      sessionMaxMs: v.CONSOLE_SESSION_MAX_MS,
      temporalUiUrl: (v.TEMPORAL_UI_URL ?? `http://${temporal.host}:8233`).replace(/\/+$/, ''),
    },
    /** Access tokens from an issuer (services/access/tokens.ts); undefined: API keys only. */
    identity: v.IDENTITY_ISSUER
      ? {
          issuer: v.IDENTITY_ISSUER,
          audience: v.IDENTITY_AUDIENCE,
          algorithms: v.IDENTITY_ALGORITHMS,
          clockSkewS: v.IDENTITY_CLOCK_SKEW_S,
          tokenType: v.IDENTITY_TOKEN_TYPE,
          clientIdClaim: v.IDENTITY_CLIENT_ID_CLAIM,
          scopePermissions: v.IDENTITY_SCOPE_PERMISSIONS,
          jwksUrl: v.IDENTITY_JWKS_URL,
          jwksMaxAgeMs: v.IDENTITY_JWKS_MAX_AGE_MS,
          jwksCooldownMs: v.IDENTITY_JWKS_COOLDOWN_MS,
          timeoutMs: v.IDENTITY_TIMEOUT_MS,
          console: consoleSignInSettings,
        }
      : undefined,
    database: v.DATABASE_URL,
    databaseOwner: v.DATABASE_OWNER_URL,
    databaseReader: v.DATABASE_READER_URL,
    databasePoolSize: v.DATABASE_POOL_SIZE,
    /** Server-side limits of every statement and explicit transaction (lib/sql.ts). */
    databaseLimits: {
      statementTimeoutMs: v.DATABASE_STATEMENT_TIMEOUT_MS,
      lockTimeoutMs: v.DATABASE_LOCK_TIMEOUT_MS,
      idleInTransactionTimeoutMs: v.DATABASE_IDLE_IN_TX_TIMEOUT_MS,
      deadlineMs: v.DATABASE_TX_DEADLINE_MS,
    },
    databaseConnectTimeoutMs: v.DATABASE_CONNECT_TIMEOUT_MS,
    temporal: {
      address: `${temporal.host}:${temporal.port}`,
      host: temporal.host,
      port: temporal.port,
      namespace: v.TEMPORAL_NAMESPACE,
      tls: temporalTls(v),
    },
    kafka: {
      brokers: v.KAFKA_BROKERS,
      clientId: v.KAFKA_CLIENT_ID,
      eventsTopic: v.KAFKA_EVENTS_TOPIC,
      dlqTopic: v.KAFKA_DLQ_TOPIC,
      eventsPartitions: v.KAFKA_EVENTS_PARTITIONS,
      /** TLS to the brokers (ca: the CA's PEM, else the system's); undefined: plaintext. */
      ssl: v.KAFKA_SSL ? { ca: v.KAFKA_SSL_CA } : undefined,
      sasl: kafkaSasl(v),
    },
    metrics: { portBase: v.METRICS_PORT_BASE, host: v.METRICS_HOST },
    workers: {
      taskQueuePrefix: v.TEMPORAL_TASK_QUEUE_PREFIX,
      maxConcurrentActivities: v.WORKER_MAX_CONCURRENT_ACTIVITIES,
      maxConcurrentWorkflowTasks: v.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
      maxCachedWorkflows: v.WORKER_MAX_CACHED_WORKFLOWS,
      workflowBundleDir: v.WORKFLOW_BUNDLE_DIR,
      compensationWindowMs: v.SAGA_COMPENSATION_WINDOW_MS,
      compensationMaxAttempts: v.SAGA_COMPENSATION_MAX_ATTEMPTS,
      sagaStartGraceMs: v.SAGA_START_GRACE_MS,
      sagaStartTimeoutMs: v.SAGA_START_TIMEOUT_MS,
    },
    relay: {
      batchSize: v.RELAY_BATCH_SIZE,
      pollIntervalMs: v.RELAY_POLL_INTERVAL_MS,
      rebalanceIntervalMs: v.RELAY_REBALANCE_INTERVAL_MS,
      retentionMs: v.RELAY_RETENTION_MS,
      pruneIntervalMs: v.RELAY_PRUNE_INTERVAL_MS,
      maxBackoffMs: v.RELAY_MAX_BACKOFF_MS,
    },
    consumers: {
      groupPrefix: v.CONSUMER_GROUP_PREFIX,
      maxAttempts: v.CONSUMER_MAX_ATTEMPTS,
      retryBaseMs: v.CONSUMER_RETRY_BASE_MS,
      retryMaxMs: v.CONSUMER_RETRY_MAX_MS,
      sessionTimeoutMs: v.CONSUMER_SESSION_TIMEOUT_MS,
      // Kafka wants heartbeats well inside the session timeout.
      heartbeatIntervalMs: Math.min(3000, Math.floor(v.CONSUMER_SESSION_TIMEOUT_MS / 3)),
      partitionsConcurrently: v.CONSUMER_PARTITIONS_CONCURRENTLY,
    },
    reconciler: {
      database: v.RECONCILER_DATABASE_URL,
      intervalMs: v.RECONCILE_INTERVAL_MS,
      fullPassEvery: v.RECONCILE_FULL_PASS_EVERY,
      batchSize: v.RECONCILE_BATCH_SIZE,
      graceMs: v.RECONCILE_GRACE_MS,
      sagaGraceMs: v.RECONCILE_SAGA_GRACE_MS,
      streamLagMs: v.RECONCILE_STREAM_LAG_MS,
      stuckMs: v.RECONCILE_STUCK_MS,
      floodCap: v.RECONCILE_FLOOD_CAP,
      standbyPollMs: v.RECONCILE_STANDBY_POLL_MS,
    },
    otel: tracingSettings(v),
    /** FAULT_INJECTION's rules, for lib/faults.ts's faultsFrom. */
    faultInjection: v.FAULT_INJECTION,
  };
}

function pairOrNeither(a: string, aValue: unknown, b: string, bValue: unknown): void {
  if ((aValue === undefined) !== (bValue === undefined)) {
    throw new ConfigError(aValue === undefined ? a : b, `needed with ${aValue === undefined ? b : a}: set both or neither`);
  }
}

/** TLS to Temporal when a CA or a client certificate is configured (mTLS with the certificate). */
function temporalTls(v: AppValues) {
  if (v.TEMPORAL_TLS_CA === undefined && v.TEMPORAL_TLS_CERT === undefined) {
    if (v.TEMPORAL_TLS_SERVER_NAME !== undefined)
      throw new ConfigError('TEMPORAL_TLS_SERVER_NAME', 'needs TEMPORAL_TLS_CA or TEMPORAL_TLS_CERT');
    return undefined;
  }
  return {
    ca: v.TEMPORAL_TLS_CA,
    serverName: v.TEMPORAL_TLS_SERVER_NAME,
    clientCert: v.TEMPORAL_TLS_CERT && v.TEMPORAL_TLS_KEY ? { cert: v.TEMPORAL_TLS_CERT, key: v.TEMPORAL_TLS_KEY } : undefined,
  };
}

/** SASL credentials of this process's Kafka principal; undefined with KAFKA_SASL_MECHANISM=none. */
function kafkaSasl(v: AppValues) {
  if (v.KAFKA_SASL_MECHANISM === 'none') return undefined;
  if (v.KAFKA_SASL_USERNAME === undefined)
    throw new ConfigError('KAFKA_SASL_USERNAME', `needed with KAFKA_SASL_MECHANISM=${v.KAFKA_SASL_MECHANISM}`);
  if (v.KAFKA_SASL_PASSWORD === undefined)
    throw new ConfigError('KAFKA_SASL_PASSWORD', `needed with KAFKA_SASL_MECHANISM=${v.KAFKA_SASL_MECHANISM}`);
  return { mechanism: v.KAFKA_SASL_MECHANISM, username: v.KAFKA_SASL_USERNAME, password: v.KAFKA_SASL_PASSWORD };
}

/**
 * Which exporters the SDK will build: OTEL_TRACES_EXPORTER as set, else `otlp` when an OTLP
 * endpoint is set (the standard default is `otlp` always; here an unset endpoint means off,
 * so a machine without a collector does not log export errors), none when disabled.
 */
function tracingSettings(v: AppValues) {
  const named = v.OTEL_TRACES_EXPORTER;
  if (named && named.includes('none') && named.length > 1) {
    throw new ConfigError('OTEL_TRACES_EXPORTER', `"none" cannot be combined with other exporters (got "${named.join(',')}")`);
  }
  const otlpEndpoint = v.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? v.OTEL_EXPORTER_OTLP_ENDPOINT;
  const implied: TracesExporter[] = otlpEndpoint ? ['otlp'] : [];
  const exporters = v.OTEL_SDK_DISABLED === 'true' ? [] : ((named?.filter((e) => e !== 'none') as TracesExporter[] | undefined) ?? implied);
  const zipkinUi = exporters.includes('zipkin') ? `${new URL(v.OTEL_EXPORTER_ZIPKIN_ENDPOINT).origin}/zipkin/traces/{traceId}` : undefined;
  return {
    /** Empty: no exporter (tracing is off unless tracesFile is set). */
    exporters,
    endpoint: otlpEndpoint,
    protocol: v.OTEL_EXPORTER_OTLP_PROTOCOL,
    zipkinEndpoint: v.OTEL_EXPORTER_ZIPKIN_ENDPOINT,
    sampler: v.OTEL_TRACES_SAMPLER,
    samplerArg: v.OTEL_TRACES_SAMPLER_ARG,
    tracesFile: v.OTEL_TRACES_FILE,
    /** Where one trace can be looked at (lib/trace-links.ts). */
    traceUrlTemplate: v.TRACE_URL_TEMPLATE ?? zipkinUi,
  };
}

/** People's sign-in to the console (services/access/oidc-login.ts); undefined without a client id. */
function consoleSignIn(v: AppValues) {
  if (!v.IDENTITY_CONSOLE_CLIENT_ID) {
    if (v.IDENTITY_CONSOLE_CLIENT_SECRET) throw new ConfigError('IDENTITY_CONSOLE_CLIENT_SECRET', 'set without IDENTITY_CONSOLE_CLIENT_ID');
    return undefined;
  }
  if (!v.IDENTITY_ISSUER) throw new ConfigError('IDENTITY_CONSOLE_CLIENT_ID', 'needs IDENTITY_ISSUER (the issuer people sign in with)');
  if (!v.IDENTITY_CONSOLE_CLIENT_SECRET)
    throw new ConfigError('IDENTITY_CONSOLE_CLIENT_SECRET', 'required with IDENTITY_CONSOLE_CLIENT_ID');
  const scopes = v.IDENTITY_CONSOLE_SCOPES.split(/\s+/).filter(Boolean);
  if (!scopes.includes('openid')) throw new ConfigError('IDENTITY_CONSOLE_SCOPES', 'must include "openid"');
  return {
    clientId: v.IDENTITY_CONSOLE_CLIENT_ID,
    clientSecret: v.IDENTITY_CONSOLE_CLIENT_SECRET,
    redirectUri: v.IDENTITY_CONSOLE_REDIRECT_URI,
    scopes,
    rolesClaim: v.IDENTITY_ROLES_CLAIM,
    roleMapping: v.IDENTITY_ROLE_MAPPING,
  };
}

/** Tests-only variables (fault injection can kill the process) need NODE_ENV=test: anything else fails closed. */
function refuseTestOnlyOutsideTests(v: AppValues): void {
  if (v.NODE_ENV === 'test') return;
  for (const name of APP_VARIABLES.names) {
    if (APP_VARIABLES.declaration(name)?.testOnly && v[name] !== undefined) {
      throw new ConfigError(name, `refused unless NODE_ENV=test (it is "${v.NODE_ENV}"): tests only`);
    }
  }
}

export type Config = ReturnType<typeof loadConfig>;
export type TemporalTls = NonNullable<Config['temporal']['tls']>;
export type KafkaSettings = Config['kafka'];
export type IdentitySettings = NonNullable<Config['identity']>;
export type ConsoleSignInSettings = NonNullable<IdentitySettings['console']>;
export type RelaySettings = Config['relay'];
export type ConsumerSettings = Config['consumers'];
export type ReconcilerSettings = Config['reconciler'];

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
