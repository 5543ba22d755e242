/**
 * The secure stack (`npm run stack -- up --secure`): the saga end to end with every hop on
 * TLS and authenticated (each app role its own Kafka principal, the API on HTTPS), and each
 * server refusing a client that is plaintext or unauthenticated. Skipped unless SECURE_STACK=1:
 * `npm run test:secure` brings the secure stack up on its own ports and runs this file.
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import { Connection } from '@temporalio/client';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import { Client as PgClient } from 'pg';
import { createDb, closeDb, type Db } from '../../lib/db';
import { temporalConnectionOptions } from '../../lib/temporal';
import { createApiKey } from '../../services/access/api-keys';
import { kafkaConnection } from '../../services/platform/messaging/kafka';
import { pkiAt, type Pki } from '../../scripts/stack/pki';
import { kafkaPrincipalEnv, KAFKA_PRINCIPALS, type KafkaPrincipal } from '../../scripts/stack/secure';
import { cliEnv, goToolPath } from '../../scripts/stack/temporal';
import type { StackConfig } from '../../scripts/stack/config';
import { testConfig } from '../setup/test-config';
import { killAllRoles, spawnRole, type RoleProcess } from '../support/processes';
import { eventually } from '../support/wait';

const secure = process.env.SECURE_STACK === '1';
const describeSecure = secure ? describe : describe.skip;

let cfg: StackConfig;
let pki: Pki;
let db: Db;
let ca: string;

/** The role processes and the Kafka principal each runs as. */
const ROLE_PRINCIPALS: Record<string, KafkaPrincipal | undefined> = {
  'worker-orders': undefined,
  'worker-payments': undefined,
  'worker-inventory': undefined,
  relay: 'relay',
  'consumer-audit': 'consumer-audit',
  'consumer-notifications': 'consumer-notifications',
  api: 'api',
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON bodies of several routes, read field by field
type Json = any;

/** One JSON request to the HTTPS API, the stack's CA trusted. */
function call(api: RoleProcess, method: string, path: string, key: string, body?: unknown): Promise<{ status: number; body: Json }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${api.url}${path}`,
      {
        method,
        ca,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** A kafkajs client as `principal` (TLS + SASL), or with the given overrides. */
function kafkaAs(principal: KafkaPrincipal | undefined, overrides: Partial<KafkaConfig> = {}): Kafka {
  const sasl = principal
    ? {
        mechanism: 'scram-sha-512' as const,
        username: KAFKA_PRINCIPALS[principal],
        password: pki.secret(`kafka-${KAFKA_PRINCIPALS[principal]}.password`),
      }
    : undefined;
  return new Kafka({
    clientId: 'secure-mode-test',
    ...kafkaConnection({ brokers: cfg.kafka.brokers, ssl: { ca }, sasl }),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    retry: { retries: 0 },
    ...overrides,
  });
}

/**
 * The protocol errors (Kafka error codes, e.g. GROUP_AUTHORIZATION_FAILED) a consumer of
 * `groupId` on `topic` meets until it crashes (no restart). kafkajs reports a refused
 * FindCoordinator only as "Failed to find group coordinator", so the broker's own error
 * types are read from its debug log as well as from the crash's cause.
 */
async function consumerRefusal(principal: KafkaPrincipal, groupId: string, topic: string): Promise<string[]> {
  // A broker just formatted has no group coordinator until its offsets topic exists: that
  // answer says nothing of the ACLs, so the attempt is made again (within the test's deadline).
  const notYet = (seen: string[]) => seen.length > 0 && seen.every((t) => t === 'GROUP_COORDINATOR_NOT_AVAILABLE');
  for (let attempt = 1; ; attempt++) {
    const seen = await consumerAttempt(principal, groupId, topic);
    if (!notYet(seen) || attempt >= 10) return seen;
  }
}

async function consumerAttempt(principal: KafkaPrincipal, groupId: string, topic: string): Promise<string[]> {
  const seen = new Set<string>();
  const note = (e: unknown) => {
    for (let err = e as { type?: string; cause?: unknown } | undefined; err; err = err.cause as typeof err) {
      if (err.type) seen.add(err.type);
    }
  };
  const kafka = kafkaAs(principal, {
    logLevel: logLevel.DEBUG,
    logCreator: () => (entry) => note((entry.log as { error?: unknown }).error),
  });
  const consumer = kafka.consumer({ groupId, retry: { retries: 0, restartOnFailure: async () => false } });
  let crashed = false;
  consumer.on(consumer.events.CRASH, (e) => {
    note(e.payload.error);
    crashed = true;
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async () => undefined });
    await eventually(async () => crashed, { timeoutMs: 20_000, what: `${principal} in ${groupId} on ${topic} to be refused` });
  } catch (err) {
    note(err);
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  return [...seen];
}

function loadSecureConfig(): void {
  cfg = testConfig();
  if (!cfg.stack.secure) throw new Error('SECURE_STACK=1 but the stack is not secure: run `npm run test:secure`');
  pki = pkiAt(cfg.stack.dir);
  ca = fs.readFileSync(pki.caCert, 'utf8');
}

// First, while no app process is in the consumers' groups: a live member would take the
// partitions and the refused consumer would never be given the topic it may not read.
describeSecure('the secure stack, before the app runs', () => {
  beforeAll(loadSecureConfig);

  test("a consumer cannot read another group's topic or join another group", async () => {
    const { eventsTopic, dlqTopic } = cfg.kafka;
    const group = (name: string) => `${cfg.consumers.groupPrefix}${name}`;
    // The audit consumer may write dead letters, not read them.
    expect(await consumerRefusal('consumer-audit', group('audit'), dlqTopic)).toContain('TOPIC_AUTHORIZATION_FAILED');
    // Its principal has no ACL on the notifications consumer's group.
    expect(await consumerRefusal('consumer-audit', group('notifications'), eventsTopic)).toContain('GROUP_AUTHORIZATION_FAILED');
    // The relay produces events; it joins no group.
    expect(await consumerRefusal('relay', group('audit'), eventsTopic)).toContain('GROUP_AUTHORIZATION_FAILED');
  }, 90_000);
});

describeSecure('the secure stack', () => {
  let api: RoleProcess;
  let client: string;
  let admin: string;

  beforeAll(async () => {
    loadSecureConfig();
    db = createDb(cfg.database.url, 2);
    const queuePrefix = `secure-${crypto.randomUUID().slice(0, 8)}-`;
    const started = await Promise.all(
      Object.entries(ROLE_PRINCIPALS).map(([role, principal]) =>
        spawnRole(role, {
          env: { TEMPORAL_TASK_QUEUE_PREFIX: queuePrefix, ...(principal ? kafkaPrincipalEnv(pki, principal) : {}) },
          readyTimeoutMs: 120_000,
        }),
      ),
    );
    api = started.find((r) => r.role === 'api')!;
    admin = (await createApiKey(db, 'secure-admin', 'admin')).key;
    client = (await createApiKey(db, 'secure-client', 'client', ['erin'])).key;
  }, 180_000);

  afterAll(async () => {
    await killAllRoles();
    if (db) await closeDb(db);
  });

  test('an order placed over HTTPS is CONFIRMED, and its timeline arrives through Kafka under the ACLs', async () => {
    expect(api.url).toMatch(/^https:/);
    const sku = `SEC-${crypto.randomUUID().slice(0, 8)}`;
    const product = await call(api, 'POST', '/admin/products', admin, {
      sku,
      name: 'Lamp',
      unitPriceMinor: 4_000,
      currency: 'EUR',
      addStock: 5,
    });
    expect(product.status).toBe(201);
    const account = await call(api, 'POST', '/admin/accounts', admin, { customerId: 'erin', currency: 'EUR', depositMinor: 20_000 });
    expect([200, 201]).toContain(account.status);
    // Every dependency over TLS with the API's own credentials (the first handshakes may outlast a probe).
    const ready = await eventually(async () => ((await call(api, 'GET', '/readyz', client)).body.status === 'ok' ? true : undefined), {
      timeoutMs: 30_000,
      what: '/readyz to be ok',
    });
    expect(ready).toBe(true);

    const placed = await call(api, 'POST', '/orders', client, { customerId: 'erin', items: [{ sku, quantity: 2 }] });
    expect(placed.status).toBe(202);
    const orderId = placed.body.orderId as string;
    await eventually(async () => (await call(api, 'GET', `/orders/${orderId}`, client)).body.status === 'CONFIRMED', {
      timeoutMs: 90_000,
      what: 'the order to be CONFIRMED',
    });
    // The relay published it and the audit consumer read it, each as its own principal.
    const timeline = await eventually(
      async () => {
        const t = (await call(api, 'GET', `/orders/${orderId}/timeline`, client)).body;
        return t.entries?.some((e: { type: string }) => e.type === 'OrderConfirmed') ? t : undefined;
      },
      { timeoutMs: 60_000, what: 'the timeline to show OrderConfirmed' },
    );
    expect(timeline.entries.length).toBeGreaterThan(1);
  });

  describe('PostgreSQL', () => {
    const url = (change: (u: URL) => void) => {
      const u = new URL(cfg.databaseOwner.url);
      change(u);
      return u;
    };
    const connect = async (u: URL) => {
      const c = new PgClient({ connectionString: u.toString(), connectionTimeoutMillis: 5000 });
      try {
        await c.connect();
        return (await c.query<{ ssl: boolean }>('select ssl from pg_stat_ssl where pid = pg_backend_pid()')).rows[0]!.ssl;
      } finally {
        await c.end().catch(() => undefined);
      }
    };

    test('a login with its password over verified TLS is served', async () => {
      await expect(connect(url(() => undefined))).resolves.toBe(true);
    });

    test('refuses a client without TLS, even with the right password', async () => {
      await expect(connect(url((u) => u.searchParams.set('sslmode', 'disable')))).rejects.toThrow(/no encryption/);
    });

    test('refuses a client over TLS without a password, or with a wrong one', async () => {
      await expect(connect(url((u) => (u.password = '')))).rejects.toThrow(/password/);
      await expect(connect(url((u) => (u.password = 'wrong')))).rejects.toThrow(/password authentication failed/);
    });

    test('psql without TLS or without a password is refused', () => {
      const psql = (u: URL) => spawnSync('psql', [u.toString(), '-w', '-c', 'select 1'], { encoding: 'utf8', timeout: 15_000 });
      const plain = psql(url((u) => u.searchParams.set('sslmode', 'disable')));
      expect(plain.status).not.toBe(0);
      expect(plain.stderr).toMatch(/no encryption/);
      const noPassword = psql(
        url((u) => {
          u.password = '';
          u.searchParams.set('sslmode', 'require');
          u.searchParams.delete('sslrootcert');
        }),
      );
      expect(noPassword.status).not.toBe(0);
      expect(noPassword.stderr).toMatch(/password/);
    });
  });

  describe('Kafka', () => {
    const listTopics = async (kafka: Kafka) => {
      const a = kafka.admin();
      try {
        await a.connect();
        return await a.listTopics();
      } finally {
        await a.disconnect().catch(() => undefined);
      }
    };

    test('a principal with its password over TLS is served', async () => {
      await expect(listTopics(kafkaAs('relay'))).resolves.toContain(cfg.kafka.eventsTopic);
    });

    test('refuses a plaintext client, a client without SASL, and a wrong password', async () => {
      await expect(listTopics(kafkaAs(undefined, { ssl: false }))).rejects.toThrow();
      await expect(listTopics(kafkaAs(undefined))).rejects.toThrow();
      await expect(
        listTopics(kafkaAs(undefined, { sasl: { mechanism: 'scram-sha-512', username: KAFKA_PRINCIPALS.relay, password: 'wrong' } })),
      ).rejects.toThrow(/SASL|[Aa]uthentication/);
    });
  });

  describe('Temporal', () => {
    const describeNamespace = async (opts: Parameters<typeof Connection.connect>[0]) => {
      const c = await Connection.connect({ ...opts, connectTimeout: 5000 });
      try {
        return await c.workflowService.describeNamespace({ namespace: cfg.temporal.namespace });
      } finally {
        await c.close();
      }
    };
    const full = () => temporalConnectionOptions(cfg);

    test('a client with its certificate is served', async () => {
      await expect(describeNamespace(full())).resolves.toHaveProperty('namespaceInfo');
    });

    test('refuses a client without a certificate, and a plaintext one', async () => {
      const { clientCertPair: _cert, ...noCert } = full().tls as Exclude<ReturnType<typeof full>['tls'], boolean | undefined | null>;
      await expect(describeNamespace({ address: cfg.temporal.address, tls: noCert })).rejects.toThrow();
      await expect(describeNamespace({ address: cfg.temporal.address })).rejects.toThrow();
    });

    test('the HTTP API refuses a request without a client certificate', async () => {
      const status = new Promise<number>((resolve, reject) => {
        const req = https.request(
          `https://${cfg.temporal.host}:${cfg.stack.temporal.httpPort}/api/v1/namespaces/${cfg.temporal.namespace}`,
          { ca, servername: 'localhost' },
          (res) => resolve(res.statusCode ?? 0),
        );
        req.on('error', reject);
        req.end();
      });
      await expect(status).rejects.toThrow(/certificate|alert|socket hang up|ECONNRESET/i);
    });

    test('the temporal CLI and tctl reach it with the wrappers’ certificate, and not without', () => {
      const temporal = goToolPath(cfg, 'temporal');
      const args = ['operator', 'namespace', 'describe', '-n', cfg.temporal.namespace];
      const withCert = spawnSync(temporal, args, { env: cliEnv(cfg), encoding: 'utf8', timeout: 30_000 });
      expect(withCert.stderr).toBe('');
      expect(withCert.stdout).toContain(cfg.temporal.namespace);
      const plainEnv = { ...process.env, TEMPORAL_ADDRESS: cfg.temporal.address };
      const without = spawnSync(temporal, args, { env: plainEnv, encoding: 'utf8', timeout: 30_000 });
      expect(without.status).not.toBe(0);
      const tctl = spawnSync(goToolPath(cfg, 'tctl'), ['--ns', cfg.temporal.namespace, 'namespace', 'describe'], {
        env: cliEnv(cfg),
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(tctl.stdout).toContain(`Name: ${cfg.temporal.namespace}`);
    });

    test("the Web UI's write actions are off", async () => {
      const res = await fetch(`http://${cfg.temporal.host}:${cfg.stack.temporal.uiPort}/api/v1/settings`);
      const settings = (await res.json()) as Record<string, unknown>;
      expect(settings).toMatchObject({
        DisableWriteActions: true,
        WorkflowTerminateDisabled: true,
        WorkflowCancelDisabled: true,
        WorkflowSignalDisabled: true,
        WorkflowResetDisabled: true,
        StartWorkflowDisabled: true,
      });
    });
  });
});
