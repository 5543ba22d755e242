/**
 * observability/ cannot drift from the code: every metric the Grafana dashboard and the alert
 * rules query is one the app registers, and the Prometheus configurations scrape every
 * role's /metrics port.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Pool } from 'pg';
import { Registry } from 'prom-client';
import { parse } from 'yaml';
import { httpMetrics } from '../../api/observability';
import { ROLES } from '../../app/processes';
import { TemporalMetricsBridge } from '../../app/temporal-runtime';
import { loadConfig, repoRoot } from '../../lib/config';
import type { Db } from '../../lib/db';
import { createRegistry, dbPoolMetrics } from '../../lib/metrics';
import { createAuditHandler } from '../../services/audit/projector';
import { consumerMetrics } from '../../services/platform/messaging/metrics';
import { needsAttentionGauge, sagaMetrics, stepMetrics } from '../../services/orders/metrics';
import { reconciliationMetrics } from '../../services/reconciliation/metrics';
import { relayMetrics } from '../../services/platform/relay/metrics';
import { loadStackConfig } from '../../scripts/stack/config';
import { nativePrometheusConfig } from '../../scripts/stack/prometheus';

const dir = path.join(repoRoot, 'observability');

/** Every series name the app's processes can expose (a histogram's _bucket, _sum, _count too). */
function registeredNames(): Set<string> {
  const registry: Registry = createRegistry('test');
  const db = {} as Db;
  httpMetrics(registry);
  sagaMetrics(registry);
  stepMetrics(registry);
  needsAttentionGauge(registry, db);
  relayMetrics(registry, db);
  consumerMetrics(registry);
  createAuditHandler(registry);
  dbPoolMetrics(registry, {} as Pool, 10);
  new TemporalMetricsBridge(registry);
  reconciliationMetrics(registry);
  const names = new Set<string>();
  for (const m of registry.getMetricsAsArray() as unknown as { name: string; constructor: { name: string } }[]) {
    names.add(m.name);
    if (m.constructor.name === 'Histogram' || m.constructor.name === 'Summary')
      ['_bucket', '_sum', '_count'].forEach((s) => names.add(m.name + s));
  }
  return names;
}

const PROMQL_WORDS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'count',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'rate',
  'irate',
  'increase',
  'delta',
  'deriv',
  'histogram_quantile',
  'clamp_min',
  'clamp_max',
  'abs',
  'offset',
  'bool',
  'topk',
  'bottomk',
]);

/** Metric names a PromQL expression selects (label matchers, grouping labels, functions and numbers removed). */
export function metricsIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\[[^\]]*\]/g, '');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    if (m[2] || PROMQL_WORDS.has(m[1]!) || /^\d/.test(m[1]!)) continue;
    if (/^(e|inf|nan)$/i.test(m[1]!)) continue;
    names.add(m[1]!);
  }
  return [...names];
}

describe('observability files', () => {
  const registered = registeredNames();

  it('the expression parser finds metric names and nothing else', () => {
    expect(
      metricsIn('histogram_quantile(0.95, sum by (le, route) (rate(http_request_duration_seconds_bucket{route="/x"}[5m]))) > 1e-9'),
    ).toEqual(['http_request_duration_seconds_bucket']);
    expect(metricsIn('sum by (group) (a_total) > 0 and sum(deriv(b[10m])) > 0')).toEqual(['a_total', 'b']);
  });

  it('the Grafana dashboard queries only metrics the code registers', () => {
    const dashboard = JSON.parse(fs.readFileSync(path.join(dir, 'grafana-dashboard.json'), 'utf8')) as {
      panels: { title: string; targets?: { expr: string }[] }[];
    };
    const queried = dashboard.panels.flatMap((p) =>
      (p.targets ?? []).flatMap((t) => metricsIn(t.expr).map((name) => ({ panel: p.title, name }))),
    );
    expect(queried.length).toBeGreaterThan(20);
    expect(queried.filter((q) => !registered.has(q.name))).toEqual([]);
    // The figures the issue asks for are all on it.
    const names = new Set(queried.map((q) => q.name));
    for (const name of [
      'http_requests_total',
      'saga_finished_total',
      'saga_duration_seconds_bucket',
      'orders_needs_attention',
      'outbox_pending_rows',
      'outbox_oldest_pending_age_seconds',
      'consumer_partition_lag',
      'consumer_dead_letters_total',
      'db_pool_connections_in_use',
      'temporal_worker_task_slots_used',
    ]) {
      expect(names).toContain(name);
    }
  });

  it('the alert rules query only registered metrics', () => {
    const rules = parse(fs.readFileSync(path.join(dir, 'alerts.yml'), 'utf8')) as {
      groups: { rules: { alert: string; expr: string }[] }[];
    };
    const all = rules.groups.flatMap((g) => g.rules);
    expect(all.map((r) => r.alert).sort()).toEqual(
      [
        'ApiErrorRateHigh',
        'ApiLatencyP95High',
        'ConsumerLagGrowing',
        'DeadLetters',
        'OrdersNeedAttention',
        'OutboxBacklogOld',
        'ReconciliationFindings',
        'ReconciliationNotSucceeding',
      ].sort(),
    );
    const unknown = all.flatMap((r) =>
      metricsIn(r.expr)
        .filter((n) => !registered.has(n))
        .map((n) => `${r.alert}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });

  it("docker-compose's prometheus.yml scrapes every role on its metrics port, and the rules file", () => {
    const defaults = loadConfig({});
    const prom = parse(fs.readFileSync(path.join(dir, 'prometheus.yml'), 'utf8')) as {
      rule_files: string[];
      scrape_configs: { job_name: string; static_configs: { targets: string[]; labels?: { role?: string } }[] }[];
    };
    const targets = prom.scrape_configs
      .find((c) => c.job_name === 'order-saga')!
      .static_configs.flatMap((s) => s.targets)
      .sort();
    const expected = Object.entries(ROLES)
      .map(([role, spec]) => `${role}:${defaults.metrics.portBase + spec.metricsOffset}`)
      .sort();
    expect(targets).toEqual(expected);
    for (const file of prom.rule_files) expect(fs.existsSync(path.join(dir, file.split('#')[0]!.trim()))).toBe(true);
  });

  it("the native stack's Prometheus scrapes every role on 127.0.0.1 and the configured ports", () => {
    const cfg = loadStackConfig({ METRICS_PORT_BASE: '19400' });
    const config = nativePrometheusConfig(cfg) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
      rule_files: string[];
    };
    const targets = config.scrape_configs
      .find((c) => c.job_name === 'order-saga')!
      .static_configs.flatMap((s) => s.targets)
      .sort();
    expect(targets).toEqual(
      Object.values(ROLES)
        .map((r) => `127.0.0.1:${19400 + r.metricsOffset}`)
        .sort(),
    );
    expect(config.rule_files.every((f) => fs.existsSync(f))).toBe(true);
  });
});
