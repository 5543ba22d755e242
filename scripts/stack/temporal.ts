/**
 * Temporal: the `temporal` CLI (built with `go install`, pinned, cached outside the repo)
 * running `server start-dev` on SQLite in the stack directory, headless (the read-only Web UI
 * is temporal-ui.ts), with the saga's search attributes. tctl is pinned too, for operators who
 * use it. The same pinned builds give the full server on PostgreSQL (temporal-server.ts); the
 * helpers here serve both.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { google, temporal } from '@temporalio/proto';
import { repoRoot, type Config } from '../../lib/config';
import { temporalConnectionOptions } from '../../lib/temporal';
import { SEARCH_ATTRIBUTES } from '../../services/orders/contract';
import type { StackConfig } from './config';
import { componentDir, VERSIONS, type Component, type Health } from './component';
import { pkiAt } from './pki';
import { commandLine, isAlive, log, onPath, readPid, run, spawnDaemon, stopPid } from './proc';

/**
 * Pinned Go tools: version, and each binary's name in the cache with the package that
 * builds it (`go install` names a binary after its package's directory, so the cache
 * renames it). tctl's own module (github.com/temporalio/tctl) is not served by the Go
 * module proxy we build with; 1.13.1 is the last tctl built from the server module, whose
 * main package is `cmd/tools/cli`. The full server's schema files are embedded in
 * temporal-sql-tool (`--schema-name`), so nothing else is needed from the module cache.
 *
 * A tool whose own go.mod has a `replace` directive cannot be built by `go install pkg@version`
 * (Jaeger's pins sarama): it names `module`, a directory of the repo holding a go.mod that
 * requires it at the version (with the same replace) and its go.sum, and is built from there.
 */
const GO_TOOLS = {
  temporal: { version: VERSIONS.temporalCli, binaries: { temporal: 'github.com/temporalio/cli/cmd/temporal' } },
  tctl: { version: VERSIONS.tctl, binaries: { tctl: 'go.temporal.io/server/cmd/tools/cli' } },
  'temporal-server': {
    version: VERSIONS.temporalServer,
    binaries: { 'temporal-server': 'go.temporal.io/server/cmd/server', 'temporal-sql-tool': 'go.temporal.io/server/cmd/tools/sql' },
  },
  'temporal-ui-server': {
    version: VERSIONS.temporalUi,
    binaries: { 'temporal-ui-server': 'github.com/temporalio/ui-server/v2/cmd/server' },
  },
  jaeger: {
    version: VERSIONS.jaeger,
    binaries: { jaeger: 'github.com/jaegertracing/jaeger/cmd/jaeger' },
    module: path.join(repoRoot, 'scripts', 'stack', 'jaeger-module'),
  },
} as const satisfies Record<string, { version: string; binaries: Record<string, string>; module?: string }>;

export type GoTool = keyof typeof GO_TOOLS;

/** Where a pinned tool's binary lives once built: `<cache>/<tool>-<version>/<binary>` (binary defaults to the tool). */
export function goToolPath(cfg: StackConfig, tool: GoTool, binary: string = tool): string {
  return path.join(cfg.stack.cacheDir, `${tool}-${GO_TOOLS[tool].version}`, binary);
}

/** Builds a pinned Go tool (all its binaries) into the cache with `go install`, once per version. */
export async function installGoTool(cfg: StackConfig, tool: GoTool): Promise<string> {
  const spec: { version: string; binaries: Record<string, string>; module?: string } = GO_TOOLS[tool];
  const { version, binaries } = spec;
  if (Object.keys(binaries).every((binary) => fs.existsSync(goToolPath(cfg, tool, binary)))) return goToolPath(cfg, tool);
  if (!(await onPath('go'))) {
    throw new Error(`building ${tool} needs Go >= 1.24 on PATH (https://go.dev/dl); none found`);
  }
  log(`building ${tool} ${version} with go install (first time only, takes minutes)`);
  const started = Date.now();
  // Build into a scratch GOBIN and move into place, so a half-finished build is never cached.
  // The scratch dir sits in the cache itself: rename is atomic only within one file system,
  // and two concurrent builds then race harmlessly (the last rename wins, same binary).
  fs.mkdirSync(cfg.stack.cacheDir, { recursive: true });
  const scratch = fs.mkdtempSync(path.join(cfg.stack.cacheDir, `.${tool}-${version}-build-`));
  try {
    const packages: string[] = Object.values(binaries);
    // In a module, its go.mod pins the version (and go.sum every dependency).
    await run('go', ['install', ...packages.map((pkg) => (spec.module ? pkg : `${pkg}@v${version}`))], {
      cwd: spec.module ?? os.tmpdir(),
      env: { ...process.env, GOBIN: scratch, GOFLAGS: '-buildvcs=false', CGO_ENABLED: '0' },
    });
    fs.mkdirSync(path.dirname(goToolPath(cfg, tool)), { recursive: true });
    for (const [binary, pkg] of Object.entries(binaries)) {
      fs.renameSync(path.join(scratch, path.basename(pkg)), goToolPath(cfg, tool, binary));
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  log(`built ${tool} ${version} in ${((Date.now() - started) / 1000).toFixed(0)} s: ${path.dirname(goToolPath(cfg, tool))}`);
  return goToolPath(cfg, tool);
}

/**
 * The version a built tool reports itself (`tctl 1.13.1`), or undefined when it is not
 * built. Throws when the binary is there but does not run.
 */
export async function goToolVersion(cfg: StackConfig, tool: GoTool): Promise<string | undefined> {
  const bin = goToolPath(cfg, tool);
  if (!fs.existsSync(bin)) return undefined;
  const { stdout, stderr } = await run(bin, ['--version']);
  const version = /version\s+v?(\S+)/.exec(stdout)?.[1];
  if (!version) throw new Error(`${bin} --version printed no version: ${(stdout || stderr).trim()}`);
  return `${tool} ${version}`;
}

/**
 * Environment that points the pinned CLIs at the configured server. On the secure stack both
 * present the operators' client certificate (`temporal-cli`, CN order-saga-operator) and check
 * the frontend's against the stack's CA. The CLIs' TEMPORAL_TLS_CERT/KEY/CA are paths (the
 * app's variables of those names hold PEM text, their `_FILE` variants paths), so they are set here.
 */
export function cliEnv(cfg: Config | StackConfig): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: cfg.temporal.address,
    TEMPORAL_NAMESPACE: cfg.temporal.namespace,
    TEMPORAL_CLI_ADDRESS: cfg.temporal.address,
    TEMPORAL_CLI_NAMESPACE: cfg.temporal.namespace,
  };
  for (const name of ['TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY', 'TEMPORAL_TLS_CA']) delete env[name];
  const stackDir = 'stack' in cfg ? cfg.stack.dir : undefined;
  if (!stackDir || !cfg.temporal.tls) return env;
  const pki = pkiAt(stackDir);
  const { cert, key } = pki.cert('temporal-cli');
  const serverName = cfg.temporal.tls.serverName ?? 'localhost';
  return {
    ...env,
    // temporal CLI 1.5.1 (its flags' variables; envconfig's names too)
    TEMPORAL_TLS: 'true',
    TEMPORAL_TLS_CERT: cert,
    TEMPORAL_TLS_KEY: key,
    TEMPORAL_TLS_CA: pki.caCert,
    TEMPORAL_TLS_SERVER_NAME: serverName,
    TEMPORAL_TLS_CLIENT_CERT_PATH: cert,
    TEMPORAL_TLS_CLIENT_KEY_PATH: key,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert,
    // tctl 1.13.1
    TEMPORAL_CLI_TLS_CERT: cert,
    TEMPORAL_CLI_TLS_KEY: key,
    TEMPORAL_CLI_TLS_CA: pki.caCert,
    TEMPORAL_CLI_TLS_SERVER_NAME: serverName,
  };
}

/** The persistence store a server of each TEMPORAL_PERSISTENCE mode reports (GetClusterInfo). */
export const PERSISTENCE_STORE = { sqlite: 'sqlite', postgres: 'postgres12' } as const;

/** Runs fn over a short-lived client connection to the configured frontend. */
export async function withTemporal<T>(cfg: Config, fn: (c: Connection) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ ...temporalConnectionOptions(cfg), connectTimeout: 2000 });
  try {
    return await fn(connection);
  } finally {
    await connection.close();
  }
}

/**
 * Throws unless the server on the address runs the configured mode's persistence: the
 * other mode's server on the same ports must never pass for this one.
 */
export async function assertPersistence(cfg: StackConfig, c: Connection): Promise<temporal.api.workflowservice.v1.GetClusterInfoResponse> {
  const info = await c.workflowService.getClusterInfo({});
  const mode = cfg.stack.temporal.persistence;
  const expected = PERSISTENCE_STORE[mode];
  if (info.persistenceStore !== expected || info.visibilityStore !== expected) {
    throw new Error(
      `the Temporal server on ${cfg.temporal.address} runs ${info.persistenceStore} persistence (visibility ${info.visibilityStore}), ` +
        `TEMPORAL_PERSISTENCE=${mode} wants ${expected}: \`npm run stack -- down\` first`,
    );
  }
  return info;
}

/** Throws when a Temporal server already answers on the address (start() would fail to bind). */
export async function assertAddressFree(cfg: StackConfig): Promise<void> {
  let store: string | undefined;
  try {
    store = await withTemporal(cfg, async (c) => (await c.workflowService.getClusterInfo({})).persistenceStore);
  } catch {
    return;
  }
  throw new Error(
    `a Temporal server with ${store} persistence already answers on ${cfg.temporal.address}, ` +
      `TEMPORAL_PERSISTENCE=${cfg.stack.temporal.persistence}: if it is this stack's other mode, ` +
      `\`npm run stack -- down\` first; otherwise stop it or point TEMPORAL_ADDRESS elsewhere`,
  );
}

/** Search attributes of the saga not registered in the namespace. */
export async function missingSearchAttributes(c: Connection, namespace: string): Promise<string[]> {
  const existing = await c.operatorService.listSearchAttributes({ namespace });
  return Object.keys(SEARCH_ATTRIBUTES).filter((k) => !(k in (existing.customAttributes ?? {})));
}

/** Registers any missing search attribute (the server may have been started elsewhere). */
export async function ensureSearchAttributes(c: Connection, namespace: string): Promise<void> {
  const missing = await missingSearchAttributes(c, namespace);
  if (missing.length === 0) return;
  await c.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((k) => [k, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
  });
}

const DAY_SECONDS = 24 * 3600;

/** The namespace's retention, in whole days (0 when the server reports none). */
export async function namespaceRetentionDays(c: Connection, namespace: string): Promise<number> {
  const ns = await c.workflowService.describeNamespace({ namespace });
  return Math.round(Number(ns.config?.workflowExecutionRetentionTtl?.seconds ?? 0) / DAY_SECONDS);
}

/**
 * Sets the namespace's retention to TEMPORAL_NAMESPACE_RETENTION_DAYS unless it already is:
 * both modes, so the dev server's own default (1 day) never decides how long history stays.
 */
export async function ensureRetention(cfg: StackConfig, c: Connection): Promise<void> {
  const { namespace } = cfg.temporal;
  const days = cfg.stack.temporal.namespaceRetentionDays;
  if ((await namespaceRetentionDays(c, namespace)) === days) return;
  log(`setting the retention of Temporal namespace ${namespace} to ${days} days`);
  await c.workflowService.updateNamespace({
    namespace,
    config: { workflowExecutionRetentionTtl: google.protobuf.Duration.fromObject({ seconds: days * DAY_SECONDS }) },
  });
}

/**
 * The dev server's transfer queue checkpoints its ack level every second instead of every 30 s
 * (`history.transferProcessorUpdateAckInterval`). Deleting a closed workflow (`temporal workflow
 * delete`, what retention does) waits until the run's close task is behind that checkpoint
 * (go.temporal.io/server 1.29.1, transfer_queue_task_executor_base.go, isCloseExecutionTaskPending),
 * retrying from 3 s with backoff: at 30 s a delete took 30 to 40 s, now about 3 s. The cost: the
 * queue deletes its completed tasks in batches every second instead of every 30 s (the shard row
 * is still written at most every 1000 tasks or `history.shardUpdateMinInterval`). Dev and test
 * stack only; the full server (TEMPORAL_PERSISTENCE=postgres, temporal-server.ts) keeps the default.
 */
export const DEV_ACK_INTERVALS = ['history.transferProcessorUpdateAckInterval="1s"'] as const;

const HEADLESS = '--headless';

/** The dev server (`temporal server start-dev`): SQLite in the stack directory, headless (temporal-ui.ts serves the Web UI). */
export class Temporal implements Component {
  readonly name = 'temporal';
  private readonly dir: string;
  readonly logFile: string;
  private readonly pidFile: string;

  constructor(private readonly cfg: StackConfig) {
    this.dir = componentDir(cfg, 'temporal');
    this.logFile = path.join(this.dir, 'temporal.log');
    this.pidFile = path.join(this.dir, 'temporal.pid');
  }

  async install(): Promise<void> {
    await installGoTool(this.cfg, 'temporal');
  }

  async start(): Promise<void> {
    await assertAddressFree(this.cfg);
    fs.mkdirSync(this.dir, { recursive: true });
    const t = this.cfg.temporal;
    const args = [
      'server',
      'start-dev',
      '--db-filename',
      path.join(this.dir, 'temporal.db'),
      '--ip',
      t.host,
      '--port',
      String(t.port),
      // No built-in Web UI: its write actions cannot be turned off; the temporal-ui component serves a read-only one.
      HEADLESS,
      '--http-port',
      String(this.cfg.stack.temporal.httpPort),
      '--metrics-port',
      String(this.cfg.stack.temporal.metricsPort),
      '--log-level',
      'warn',
      // WAL + synchronous=normal: durable across process crashes, far fewer fsyncs. The dev
      // server's SQLite plugin funnels every query through one connection, so per-query cost
      // bounds throughput: a large page cache and mmap keep reads off the file system.
      '--sqlite-pragma',
      'journal_mode=wal',
      '--sqlite-pragma',
      'synchronous=normal',
      '--sqlite-pragma',
      'cache_size=-65536',
      '--sqlite-pragma',
      'mmap_size=268435456',
      '--sqlite-pragma',
      'temp_store=memory',
      // One worker fleet per queue: a single partition matches tasks to pollers directly
      // instead of spreading them over four partitions (and their persistence).
      // The dev server turns the search-attribute and namespace caches off (every read of either
      // goes to SQLite, so attributes created at runtime show at once): 10 to 20 metadata reads per
      // workflow through its one connection, measured by `npm run bench`. Ours are created with the
      // database (--search-attribute below), so the caches stay on, as on a production server.
      '--dynamic-config-value',
      'system.forceSearchAttributesCacheRefreshOnRead=false',
      '--dynamic-config-value',
      'matching.numTaskqueueReadPartitions=1',
      '--dynamic-config-value',
      'matching.numTaskqueueWritePartitions=1',
      ...DEV_ACK_INTERVALS.flatMap((value) => ['--dynamic-config-value', value]),
      ...Object.entries(SEARCH_ATTRIBUTES).flatMap(([k, type]) => ['--search-attribute', `${k}=${type}`]),
      ...(t.namespace === 'default' ? [] : ['--namespace', t.namespace]),
    ];
    spawnDaemon(goToolPath(this.cfg, 'temporal'), args, {
      logFile: this.logFile,
      pidFile: this.pidFile,
      cwd: this.dir,
    });
  }

  async health(): Promise<Health> {
    const t = this.cfg.temporal;
    const version = await withTemporal(this.cfg, async (c) => {
      const { serverVersion } = await assertPersistence(this.cfg, c);
      await c.workflowService.describeNamespace({ namespace: t.namespace });
      return serverVersion;
    });
    if (this.servesBuiltInUi()) {
      throw new Error(
        `pid ${this.pid()} serves the built-in Web UI, its write actions on (started by an older checkout): \`npm run stack -- up\` restarts it headless`,
      );
    }
    return {
      version: `server ${version} (temporal CLI ${VERSIONS.temporalCli}), SQLite persistence`,
      endpoint: t.address,
      extra: 'headless (Web UI: temporal-ui)',
    };
  }

  /** This stack's dev server, started without --headless: it serves the UI whose write actions are on, on the UI's port. */
  private servesBuiltInUi(): boolean {
    const pid = this.pid();
    const args = pid === undefined ? [] : (commandLine(pid)?.split(' ') ?? []);
    // Its own --db-filename: a pid file's number the kernel gave to another process is never stopped.
    return args.includes(path.join(this.dir, 'temporal.db')) && !args.includes(HEADLESS);
  }

  /** A dev server of this stack's own that serves the built-in UI is stopped, to be started again headless. */
  async reclaim(): Promise<void> {
    if (!this.servesBuiltInUi()) return;
    log('restarting temporal headless (its built-in Web UI has write actions on; temporal-ui replaces it)');
    await this.stop();
  }

  /** The saga's search attributes and the configured retention. */
  async provision(): Promise<void> {
    await withTemporal(this.cfg, async (c) => {
      await ensureSearchAttributes(c, this.cfg.temporal.namespace);
      await ensureRetention(this.cfg, c);
    });
  }

  pid(): number | undefined {
    const pid = readPid(this.pidFile);
    return isAlive(pid) ? pid : undefined;
  }

  async stop(): Promise<void> {
    await stopPid(this.pid());
  }
}
