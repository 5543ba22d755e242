/**
 * Zipkin (optional: `npm run stack -- up --with-tracing`): a trace backend with its UI, the
 * server's executable jar from Maven Central (cached outside the repo, keyed by version) on
 * the Java the stack already needs for Kafka. In-memory storage: traces last until it stops.
 * It listens on 127.0.0.1 only (Armeria's own port setting; Spring's `server.address` is not
 * read by Zipkin 3). The app exports to it with OTEL_TRACES_EXPORTER=zipkin (tracingEnv).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { StackConfig } from './config';
import { componentDir, VERSIONS, type Component, type Health } from './component';
import { aptInstall, log, onPath, ownedPid, run, spawnDaemon, stopPid } from './proc';

const ARTIFACT = `io.zipkin:zipkin-server:${VERSIONS.zipkin}:jar:exec`;
/** Spans kept in memory before the oldest traces are dropped (Zipkin's default is 500,000). */
const MAX_SPANS = 200_000;

export class Zipkin implements Component {
  readonly name = 'zipkin';
  readonly logFile: string;
  readonly port: number;
  private readonly dir: string;
  private readonly pidFile: string;
  private readonly jar: string;

  /** `dir` and `port` default to the stack's; a test may run one of its own elsewhere. */
  constructor(
    private readonly cfg: StackConfig,
    opts: { dir?: string; port?: number } = {},
  ) {
    this.dir = opts.dir ?? componentDir(cfg, 'zipkin');
    this.port = opts.port ?? cfg.stack.zipkin.port;
    this.logFile = path.join(this.dir, 'zipkin.log');
    this.pidFile = path.join(this.dir, 'zipkin.pid');
    this.jar = path.join(cfg.stack.cacheDir, `zipkin-${VERSIONS.zipkin}`, `zipkin-server-${VERSIONS.zipkin}-exec.jar`);
  }

  private get portArg(): string {
    return `--armeria.ports[0].port=${this.port}`;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Where the app's Zipkin exporter sends spans (OTEL_EXPORTER_ZIPKIN_ENDPOINT). */
  get spansUrl(): string {
    return `${this.url}/api/v2/spans`;
  }

  async install(): Promise<void> {
    if (fs.existsSync(this.jar)) return;
    if (!(await onPath('java')) || !(await onPath('mvn'))) {
      await aptInstall(['openjdk-17-jre-headless', 'maven'], 'Zipkin needs Java and Maven');
    }
    log(`fetching Zipkin ${VERSIONS.zipkin} from Maven Central (first time only)`);
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'zipkin-'));
    try {
      await run('mvn', ['-q', '-B', 'dependency:copy', `-Dartifact=${ARTIFACT}`, `-DoutputDirectory=${scratch}`]);
      fs.mkdirSync(path.dirname(this.jar), { recursive: true });
      // Copied then renamed within the cache: a half-copied jar is never taken for a whole one.
      const partial = `${this.jar}.partial-${process.pid}`;
      fs.copyFileSync(path.join(scratch, path.basename(this.jar)), partial);
      fs.renameSync(partial, this.jar);
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true });
    spawnDaemon(
      'java',
      [
        `-Xmx${this.cfg.stack.zipkin.heapMb}m`,
        '-XX:+UseSerialGC',
        '-jar',
        this.jar,
        this.portArg,
        '--armeria.ports[0].ip=127.0.0.1',
        '--armeria.ports[0].protocols=http',
        `--zipkin.storage.mem.max-spans=${MAX_SPANS}`,
      ],
      { logFile: this.logFile, pidFile: this.pidFile, cwd: this.dir, env: { ...process.env, STORAGE_TYPE: 'mem' } },
    );
  }

  async health(): Promise<Health> {
    const res = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(2000) });
    const body = (await res.json()) as { status?: string };
    if (!res.ok || body.status !== 'UP') throw new Error(`/health answered ${res.status} ${body.status ?? ''}`);
    const info = (await (await fetch(`${this.url}/info`, { signal: AbortSignal.timeout(2000) })).json()) as {
      zipkin?: { version?: string };
    };
    return { version: `Zipkin ${info.zipkin?.version ?? '?'}, in-memory`, endpoint: this.spansUrl, extra: `UI ${this.url}/zipkin/` };
  }

  async provision(): Promise<void> {}

  async stop(): Promise<void> {
    await stopPid(this.pid());
  }

  pid(): number | undefined {
    return ownedPid(this.pidFile, this.portArg);
  }
}
