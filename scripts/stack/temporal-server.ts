/**
 * TEMPORAL_PERSISTENCE=postgres: the full Temporal server (`go.temporal.io/server/cmd/server`,
 * the version the dev server embeds) on the stack's PostgreSQL, the production topology:
 * its own persistence and visibility databases (advanced visibility on PostgreSQL, so
 * `OrderStatus="..."` queries work), schema set up by temporal-sql-tool, dynamic config
 * tuned for one node. Its Web UI is the ui-server next to it (temporal-ui.ts), as for the dev server.
 */
import fs from 'node:fs';
import path from 'node:path';
import { google } from '@temporalio/proto';
import { stringify } from 'yaml';
import type { Config } from '../../lib/config';
import type { StackConfig } from './config';
import { componentDir, type Component, type Health } from './component';
import type { Pki } from './pki';
import { ensureDatabase, Postgres } from './postgres';
import { securePki } from './secure';
import { ownedPid, run, spawnDaemon, stopPid, waitUntil } from './proc';
import {
  assertAddressFree,
  assertPersistence,
  ensureRetention,
  ensureSearchAttributes,
  goToolPath,
  installGoTool,
  missingSearchAttributes,
  withTemporal,
} from './temporal';

/**
 * History shards: fixed when the cluster is first created (on existing databases the server
 * ignores another count and keeps the persisted one), so it is a constant, not a setting.
 * One, like the dev server: on one node with two cores, 4 shards cost more CPU per workflow
 * (more queues and timers to poll) and bought no throughput.
 */
export const HISTORY_SHARDS = 1;

/**
 * The pgx driver: half the PostgreSQL CPU of the lib/pq one (`postgres12`) per workflow here,
 * and less in the server. The server still reports its store as `postgres12`.
 */
const SQL_PLUGIN = 'postgres12_pgx';

/**
 * The Temporal databases of this stack, named after the app database so two stacks sharing
 * one PostgreSQL never collide. Tests and the benchmark suffix the app database (`_test`,
 * `_bench`) but share the stack's Temporal, so the suffix is not part of the name.
 */
export function temporalDatabases(cfg: Config): { persistence: string; visibility: string } {
  const base = cfg.database.database.replace(/_(test|bench)$/, '');
  return { persistence: `${base}_temporal`, visibility: `${base}_temporal_visibility` };
}

/**
 * Per-database defaults for the Temporal databases only (the app's stay fully durable).
 * synchronous_commit=off: a commit returns before its WAL reaches disk. A crash of
 * PostgreSQL or of the machine (not of Temporal) may lose the last ~0.6 s of Temporal's
 * acknowledged writes; the database stays consistent. docs/operations/local-stack.md says what that means.
 */
const TEMPORAL_DATABASE_SETTINGS = { synchronous_commit: 'off' };

/** Internal ports of the other services, derived from the frontend's (7233: 7234, 7235, 7239, 6933...). */
function servicePorts(cfg: StackConfig) {
  const p = cfg.temporal.port;
  const service = (grpc: number) => ({ grpcPort: grpc, membershipPort: grpc - 300, bindOnIP: cfg.temporal.host });
  return {
    frontend: { ...service(p), httpPort: cfg.stack.temporal.httpPort },
    history: service(p + 1),
    matching: service(p + 2),
    worker: service(p + 6),
  };
}

/** The dynamic config: the dev server's single-node settings, plus limits sized for one PostgreSQL. */
export function dynamicConfig(): Record<string, { value: unknown }[]> {
  const values: Record<string, unknown> = {
    // One worker fleet per queue: match tasks to pollers directly (as the dev server setup does).
    'matching.numTaskqueueReadPartitions': 1,
    'matching.numTaskqueueWritePartitions': 1,
    // Per-service persistence rate limits: the defaults (2000..9000 QPS) are sized for
    // shared clusters; this server is alone on its database.
    'frontend.persistenceMaxQPS': 10_000,
    'history.persistenceMaxQPS': 45_000,
    'matching.persistenceMaxQPS': 45_000,
    'worker.persistenceMaxQPS': 10_000,
    'system.visibilityPersistenceMaxReadQPS': 45_000,
    'system.visibilityPersistenceMaxWriteQPS': 45_000,
    // The dev server's values: a smaller host-level mutable-state cache, and enough
    // visibility RPS for the Web UI's list and count calls.
    'history.hostLevelCacheMaxSize': 8096,
    'frontend.namespaceRPS.visibility': 100,
  };
  return Object.fromEntries(Object.entries(values).map(([k, value]) => [k, [{ value }]]));
}

/** The name the stack's server certificate carries (also IP 127.0.0.1), checked by every TLS client of the secure stack. */
export const SERVER_NAME = 'localhost';

/**
 * The secure stack's TLS: mTLS on the frontend (gRPC and its HTTP API) and between the
 * services (internode), each requiring a client certificate from the stack's CA; the system
 * worker presents the server certificate (it carries clientAuth too). Without an authorizer,
 * any certificate of that CA may call every API: the CA is the boundary (docs/security.md).
 */
function tlsConfig(pki: Pki): Record<string, unknown> {
  const server = pki.cert('server');
  const group = {
    server: { certFile: server.cert, keyFile: server.key, requireClientAuth: true, clientCaFiles: [pki.caCert] },
    client: { serverName: SERVER_NAME, rootCaFiles: [pki.caCert] },
  };
  return {
    internode: group,
    frontend: group,
    systemWorker: { certFile: server.cert, keyFile: server.key, client: { serverName: SERVER_NAME, rootCaFiles: [pki.caCert] } },
    // Rotated files are picked up without a restart.
    refreshInterval: '1m',
    expirationChecks: { warningWindow: '720h', errorWindow: '168h', checkInterval: '1h' },
  };
}

/** TLS of the SQL store: verify-full against the stack's CA (PostgreSQL accepts nothing else there). */
const sqlTls = (pki: Pki) => ({ enabled: true, caFile: pki.caCert, enableHostVerification: true });

/** The server's static config (the shape of the module's config/development-postgres12.yaml). */
function serverConfig(cfg: StackConfig, dynamicConfigFile: string): Record<string, unknown> {
  const pki = securePki(cfg);
  const dbs = temporalDatabases(cfg);
  // The owner login (DATABASE_OWNER_URL) owns both databases, as it owns the app's.
  const { host, port, user, password } = cfg.databaseOwner;
  // One process runs four services, each with its own pool of these sizes.
  const store = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: SQL_PLUGIN,
      databaseName,
      connectAddr: `${host}:${port}`,
      connectProtocol: 'tcp',
      user,
      password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
      ...(pki ? { tls: sqlTls(pki) } : {}),
    },
  });
  const t = cfg.temporal;
  return {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'default',
      visibilityStore: 'visibility',
      numHistoryShards: HISTORY_SHARDS,
      datastores: { default: store(dbs.persistence, 20), visibility: store(dbs.visibility, 10) },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: t.host },
      metrics: { prometheus: { framework: 'tally', timerType: 'histogram', listenAddress: `${t.host}:${cfg.stack.temporal.metricsPort}` } },
      ...(pki ? { tls: tlsConfig(pki) } : {}),
    },
    services: Object.fromEntries(Object.entries(servicePorts(cfg)).map(([name, rpc]) => [name, { rpc }])),
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: t.address },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
    namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
    publicClient: { hostPort: t.address },
    dynamicConfigClient: { filepath: dynamicConfigFile, pollInterval: '10s' },
  };
}

/** Creates both databases and brings their schemas to the version this server needs; idempotent. */
async function setUpSchemas(cfg: StackConfig): Promise<void> {
  const dbs = temporalDatabases(cfg);
  const sqlTool = goToolPath(cfg, 'temporal-server', 'temporal-sql-tool');
  const { host, port, user, password } = cfg.databaseOwner;
  for (const [database, schema] of [
    [dbs.persistence, 'postgresql/v12/temporal'],
    [dbs.visibility, 'postgresql/v12/visibility'],
  ] as const) {
    await ensureDatabase(cfg, database, TEMPORAL_DATABASE_SETTINGS);
    const pki = securePki(cfg);
    const tls = pki ? ['--tls', '--tls-ca-file', pki.caCert] : [];
    const conn = ['--plugin', SQL_PLUGIN, '--ep', host, '-p', String(port), '-u', user, '--db', database, ...tls];
    const env = { ...process.env, SQL_PASSWORD: password };
    // The versioned schema files are embedded in the tool (--schema-name).
    await run(sqlTool, [...conn, 'setup-schema', '-v', '0.0'], { env });
    await run(sqlTool, [...conn, 'update-schema', '--schema-name', schema], { env });
  }
}

export class TemporalServer implements Component {
  readonly name = 'temporal';
  private readonly dir: string;
  readonly logFile: string;
  private readonly pidFile: string;

  constructor(private readonly cfg: StackConfig) {
    this.dir = componentDir(cfg, 'temporal-postgres');
    this.logFile = path.join(this.dir, 'temporal-server.log');
    this.pidFile = path.join(this.dir, 'temporal-server.pid');
  }

  async install(): Promise<void> {
    await installGoTool(this.cfg, 'temporal-server');
  }

  async start(): Promise<void> {
    await assertAddressFree(this.cfg);
    // The stack starts its servers in parallel; this one needs PostgreSQL first.
    const postgres = new Postgres(this.cfg);
    await waitUntil(() => postgres.health(), { timeoutMs: 120_000, intervalMs: 300, what: 'PostgreSQL (for Temporal)' });
    await setUpSchemas(this.cfg);
    const configDir = path.join(this.dir, 'config');
    fs.mkdirSync(configDir, { recursive: true });
    const dynamicConfigFile = path.join(configDir, 'dynamicconfig.yaml');
    fs.writeFileSync(dynamicConfigFile, stringify(dynamicConfig()));
    // The server only logs a misspelt key or a mistyped value and runs on the default: refuse instead.
    const check = await run(goToolPath(this.cfg, 'temporal-server'), ['validate-dynamic-config', dynamicConfigFile]);
    if (/warning:/.test(check.stdout)) throw new Error(`invalid dynamic config ${dynamicConfigFile}:\n${check.stdout}`);
    // `--env development` reads <root>/<config>/development.yaml.
    fs.writeFileSync(path.join(configDir, 'development.yaml'), stringify(serverConfig(this.cfg, dynamicConfigFile)));
    const args = ['--root', this.dir, '--config', 'config', '--env', 'development', '--allow-no-auth', 'start'];
    spawnDaemon(goToolPath(this.cfg, 'temporal-server'), args, { logFile: this.logFile, pidFile: this.pidFile, cwd: this.dir });
  }

  /** The frontend answers and runs on PostgreSQL (the namespace may not exist yet). */
  async ready(): Promise<void> {
    await withTemporal(this.cfg, (c) => assertPersistence(this.cfg, c));
  }

  async health(): Promise<Health> {
    const t = this.cfg.temporal;
    const info = await withTemporal(this.cfg, async (c) => {
      const cluster = await assertPersistence(this.cfg, c);
      await c.workflowService.describeNamespace({ namespace: t.namespace });
      const missing = await missingSearchAttributes(c, t.namespace);
      if (missing.length > 0) throw new Error(`namespace ${t.namespace} lacks the search attributes ${missing.join(', ')}`);
      return cluster;
    });
    const dbs = temporalDatabases(this.cfg);
    // The shard count the cluster was created with (the server keeps it whatever the config says).
    const shards = info.historyShardCount;
    return {
      version: `server ${info.serverVersion} (temporal-server), PostgreSQL persistence + visibility, ${shards} history shard${shards === 1 ? '' : 's'}${securePki(this.cfg) ? ', mTLS' : ''}`,
      endpoint: t.address,
      extra: `databases ${dbs.persistence}, ${dbs.visibility}`,
    };
  }

  /** Registers the namespace (with the configured retention) and the saga's search attributes. */
  async provision(): Promise<void> {
    const { namespace } = this.cfg.temporal;
    const days = this.cfg.stack.temporal.namespaceRetentionDays;
    await withTemporal(this.cfg, async (c) => {
      const exists = await c.workflowService.describeNamespace({ namespace }).then(
        () => true,
        (err: { code?: number }) => {
          if (err.code === 5) return false; // NOT_FOUND
          throw err;
        },
      );
      if (!exists) {
        await c.workflowService.registerNamespace({
          namespace,
          workflowExecutionRetentionPeriod: google.protobuf.Duration.fromObject({ seconds: days * 24 * 3600 }),
        });
        // Other APIs see a new namespace once the server's namespace registry refreshes (2 s).
        await waitUntil(() => missingSearchAttributes(c, namespace).then(() => true), {
          timeoutMs: 30_000,
          what: `namespace ${namespace} to reach the server's registry`,
        });
      }
      await ensureSearchAttributes(c, namespace);
      await ensureRetention(this.cfg, c);
    });
  }

  pid(): number | undefined {
    // Its command line names its own --root: a reused pid of a stale file is not this server.
    return ownedPid(this.pidFile, this.dir);
  }

  async stop(): Promise<void> {
    await stopPid(this.pid());
  }
}
