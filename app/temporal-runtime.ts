/**
 * The Temporal SDK runtime of a worker process: its logs go to pino, and its own metrics
 * (pollers, slots, task latencies, sticky cache, workflow and activity outcomes...) go to the
 * process's prom-client registry, so each process keeps ONE /metrics endpoint.
 *
 * The metrics come through the SDK's buffered metrics exporter (Runtime telemetry
 * `metrics: { buffer }`): Core records every update into a buffer that we drain every second
 * and on each scrape, replaying the updates into prom-client counters, gauges and histograms.
 * Counters get Prometheus' `_total` suffix and duration histograms `_seconds`
 * (useSecondsForDurations), e.g. temporal_activity_execution_latency_seconds.
 */
import type { LogLevel, LogMetadata, Logger as TemporalLogger, Metric } from '@temporalio/common';
import { LogTimestamp, MetricsBuffer, Runtime, type BufferedMetricUpdate } from '@temporalio/worker';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger } from '../lib/logger';
import { LATENCY_BUCKETS } from '../lib/metrics';

/** Attribute names Core puts on its metrics; any other attribute is dropped. */
export const TEMPORAL_LABELS = [
  'service_name',
  'namespace',
  'task_queue',
  'operation',
  'worker_type',
  'poller_type',
  'activity_type',
  'workflow_type',
  'eager',
  'status_code',
  'failure_reason',
] as const;

type Kind = Metric['kind'];

/** Core metrics declared up front (as Core names them), so they exist from the first scrape. */
export const TEMPORAL_CORE_METRICS: Record<string, Kind> = {
  temporal_request: 'counter',
  temporal_request_failure: 'counter',
  temporal_request_latency: 'histogram',
  temporal_long_request: 'counter',
  temporal_long_request_failure: 'counter',
  temporal_long_request_latency: 'histogram',
  temporal_worker_start: 'counter',
  temporal_num_pollers: 'gauge',
  temporal_worker_task_slots_available: 'gauge',
  temporal_worker_task_slots_used: 'gauge',
  temporal_sticky_cache_size: 'gauge',
  temporal_sticky_cache_hit: 'counter',
  temporal_sticky_cache_miss: 'counter',
  temporal_workflow_task_queue_poll_succeed: 'counter',
  temporal_workflow_task_queue_poll_empty: 'counter',
  temporal_workflow_task_schedule_to_start_latency: 'histogram',
  temporal_workflow_task_execution_latency: 'histogram',
  temporal_workflow_task_replay_latency: 'histogram',
  temporal_workflow_task_execution_failed: 'counter',
  temporal_workflow_completed: 'counter',
  temporal_workflow_failed: 'counter',
  temporal_workflow_canceled: 'counter',
  temporal_workflow_endtoend_latency: 'histogram',
  temporal_activity_poll_no_task: 'counter',
  temporal_activity_task_received: 'counter',
  temporal_activity_schedule_to_start_latency: 'histogram',
  temporal_activity_execution_latency: 'histogram',
  temporal_activity_succeed_endtoend_latency: 'histogram',
  temporal_activity_execution_failed: 'counter',
  temporal_local_activity_total: 'counter',
  temporal_local_activity_execution_latency: 'histogram',
  temporal_local_activity_execution_failed: 'counter',
};

/** The Prometheus name of a Core metric. */
export function promNameOf(name: string, kind: Kind): string {
  if (kind === 'counter') return name.endsWith('_total') ? name : `${name}_total`;
  if (kind === 'histogram' && name.endsWith('_latency')) return `${name}_seconds`;
  return name;
}

type Target =
  | { kind: 'counter'; metric: Counter<string> }
  | { kind: 'gauge' | 'up-down-counter'; metric: Gauge<string> }
  | { kind: 'histogram'; metric: Histogram<string> };

/** Replays buffered Core metric updates into prom-client metrics of one registry. */
export class TemporalMetricsBridge {
  private readonly targets = new Map<string, Target>();
  private readonly labelNames: string[] = [...TEMPORAL_LABELS];

  constructor(
    private readonly registry: Registry,
    private readonly buffer?: MetricsBuffer,
  ) {
    for (const [name, kind] of Object.entries(TEMPORAL_CORE_METRICS)) this.target(name, kind, 'Temporal SDK metric');
  }

  /** Applies every update buffered since the last drain. */
  drain(): void {
    if (!this.buffer) return;
    for (const update of this.buffer.retrieveUpdates()) this.apply(update);
  }

  apply({ metric, value, attributes }: Pick<BufferedMetricUpdate, 'metric' | 'value' | 'attributes'>): void {
    const target = this.target(metric.name, metric.kind, metric.description);
    const labels: Record<string, string> = {};
    for (const name of this.labelNames) {
      const v = attributes[name];
      if (v !== undefined) labels[name] = String(v);
    }
    switch (target.kind) {
      case 'counter':
        return target.metric.inc(labels, value);
      case 'gauge':
        return target.metric.set(labels, value);
      case 'up-down-counter':
        return target.metric.inc(labels, value);
      case 'histogram':
        return target.metric.observe(labels, value);
    }
  }

  private target(name: string, kind: Kind, description = ''): Target {
    const existing = this.targets.get(name);
    if (existing) return existing;
    const promName = promNameOf(name, kind);
    const help = description || `Temporal SDK metric ${name}`;
    const common = { name: promName, help, labelNames: this.labelNames, registers: [this.registry] };
    const found = this.registry.getSingleMetric(promName);
    let target: Target;
    if (kind === 'counter') target = { kind, metric: (found as Counter<string>) ?? new Counter(common) };
    else if (kind === 'histogram')
      target = { kind, metric: (found as Histogram<string>) ?? new Histogram({ ...common, buckets: LATENCY_BUCKETS }) };
    else target = { kind, metric: (found as Gauge<string>) ?? new Gauge(common) };
    this.targets.set(name, target);
    return target;
  }
}

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** The SDK's logger interface over pino: workflow logs (via sinks), worker and Core logs. */
export class PinoTemporalLogger implements TemporalLogger {
  constructor(private readonly pino: Logger) {}

  log(level: LogLevel, message: string, meta: LogMetadata = {}): void {
    const { trace_id: traceId, span_id: spanId, trace_flags: _flags, ...rest } = meta as LogMetadata & Record<string, unknown>;
    const fields: Record<string, unknown> = { ...rest };
    if (traceId) fields.traceId = traceId;
    if (spanId) fields.spanId = spanId;
    // Forwarded logs are written up to 100 ms late (the SDK sorts them); keep when they happened.
    const at = (meta as Record<symbol, unknown>)[LogTimestamp];
    if (typeof at === 'bigint') fields.at = new Date(Number(at / 1_000_000n)).toISOString();
    this.pino[LEVELS[level] ?? 'info'](fields, message);
  }

  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }

  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }

  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }

  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }

  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

const DRAIN_INTERVAL_MS = 1000;

/**
 * Installs the process's Temporal runtime (once, before any worker connection): pino logs,
 * Core logs forwarded to it, Core metrics into `registry`. Returns a stop function.
 */
export function installWorkerRuntime(log: Logger, registry: Registry): () => void {
  const buffer = new MetricsBuffer({ maxBufferSize: 100_000, useSecondsForDurations: true });
  Runtime.install({
    // app/main.ts owns SIGINT/SIGTERM and stops the role in order (sweeper, then worker).
    shutdownSignals: [],
    logger: new PinoTemporalLogger(log.child({ component: 'temporal' })),
    telemetryOptions: {
      logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
      metrics: { buffer },
    },
  });
  const bridge = new TemporalMetricsBridge(registry, buffer);
  // Drained on every scrape too, through a metric of its own.
  new Gauge({
    name: 'temporal_metrics_bridge_last_drain_timestamp_seconds',
    help: 'When the Temporal SDK metrics buffer was last drained into this registry.',
    registers: [registry],
    collect() {
      bridge.drain();
      this.set(Date.now() / 1000);
    },
  });
  const timer = setInterval(() => bridge.drain(), DRAIN_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
