/**
 * Temporal: the `temporal` CLI (built with `go install`, pinned, cached outside the repo)
 * running `server start-dev` on SQLite in the stack directory, with the Web UI and the
 * saga's search attributes. tctl is pinned too, for operators who use it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Config } from '../../lib/config';
import { SEARCH_ATTRIBUTES } from '../../services/orders/contract';
import type { StackConfig } from './config';
import { componentDir, VERSIONS, type Component, type Health } from './component';
import { isAlive, log, onPath, readPid, run, spawnDaemon, stopPid } from './proc';

/**
 * Pinned Go tools: module, version, and the name `go install` gives the binary (its
 * package's directory name). tctl's own module (github.com/temporalio/tctl) is not served
 * by the Go module proxy we build with; 1.13.1 is the last tctl built from the server
 * module, whose main package is `cmd/tools/cli`, so its binary comes out as `cli`.
 */
const GO_TOOLS = {
  temporal: { module: 'github.com/temporalio/cli/cmd/temporal', version: VERSIONS.temporalCli, binary: 'temporal' },
  tctl: { module: 'go.temporal.io/server/cmd/tools/cli', version: VERSIONS.tctl, binary: 'cli' },
} as const;

export type GoTool = keyof typeof GO_TOOLS;

/** Where a pinned tool lives once built: `<cache>/<tool>-<version>/<tool>`. */
export function goToolPath(cfg: StackConfig, tool: GoTool): string {
  const { version } = GO_TOOLS[tool];
  return path.join(cfg.stack.cacheDir, `${tool}-${version}`, tool);
}

/** Builds a pinned Go tool into the cache with `go install`, once per version. */
export async function installGoTool(cfg: StackConfig, tool: GoTool): Promise<string> {
  const target = goToolPath(cfg, tool);
  if (fs.existsSync(target)) return target;
  if (!(await onPath('go'))) {
    throw new Error(`building ${tool} needs Go >= 1.24 on PATH (https://go.dev/dl); none found`);
  }
  const { module, version, binary } = GO_TOOLS[tool];
  log(`building ${tool} ${version} with go install (first time only, takes minutes)`);
  const started = Date.now();
  // Build into a scratch GOBIN and move into place, so a half-finished build is never cached.
  // The scratch dir sits in the cache itself: rename is atomic only within one file system,
  // and two concurrent builds then race harmlessly (the last rename wins, same binary).
  fs.mkdirSync(cfg.stack.cacheDir, { recursive: true });
  const scratch = fs.mkdtempSync(path.join(cfg.stack.cacheDir, `.${tool}-${version}-build-`));
  try {
    await run('go', ['install', `${module}@v${version}`], {
      cwd: os.tmpdir(),
      env: { ...process.env, GOBIN: scratch, GOFLAGS: '-buildvcs=false', CGO_ENABLED: '0' },
    });
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.renameSync(path.join(scratch, binary), target);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  log(`built ${tool} ${version} in ${((Date.now() - started) / 1000).toFixed(0)} s: ${target}`);
  return target;
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

/** Environment that points the pinned CLIs at the configured server. */
export function cliEnv(cfg: Config): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TEMPORAL_ADDRESS: cfg.temporal.address,
    TEMPORAL_NAMESPACE: cfg.temporal.namespace,
    TEMPORAL_CLI_ADDRESS: cfg.temporal.address,
    TEMPORAL_CLI_NAMESPACE: cfg.temporal.namespace,
  };
}

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
      '--ui-port',
      String(this.cfg.stack.temporal.uiPort),
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
      '--dynamic-config-value',
      'matching.numTaskqueueReadPartitions=1',
      '--dynamic-config-value',
      'matching.numTaskqueueWritePartitions=1',
      ...Object.entries(SEARCH_ATTRIBUTES).flatMap(([k, type]) => ['--search-attribute', `${k}=${type}`]),
      ...(t.namespace === 'default' ? [] : ['--namespace', t.namespace]),
    ];
    spawnDaemon(goToolPath(this.cfg, 'temporal'), args, {
      logFile: this.logFile,
      pidFile: this.pidFile,
      cwd: this.dir,
    });
  }

  private async withConnection<T>(fn: (c: Connection) => Promise<T>): Promise<T> {
    const connection = await Connection.connect({ address: this.cfg.temporal.address, connectTimeout: 2000 });
    try {
      return await fn(connection);
    } finally {
      await connection.close();
    }
  }

  async health(): Promise<Health> {
    const t = this.cfg.temporal;
    const version = await this.withConnection(async (c) => {
      await c.workflowService.describeNamespace({ namespace: t.namespace });
      const info = await c.workflowService.getSystemInfo({});
      return info.serverVersion;
    });
    const ui = `http://${t.host}:${this.cfg.stack.temporal.uiPort}`;
    const res = await fetch(ui, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) throw new Error(`Web UI at ${ui} answered ${res.status}`);
    return {
      version: `server ${version} (temporal CLI ${VERSIONS.temporalCli})`,
      endpoint: t.address,
      extra: `Web UI ${ui}`,
    };
  }

  /** Registers any missing search attribute (the server may have been started elsewhere). */
  async provision(): Promise<void> {
    const namespace = this.cfg.temporal.namespace;
    await this.withConnection(async (c) => {
      const existing = await c.operatorService.listSearchAttributes({ namespace });
      const missing = Object.keys(SEARCH_ATTRIBUTES).filter((k) => !(k in (existing.customAttributes ?? {})));
      if (missing.length === 0) return;
      await c.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(missing.map((k) => [k, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
      });
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
