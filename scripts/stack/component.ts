/** What the stack manager needs to know about each real server it runs. */
import path from 'node:path';
import type { StackConfig } from './config';

/** Pinned versions of everything the stack downloads or builds. Cache keys derive from these. */
export const VERSIONS = {
  temporalCli: '1.5.1',
  tctl: '1.13.1',
  /** The full server for TEMPORAL_PERSISTENCE=postgres: the one the CLI above embeds. */
  temporalServer: '1.29.1',
  /** Its Web UI server: the UI the CLI above embeds. */
  temporalUi: '2.42.1',
  kafka: '4.1.1',
  /** Trace backend with a UI (`--with-tracing`): Zipkin's executable jar from Maven Central. */
  zipkin: '3.5.1',
  /**
   * OTLP receiver with a query API (`--with-tracing`); also scripts/stack/jaeger-module/go.mod.
   * 1.75.0 rather than 1.76.0: the newer tag is served but is not an approved release here.
   */
  jaeger: '1.75.0',
} as const;

export interface Health {
  /** Human-readable version of the running server. */
  version: string;
  /** Where it listens, as an operator would type it. */
  endpoint: string;
  /** Further addresses worth printing (e.g. a web UI). */
  extra?: string;
}

/** One row of `npm run stack -- status`: a server, a tool or an app process. */
export interface ComponentStatus {
  name: string;
  /** A server or app process answers; a tool is built and runs. */
  up: boolean;
  /** A client binary rather than a server: no process, and `status` does not fail on it. */
  tool?: boolean;
  health?: Health;
  pid?: number;
  error?: string;
}

export interface Component {
  readonly name: string;
  readonly logFile: string;
  /**
   * Components this one is brought up after (their install, start and provision all done): a
   * client of another server, such as the Web UI of Temporal. Without it, components come up in
   * parallel, and a dependency's first-time build (minutes) would eat the dependent's start timeout.
   */
  readonly after?: readonly Component[];
  /** Downloads or builds what the component needs; idempotent and cached. */
  install(): Promise<void>;
  /** Starts the server; returns once the process is launched (not yet healthy). */
  start(): Promise<void>;
  /** Resolves with the live version when the server answers a real request, else throws. */
  health(): Promise<Health>;
  /**
   * Resolves once the server answers, before provision() (which health() may depend on, e.g.
   * a namespace it registers). Without it, health() is awaited instead.
   */
  ready?(): Promise<void>;
  /**
   * Called when health() fails, before the stack would start the component: stops a process of
   * this stack's own that serves something else than this stack's state (it is then started
   * again), and throws, saying why, when another stack's server holds the component's port.
   */
  reclaim?(): Promise<void>;
  /** Creates what the project needs inside the running server (roles, topics, attributes). */
  provision(): Promise<void>;
  stop(): Promise<void>;
  /** The pid of the process this stack started, if it is alive. */
  pid(): number | undefined;
}

export function componentDir(cfg: StackConfig, name: string): string {
  return path.join(cfg.stack.dir, name);
}
