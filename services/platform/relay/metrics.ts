/** Relay metrics. The backlog gauges are read from the database at scrape time. */
import type { Registry } from 'prom-client';
import type { Db } from '../../../lib/db';
import { counter, gauge, histogram, LATENCY_BUCKETS } from '../../../lib/metrics';
import { outboxBacklog } from '../outbox/queries';

export function relayMetrics(registry: Registry, db: Db) {
  let backlog: Promise<{ pending: number; oldestAgeSeconds: number }> | undefined;
  // Both gauges come from one query per scrape, through the partial index of pending rows.
  const readBacklog = () => {
    backlog ??= outboxBacklog(db).finally(() => setTimeout(() => (backlog = undefined), 0));
    return backlog;
  };

  return {
    pending: gauge(registry, 'outbox_pending_rows', 'Outbox rows not yet published.', [], async function () {
      // A failed read leaves the last value; the scrape must not fail because the database blinked.
      await readBacklog().then(
        (b) => this.set(b.pending),
        () => undefined,
      );
    }),
    oldestAge: gauge(registry, 'outbox_oldest_pending_age_seconds', 'Age of the oldest unpublished outbox row.', [], async function () {
      await readBacklog().then(
        (b) => this.set(b.oldestAgeSeconds),
        () => undefined,
      );
    }),
    published: counter(registry, 'outbox_events_published_total', 'Outbox events published and acknowledged by the broker.'),
    lag: histogram(
      registry,
      'outbox_publish_lag_seconds',
      'From the event (its transaction start) to the broker acknowledgement.',
      LATENCY_BUCKETS,
    ),
    batchDuration: histogram(registry, 'outbox_publish_batch_seconds', 'Duration of one batch send (acks=all).', LATENCY_BUCKETS),
    failures: counter(registry, 'outbox_publish_failures_total', 'Batches that failed to publish (retried).'),
    shardsOwned: gauge(registry, 'relay_shards_owned', 'Outbox shards this relay holds.'),
    pruned: counter(registry, 'outbox_pruned_rows_total', 'Published rows deleted by retention.'),
  };
}

export type RelayMetrics = ReturnType<typeof relayMetrics>;
