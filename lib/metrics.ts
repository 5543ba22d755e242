/**
 * Prometheus metrics: one registry per process, served on its own /metrics port. The registry
 * speaks OpenMetrics, the text format that carries exemplars: the latency histograms attach
 * the trace and span id of a traced observation to its bucket, so a slow bucket in Prometheus
 * leads to one trace (scraped with Prometheus' default Accept, which takes OpenMetrics; its
 * exemplar storage is `--enable-feature=exemplar-storage`). Counter series keep their names:
 * every counter here already ends in `_total`.
 */
import http from 'node:http';
import { trace, TraceFlags, type Span } from '@opentelemetry/api';
import type { Pool } from 'pg';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type LabelValues, type OpenMetricsContentType } from 'prom-client';

export function createRegistry(service: string): Registry {
  const registry = new Registry();
  // Typed as the plain registry everywhere (prom-client's content-type generic is only a tag).
  (registry as unknown as Registry<OpenMetricsContentType>).setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Gauges of a pg pool, read from its counters at scrape time (no query). */
export function dbPoolMetrics(registry: Registry, pool: Pool, max: number): void {
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  gauge('db_pool_connections_in_use', 'Database connections checked out of the pool.', () => pool.totalCount - pool.idleCount);
  gauge('db_pool_connections_idle', 'Open database connections idle in the pool.', () => pool.idleCount);
  gauge('db_pool_waiting_requests', 'Queries waiting for a pool connection.', () => pool.waitingCount);
  gauge('db_pool_connections_max', 'Pool size limit (DATABASE_POOL_SIZE).', () => max);
}

export async function serveMetrics(registry: Registry, host: string, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

// Get-or-create helpers, so that two components in one process (tests, `npm start`) can share a
// registry without registering a name twice.

export function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
  return (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
}

export function gauge<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  collect?: (this: Gauge<L>) => Promise<void>,
): Gauge<L> {
  const existing = registry.getSingleMetric(name) as Gauge<L> | undefined;
  if (existing) return existing;
  return new Gauge({ name, help, labelNames, registers: [registry], ...(collect ? { collect } : {}) });
}

export function histogram<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  buckets: number[],
  labelNames: readonly L[] = [],
  opts: { exemplars?: boolean } = {},
): Histogram<L> {
  return (
    (registry.getSingleMetric(name) as Histogram<L> | undefined) ??
    new Histogram({ name, help, buckets, labelNames, registers: [registry], enableExemplars: opts.exemplars ?? false })
  );
}

/** The exemplar labels of a sampled span: its trace and span id (OpenMetrics' trace_id/span_id). */
export function exemplarOf(span: Span | undefined = trace.getActiveSpan()): Record<string, string> | undefined {
  const ctx = span?.spanContext();
  if (!ctx || !(ctx.traceFlags & TraceFlags.SAMPLED)) return undefined;
  return { trace_id: ctx.traceId, span_id: ctx.spanId };
}

/**
 * Observes a latency, with the span's ids as the bucket's exemplar when the histogram keeps
 * exemplars and the span is sampled (prom-client takes exemplars through observe's object form).
 */
export function observeLatency<L extends string>(
  h: Histogram<L>,
  labels: Partial<Record<L, string | number>>,
  seconds: number,
  exemplar: Record<string, string> | undefined = exemplarOf(),
): void {
  if ((h as unknown as { enableExemplars: boolean }).enableExemplars) {
    h.observe({ labels, value: seconds, exemplarLabels: (exemplar ?? {}) as LabelValues<L> });
  } else {
    h.observe(labels, seconds);
  }
}

export const LATENCY_BUCKETS = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
