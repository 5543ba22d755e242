/**
 * Metrics of the consumer framework, and get-or-create helpers so that two components in one
 * process (tests, `npm start`) can share a registry without registering a name twice.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

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
): Histogram<L> {
  return (
    (registry.getSingleMetric(name) as Histogram<L> | undefined) ??
    new Histogram({ name, help, buckets, labelNames, registers: [registry] })
  );
}

export const LATENCY_BUCKETS = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export function consumerMetrics(registry: Registry) {
  return {
    processed: counter(registry, 'consumer_events_processed_total', 'Events whose effect was applied (and recorded in processed_events).', [
      'group',
      'type',
    ]),
    duplicates: counter(
      registry,
      'consumer_duplicates_skipped_total',
      'Redelivered events skipped because processed_events already had them.',
      ['group'],
    ),
    retries: counter(registry, 'consumer_retries_total', 'Failed attempts that were retried after a backoff.', ['group', 'error_class']),
    deadLetters: counter(registry, 'consumer_dead_letters_total', 'Messages sent to the dead-letter topic.', ['group', 'error_class']),
    duration: histogram(
      registry,
      'consumer_processing_seconds',
      'Time to apply one message (with its retries) or one chunk of messages.',
      LATENCY_BUCKETS,
      ['group'],
    ),
    lag: gauge(registry, 'consumer_partition_lag', 'Messages behind the partition high watermark, as of the last batch.', [
      'group',
      'topic',
      'partition',
    ]),
  };
}

export type ConsumerMetrics = ReturnType<typeof consumerMetrics>;
