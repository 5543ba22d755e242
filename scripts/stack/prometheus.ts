/**
 * Prometheus from Debian's package (optional: `npm run stack -- up --with-prometheus`),
 * scraping every app process's /metrics and the Temporal dev server, with the alert rules of
 * observability/alerts.yml. Its configuration is written from the project's configuration on
 * each start (ports follow METRICS_PORT_BASE); observability/prometheus.yml is the same for
 * docker-compose. The package also brings `promtool`, which the tests use to check the rules.
 */
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { repoRoot } from '../../lib/config';
import type { StackConfig } from './config';
import { componentDir, type Component, type Health } from './component';
import { aptInstall, onPath, ownedPid, spawnDaemon, stopPid } from './proc';

export const OBSERVABILITY_DIR = path.join(repoRoot, 'observability');
export const ALERT_RULES_FILE = path.join(OBSERVABILITY_DIR, 'alerts.yml');

/** Finds promtool (and prometheus), installing Debian's prometheus package if missing. */
export async function installPrometheus(): Promise<{ prometheus: string; promtool: string }> {
  if (!(await onPath('prometheus')) || !(await onPath('promtool'))) {
    await aptInstall(['prometheus'], 'Prometheus server and promtool');
  }
  return { prometheus: 'prometheus', promtool: 'promtool' };
}

/** The scrape configuration of the native stack: 127.0.0.1 and the configured ports. */
export function nativePrometheusConfig(cfg: StackConfig, rulesFile = ALERT_RULES_FILE): Record<string, unknown> {
  // Loaded on demand: the roles table pulls in every role's dependencies.
  const { ROLES } = require('../../app/processes') as typeof import('../../app/processes');
  const host = cfg.metrics.host === '0.0.0.0' ? '127.0.0.1' : cfg.metrics.host;
  return {
    global: { scrape_interval: '5s', evaluation_interval: '5s' },
    rule_files: [rulesFile],
    scrape_configs: [
      {
        job_name: 'order-saga',
        static_configs: Object.entries(ROLES).map(([role, spec]) => ({
          targets: [`${host}:${cfg.metrics.portBase + spec.metricsOffset}`],
          labels: { role },
        })),
      },
      { job_name: 'temporal-server', static_configs: [{ targets: [`${cfg.temporal.host}:${cfg.stack.temporal.metricsPort}`] }] },
    ],
  };
}

export class Prometheus implements Component {
  readonly name = 'prometheus';
  private readonly dir: string;
  readonly logFile: string;
  private readonly pidFile: string;
  readonly configFile: string;

  constructor(private readonly cfg: StackConfig) {
    this.dir = componentDir(cfg, 'prometheus');
    this.logFile = path.join(this.dir, 'prometheus.log');
    this.pidFile = path.join(this.dir, 'prometheus.pid');
    this.configFile = path.join(this.dir, 'prometheus.yml');
  }

  get url(): string {
    return `http://127.0.0.1:${this.cfg.stack.prometheus.port}`;
  }

  async install(): Promise<void> {
    await installPrometheus();
  }

  async start(): Promise<void> {
    fs.mkdirSync(path.join(this.dir, 'data'), { recursive: true });
    fs.writeFileSync(
      this.configFile,
      `# Written by scripts/stack/prometheus.ts on each start.\n${stringify(nativePrometheusConfig(this.cfg))}`,
    );
    spawnDaemon(
      'prometheus',
      [
        `--config.file=${this.configFile}`,
        `--storage.tsdb.path=${path.join(this.dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${this.cfg.stack.prometheus.port}`,
      ],
      { logFile: this.logFile, pidFile: this.pidFile, cwd: this.dir },
    );
  }

  async health(): Promise<Health> {
    const ready = await fetch(`${this.url}/-/ready`, { signal: AbortSignal.timeout(2000) });
    if (!ready.ok) throw new Error(`/-/ready answered ${ready.status}`);
    const info = (await (await fetch(`${this.url}/api/v1/status/buildinfo`, { signal: AbortSignal.timeout(2000) })).json()) as {
      data?: { version?: string };
    };
    return {
      version: `Prometheus ${info.data?.version ?? '?'}`,
      endpoint: this.url,
      extra: `rules ${path.relative(repoRoot, ALERT_RULES_FILE)}`,
    };
  }

  async provision(): Promise<void> {}

  async stop(): Promise<void> {
    await stopPid(this.pid());
  }

  pid(): number | undefined {
    return ownedPid(this.pidFile, this.configFile);
  }
}
