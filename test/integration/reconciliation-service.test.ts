/**
 * The reconciler as it runs in production: real `app/main.ts reconciler` processes (two: one
 * active, one standby, failover when the active one dies), its metrics, the admin API that
 * requests a run and reads findings, and `npm run reconcile` with its exit code; against a
 * fault made by hand (an account balance edited), found by the scheduled passes and resolved
 * after the repair.
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { Client } from 'pg';
import { repoRoot } from '../../lib/config';
import { ReconciliationFindingPage, ReconciliationRunView } from '../../api/schemas';
import { createApiKey } from '../../services/access/api-keys';
import { createCustomer } from '../support/fixtures';
import {
  createPipelineEnv,
  freePort,
  killAllRoles,
  metricValue,
  spawnRole,
  type PipelineEnv,
  type RoleProcess,
} from '../support/processes';
import { eventually } from '../support/wait';

/** A hand edit by the database owner (the app role may not write balances). */
async function asOwner(text: string, values: unknown[]): Promise<void> {
  const client = new Client({ connectionString: pipeline.cfg.databaseOwner.url });
  await client.connect();
  try {
    await client.query(text, values);
  } finally {
    await client.end();
  }
}

let pipeline: PipelineEnv;
let env: Record<string, string>;
let reconcilers: RoleProcess[];
let api: RoleProcess;
let adminKey: string;

beforeAll(async () => {
  pipeline = await createPipelineEnv('recon-svc');
  env = {
    ...pipeline.env,
    // A task queue of its own: the shared Temporal server runs other deployments' sagas.
    TEMPORAL_TASK_QUEUE_PREFIX: `recon-svc-${crypto.randomUUID().slice(0, 8)}-`,
    RECONCILE_INTERVAL_MS: '1000',
    RECONCILE_FULL_PASS_EVERY: '1',
    RECONCILE_GRACE_MS: '1000',
    RECONCILE_SAGA_GRACE_MS: '4000',
    RECONCILE_STREAM_LAG_MS: '4000',
    RECONCILE_STANDBY_POLL_MS: '300',
    LOG_LEVEL: 'warn',
  };
  adminKey = (await createApiKey(pipeline.db, 'recon-admin', 'admin')).key;
  const apiEnv = { ...env, API_PORT: String(await freePort()) };
  const started = await Promise.all([
    spawnRole('reconciler', { env }),
    spawnRole('reconciler', { env }),
    spawnRole('api', { env: apiEnv }),
  ]);
  reconcilers = started.slice(0, 2);
  api = started[2]!;
}, 180_000);
afterAll(async () => {
  await killAllRoles();
  await pipeline?.close();
});

async function activeOne(among: RoleProcess[]): Promise<RoleProcess> {
  return eventually(
    async () => {
      const states = await Promise.all(among.map(async (r) => metricValue(await r.metrics(), 'reconciliation_active')));
      return states.filter((s) => s === 1).length === 1 ? among[states.indexOf(1)] : undefined;
    },
    { timeoutMs: 30_000, what: 'exactly one active reconciler' },
  );
}

function cli(args: string[] = []) {
  return spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'scripts', 'reconcile.ts'), ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

async function call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${api.url}${url}`, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

test('when two reconcilers run, one is active and passes every interval, the other waits; the active one reports a finding per check', async () => {
  const active = await activeOne(reconcilers);
  const standby = reconcilers.find((r) => r !== active)!;
  const text = await eventually(async () => {
    const t = await active.metrics();
    return metricValue(t, 'reconciliation_last_success_timestamp_seconds') > 0 &&
      metricValue(t, 'reconciliation_runs_total', { outcome: 'succeeded' }) >= 2
      ? t
      : undefined;
  });
  expect(metricValue(text, 'reconciliation_findings', { check: 'order.payment_ledger' })).toBe(0);
  expect(text).toMatch(/^reconciliation_findings\{[^}]*check="stream\.timeline"[^}]*\} 0$/m);
  expect(metricValue(text, 'reconciliation_interval_seconds')).toBe(1);
  const standbyText = await standby.metrics();
  expect(metricValue(standbyText, 'reconciliation_active')).toBe(0);
  expect(metricValue(standbyText, 'reconciliation_runs_total')).toBe(0);
  // Every instance reports the last success (read from the runs table) for the alert.
  expect(metricValue(standbyText, 'reconciliation_last_success_timestamp_seconds')).toBeGreaterThan(0);
});

test('when a balance is edited by hand, the scheduled passes raise it (gauge, API, CLI exit 1); when the active reconciler dies the standby takes over; after the repair it resolves (CLI exit 0)', async () => {
  const customer = await createCustomer(pipeline.db, { balanceMinor: 5000 });
  await asOwner('UPDATE accounts SET balance_minor = balance_minor + 7 WHERE id = $1', [customer]);
  const active = await activeOne(reconcilers);
  await eventually(async () => metricValue(await active.metrics(), 'reconciliation_findings', { check: 'ledger.account_balance' }) === 1, {
    timeoutMs: 30_000,
    what: 'the gauge to count the finding',
  });

  const open = await call('GET', '/admin/reconciliation/findings?status=open&check=ledger.account_balance');
  expect(open.status).toBe(200);
  const page = ReconciliationFindingPage.parse(open.body);
  expect(page.items.map((f) => ({ fingerprint: f.fingerprint, status: f.status }))).toEqual([
    { fingerprint: `account:${customer}`, status: 'open' },
  ]);

  const report = cli();
  expect({ status: report.status, stderr: report.stderr }).toEqual({ status: 1, stderr: '' });
  expect(report.stdout).toContain(`account:${customer}`);
  expect(report.stdout).toMatch(/ledger\.account_balance\s+1\s/);

  // The API asks; the active reconciler runs it at once.
  const key = crypto.randomUUID();
  const requested = await call('POST', '/admin/reconciliation/runs', { mode: 'full' }, { 'idempotency-key': key });
  expect(requested.status).toBe(202);
  const run = ReconciliationRunView.parse(requested.body);
  expect(run).toMatchObject({ trigger: 'API', mode: 'FULL', status: 'REQUESTED' });
  expect(requested.headers.get('location')).toBe(`/admin/reconciliation/runs/${run.id}`);
  const done = await eventually(async () => {
    const r = await call('GET', `/admin/reconciliation/runs/${run.id}`);
    return r.body.status === 'SUCCEEDED' ? ReconciliationRunView.parse(r.body) : undefined;
  });
  expect(done.summary?.checks['ledger.account_balance']).toMatchObject({ open: 1 });
  expect(done.durationMs).toEqual(expect.any(Number));
  expect((await call('POST', '/admin/reconciliation/runs', { mode: 'full' }, { 'idempotency-key': key })).body).toMatchObject({
    id: run.id,
  });

  await active.kill('SIGKILL');
  const survivor = reconcilers.find((r) => r !== active)!;
  expect(await activeOne([survivor])).toBe(survivor);
  await eventually(async () => metricValue(await survivor.metrics(), 'reconciliation_findings', { check: 'ledger.account_balance' }) === 1);

  await asOwner('UPDATE accounts SET balance_minor = balance_minor - 7 WHERE id = $1', [customer]);
  await eventually(
    async () => metricValue(await survivor.metrics(), 'reconciliation_findings', { check: 'ledger.account_balance' }) === 0,
    {
      timeoutMs: 30_000,
      what: 'the finding to resolve',
    },
  );
  const clean = cli();
  expect({ status: clean.status, stderr: clean.stderr }).toEqual({ status: 0, stderr: '' });
  expect(clean.stdout).toContain('no open findings');
  const history = await call('GET', '/admin/reconciliation/findings?status=resolved&check=ledger.account_balance');
  expect(ReconciliationFindingPage.parse(history.body).items.map((f) => f.fingerprint)).toEqual([`account:${customer}`]);
});

test('the admin routes refuse client keys and bad input', async () => {
  const client = (await createApiKey(pipeline.db, 'recon-client', 'client')).key;
  const forbidden = await fetch(`${api.url}/admin/reconciliation/findings`, { headers: { authorization: `Bearer ${client}` } });
  expect(forbidden.status).toBe(403);
  expect((await call('GET', '/admin/reconciliation/findings?check=no.such.check')).status).toBe(400);
  expect((await call('GET', '/admin/reconciliation/runs/999999999')).status).toBe(404);
  expect(
    (await call('POST', '/admin/reconciliation/runs', { orderIds: ['not-a-uuid'] }, { 'idempotency-key': crypto.randomUUID() })).status,
  ).toBe(400);
  expect((await call('POST', '/admin/reconciliation/runs', {})).status).toBe(400); // no Idempotency-Key
});
