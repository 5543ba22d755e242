import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { APP_VARIABLES, ConfigError, loadConfig, repoRoot } from '../../lib/config';
import type { DeclaredVariables, Env } from '../../lib/env-vars';
import { renderConfigDocs } from '../../scripts/config-docs';
import { VERSIONS } from '../../scripts/stack/component';
import { loadStackConfig, STACK_VARIABLES } from '../../scripts/stack/config';

const TABLES: DeclaredVariables[] = [APP_VARIABLES, STACK_VARIABLES];

function configErrorOf(load: () => unknown): ConfigError {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError, but the configuration loaded');
}

describe('the app configuration (lib/config.ts)', () => {
  test('with no environment, every setting has its documented default', () => {
    const cfg = loadConfig({});
    expect(cfg).toMatchObject({ env: 'development', logLevel: 'info', databasePoolSize: 10 });
    expect(cfg.api).toEqual({
      host: '127.0.0.1',
      port: 3000,
      adminApiKey: undefined,
      trustProxy: false,
      admission: { maxInFlight: 200, minInFlight: 20, targetMs: 3000, cacheMs: 250, retryAfterS: 2, horizonMs: 3_600_000 },
      rateLimits: {
        keyPrefix: 'rl',
        windowS: 10,
        clientPoints: 1000,
        adminPoints: 300,
        anonymousPoints: 200,
        authFailurePoints: 20,
        authFailureWindowS: 300,
      },
    });
    expect(cfg.databaseLimits).toEqual({
      statementTimeoutMs: 4000,
      lockTimeoutMs: 3000,
      idleInTransactionTimeoutMs: 4000,
      deadlineMs: 7000,
    });
    expect(cfg.temporal).toEqual({ address: '127.0.0.1:7233', host: '127.0.0.1', port: 7233, namespace: 'default' });
    expect(cfg.kafka).toEqual({
      brokers: ['127.0.0.1:9092'],
      clientId: 'order-saga',
      eventsTopic: 'orders.events',
      dlqTopic: 'orders.events.dlq',
      eventsPartitions: 3,
    });
    expect(cfg.database).toEqual({
      url: 'postgresql://order_saga:order_saga@127.0.0.1:55432/order_saga',
      host: '127.0.0.1',
      port: 55432,
      user: 'order_saga',
      password: 'order_saga',
      database: 'order_saga',
    });
    expect(cfg.metrics).toEqual({ host: '127.0.0.1', portBase: 9400 });
    expect(cfg.relay).toEqual({
      batchSize: 1000,
      pollIntervalMs: 1000,
      rebalanceIntervalMs: 2000,
      retentionMs: 7 * 24 * 3600_000,
      pruneIntervalMs: 60_000,
      maxBackoffMs: 5000,
    });
    expect(cfg.consumers).toEqual({
      groupPrefix: 'order-saga.',
      maxAttempts: 5,
      retryBaseMs: 200,
      retryMaxMs: 10_000,
      sessionTimeoutMs: 30_000,
      heartbeatIntervalMs: 3000,
      partitionsConcurrently: 3,
    });
    expect(cfg.workers).toEqual({
      taskQueuePrefix: '',
      maxConcurrentActivities: 100,
      maxConcurrentWorkflowTasks: 100,
      maxCachedWorkflows: 2000,
      compensationWindowMs: 7 * 24 * 3600_000,
      compensationMaxAttempts: 10,
      sagaStartGraceMs: 5000,
      sagaStartTimeoutMs: 2000,
    });
    expect(cfg.otel).toMatchObject({ exporters: [], endpoint: undefined, tracesFile: undefined, sampler: 'parentbased_always_on' });
    expect(cfg.faultInjection).toBeUndefined();
  });

  test('when a variable is blank or only spaces, then its default applies', () => {
    expect(loadConfig({ API_PORT: '  ', KAFKA_EVENTS_TOPIC: '' })).toMatchObject({
      api: { port: 3000 },
      kafka: { eventsTopic: 'orders.events' },
    });
  });

  test('when variables are set, then the settings follow them (trimmed, derived values too)', () => {
    const cfg = loadConfig({
      TEMPORAL_ADDRESS: ' temporal:17233 ',
      KAFKA_BROKERS: 'a:1, b:2 ,',
      CONSUMER_SESSION_TIMEOUT_MS: '6000',
      DATABASE_URL: 'postgres://u%40x:p%2Fw@db:6543/orders',
    });
    expect(cfg.temporal).toMatchObject({ address: 'temporal:17233', host: 'temporal', port: 17233 });
    expect(cfg.kafka.brokers).toEqual(['a:1', 'b:2']);
    expect(cfg.consumers).toMatchObject({ sessionTimeoutMs: 6000, heartbeatIntervalMs: 2000 });
    expect(cfg.database).toMatchObject({ host: 'db', port: 6543, user: 'u@x', password: 'p/w', database: 'orders' });
  });

  test('an app process reads no local-stack variable, however bad its value', () => {
    const bad = Object.fromEntries(STACK_VARIABLES.names.map((name) => [name, 'not a value']));
    expect(() => loadConfig(bad)).not.toThrow();
  });

  test('FAULT_INJECTION is parsed into rules once, at start-up', () => {
    const rules = [{ point: 'relay.afterPublish', action: 'exit', times: 1 }];
    expect(loadConfig({ NODE_ENV: 'test', FAULT_INJECTION: JSON.stringify(rules) }).faultInjection).toEqual(rules);
  });

  const testOnly = APP_VARIABLES.names.filter((name) => APP_VARIABLES.declaration(name)!.testOnly);
  test.each(
    testOnly.flatMap((variable) => [
      [variable, 'production'],
      [variable, 'development'],
    ]),
  )(
    'when the tests-only %s is set under NODE_ENV=%s, then it is refused (fails closed: only NODE_ENV=test accepts it)',
    (variable, nodeEnv) => {
      const value = variable === 'FAULT_INJECTION' ? '[]' : '/tmp/x';
      const error = configErrorOf(() => loadConfig({ NODE_ENV: nodeEnv, [variable]: value }));
      expect({ variable: error.variable, message: error.message }).toEqual({
        variable,
        message: expect.stringContaining('refused unless NODE_ENV=test'),
      });
      // The default NODE_ENV is development: leaving it unset refuses too.
      if (nodeEnv === 'development') expect(() => loadConfig({ [variable]: value })).toThrow(/refused unless NODE_ENV=test/);
    },
  );
});

describe('the local stack configuration (scripts/stack/config.ts)', () => {
  test('with no environment, it has its documented defaults and the app defaults beside them', () => {
    const cfg = loadStackConfig({});
    expect(cfg.stack).toEqual({
      dir: path.join(repoRoot, '.stack'),
      secure: false,
      cacheDir: expect.stringMatching(/[/\\]\.cache[/\\]order-saga$/),
      temporal: { persistence: 'sqlite', namespaceRetentionDays: 7, uiPort: 8233, httpPort: 7243, metricsPort: 7244 },
      kafka: { controllerPort: 9093, heapMb: 768 },
      prometheus: { port: 9090 },
      identity: { port: 4460 },
      zipkin: { port: 9411, heapMb: 384 },
      jaeger: { otlpHttpPort: 4318, otlpGrpcPort: 4317, queryPort: 16686, queryGrpcPort: 16685 },
    });
    expect(cfg.temporal).toEqual(loadConfig({}).temporal);
  });

  test("its derived defaults follow the app's addresses and XDG_CACHE_HOME", () => {
    const { stack } = loadStackConfig({
      TEMPORAL_ADDRESS: '127.0.0.1:17233',
      KAFKA_BROKERS: '127.0.0.1:19092,127.0.0.1:29092',
      XDG_CACHE_HOME: '/var/cache',
      STACK_DIR: 'tmp/stack',
    });
    expect(stack).toMatchObject({
      dir: path.join(repoRoot, 'tmp', 'stack'),
      cacheDir: path.join('/var/cache', 'order-saga'),
      temporal: { httpPort: 17243, metricsPort: 17244 },
      kafka: { controllerPort: 19093 },
    });
    expect(loadStackConfig({ TEMPORAL_HTTP_PORT: '8000', KAFKA_CONTROLLER_PORT: '8001' }).stack).toMatchObject({
      temporal: { httpPort: 8000 },
      kafka: { controllerPort: 8001 },
    });
  });

  test('TEMPORAL_PERSISTENCE=postgres selects the full server, with the namespace retention it is given', () => {
    const { stack } = loadStackConfig({ TEMPORAL_PERSISTENCE: ' postgres ', TEMPORAL_NAMESPACE_RETENTION_DAYS: '30' });
    expect(stack.temporal).toMatchObject({ persistence: 'postgres', namespaceRetentionDays: 30 });
  });
});

/** A bad value for each kind of parser; `kinds covered` below keeps this list complete. */
const BAD_VALUES: [kind: string, variable: string, value: string, message: string][] = [
  ['secret', 'ADMIN_API_KEY', 'too-short-to-guess', 'must be at least 32 characters (got 18)'],
  ['oneOfList', 'IDENTITY_ALGORITHMS', 'RS256,HS256', 'got "HS256"'],
  ['oneOfList', 'IDENTITY_ALGORITHMS', 'none', 'got "none"'],
  ['integer', 'API_PORT', 'abc', 'expected an integer, got "abc"'],
  ['integer', 'API_PORT', '70000', 'expected 1..65535, got 70000'],
  ['integer', 'API_PORT', '3.5', 'expected an integer'],
  ['integer', 'KAFKA_EVENTS_PARTITIONS', '2', 'expected 3..1000'],
  ['integer', 'CONSUMER_MAX_ATTEMPTS', '0', 'expected 1..100'],
  ['integer', 'RELAY_BATCH_SIZE', 'lots', 'expected an integer, got "lots"'],
  ['integer', 'KAFKA_HEAP_MB', '128', 'expected 256..16384, got 128'],
  ['integer', 'PROMETHEUS_PORT', '0', 'expected 1..65535'],
  ['integer', 'TEMPORAL_NAMESPACE_RETENTION_DAYS', '0', 'expected 1..3650, got 0'],
  ['durationMs', 'SAGA_START_GRACE_MS', '50', 'expected 100..3600000, got 50'],
  ['durationMs', 'RELAY_POLL_INTERVAL_MS', '1s', 'expected an integer, got "1s"'],
  ['oneOf', 'LOG_LEVEL', 'loud', 'expected one of fatal, error, warn, info, debug, trace, silent, got "loud"'],
  ['oneOf', 'NODE_ENV', 'staging', 'expected one of development, test, production'],
  ['oneOf', 'TEMPORAL_PERSISTENCE', 'mysql', 'expected one of sqlite, postgres, got "mysql"'],
  ['host', 'API_HOST', 'http://x', 'expected a host name or IP address'],
  ['host', 'METRICS_HOST', 'a b', 'expected a host name or IP address'],
  ['hostPort', 'TEMPORAL_ADDRESS', 'no-port', 'expected host:port, got "no-port"'],
  ['hostPort', 'TEMPORAL_ADDRESS', 'h:99999', 'port out of range'],
  ['hostPortList', 'KAFKA_BROKERS', ' , ', 'no broker given'],
  ['hostPortList', 'KAFKA_BROKERS', '127.0.0.1:9092,oops', 'expected host:port, got "oops"'],
  ['kafkaTopic', 'KAFKA_EVENTS_TOPIC', 'bad topic!', 'not a valid Kafka topic name'],
  ['kafkaTopic', 'KAFKA_DLQ_TOPIC', 'x'.repeat(250), 'not a valid Kafka topic name'],
  ['label', 'CONSUMER_GROUP_PREFIX', 'has space', 'expected letters, digits'],
  ['postgresUrl', 'DATABASE_URL', 'not a url', 'not a URL'],
  ['postgresUrl', 'DATABASE_URL', 'mysql://u@h/db', 'expected a postgresql:// URL'],
  ['postgresUrl', 'DATABASE_URL', 'postgresql://u@h:5432/', 'names no database'],
  ['postgresUrl', 'DATABASE_URL', 'postgresql://h:5432/db', 'names no user'],
  ['httpUrl', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'jaeger:4318', 'expected an http:// or https:// URL'],
  ['decimal', 'OTEL_TRACES_SAMPLER_ARG', 'half', 'expected a number'],
  ['traceUrlTemplate', 'TRACE_URL_TEMPLATE', 'http://127.0.0.1:9411/zipkin/', 'containing {traceId}'],
  ['trustedProxies', 'API_TRUST_PROXY', 'true', 'would believe the client-supplied leftmost X-Forwarded-For entry'],
  ['trustedProxies', 'API_TRUST_PROXY', '0', 'expected false, a hop count 1..10 or a list of IP/CIDR ranges'],
  ['trustedProxies', 'API_TRUST_PROXY', '11', 'a hop count 1..10'],
  ['trustedProxies', 'API_TRUST_PROXY', '10.0.0.0/33', 'got "10.0.0.0/33"'],
  ['trustedProxies', 'API_TRUST_PROXY', '10.0.0.0/8,proxy.internal', 'list of IP/CIDR ranges'],
  ['pem', 'TEMPORAL_TLS_CERT', 'not a certificate', 'expected PEM text with a CERTIFICATE block'],
  ['pem', 'API_TLS_KEY', '-----BEGIN CERTIFICATE-----', 'expected PEM text with a PRIVATE KEY block'],
  ['bool', 'KAFKA_SSL', 'yes', 'expected true or false, got "yes"'],
  ['bool', 'STACK_SECURE', '1', 'expected true or false'],
  ['postgresUrl', 'DATABASE_URL', 'postgresql://u@h/db?sslmode=allow', 'sslmode must be disable, require, verify-ca, verify-full'],
  [
    'postgresUrl',
    'DATABASE_URL',
    'postgresql://u@h/db?sslmode=verify-full&sslrootcert=/no/such/ca.pem',
    'sslrootcert /no/such/ca.pem does not exist',
  ],
  ['json', 'FAULT_INJECTION', 'nope', 'not valid JSON'],
  ['json', 'FAULT_INJECTION', '{"point":1}', 'expected a JSON array of rules'],
  ['json', 'FAULT_INJECTION', '[{"point":"no.such.point","action":"fail"}]', 'at 0.point'],
  ['json', 'FAULT_INJECTION', '[{"point":"relay.afterPublish","action":"exit","typo":1}]', 'typo'],
];

/** Parsers that accept any string, so no value is bad. */
const ANY_STRING = new Set(['text', 'filePath']);

function loaderOf(variable: string): (env: Env) => unknown {
  return STACK_VARIABLES.declaration(variable) ? loadStackConfig : loadConfig;
}

describe('API_TRUST_PROXY', () => {
  test.each([
    ['false', false],
    ['1', 1],
    ['2', 2],
    ['10.0.0.0/8', ['10.0.0.0/8']],
    ['10.1.2.3, fd00::/8,loopback', ['10.1.2.3', 'fd00::/8', 'loopback']],
  ] as const)('%j is express "trust proxy" %j (never true)', (raw, expected) => {
    expect(loadConfig({ API_TRUST_PROXY: raw }).api.trustProxy).toEqual(expected);
  });
});

describe('bad values', () => {
  test.each(BAD_VALUES)('(%s) when %s=%j, then a ConfigError names the variable', (_kind, variable, value, message) => {
    const error = configErrorOf(() => loaderOf(variable)({ NODE_ENV: 'test', [variable]: value }));
    expect(error.variable).toBe(variable);
    expect(error.message).toMatch(new RegExp(`^${variable}: `));
    expect(error.message).toContain(message);
  });

  test('every kind of parser that can reject a value has a bad value above, on a variable of that kind', () => {
    const kindOf = (variable: string) => TABLES.map((t) => t.declaration(variable)).find(Boolean)!.parser.kind;
    const declared = new Set(TABLES.flatMap((t) => t.names.map(kindOf)).filter((kind) => !ANY_STRING.has(kind)));
    const covered = new Set(BAD_VALUES.map(([kind]) => kind));
    expect([...declared].filter((kind) => !covered.has(kind))).toEqual([]);
    for (const [kind, variable] of BAD_VALUES) expect({ variable, kind: kindOf(variable) }).toEqual({ variable, kind });
  });

  test('when a derived default is out of range, then the error names the derived variable and says it was the default', () => {
    const error = configErrorOf(() => loadStackConfig({ TEMPORAL_ADDRESS: '127.0.0.1:65530' }));
    expect(error.variable).toBe('TEMPORAL_HTTP_PORT');
    expect(error.message).toContain('the default "65540" is invalid: expected 1..65535');
  });

  test("a bad DATABASE_URL's message does not echo the URL (it may hold a password)", () => {
    const error = configErrorOf(() => loadConfig({ DATABASE_URL: 'mysql://u:secret@h/db' }));
    expect(error.message).not.toContain('secret');
  });
});

describe('the declarations', () => {
  test('no variable is declared twice (in one table, TypeScript refuses duplicate keys; across tables, here)', () => {
    const all = TABLES.flatMap((t) => t.names);
    expect(all.filter((name, i) => all.indexOf(name) !== i)).toEqual([]);
  });

  test('every variable has an upper-case name and a one-line doc', () => {
    for (const table of TABLES) {
      for (const name of table.names) {
        const v = table.declaration(name)!;
        expect({ name, doc: v.doc.length > 0 && !v.doc.includes('\n') }).toEqual({ name, doc: true });
        expect(name).toMatch(/^[A-Z][A-Z0-9_]*$/);
      }
    }
  });

  // docs/configuration.md is checked against this output by test/unit/docs.test.ts.
  test.each(TABLES.flatMap((t) => t.names.map((name) => [t.group, name])))(
    'the generated configuration page has a row for the %s variable %s',
    (_group, name) => {
      expect(renderConfigDocs()).toContain(`| \`${name}\` |`);
    },
  );
});

describe('credentials from files (`<NAME>_FILE`)', () => {
  let dir: string;
  const file = (name: string, content: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, content);
    return f;
  };
  const CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  const KEY = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'config-files-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a secret is read from the file its _FILE variable names, trimmed like a set variable', () => {
    const key = 'k'.repeat(40);
    expect(loadConfig({ ADMIN_API_KEY_FILE: file('admin', `${key}\n`) }).api.adminApiKey).toBe(key);
  });

  test('the file content goes through the same parser: a bad one names the variable, never the secret', () => {
    const error = configErrorOf(() => loadConfig({ ADMIN_API_KEY_FILE: file('short', 'short-secret\n') }));
    expect(error.variable).toBe('ADMIN_API_KEY');
    expect(error.message).not.toContain('short-secret');
  });

  test('setting both the variable and its _FILE is refused', () => {
    const error = configErrorOf(() => loadConfig({ ADMIN_API_KEY: 'k'.repeat(40), ADMIN_API_KEY_FILE: file('both', 'k'.repeat(40)) }));
    expect(error.message).toBe('ADMIN_API_KEY: set either ADMIN_API_KEY or ADMIN_API_KEY_FILE, not both');
  });

  test('a missing or empty file is a ConfigError naming the _FILE variable', () => {
    expect(configErrorOf(() => loadConfig({ KAFKA_SASL_PASSWORD_FILE: path.join(dir, 'nope') })).message).toMatch(
      /^KAFKA_SASL_PASSWORD_FILE: cannot read .*nope: ENOENT/,
    );
    expect(configErrorOf(() => loadConfig({ KAFKA_SASL_PASSWORD_FILE: file('empty', '\n') })).variable).toBe('KAFKA_SASL_PASSWORD_FILE');
  });

  test('only declarations marked fromFile take a _FILE variant (API_PORT_FILE means nothing)', () => {
    expect(loadConfig({ API_PORT_FILE: file('port', '4000') }).api.port).toBe(3000);
    const fromFile = TABLES.flatMap((t) => t.names.filter((n) => t.declaration(n)!.fromFile));
    expect(fromFile).toEqual(
      expect.arrayContaining([
        'ADMIN_API_KEY',
        'DATABASE_URL',
        'DATABASE_OWNER_URL',
        'KAFKA_SASL_PASSWORD',
        'TEMPORAL_TLS_KEY',
        'POSTGRES_SUPERUSER_PASSWORD',
      ]),
    );
  });

  test("DATABASE_URL_FILE's URL is the one the derived logins follow", () => {
    const cfg = loadConfig({ DATABASE_URL_FILE: file('db-url', 'postgresql://app:pw@db.internal:5433/shop\n') });
    expect(cfg.database).toMatchObject({ host: 'db.internal', port: 5433, user: 'app', password: 'pw', database: 'shop' });
    expect(cfg.databaseOwner).toMatchObject({ host: 'db.internal', user: 'order_saga_owner', database: 'shop' });
  });

  test('a URL with sslmode=verify-full and sslrootcert carries its TLS settings', () => {
    const ca = file('ca.pem', CERT);
    const cfg = loadConfig({ DATABASE_URL: `postgresql://app:pw@127.0.0.1/shop?sslmode=verify-full&sslrootcert=${ca}` });
    expect(cfg.database.ssl).toEqual({ mode: 'verify-full', rootCert: ca });
    expect(loadConfig({}).database.ssl).toBeUndefined();
  });

  test('Temporal mTLS from certificate files; a certificate needs its key', () => {
    const env = {
      TEMPORAL_TLS_CA_FILE: file('t-ca.pem', CERT),
      TEMPORAL_TLS_CERT_FILE: file('t.pem', CERT),
      TEMPORAL_TLS_SERVER_NAME: 'localhost',
    };
    expect(configErrorOf(() => loadConfig(env)).message).toBe('TEMPORAL_TLS_KEY: needed with TEMPORAL_TLS_CERT: set both or neither');
    const cfg = loadConfig({ ...env, TEMPORAL_TLS_KEY_FILE: file('t.key', KEY) });
    expect(cfg.temporal.tls).toEqual({ ca: CERT.trim(), serverName: 'localhost', clientCert: { cert: CERT.trim(), key: KEY.trim() } });
    expect(loadConfig({}).temporal.tls).toBeUndefined();
  });

  test('Kafka SASL needs a principal and its password; TLS takes the CA from a file', () => {
    expect(configErrorOf(() => loadConfig({ KAFKA_SASL_MECHANISM: 'scram-sha-512' })).variable).toBe('KAFKA_SASL_USERNAME');
    expect(configErrorOf(() => loadConfig({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'relay' })).variable).toBe(
      'KAFKA_SASL_PASSWORD',
    );
    const cfg = loadConfig({
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: file('k-ca.pem', CERT),
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'order-saga-relay',
      KAFKA_SASL_PASSWORD_FILE: file('k.pw', 'secret-pw\n'),
    });
    expect(cfg.kafka.ssl).toEqual({ ca: CERT.trim() });
    expect(cfg.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'order-saga-relay', password: 'secret-pw' });
    expect(loadConfig({}).kafka).toMatchObject({ ssl: undefined, sasl: undefined });
  });

  test('the API serves HTTPS only with both a certificate and its key', () => {
    expect(configErrorOf(() => loadConfig({ API_TLS_CERT_FILE: file('a.pem', CERT) })).variable).toBe('API_TLS_KEY');
    expect(loadConfig({ API_TLS_CERT_FILE: file('a2.pem', CERT), API_TLS_KEY_FILE: file('a.key', KEY) }).api.tls).toEqual({
      cert: CERT.trim(),
      key: KEY.trim(),
    });
  });
});

describe('the pinned trace backends', () => {
  test("Jaeger's build module requires the pinned version, with the replace its own go.mod has", () => {
    const goMod = fs.readFileSync(path.join(repoRoot, 'scripts', 'stack', 'jaeger-module', 'go.mod'), 'utf8');
    expect(goMod).toContain(`github.com/jaegertracing/jaeger v${VERSIONS.jaeger}`);
    expect(goMod).toMatch(/^tool github\.com\/jaegertracing\/jaeger\/cmd\/jaeger$/m);
    expect(goMod).toMatch(/^replace github\.com\/Shopify\/sarama => /m);
  });
});
