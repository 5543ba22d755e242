/**
 * What `npm start` records of its processes in the stack directory and how `npm run stack --
 * status` and `logs` read it (scripts/stack/app-processes.ts); the dev stack's Web UI config
 * (scripts/stack/temporal-ui.ts). No server: pids are this process's and a finished child's.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  appProcessesNamed,
  appStatePath,
  appStatus,
  parseAppState,
  readAppState,
  removeAppState,
  writeAppState,
  type AppState,
} from '../../scripts/stack/app-processes';
import { loadStackConfig } from '../../scripts/stack/config';
import { formatStatus, serversUp } from '../../scripts/stack/stack';
import { UI_READ_ONLY, uiServerConfig, writableActions } from '../../scripts/stack/temporal-ui';

/** A pid that no process has any more: a child that ran and was reaped. */
const deadPid = spawnSync('true').pid!;

const api = {
  name: 'api',
  role: 'api',
  description: 'REST API',
  pid: process.pid,
  url: 'http://127.0.0.1:3000',
  metricsUrl: 'http://127.0.0.1:9101/metrics',
  logFile: '/s/logs/api.log',
};
const relay = (i: number, pid: number) => ({
  name: `relay#${i}`,
  role: 'relay',
  description: 'outbox relay to Kafka',
  pid,
  metricsUrl: `http://127.0.0.1:${9105 + i * 100}/metrics`,
  logFile: `/s/logs/relay-${i}.log`,
});
const state = (processes: AppState['processes'], supervisorPid = process.pid): AppState => ({
  supervisorPid,
  startedAt: '2026-12-03T10:00:00.000Z',
  processes,
});

describe('the app state file', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'app-state-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('when npm start records its processes, status reads them back; a clean stop removes them, only its own', () => {
    expect(readAppState(dir)).toBeUndefined();
    const written = state([api, relay(0, 4242)]);
    writeAppState(dir, written);
    expect(readAppState(dir)).toEqual(written);
    expect(fs.readdirSync(dir)).toEqual(['app-processes.json']);

    removeAppState(dir, 999_999); // another supervisor's stop
    expect(readAppState(dir)).toEqual(written);
    removeAppState(dir, process.pid);
    expect(fs.existsSync(appStatePath(dir))).toBe(false);
  });

  test('when the file is not an app state, reading it fails naming the file', () => {
    fs.writeFileSync(appStatePath(dir), JSON.stringify({ supervisorPid: 1, startedAt: 'x', processes: [{ name: 'api', pid: 'no' }] }));
    expect(() => readAppState(dir)).toThrow(appStatePath(dir));
    expect(() => parseAppState('null')).toThrow('not an app state');
    expect(() => parseAppState(JSON.stringify(state([{ ...api, url: '' }])))).toThrow('not an app process');
  });
});

describe('the app rows of `npm run stack -- status`', () => {
  test('when npm start is not running, one row says so and status does not fail for it', async () => {
    for (const s of [undefined, state([api], deadPid)]) {
      const rows = await appStatus(s, async () => {});
      expect(rows).toEqual([expect.objectContaining({ name: 'app', up: false, tool: true })]);
      expect(rows[0]!.error).toMatch(/^not running \(npm start\)/);
      expect(serversUp(rows)).toBe(true);
      expect(formatStatus(rows)).toMatch(/^app {9}-- {4}not running \(npm start\)/);
    }
  });

  test('when it runs, each process is up if its pid lives and its readiness URL answers; a row like the servers', async () => {
    const asked: string[] = [];
    const rows = await appStatus(state([api, relay(0, process.pid), relay(1, deadPid)]), async (url) => {
      asked.push(url);
      if (url.includes(':9105')) throw new Error('connect ECONNREFUSED');
    });
    expect(asked.sort()).toEqual(['http://127.0.0.1:3000/healthz', 'http://127.0.0.1:9105/metrics']);
    expect(rows.map((r) => [r.name, r.up])).toEqual([
      ['api', true],
      ['relay#0', false],
      ['relay#1', false],
    ]);
    expect(serversUp(rows)).toBe(false);
    expect(formatStatus(rows).split('\n')).toEqual([
      'api         up    REST API',
      `                  http://127.0.0.1:3000  metrics http://127.0.0.1:9101/metrics  log /s/logs/api.log  pid ${process.pid}`,
      'relay#0     down  http://127.0.0.1:9105/metrics: connect ECONNREFUSED (log /s/logs/relay-0.log)',
      `                  pid ${process.pid}`,
      `relay#1     down  pid ${deadPid} is gone (log /s/logs/relay-1.log)`,
      '                  ',
    ]);
  });

  test('when a name is longer than a server name, every row of the table is aligned to it', () => {
    const out = formatStatus([
      { name: 'postgres', up: true, health: { version: 'PostgreSQL 15', endpoint: '127.0.0.1:55432' }, pid: 1 },
      { name: 'consumer-notifications', up: true, health: { version: 'Kafka consumer', endpoint: 'http://x/metrics' }, pid: 2 },
    ]);
    const lines = out.split('\n');
    expect(lines[0]).toBe(`${'postgres'.padEnd(22)} up    PostgreSQL 15`);
    expect(lines[2]).toBe('consumer-notifications up    Kafka consumer');
    expect([lines[1]!.search(/\S/), lines[3]!.search(/\S/)]).toEqual([29, 29]);
  });

  test('`logs <name>` picks one instance by name, or every instance of a role', () => {
    const s = state([api, relay(0, 1), relay(1, 2)]);
    expect(appProcessesNamed(s, 'relay').map((p) => p.name)).toEqual(['relay#0', 'relay#1']);
    expect(appProcessesNamed(s, 'relay#1').map((p) => p.logFile)).toEqual(['/s/logs/relay-1.log']);
    expect(appProcessesNamed(s, 'kafka')).toEqual([]);
    expect(appProcessesNamed(undefined, 'api')).toEqual([]);
  });
});

describe("the developer stack's Web UI (scripts/stack/temporal-ui.ts)", () => {
  test('the ui-server config turns every write action off, on the UI port, without TLS on the developer stack', () => {
    const cfg = loadStackConfig({ STACK_DIR: os.tmpdir(), TEMPORAL_UI_PORT: '18233' });
    const config = uiServerConfig(cfg);
    expect(config).toMatchObject({ ...UI_READ_ONLY, port: 18233, temporalGrpcAddress: cfg.temporal.address, enableUi: true });
    expect(Object.values(UI_READ_ONLY).every((v) => v === true)).toBe(true);
    expect(config).not.toHaveProperty('tls');
  });

  test("a settings answer with any write action on is reported by that action's field", () => {
    const all = Object.fromEntries(
      [
        'DisableWriteActions',
        'WorkflowTerminateDisabled',
        'WorkflowCancelDisabled',
        'WorkflowSignalDisabled',
        'WorkflowUpdateDisabled',
        'WorkflowResetDisabled',
        'BatchActionsDisabled',
        'StartWorkflowDisabled',
        'ActivityCommandsDisabled',
      ].map((f) => [f, true]),
    );
    expect(writableActions(all)).toEqual([]);
    // What the dev server's built-in UI (temporal CLI 1.5.1) answers: every action on.
    expect(writableActions({ ...all, DisableWriteActions: false, WorkflowResetDisabled: false })).toEqual([
      'DisableWriteActions',
      'WorkflowResetDisabled',
    ]);
  });
});
