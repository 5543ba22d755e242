/**
 * End to end, over a database, topics and task queues of its own, so the passes are global
 * (unscoped), as in production: a mix of real orders (confirmed, rejected, compensated,
 * cancelled, manually compensated) reconciles to zero findings, also while more orders are
 * in flight, in full and incremental passes; and a flood of failures of one check becomes one
 * meta-finding, resolved by the first full pass without it.
 */
import type { Pool } from 'pg';
import type { Config } from '../../lib/config';
import { FaultPlan } from '../../lib/faults';
import { createLogger } from '../../lib/logger';
import { orderWorkflowId, SIGNALS } from '../../services/orders/contract';
import type { RunOutcome } from '../../services/reconciliation/runner';
import { createReconcilerPool, reconcileOnce } from '../../services/reconciliation/service';
import { createCustomer, createProduct, waitForStatus } from '../support/fixtures';
import { startReconciliationEnv, TEST_SETTINGS, type Deployment, type ReconciliationEnv } from '../support/reconciliation-env';
import { eventually } from '../support/wait';

let env: ReconciliationEnv;
let saga: Deployment;
let pg: Pool;
const faults = new FaultPlan();
const log = createLogger('reconciliation-e2e', 'fatal');

beforeAll(async () => {
  // Long enough a window to compensate confirmed orders by hand.
  env = await startReconciliationEnv('recon-e2e', { SAGA_COMPENSATION_WINDOW_MS: '120000' });
  saga = await env.deployment({ faults });
  pg = createReconcilerPool(saga.cfg, 4);
}, 180_000);
afterAll(async () => {
  await pg?.end();
  await env?.close();
});

const db = () => env.pipeline.db;

/** One pass over everything, on the deployment's task queue (the shared Temporal server has others). */
function runAll(mode: 'FULL' | 'INCREMENTAL', settings: Partial<Config['reconciler']>): Promise<RunOutcome> {
  return reconcileOnce(
    { pg, temporal: env.temporal, cfg: saga.cfg, log },
    { trigger: 'CLI', mode, settings: { ...TEST_SETTINGS, ...settings } },
  );
}

async function unresolvedEverywhere(): Promise<{ check: string; fingerprint: string; status: string }[]> {
  const { rows } = await env.owner.query<{ check_name: string; fingerprint: string; raised: boolean }>(
    'SELECT check_name, fingerprint, raised_at IS NOT NULL AS raised FROM reconciliation_findings WHERE resolved_at IS NULL ORDER BY check_name, fingerprint',
  );
  return rows.map((r) => ({ check: r.check_name, fingerprint: r.fingerprint, status: r.raised ? 'open' : 'suspect' }));
}

const totals = (run: RunOutcome) =>
  Object.values(run.summary.checks).reduce((acc, c) => ({ raised: acc.raised + c.raised, open: acc.open + c.open }), {
    raised: 0,
    open: 0,
  });

test('a clean run of mixed orders reports zero findings, in full and incremental passes, while orders are still in flight too', async () => {
  const sku = await createProduct(db(), { stock: 100, priceMinor: 500 });
  const scarce = await createProduct(db(), { stock: 1, priceMinor: 500 });
  const rich = await createCustomer(db(), { balanceMinor: 1_000_000 });
  const poor = await createCustomer(db(), { balanceMinor: 100 });

  // Cancelled while its reservation is in flight.
  faults.add({ point: 'inventory.reserve.afterCommit', action: 'delay', delayMs: 2000, times: 1 });
  const cancelled = await saga.place(rich, [{ sku, quantity: 1 }]);
  await env.temporal.workflow.getHandle(orderWorkflowId(cancelled.id)).signal(SIGNALS.cancel, { reason: 'customer changed their mind' });

  const confirmed = await Promise.all([1, 2, 3].map(() => saga.place(rich, [{ sku, quantity: 2 }])));
  const rejected = await saga.place(rich, [{ sku: scarce, quantity: 2 }]);
  const compensated = await saga.place(poor, [{ sku, quantity: 1 }]);
  const manual = await saga.place(rich, [{ sku, quantity: 3 }]);
  await waitForStatus(db(), manual.id, 'CONFIRMED');
  await env.temporal.workflow.getHandle(orderWorkflowId(manual.id)).signal(SIGNALS.compensate, { reason: 'returned' });

  const outcomes = {
    cancelled: (await waitForStatus(db(), cancelled.id, 'COMPENSATED')).failureReason,
    confirmed: await Promise.all(confirmed.map(async (o) => (await waitForStatus(db(), o.id, 'CONFIRMED')).status)),
    rejected: (await waitForStatus(db(), rejected.id, 'REJECTED')).failureReason,
    compensated: (await waitForStatus(db(), compensated.id, 'COMPENSATED')).failureReason,
    manual: (await waitForStatus(db(), manual.id, 'COMPENSATED')).failureReason,
  };
  expect(outcomes).toEqual({
    cancelled: 'CANCELLED',
    confirmed: ['CONFIRMED', 'CONFIRMED', 'CONFIRMED'],
    rejected: 'OUT_OF_STOCK',
    compensated: 'INSUFFICIENT_FUNDS',
    manual: 'MANUAL_COMPENSATION',
  });

  // More orders, reconciled while their sagas, the relay and the consumer are still at work;
  // three of them held for a while just after their charge committed (INVENTORY_RESERVED with
  // money moved: the state a naive check would call a charge without its status).
  faults.add({ point: 'payment.charge.afterCommit', action: 'delay', delayMs: 4000, times: 3 });
  const inFlight = await Promise.all(Array.from({ length: 6 }, (_, i) => saga.place(i % 2 ? rich : poor, [{ sku, quantity: 1 }])));
  const during: RunOutcome[] = [];
  const statuses = new Set<string>();
  const started = Date.now();
  while (during.length < 4 || Date.now() - started < 4000) {
    during.push(await runAll(during.length % 2 ? 'INCREMENTAL' : 'FULL', {}));
    const { rows } = await env.owner.query<{ status: string }>('SELECT status FROM orders WHERE id = ANY($1::uuid[])', [
      inFlight.map((o) => o.id),
    ]);
    rows.forEach((r) => statuses.add(r.status));
  }
  expect([...statuses].filter((st) => !['CONFIRMED', 'COMPENSATED'].includes(st)).length).toBeGreaterThan(0);
  expect(during.map(totals)).toEqual(during.map(() => ({ raised: 0, open: 0 })));
  expect(during.every((r) => r.summary.needsAttention.count === 0)).toBe(true);

  await Promise.all(inFlight.map((o) => waitForStatus(db(), o.id, ['CONFIRMED', 'COMPENSATED'])));
  // Once everything has settled, not even a suspect remains, whichever kind of pass.
  await eventually(
    async () => {
      const full = await runAll('FULL', {});
      const incremental = await runAll('INCREMENTAL', {});
      return totals(full).open === 0 && totals(incremental).open === 0 && (await unresolvedEverywhere()).length === 0;
    },
    { timeoutMs: 60_000, what: 'a clean reconciliation' },
  );
  const last = await runAll('FULL', {});
  expect(last.mode).toBe('FULL');
  expect(last.summary.checks['order.payment_ledger'].failing + last.summary.checks['stream.timeline'].failing).toBe(0);
});

test('a flood of new failures of one check is one meta-finding with the count, resolved by the next full pass without it', async () => {
  const skus = await Promise.all([1, 2, 3].map(() => createProduct(db(), { stock: 5, priceMinor: 100 })));
  await env.owner.query('UPDATE products SET available = available + 1 WHERE sku = ANY($1::text[])', [skus]);
  const settings = { floodCap: 2 };
  await eventually(
    async () => {
      await runAll('FULL', settings);
      const got = await unresolvedEverywhere();
      return got.length === 1 && got[0]!.fingerprint === 'check:inventory.conservation' && got[0]!.status === 'open';
    },
    { timeoutMs: 60_000, what: 'one meta-finding for inventory.conservation' },
  );
  const { rows } = await env.owner.query<{ details: { newFailures: number; sample: string[] } }>(
    `SELECT details FROM reconciliation_findings WHERE fingerprint = 'check:inventory.conservation' AND resolved_at IS NULL`,
  );
  expect(rows[0]?.details).toMatchObject({ newFailures: 3, cap: 2 });
  expect([...rows[0]!.details.sample].sort()).toEqual(skus.map((s) => `product:${s}`).sort());

  await env.owner.query(`INSERT INTO stock_movements (sku, quantity, kind) SELECT unnest($1::text[]), 1, 'ADJUSTMENT'`, [skus]);
  await eventually(
    async () => {
      await runAll('FULL', settings);
      return (await unresolvedEverywhere()).length === 0;
    },
    { timeoutMs: 30_000, what: 'the meta-finding to resolve' },
  );
});
