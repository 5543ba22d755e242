/**
 * The Temporal Web UI of either mode: the ui-server module (its assets are built in, the
 * version the dev server embeds) on TEMPORAL_UI_PORT, next to the dev server (run headless)
 * or the full server. Read-only everywhere: the UI's Request Cancellation, Terminate, Reset,
 * Signal and batch actions bypass the saga's rules (a cancelled CONFIRMED order closes its
 * refund window and refunds nothing), so operators act in the console, tctl or the temporal
 * CLI, whose signals the audit log reads from history. `temporal server start-dev` has no flag
 * to turn the built-in UI's actions off, hence a UI server of our own.
 */
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { StackConfig } from './config';
import { componentDir, VERSIONS, type Component, type Health } from './component';
import { ownedPid, portFree, spawnDaemon, stopPid, waitUntil } from './proc';
import { securePki } from './secure';
import { goToolPath, installGoTool } from './temporal';
import { SERVER_NAME } from './temporal-server';

/**
 * Every write action off: `disableWriteActions` (the UI hides them, and ui-server answers 405 to
 * any non-GET API call but a query) and each action's own switch, so an action a newer UI adds
 * outside the global switch stays off too.
 */
export const UI_READ_ONLY = {
  disableWriteActions: true,
  workflowTerminateDisabled: true,
  workflowCancelDisabled: true,
  workflowSignalDisabled: true,
  workflowUpdateDisabled: true,
  workflowResetDisabled: true,
  batchActionsDisabled: true,
  startWorkflowDisabled: true,
  activityCommandsDisabled: true,
} as const;

/**
 * The fields of ui-server 2.42.1's `GET /api/v1/settings` that say whether a write action is
 * off: the config keys above, capitalised (`disableWriteActions` -> `DisableWriteActions`).
 */
export const SETTINGS_READ_ONLY_FIELDS: readonly string[] = Object.keys(UI_READ_ONLY).map((k) => `${k[0]!.toUpperCase()}${k.slice(1)}`);

/** The read-only fields of a settings answer that are not `true` (empty: every write action is off). */
export function writableActions(settings: Record<string, unknown>): string[] {
  return SETTINGS_READ_ONLY_FIELDS.filter((f) => settings[f] !== true);
}

/** The ui-server's config file (its `development.yaml`): the dev server's UI settings, read-only, mTLS on the secure stack. */
export function uiServerConfig(cfg: StackConfig): Record<string, unknown> {
  const t = cfg.temporal;
  const pki = securePki(cfg);
  const tls = pki && {
    // Its own client certificate (CN order-saga-ui) to the frontend.
    tls: { caFile: pki.caCert, ...certFiles(pki.cert('temporal-ui')), serverName: SERVER_NAME, enableHostVerification: true },
  };
  return {
    temporalGrpcAddress: t.address,
    host: t.host,
    port: cfg.stack.temporal.uiPort,
    enableUi: true,
    defaultNamespace: t.namespace,
    // As temporalio/cli's devserver configures its built-in UI.
    cors: { cookieInsecure: true },
    hideLogs: true,
    ...UI_READ_ONLY,
    ...tls,
  };
}

const certFiles = ({ cert, key }: { cert: string; key: string }) => ({ certFile: cert, keyFile: key });

const START_TIMEOUT_MS = 180_000;

export class TemporalUi implements Component {
  readonly name = 'temporal-ui';
  private readonly dir: string;
  readonly logFile: string;
  private readonly pidFile: string;

  /** Brought up after the Temporal server it fronts (which may be built first, for minutes). */
  readonly after: readonly Component[];

  /** `server`: the Temporal component it fronts; started once that one answers, so the port is settled. */
  constructor(
    private readonly cfg: StackConfig,
    private readonly server?: Component,
  ) {
    this.after = server ? [server] : [];
    this.dir = componentDir(cfg, 'temporal-ui');
    this.logFile = path.join(this.dir, 'temporal-ui.log');
    this.pidFile = path.join(this.dir, 'temporal-ui.pid');
  }

  private get url(): string {
    return `http://${this.cfg.temporal.host}:${this.cfg.stack.temporal.uiPort}`;
  }

  async install(): Promise<void> {
    await installGoTool(this.cfg, 'temporal-ui-server');
  }

  async start(): Promise<void> {
    // The stack starts its components in parallel: a dev server being restarted headless may still hold the port.
    const server = this.server;
    if (server) {
      await waitUntil(() => server.health().then(() => true), {
        timeoutMs: START_TIMEOUT_MS,
        intervalMs: 300,
        what: `${server.name} (for the Web UI)`,
      });
    }
    const { host } = this.cfg.temporal;
    const { uiPort } = this.cfg.stack.temporal;
    if (!(await portFree(host, uiPort))) {
      throw new Error(
        `${host}:${uiPort} is held by another process (a Temporal dev server with its built-in UI?): ` +
          'stop it, or give this stack a free TEMPORAL_UI_PORT',
      );
    }
    const configDir = path.join(this.dir, 'config');
    fs.mkdirSync(configDir, { recursive: true });
    fs.writeFileSync(path.join(configDir, 'development.yaml'), stringify(uiServerConfig(this.cfg)));
    const args = ['--root', this.dir, '--config', 'config', '--env', 'development', 'start'];
    spawnDaemon(goToolPath(this.cfg, 'temporal-ui-server'), args, { logFile: this.logFile, pidFile: this.pidFile, cwd: this.dir });
  }

  /** The page is served, the UI's API reaches the frontend (DescribeNamespace through it), and its settings say read-only. */
  async health(): Promise<Health> {
    // Another UI (a dev server's built-in one) may answer the same requests on the same port: only ours counts.
    if (!this.pid()) throw new Error(`not running (no live pid in ${this.pidFile})`);
    const page = await fetch(this.url, { signal: AbortSignal.timeout(2000) });
    if (!page.ok) throw new Error(`Web UI at ${this.url} answered ${page.status}`);
    const api = `${this.url}/api/v1/namespaces/${encodeURIComponent(this.cfg.temporal.namespace)}`;
    const ns = await fetch(api, { signal: AbortSignal.timeout(2000) });
    if (!ns.ok) throw new Error(`Web UI API ${api} answered ${ns.status}: ${(await ns.text()).slice(0, 200)}`);
    const settings = (await (await fetch(`${this.url}/api/v1/settings`, { signal: AbortSignal.timeout(2000) })).json()) as Record<
      string,
      unknown
    >;
    const writable = writableActions(settings);
    if (writable.length > 0) throw new Error(`Web UI at ${this.url} allows write actions (${writable.join(', ')} not true)`);
    const mtls = securePki(this.cfg) ? ', mTLS to the frontend' : '';
    return {
      version: `Temporal UI ${typeof settings.Version === 'string' ? settings.Version : VERSIONS.temporalUi} (ui-server, read-only${mtls})`,
      endpoint: this.url,
      extra: `-> ${this.cfg.temporal.address}`,
    };
  }

  async provision(): Promise<void> {}

  pid(): number | undefined {
    // Its command line names its own --root: a reused pid of a stale file is not this server.
    return ownedPid(this.pidFile, this.dir);
  }

  async stop(): Promise<void> {
    await stopPid(this.pid());
  }
}
