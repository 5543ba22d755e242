/**
 * Reconciliation metrics. Only the active instance reports findings (a standby knows none);
 * every instance reports when reconciliation last succeeded, read from the runs table, so an
 * alert sees the truth whichever instance Prometheus scrapes.
 */
import type { Pool } from 'pg';
import type { Registry } from 'prom-client';
import { counter, gauge, histogram } from '../../lib/metrics';
import { CHECK_NAMES } from './contract';

export const RUN_DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const LAST_SUCCESS_CACHE_MS = 5000;

export function reconciliationMetrics(registry: Registry, pg?: Pool) {
  const startedAt = Date.now() / 1000;
  let last: { at: number; value: number } | undefined;
  return {
    findings: gauge(
      registry,
      'reconciliation_findings',
      'Open reconciliation findings (failures that outlasted their grace window), by check.',
      ['check'],
    ),
    suspects: gauge(registry, 'reconciliation_suspects', 'Failures still inside their grace window, by check.', ['check']),
    lastSuccess: gauge(
      registry,
      'reconciliation_last_success_timestamp_seconds',
      'When the last full or incremental pass over everything succeeded (this process start time if none yet).',
      [],
      async function () {
        if (!pg) return;
        if (!last || Date.now() - last.at > LAST_SUCCESS_CACHE_MS) {
          const rows = await pg
            .query<{ at: Date | null }>(
              `SELECT max(finished_at) AS at FROM reconciliation_runs WHERE status = 'SUCCEEDED' AND scope IS NULL`,
            )
            .then(
              (r) => r.rows,
              () => undefined,
            );
          if (rows) last = { at: Date.now(), value: rows[0]?.at ? rows[0].at.getTime() / 1000 : startedAt };
        }
        if (last) this.set(last.value);
      },
    ),
    interval: gauge(registry, 'reconciliation_interval_seconds', 'RECONCILE_INTERVAL_MS, for alerts that count missed passes.'),
    active: gauge(registry, 'reconciliation_active', '1 on the active reconciler instance, 0 on a standby.'),
    duration: histogram(
      registry,
      'reconciliation_run_duration_seconds',
      'Duration of one reconciliation pass, by mode.',
      RUN_DURATION_BUCKETS,
      ['mode'],
    ),
    runs: counter(registry, 'reconciliation_runs_total', 'Reconciliation passes, by mode and outcome.', ['mode', 'outcome']),
  };
}

export type ReconciliationMetrics = ReturnType<typeof reconciliationMetrics>;

/** Sets the per-check gauges, zero for every check without findings (so sums are never empty). */
export function setFindingGauges(metrics: ReconciliationMetrics, open: Map<string, number>, suspects: Map<string, number>): void {
  for (const check of CHECK_NAMES) {
    metrics.findings.set({ check }, open.get(check) ?? 0);
    metrics.suspects.set({ check }, suspects.get(check) ?? 0);
  }
}
