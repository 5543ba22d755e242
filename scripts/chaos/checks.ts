/**
 * The checker. It trusts nothing the system says about itself: the ground truth is the
 * client's own log of what it sent and was answered, the catalog it created and the state
 * it snapshotted before the run; it reads the database with plain SQL and the Kafka topic
 * from its first offset, and asks the reconciler (a separate process) last.
 */
import crypto from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import type { Pool } from 'pg';
import type { Config } from '../../lib/config';
import { repoRoot } from '../../lib/config';
import { run } from '../stack/proc';
import { ALLOWED, type Catalog, type PlacedOrder } from './workload';

export interface CheckResult {
  name: string;
  /** What was checked, e.g. "412 orders". */
  scope: string;
  violations: string[];
  /** Counts worth printing beside the verdict (lost, duplicated, out of order...). */
  counts?: Record<string, number>;
}

export interface Snapshot {
  balances: Map<string, bigint>;
  stock: Map<string, { available: number; reserved: number; committed: number }>;
}

const IN_FLIGHT = ['PENDING', 'INVENTORY_RESERVED', 'PAYMENT_CAPTURED', 'COMPENSATING'];
const MAX_LISTED = 10;

/** JSON with object keys sorted: a stored reply comes back from jsonb with its keys reordered, which is the same reply. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}

function push(list: string[], msg: string): void {
  if (list.length < MAX_LISTED) list.push(msg);
  else if (list.length === MAX_LISTED) list.push('...');
}

export async function snapshot(pg: Pool): Promise<Snapshot> {
  const accounts = await pg.query<{ id: string; balance_minor: string }>('SELECT id, balance_minor FROM accounts');
  const products = await pg.query<{ sku: string; available: number; reserved: number; committed: number }>(
    'SELECT sku, available, reserved, committed FROM products',
  );
  return {
    balances: new Map(accounts.rows.map((r) => [r.id, BigInt(r.balance_minor)])),
    stock: new Map(products.rows.map((r) => [r.sku, { available: r.available, reserved: r.reserved, committed: r.committed }])),
  };
}

interface OrderRow {
  id: string;
  customer_id: string;
  status: string;
  failure_reason: string | null;
  total_minor: string;
}

async function orderRows(pg: Pool): Promise<Map<string, OrderRow>> {
  const { rows } = await pg.query<OrderRow>('SELECT id, customer_id, status, failure_reason, total_minor FROM orders');
  return new Map(rows.map((r) => [r.id, r]));
}

/** True when every accepted order is settled and every event went through both consumers. */
export async function quiescent(pg: Pool, placed: PlacedOrder[]): Promise<string | undefined> {
  const orders = await orderRows(pg);
  for (const p of placed) {
    const row = p.orderId ? orders.get(p.orderId) : undefined;
    if (!row) continue;
    if (IN_FLIGHT.includes(row.status)) return `order ${row.id} is ${row.status}`;
    if (p.scenario.startsWith('compensate-') && row.status === 'CONFIRMED') return `order ${row.id} not compensated yet`;
  }
  const { rows } = await pg.query<{ pending: string; total: string; audit: string; groups: { g: string; n: string }[] | null }>(`
    SELECT (SELECT count(*) FROM outbox_events WHERE published_at IS NULL) AS pending,
           (SELECT count(*) FROM outbox_events) AS total,
           (SELECT count(*) FROM audit_timeline) AS audit,
           (SELECT json_agg(json_build_object('g', consumer_group, 'n', n)) FROM
              (SELECT consumer_group, count(*) AS n FROM processed_events GROUP BY consumer_group) x) AS groups`);
  const r = rows[0]!;
  if (r.pending !== '0') return `${r.pending} outbox rows unpublished`;
  if (r.audit !== r.total) return `audit timeline has ${r.audit} of ${r.total} events`;
  const behind = (r.groups ?? []).find((g) => String(g.n) !== r.total);
  if (behind) return `consumer group ${behind.g} processed ${behind.n} of ${r.total} events`;
  return undefined;
}

export function checkOrders(placed: PlacedOrder[], orders: Map<string, OrderRow>): CheckResult {
  const v: string[] = [];
  const accepted = placed.filter((p) => p.orderId);
  for (const p of placed) if (p.error) push(v, `${p.scenario} ${p.idempotencyKey}: client gave up: ${p.error}`);
  for (const p of accepted) {
    const row = orders.get(p.orderId!);
    if (!row) {
      push(v, `accepted order ${p.orderId} does not exist`);
      continue;
    }
    const outcome = row.failure_reason ? `${row.status}/${row.failure_reason}` : row.status;
    if (!ALLOWED[p.scenario].includes(outcome))
      push(v, `${p.scenario} order ${row.id} ended ${outcome} (allowed: ${ALLOWED[p.scenario].join(', ')})`);
    // The cancel's answer is the saga's decision: an accepted one (202) never ends CONFIRMED.
    if (p.scenario === 'cancel' && p.cancelStatus === 202 && row.status !== 'COMPENSATED')
      push(v, `cancel of order ${row.id} was accepted (202) but it ended ${outcome}`);
    if (BigInt(row.total_minor) !== BigInt(p.totalMinor))
      push(v, `order ${row.id} total ${row.total_minor}, client priced ${p.totalMinor}`);
    if (row.customer_id !== p.customerId) push(v, `order ${row.id} belongs to ${row.customer_id}, client sent ${p.customerId}`);
  }
  const known = new Set(accepted.map((p) => p.orderId));
  for (const id of orders.keys()) if (!known.has(id)) push(v, `order ${id} exists but the client was never told of it`);
  return { name: 'orders accounted for, final', scope: `${accepted.length} accepted, ${orders.size} in db`, violations: v };
}

export async function checkIdempotency(pg: Pool, placed: PlacedOrder[]): Promise<CheckResult> {
  const v: string[] = [];
  let replays = 0;
  for (const p of placed) {
    const [first, ...rest] = p.answers;
    if (!first) continue;
    for (const a of rest) {
      replays += 1;
      if (a.status !== first.status || canonical(a.body) !== canonical(first.body)) {
        push(
          v,
          `key ${p.idempotencyKey}: replay answered ${a.status} ${JSON.stringify(a.body)}, first ${first.status} ${JSON.stringify(first.body)}`,
        );
      }
      if (!a.replayed) push(v, `key ${p.idempotencyKey}: a resend was not marked Idempotent-Replayed`);
    }
  }
  const keys = placed.filter((p) => p.orderId).map((p) => p.idempotencyKey);
  const { rows } = await pg.query<{ key: string; n: string; state: string }>(
    `SELECT key, count(*) AS n, min(state) AS state FROM idempotency_keys WHERE key = ANY($1::text[]) GROUP BY key`,
    [keys],
  );
  const byKey = new Map(rows.map((r) => [r.key, r]));
  for (const k of keys) {
    const r = byKey.get(k);
    if (!r || r.n !== '1' || r.state !== 'COMPLETED') push(v, `key ${k}: ${r ? `${r.n} rows, ${r.state}` : 'no stored reply'}`);
  }
  const ids = placed.map((p) => p.orderId).filter(Boolean);
  if (new Set(ids).size !== ids.length) push(v, 'two Idempotency-Keys answered with the same order');
  return { name: 'one order per key, replays identical', scope: `${keys.length} keys, ${replays} resends`, violations: v };
}

export async function checkMoney(pg: Pool, before: Snapshot, placed: PlacedOrder[], orders: Map<string, OrderRow>): Promise<CheckResult> {
  const v: string[] = [];
  const after = await snapshot(pg);
  const sum = (m: Map<string, bigint>) => [...m.values()].reduce((a, b) => a + b, 0n);
  if (sum(after.balances) !== sum(before.balances)) push(v, `sum of balances ${sum(before.balances)} -> ${sum(after.balances)}`);
  const expected = new Map(before.balances);
  for (const p of placed) {
    if (!p.orderId || orders.get(p.orderId)?.status !== 'CONFIRMED') continue;
    const charge = BigInt(p.totalMinor);
    expected.set(p.customerId, (expected.get(p.customerId) ?? 0n) - charge);
    expected.set('merchant:EUR', (expected.get('merchant:EUR') ?? 0n) + charge);
  }
  for (const [id, bal] of after.balances) {
    if ((expected.get(id) ?? 0n) !== bal) push(v, `account ${id}: ${bal}, expected ${expected.get(id) ?? 0n}`);
  }
  const { rows: negative } = await pg.query<{ id: string }>(`SELECT id FROM accounts WHERE kind <> 'EXTERNAL' AND balance_minor < 0`);
  for (const r of negative) push(v, `account ${r.id} is negative`);
  const { rows: ledger } = await pg.query<{ order_id: string; charges: string; refunds: string }>(`
    SELECT order_id, count(*) FILTER (WHERE kind = 'CHARGE') AS charges, count(*) FILTER (WHERE kind = 'REFUND') AS refunds
    FROM ledger_transactions WHERE order_id IS NOT NULL GROUP BY order_id`);
  let charges = 0;
  let refunds = 0;
  const perOrder = new Map(ledger.map((r) => [r.order_id, { c: Number(r.charges), r: Number(r.refunds) }]));
  for (const [id, row] of orders) {
    const l = perOrder.get(id) ?? { c: 0, r: 0 };
    charges += l.c;
    refunds += l.r;
    if (l.c > 1 || l.r > 1) push(v, `order ${id}: ${l.c} charges, ${l.r} refunds`);
    if (row.status === 'CONFIRMED' && (l.c !== 1 || l.r !== 0)) push(v, `CONFIRMED order ${id}: ${l.c} charges, ${l.r} refunds`);
    if (row.status !== 'CONFIRMED' && l.c !== l.r) push(v, `${row.status} order ${id}: ${l.c} charges, ${l.r} refunds`);
  }
  return {
    name: 'money conserved, one charge/refund',
    scope: `${after.balances.size} accounts`,
    violations: v,
    counts: { charges, refunds },
  };
}

export async function checkStock(
  pg: Pool,
  before: Snapshot,
  catalog: Catalog,
  placed: PlacedOrder[],
  orders: Map<string, OrderRow>,
): Promise<CheckResult> {
  const v: string[] = [];
  const after = await snapshot(pg);
  const sold = new Map<string, number>();
  for (const p of placed) {
    if (!p.orderId || orders.get(p.orderId)?.status !== 'CONFIRMED') continue;
    for (const i of p.items) sold.set(i.sku, (sold.get(i.sku) ?? 0) + i.quantity);
  }
  const { rows: journal } = await pg.query<{ sku: string; total: string }>(
    'SELECT sku, sum(quantity) AS total FROM stock_movements GROUP BY sku',
  );
  const received = new Map(journal.map((r) => [r.sku, Number(r.total)]));
  for (const [sku, s] of after.stock) {
    const b = before.stock.get(sku) ?? { available: 0, reserved: 0, committed: 0 };
    const n = sold.get(sku) ?? 0;
    if (s.available + s.reserved + s.committed !== (received.get(sku) ?? 0))
      push(v, `${sku}: counters ${JSON.stringify(s)} vs journal ${received.get(sku) ?? 0}`);
    if (s.reserved !== b.reserved) push(v, `${sku}: ${s.reserved - b.reserved} units left reserved`);
    if (s.committed !== b.committed + n || s.available !== b.available - n)
      push(v, `${sku}: ${JSON.stringify(s)}, expected ${n} more committed than ${JSON.stringify(b)}`);
  }
  return { name: 'stock conserved', scope: `${catalog.products.length + 1} products`, violations: v };
}

interface StreamMessage {
  partition: number;
  key: string | null;
  eventId: string;
  sequence: number;
}

/** Reads the whole topic from offset 0 with a fresh group, until it holds `expected` distinct events. */
export async function readStream(cfg: Config, expected: number, timeoutMs = 120_000): Promise<StreamMessage[]> {
  const kafka = new Kafka({ clientId: 'chaos-checker', brokers: cfg.kafka.brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `chaos-checker-${crypto.randomUUID()}`, maxWaitTimeInMs: 200 });
  const messages: StreamMessage[] = [];
  const ids = new Set<string>();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: cfg.kafka.eventsTopic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const env = JSON.parse(m.value?.toString('utf8') ?? '{}') as { eventId: string; sequence: number };
          messages.push({ partition: batch.partition, key: m.key?.toString('utf8') ?? null, eventId: env.eventId, sequence: env.sequence });
          ids.add(env.eventId);
        }
      },
    });
    const deadline = Date.now() + timeoutMs;
    while (ids.size < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 300));
    return messages;
  } finally {
    await consumer.disconnect();
  }
}

export async function checkStream(pg: Pool, cfg: Config): Promise<CheckResult> {
  const v: string[] = [];
  const { rows: outbox } = await pg.query<{ aggregate_id: string; sequence: number; event_id: string }>(
    'SELECT aggregate_id, sequence, event_id FROM outbox_events ORDER BY aggregate_id, sequence',
  );
  const expected = new Map<string, Map<number, string>>();
  for (const r of outbox) {
    if (!expected.has(r.aggregate_id)) expected.set(r.aggregate_id, new Map());
    expected.get(r.aggregate_id)!.set(r.sequence, r.event_id);
  }
  const messages = await readStream(cfg, outbox.length);
  const seen = new Map<string, { max: number; seqs: Set<number>; partition: number }>();
  let duplicated = 0;
  let outOfOrder = 0;
  for (const m of messages) {
    const key = m.key ?? '';
    const s = seen.get(key) ?? { max: 0, seqs: new Set<number>(), partition: m.partition };
    seen.set(key, s);
    if (s.partition !== m.partition) push(v, `order ${key} on partitions ${s.partition} and ${m.partition}`);
    if (expected.get(key)?.get(m.sequence) !== m.eventId) push(v, `order ${key} seq ${m.sequence}: event ${m.eventId} is not the outbox's`);
    if (s.seqs.has(m.sequence)) duplicated += 1;
    else if (m.sequence !== s.max + 1) {
      outOfOrder += 1;
      push(v, `order ${key}: seq ${m.sequence} after ${s.max}`);
    }
    s.seqs.add(m.sequence);
    s.max = Math.max(s.max, m.sequence);
  }
  let lost = 0;
  for (const [id, seqs] of expected) {
    const got = seen.get(id)?.seqs ?? new Set<number>();
    const missing = [...seqs.keys()].filter((q) => !got.has(q));
    lost += missing.length;
    if (missing.length) push(v, `order ${id}: lost seq ${missing.join(',')}`);
    if (seqs.size !== Math.max(...seqs.keys())) push(v, `order ${id}: outbox sequences not 1..${seqs.size}`);
  }
  const effects = await duplicateEffects(pg);
  for (const e of effects) push(v, e);
  return {
    name: 'stream: none lost, in order, effects once',
    scope: `${expected.size} orders, ${outbox.length} events, ${messages.length} messages`,
    violations: v,
    counts: { lost, duplicated, outOfOrder, duplicateEffects: effects.length },
  };
}

/** The consumers' own state: each event applied once, per order no gap and no reordering. */
async function duplicateEffects(pg: Pool): Promise<string[]> {
  const out: string[] = [];
  const { rows: timeline } = await pg.query<{ aggregate_id: string; n: string; max: number }>(
    'SELECT aggregate_id, count(*) AS n, max(sequence) AS max FROM audit_timeline GROUP BY aggregate_id',
  );
  for (const r of timeline) if (Number(r.n) !== r.max) out.push(`audit timeline of ${r.aggregate_id}: ${r.n} rows up to seq ${r.max}`);
  const { rows: notes } = await pg.query<{ order_id: string; template: string; n: string }>(
    'SELECT order_id, template, count(*) AS n FROM notifications GROUP BY order_id, template HAVING count(*) > 1',
  );
  for (const r of notes) out.push(`order ${r.order_id}: ${r.n} ${r.template} notifications`);
  const { rows: anomalies } = await pg.query<{ kind: string; n: string }>(
    `SELECT kind, count(*) AS n FROM audit_anomalies WHERE kind <> 'DUPLICATE' GROUP BY kind`,
  );
  for (const r of anomalies) out.push(`${r.n} ${r.kind} anomalies seen by the audit consumer`);
  const { rows: dead } = await pg.query<{ n: string }>('SELECT count(*) AS n FROM dead_letters');
  if (dead[0]!.n !== '0') out.push(`${dead[0]!.n} dead letters`);
  return out;
}

/** `npm run reconcile` as an operator runs it: exit 0 means no open findings. */
export async function checkReconciler(env: NodeJS.ProcessEnv): Promise<CheckResult> {
  const r = await run('npm', ['run', '-s', 'reconcile', '--', '--json'], { cwd: repoRoot, env, allowFailure: true, timeout: 300_000 });
  const v: string[] = [];
  let open = 0;
  let suspects = 0;
  try {
    const report = JSON.parse(r.stdout) as {
      run: { openFindings: number };
      open: { check: string; subjectId: string }[];
      suspects: unknown[];
    };
    open = report.run.openFindings;
    suspects = report.suspects.length;
    for (const f of report.open) push(v, `finding ${f.check} on ${f.subjectId}`);
  } catch {
    push(v, `reconcile printed no report: ${r.stderr.trim().slice(-500)}`);
  }
  if (r.code !== 0 && v.length === 0) push(v, `reconcile exited ${r.code}`);
  if (suspects > 0) push(v, `${suspects} suspect findings`);
  return { name: 'reconciler: zero findings', scope: 'npm run reconcile (full pass)', violations: v, counts: { findings: open, suspects } };
}

export { orderRows };
