/**
 * Saga metrics. Workflows cannot touch prom-client, so they are counted where the saga's
 * effects happen: `saga_started_total` by the workflow's sink (workflows/interceptors.ts),
 * outcomes and compensations by the orders service when transitionOrder really changes a
 * status, step latency and failures by the workers' activity interceptor, and the orders
 * parked in NEEDS_ATTENTION by a cheap, cached count at scrape time.
 */
import type { Registry } from 'prom-client';
import type { AppliedTransition } from './transitions';
import type { Db } from '../../lib/db';
import { counter, gauge, histogram, LATENCY_BUCKETS } from '../../lib/metrics';
import type { OrderStatus } from './contract';

/** Statuses that end a saga's forward run (a CONFIRMED order may still be compensated later). */
export const SAGA_OUTCOMES: readonly OrderStatus[] = ['CONFIRMED', 'REJECTED', 'COMPENSATED'];

/** Seconds, from order creation to its outcome: sub-second to hours (manual compensation). */
export const SAGA_DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 86_400];

export function sagaMetrics(registry: Registry) {
  return {
    started: counter(registry, 'saga_started_total', 'Order sagas started (first run of the workflow, replays not counted).'),
    finished: counter(
      registry,
      'saga_finished_total',
      'Sagas that reached an outcome, by final status and failure reason ("none" when confirmed).',
      ['status', 'reason'],
    ),
    duration: histogram(registry, 'saga_duration_seconds', 'From order creation to its outcome, by final status.', SAGA_DURATION_BUCKETS, [
      'status',
    ]),
    compensations: counter(registry, 'saga_compensations_total', 'Compensations started (status became COMPENSATING), by reason.', [
      'reason',
    ]),
    needsAttention: counter(
      registry,
      'saga_needs_attention_total',
      'Times a saga was parked in NEEDS_ATTENTION (a compensation step kept failing).',
    ),
  };
}

export type SagaMetrics = ReturnType<typeof sagaMetrics>;

export function stepMetrics(registry: Registry) {
  return {
    duration: histogram(
      registry,
      'saga_step_duration_seconds',
      'Duration of one activity attempt, by activity and outcome.',
      LATENCY_BUCKETS,
      ['activity', 'outcome'],
      { exemplars: true },
    ),
    failures: counter(registry, 'saga_step_failures_total', 'Failed activity attempts, by activity and error type (retried or not).', [
      'activity',
      'error_type',
    ]),
  };
}

export type StepMetrics = ReturnType<typeof stepMetrics>;

/** Counts what a status change means for the saga. */
export function recordTransition(metrics: SagaMetrics, t: AppliedTransition, now = Date.now()): void {
  const reason = t.failureReason ?? 'none';
  if (SAGA_OUTCOMES.includes(t.to)) {
    metrics.finished.inc({ status: t.to, reason });
    metrics.duration.observe({ status: t.to }, Math.max(0, now - t.createdAt.getTime()) / 1000);
  }
  // A retry after NEEDS_ATTENTION continues the same compensation.
  if (t.to === 'COMPENSATING' && t.from !== 'NEEDS_ATTENTION') metrics.compensations.inc({ reason });
  if (t.to === 'NEEDS_ATTENTION') metrics.needsAttention.inc();
}

const NEEDS_ATTENTION_CACHE_MS = 5000;

/** Orders in NEEDS_ATTENTION now: one indexed count, at most every few seconds, at scrape time. */
export function needsAttentionGauge(registry: Registry, db: Db, cacheMs = NEEDS_ATTENTION_CACHE_MS) {
  let last: { at: number; value: number } | undefined;
  return gauge(registry, 'orders_needs_attention', 'Orders parked in NEEDS_ATTENTION, waiting for an operator.', [], async function () {
    if (!last || Date.now() - last.at > cacheMs) {
      // A failed read leaves the last value: the scrape must not fail because the database blinked.
      const rows = await db.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM orders WHERE status = 'NEEDS_ATTENTION'`.catch(
        () => undefined,
      );
      if (rows) last = { at: Date.now(), value: rows[0]?.n ?? 0 };
    }
    if (last) this.set(last.value);
  });
}
