/**
 * The alert rules and Prometheus configurations, checked by Prometheus' own promtool (from
 * Debian's prometheus package, installed by the same routine as the stack's optional
 * Prometheus), and the native stack's Prometheus brought up for real, loading those rules.
 */
import path from 'node:path';
import { loadStackConfig } from '../../scripts/stack/config';
import { ALERT_RULES_FILE, installPrometheus, OBSERVABILITY_DIR, Prometheus } from '../../scripts/stack/prometheus';
import { run } from '../../scripts/stack/proc';
import { up } from '../../scripts/stack/stack';
import { eventually } from '../support/wait';

let promtool: string;

beforeAll(async () => {
  ({ promtool } = await installPrometheus());
}, 300_000);

test('promtool accepts the alert rules, and their unit tests pass', async () => {
  const check = await run(promtool, ['check', 'rules', ALERT_RULES_FILE], { allowFailure: true });
  expect({ code: check.code, out: check.stdout + check.stderr }).toEqual({
    code: 0,
    out: expect.stringContaining('SUCCESS: 8 rules found'),
  });
  const tests = await run(promtool, ['test', 'rules', path.join(OBSERVABILITY_DIR, 'alerts.test.yml')], { allowFailure: true });
  expect({ code: tests.code, out: tests.stdout + tests.stderr }).toEqual({ code: 0, out: expect.stringContaining('SUCCESS') });
});

test("promtool accepts docker-compose's Prometheus configuration", async () => {
  const check = await run(promtool, ['check', 'config', path.join(OBSERVABILITY_DIR, 'prometheus.yml')], { allowFailure: true });
  expect({ code: check.code, out: check.stdout + check.stderr }).toEqual({ code: 0, out: expect.stringContaining('SUCCESS') });
});

test('`stack up --with-prometheus` runs Prometheus with the rules loaded and every role as a target', async () => {
  const cfg = loadStackConfig({ ...process.env, PROMETHEUS_PORT: String(29_000 + Math.floor(Math.random() * 1000)) });
  const prometheus = new Prometheus(cfg);
  const wasRunning = prometheus.pid() !== undefined;
  try {
    const rows = await up(cfg, { withPrometheus: true });
    expect(rows.find((r) => r.name === 'prometheus')).toMatchObject({ up: true });
    const check = await run(promtool, ['check', 'config', prometheus.configFile], { allowFailure: true });
    expect(check.code).toBe(0);
    const rules = await eventually(
      async () => {
        const body = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as { data: { groups: { rules: unknown[] }[] } };
        return body.data.groups.length > 0 ? body.data.groups : undefined;
      },
      { what: 'Prometheus to load the rules' },
    );
    expect(rules.flatMap((g) => g.rules)).toHaveLength(8);
    const roles = await eventually(
      async () => {
        const body = (await (await fetch(`${prometheus.url}/api/v1/targets`)).json()) as {
          data: { activeTargets: { labels: { role?: string } }[] };
        };
        const found = body.data.activeTargets.map((t) => t.labels.role).filter(Boolean);
        return found.length > 0 ? found : undefined;
      },
      { what: 'Prometheus to discover its targets' },
    );
    expect(roles.sort()).toEqual([
      'api',
      'consumer-audit',
      'consumer-notifications',
      'reconciler',
      'relay',
      'worker-inventory',
      'worker-orders',
      'worker-payments',
    ]);
  } finally {
    if (!wasRunning) await prometheus.stop();
  }
});
