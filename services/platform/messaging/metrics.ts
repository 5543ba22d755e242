/** Metrics of the consumer framework. */
import type { Registry } from 'prom-client';
import { counter, gauge, histogram, LATENCY_BUCKETS } from '../../../lib/metrics';

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
