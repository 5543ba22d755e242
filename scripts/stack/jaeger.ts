/**
 * Jaeger (optional: `npm run stack -- up --with-tracing`): a real OTLP receiver (gRPC and
 * HTTP) with in-memory storage and Jaeger's query API (`/api/traces/<id>`). Jaeger 2 is an
 * OpenTelemetry Collector distribution, so this is the collector's own OTLP receiver, plus a
 * store that can be asked; a bare Collector with a file exporter would have no query API and
 * a far larger build. Built with `go install` from scripts/stack/jaeger-module (pinned, cached
 * by version). Such a build's UI is a placeholder page (the real assets come from the
 * jaeger-ui build), so Zipkin is the stack's trace UI; the API is what tests and
 * scripts/trace.ts read. Every listener is on 127.0.0.1, on ports of the configuration.
 */
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { StackConfig } from './config';
import { componentDir, VERSIONS, type Component, type Health } from './component';
import { ownedPid, spawnDaemon, stopPid } from './proc';
import { goToolPath, installGoTool } from './temporal';

export interface JaegerPorts {
  otlpHttpPort: number;
  otlpGrpcPort: number;
  queryPort: number;
  queryGrpcPort: number;
}

/** Traces kept in memory before the oldest are dropped. */
const MAX_TRACES = 50_000;

/** The collector configuration: OTLP in, memory store, query API; no other listener. */
export function jaegerConfig(ports: JaegerPorts): Record<string, unknown> {
  const at = (port: number) => `127.0.0.1:${port}`;
  return {
    service: {
      extensions: ['jaeger_storage', 'jaeger_query'],
      pipelines: { traces: { receivers: ['otlp'], processors: ['batch'], exporters: ['jaeger_storage_exporter'] } },
      // The collector's own metrics would take port 8888 on every instance.
      telemetry: { metrics: { level: 'none' }, logs: { level: 'warn' } },
    },
    extensions: {
      jaeger_query: {
        storage: { traces: 'memstore' },
        http: { endpoint: at(ports.queryPort) },
        grpc: { endpoint: at(ports.queryGrpcPort) },
      },
      jaeger_storage: { backends: { memstore: { memory: { max_traces: MAX_TRACES } } } },
    },
    receivers: {
      otlp: { protocols: { grpc: { endpoint: at(ports.otlpGrpcPort) }, http: { endpoint: at(ports.otlpHttpPort) } } },
    },
    processors: { batch: {} },
    exporters: { jaeger_storage_exporter: { trace_storage: 'memstore' } },
  };
}

export class Jaeger implements Component {
  readonly name = 'jaeger';
  readonly logFile: string;
  readonly ports: JaegerPorts;
  private readonly dir: string;
  private readonly pidFile: string;
  private readonly configFile: string;

  /** `dir` and `ports` default to the stack's; a test may run one of its own elsewhere. */
  constructor(
    private readonly cfg: StackConfig,
    opts: { dir?: string; ports?: JaegerPorts } = {},
  ) {
    this.dir = opts.dir ?? componentDir(cfg, 'jaeger');
    this.ports = opts.ports ?? cfg.stack.jaeger;
    this.logFile = path.join(this.dir, 'jaeger.log');
    this.pidFile = path.join(this.dir, 'jaeger.pid');
    this.configFile = path.join(this.dir, 'jaeger.yaml');
  }

  /** The query API (and placeholder UI). */
  get queryUrl(): string {
    return `http://127.0.0.1:${this.ports.queryPort}`;
  }

  /** OTLP/HTTP base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes it. */
  get otlpHttpUrl(): string {
    return `http://127.0.0.1:${this.ports.otlpHttpPort}`;
  }

  async install(): Promise<void> {
    await installGoTool(this.cfg, 'jaeger');
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true });
    fs.writeFileSync(this.configFile, `# Written by scripts/stack/jaeger.ts on each start.\n${stringify(jaegerConfig(this.ports))}`);
    spawnDaemon(goToolPath(this.cfg, 'jaeger'), ['--config', this.configFile], {
      logFile: this.logFile,
      pidFile: this.pidFile,
      cwd: this.dir,
    });
  }

  async health(): Promise<Health> {
    // A real query against the store, not a liveness probe.
    const res = await fetch(`${this.queryUrl}/api/services`, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) throw new Error(`/api/services answered ${res.status}`);
    await res.json();
    const otlp = await fetch(`${this.otlpHttpUrl}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"resourceSpans":[]}',
      signal: AbortSignal.timeout(2000),
    });
    if (!otlp.ok) throw new Error(`OTLP/HTTP receiver answered ${otlp.status}`);
    return {
      version: `Jaeger ${VERSIONS.jaeger}, in-memory`,
      endpoint: `OTLP ${this.otlpHttpUrl} (gRPC 127.0.0.1:${this.ports.otlpGrpcPort})`,
      extra: `query API ${this.queryUrl}/api/traces/<id>`,
    };
  }

  async provision(): Promise<void> {}

  async stop(): Promise<void> {
    await stopPid(this.pid());
  }

  pid(): number | undefined {
    return ownedPid(this.pidFile, this.configFile);
  }
}
