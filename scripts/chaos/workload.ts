/**
 * The chaos run's workload: products and customers it creates for itself, then a seeded mix
 * of order scenarios driven through the REST API (and, for manual compensation, through the
 * temporal CLI and tctl as an operator would). Each scenario says which final states it
 * allows; the checker holds the system to that.
 */
import crypto from 'node:crypto';
import { repoRoot } from '../../lib/config';
import { inTransaction, type Db } from '../../lib/db';
import { createApiKey } from '../../services/access/api-keys';
import { upsertProduct } from '../../services/catalog/products';
import { orderWorkflowId } from '../../services/orders/contract';
import { openAndDeposit } from '../../services/payments/accounts';
import { run } from '../stack/proc';
import type { Answer, ChaosClient } from './client';
import type { Rng } from './prng';

export const CURRENCY = 'EUR';
const RICH_BALANCE = 1_000_000_000;
const POOR_BALANCE = 100;

export interface Catalog {
  products: { sku: string; priceMinor: number; stock: number }[];
  soldOut: string;
  customers: string[];
  poorCustomer: string;
  keys: { client: string; admin: string };
}

/** Everything the run orders from and pays with, created with a run-unique prefix. */
export async function createCatalog(db: Db, runId: string): Promise<Catalog> {
  const products = [1999, 1250, 899, 14900].map((priceMinor, i) => ({ sku: `CHAOS-${runId}-P${i}`, priceMinor, stock: 1_000_000 }));
  const soldOut = `CHAOS-${runId}-SOLDOUT`;
  const customers = Array.from({ length: 6 }, (_, i) => `chaos-${runId}-c${i}`);
  const poorCustomer = `chaos-${runId}-poor`;
  await inTransaction(db, async (tx) => {
    for (const p of products) {
      await upsertProduct(tx, { sku: p.sku, name: p.sku, unitPriceMinor: p.priceMinor, currency: CURRENCY, addStock: p.stock });
    }
    await upsertProduct(tx, { sku: soldOut, name: soldOut, unitPriceMinor: 500, currency: CURRENCY, addStock: 0 });
    for (const c of customers)
      await openAndDeposit(tx, { customerId: c, currency: CURRENCY, depositMinor: RICH_BALANCE, idempotencyKey: `chaos:${c}` });
    await openAndDeposit(tx, {
      customerId: poorCustomer,
      currency: CURRENCY,
      depositMinor: POOR_BALANCE,
      idempotencyKey: `chaos:${poorCustomer}`,
    });
  });
  const client = await createApiKey(db, `chaos-${runId}-client`, 'client', [...customers, poorCustomer]);
  const admin = await createApiKey(db, `chaos-${runId}-admin`, 'admin');
  return { products, soldOut, customers, poorCustomer, keys: { client: client.key, admin: admin.key } };
}

export const SCENARIOS = [
  'confirmed',
  'out-of-stock',
  'insufficient-funds',
  'cancel',
  'compensate-api',
  'compensate-temporal',
  'compensate-tctl',
  'replay',
  'timeout-retry',
] as const;
export type Scenario = (typeof SCENARIOS)[number];

const WEIGHTS: Record<Scenario, number> = {
  confirmed: 30,
  'out-of-stock': 8,
  'insufficient-funds': 8,
  cancel: 10,
  'compensate-api': 10,
  'compensate-temporal': 5,
  'compensate-tctl': 5,
  replay: 12,
  'timeout-retry': 12,
};

/** The final (status, failure reason) pairs each scenario allows. */
export const ALLOWED: Record<Scenario, string[]> = {
  confirmed: ['CONFIRMED'],
  'out-of-stock': ['REJECTED/OUT_OF_STOCK'],
  'insufficient-funds': ['COMPENSATED/INSUFFICIENT_FUNDS'],
  // A cancel that arrives after confirmation is refused (409): the order stays CONFIRMED.
  cancel: ['COMPENSATED/CANCELLED', 'CONFIRMED'],
  'compensate-api': ['COMPENSATED/MANUAL_COMPENSATION'],
  'compensate-temporal': ['COMPENSATED/MANUAL_COMPENSATION'],
  'compensate-tctl': ['COMPENSATED/MANUAL_COMPENSATION'],
  replay: ['CONFIRMED'],
  'timeout-retry': ['CONFIRMED'],
};

export function pickScenario(rng: Rng): Scenario {
  const total = Object.values(WEIGHTS).reduce((a, b) => a + b, 0);
  let x = rng.next() * total;
  for (const s of SCENARIOS) {
    x -= WEIGHTS[s];
    if (x < 0) return s;
  }
  return 'confirmed';
}

/** What the client knows of one order it placed: the checker's ground truth. */
export interface PlacedOrder {
  scenario: Scenario;
  idempotencyKey: string;
  customerId: string;
  items: { sku: string; quantity: number }[];
  /** Computed by the client from its own price list. */
  totalMinor: number;
  orderId?: string;
  /** Every non-retryable answer to this key's POST /orders (the first and the replays). */
  answers: Answer[];
  /** The cancel's answer status, when the scenario sent one. */
  cancelStatus?: number;
  error?: string;
}

export interface WorkloadDeps {
  client: ChaosClient;
  catalog: Catalog;
  /** Environment for `npm run temporal` / `npm run tctl` (the run's Temporal address). */
  cliEnv: NodeJS.ProcessEnv;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function orderBody(rng: Rng, scenario: Scenario, c: Catalog): { customerId: string; items: { sku: string; quantity: number }[] } {
  if (scenario === 'out-of-stock') return { customerId: rng.pick(c.customers), items: [{ sku: c.soldOut, quantity: 1 }] };
  const lines = rng.int(1, 2);
  const skus = [...new Set(Array.from({ length: lines }, () => rng.pick(c.products).sku))];
  const items = skus.map((sku) => ({ sku, quantity: rng.int(1, 3) }));
  const customerId = scenario === 'insufficient-funds' ? c.poorCustomer : rng.pick(c.customers);
  return { customerId, items };
}

function priceOf(c: Catalog, items: { sku: string; quantity: number }[]): number {
  const price = (sku: string) => c.products.find((p) => p.sku === sku)?.priceMinor ?? 500;
  return items.reduce((sum, i) => sum + price(i.sku) * i.quantity, 0);
}

/** Runs one order scenario to the point where the client has done everything it meant to. */
export async function runScenario(deps: WorkloadDeps, rng: Rng, scenario: Scenario): Promise<PlacedOrder> {
  const { client, catalog } = deps;
  const body = orderBody(rng, scenario, catalog);
  const placed: PlacedOrder = {
    scenario,
    idempotencyKey: crypto.randomUUID(),
    ...body,
    totalMinor: priceOf(catalog, body.items),
    answers: [],
  };
  try {
    const post = (firstTimeoutMs?: number) =>
      client.send('POST', '/orders', body, { idempotencyKey: placed.idempotencyKey, firstTimeoutMs }).then((a) => {
        placed.answers.push(a);
        return a;
      });
    // A client that gives up after a few milliseconds, then retries with the same key.
    const first = await post(scenario === 'timeout-retry' ? rng.int(1, 40) : undefined);
    if (first.status !== 202) throw new Error(`POST /orders answered ${first.status}: ${JSON.stringify(first.body)}`);
    const orderId = (first.body as { orderId: string }).orderId;
    placed.orderId = orderId;
    if (scenario === 'replay') await Promise.all([post(), post()]);
    if (scenario === 'cancel') {
      await sleep(rng.int(0, 300));
      placed.cancelStatus = (await client.send('POST', `/orders/${orderId}/cancel`, { reason: 'chaos: changed my mind' })).status;
    }
    if (scenario.startsWith('compensate-')) {
      await waitForStatus(client, orderId, 'CONFIRMED');
      await compensate(deps, scenario, orderId);
    }
  } catch (err) {
    placed.error = (err as Error).message;
  }
  return placed;
}

async function waitForStatus(client: ChaosClient, orderId: string, status: string, timeoutMs = 240_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const a = await client.send('GET', `/orders/${orderId}`, undefined);
    const now = (a.body as { status?: string }).status;
    if (now === status) return;
    if (Date.now() > deadline) throw new Error(`order ${orderId} still ${now} after ${timeoutMs} ms (waited for ${status})`);
    await sleep(500);
  }
}

async function compensate(deps: WorkloadDeps, scenario: Scenario, orderId: string): Promise<void> {
  const reason = `chaos: ${scenario}`;
  if (scenario === 'compensate-api') {
    const a = await deps.client.send('POST', `/admin/orders/${orderId}/compensate`, { reason }, { admin: true });
    if (a.status !== 202) throw new Error(`compensate answered ${a.status}: ${JSON.stringify(a.body)}`);
    return;
  }
  const input = JSON.stringify({ reason });
  const args =
    scenario === 'compensate-tctl'
      ? ['tctl', '--', 'workflow', 'signal', '--workflow_id', orderWorkflowId(orderId), '--name', 'compensate', '--input', input]
      : ['temporal', '--', 'workflow', 'signal', '--workflow-id', orderWorkflowId(orderId), '--name', 'compensate', '--input', input];
  await retryCli(deps.cliEnv, args);
}

/** An operator retries a CLI command that failed while the server was down; a repeated signal is harmless. */
async function retryCli(env: NodeJS.ProcessEnv, args: string[]): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const r = await run('npm', ['run', '-s', ...args], { cwd: repoRoot, env, allowFailure: true, timeout: 60_000 });
    if (r.code === 0) return;
    if (Date.now() > deadline) throw new Error(`npm run ${args.join(' ')} failed: ${r.stderr.trim() || r.stdout.trim()}`);
    await sleep(2000);
  }
}
