/**
 * Overload is a normal condition. The real API, workers, database and Temporal run with a
 * tiny connection pool and a delay injected inside the money and stock transactions, and
 * are offered several times what they can take. Then, from the database alone: no statement
 * of a failed transaction is visible (balances are the sum of their entries, every change
 * has its outbox row and every outbox row its change, stock counters match reservations),
 * PostgreSQL logged no constraint violation of this run, the API answered no 500 (only
 * 202 or a 503 with Retry-After that wrote nothing), and every accepted order finished.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { loadStackConfig } from '../../scripts/stack/config';
import { loadStartableOrder, markSagaStarted, startSaga } from '../../services/orders/saga-starter';
import { startApiEnv, type ApiEnv, type Reply } from '../support/api-env';
import { createCustomer, createProduct } from '../support/fixtures';
import { eventually } from '../support/wait';

const OFFERED_PER_S = 30;
const SECONDS = 20;
const POOL = 3;
const STOCK = 400;
const PRICE = 100;

let env: ApiEnv;
beforeAll(async () => {
  env = await startApiEnv({}, { poolSize: POOL, connectTimeoutMs: 500 });
});
afterAll(async () => {
  env.faults.clear();
  await env?.stop();
});

const pgLog = () => path.join(loadStackConfig().stack.dir, 'postgres', 'postgres.log');

/** Open-loop load: one request every 1/rate s whatever the answers, bounded in count and time. */
async function offer(send: (i: number) => Promise<Reply | Error>): Promise<(Reply | Error)[]> {
  const total = OFFERED_PER_S * SECONDS;
  const started = Date.now();
  const pending: Promise<Reply | Error>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / OFFERED_PER_S;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    pending.push(send(i));
  }
  return Promise.all(pending);
}

test(`when offered ${OFFERED_PER_S} orders/s for ${SECONDS} s on a ${POOL}-connection pool with slow money transactions, then nothing is half-written and no 500`, async () => {
  const logStart = fs.existsSync(pgLog()) ? fs.statSync(pgLog()).size : 0;
  const sku = await createProduct(env.db, { stock: STOCK, priceMinor: PRICE });
  const rich = await Promise.all(
    [1, 2, 3, 4].map(() => createCustomer(env.db, { balanceMinor: 1_000_000, grantTo: [env.keys.clientA.id] })),
  );
  const poor = await createCustomer(env.db, { balanceMinor: 250, grantTo: [env.keys.clientA.id] });
  const customers = [...rich, poor];
  env.faults.add({ point: 'payment.charge.beforeCommit', action: 'delay', delayMs: 150 });
  env.faults.add({ point: 'payment.refund.beforeCommit', action: 'delay', delayMs: 150 });
  env.faults.add({ point: 'inventory.release.beforeCommit', action: 'delay', delayMs: 150 });

  const replies = await offer(async (i) => {
    const customerId = i % 5 === 4 ? poor : rich[i % 4]!;
    return env
      .call('POST', '/orders', {
        body: { customerId, items: [{ sku, quantity: 1 + (i % 2) }] },
        headers: { 'idempotency-key': crypto.randomUUID() },
      })
      .catch((err: Error) => err);
  });
  env.faults.clear();

  const answers = replies.map((r) => (r instanceof Error ? `error:${r.message}` : String(r.status)));
  const count = (s: string) => answers.filter((a) => a === s).length;
  const accepted = replies.filter((r): r is Reply => !(r instanceof Error) && r.status === 202);
  const refused = replies.filter((r): r is Reply => !(r instanceof Error) && r.status === 503);
  process.stderr.write(
    `[overload] offered ${answers.length} at ${OFFERED_PER_S}/s for ${SECONDS} s: 202 ${count('202')} (${(count('202') / SECONDS).toFixed(1)}/s), ` +
      `503 ${count('503')} (${((100 * count('503')) / answers.length).toFixed(1)}%), other ${answers.length - count('202') - count('503')}\n`,
  );
  // Every answer is an acceptance or a retryable refusal; a refusal is a proper problem.
  expect(answers.filter((a) => a !== '202' && a !== '503')).toEqual([]);
  for (const r of refused) {
    expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
  }
  // A refused request wrote nothing: the orders of these customers are exactly the accepted ones.
  const orders = await env.db.order.findMany({ where: { customerId: { in: customers } }, select: { id: true } });
  expect(orders.map((o) => o.id).sort()).toEqual(accepted.map((r) => r.body.orderId as string).sort());

  // Every accepted order finishes (a start the overload deferred is the sweeper's: done here, for these orders only).
  await eventually(
    async () => {
      const unstarted = await env.db.order.findMany({
        where: { customerId: { in: customers }, sagaStartedAt: null },
        select: { id: true },
      });
      for (const { id } of unstarted) {
        await startSaga(env.client, env.cfg, (await loadStartableOrder(env.db, id))!);
        await markSagaStarted(env.db, [id]);
      }
      const open = await env.db.order.count({
        where: { customerId: { in: customers }, status: { notIn: ['CONFIRMED', 'REJECTED', 'COMPENSATED'] } },
      });
      return open === 0;
    },
    { timeoutMs: 120_000, intervalMs: 500, what: 'every accepted order to reach a final status' },
  );

  const q = <T>(sql: string, ...params: unknown[]) => env.db.$queryRawUnsafe<T[]>(sql, ...params);
  const accounts = [...customers, 'merchant:EUR'];
  // Balances are the sum of their entries (no entry or balance update outside its transaction).
  expect(
    await q(
      `SELECT a.id FROM accounts a LEFT JOIN ledger_entries e ON e.account_id = a.id WHERE a.id = ANY($1::text[])
       GROUP BY a.id, a.balance_minor HAVING a.balance_minor <> COALESCE(sum(e.amount_minor), 0)`,
      accounts,
    ),
  ).toEqual([]);
  const ids = orders.map((o) => o.id);
  // Every payment change has its event and ledger transaction, and every event its change.
  expect(
    await q(
      `SELECT p.order_id::text, p.status FROM payments p WHERE p.order_id = ANY($1::uuid[]) AND NOT (
         (SELECT count(*) FROM outbox_events o WHERE o.aggregate_id = p.order_id::text AND o.type = 'PaymentCaptured') = (CASE WHEN p.status IN ('FAILED', 'VOIDED') THEN 0 ELSE 1 END)
         AND (SELECT count(*) FROM outbox_events o WHERE o.aggregate_id = p.order_id::text AND o.type = 'PaymentRefunded') = (CASE WHEN p.status = 'REFUNDED' THEN 1 ELSE 0 END)
         AND (SELECT count(*) FROM outbox_events o WHERE o.aggregate_id = p.order_id::text AND o.type = 'PaymentFailed') = (CASE WHEN p.status = 'FAILED' THEN 1 ELSE 0 END)
         AND (SELECT count(*) FROM outbox_events o WHERE o.aggregate_id = p.order_id::text AND o.type = 'PaymentVoided') = (CASE WHEN p.status = 'VOIDED' THEN 1 ELSE 0 END)
         AND (SELECT count(*) FROM ledger_transactions t WHERE t.order_id = p.order_id AND t.kind = 'CHARGE') = (CASE WHEN p.status IN ('FAILED', 'VOIDED') THEN 0 ELSE 1 END)
         AND (SELECT count(*) FROM ledger_transactions t WHERE t.order_id = p.order_id AND t.kind = 'REFUND') = (CASE WHEN p.status = 'REFUNDED' THEN 1 ELSE 0 END))`,
      ids,
    ),
  ).toEqual([]);
  expect(
    await q(
      `SELECT o.aggregate_id, o.type FROM outbox_events o WHERE o.aggregate_id = ANY($1::text[]) AND (
         (o.type IN ('PaymentCaptured', 'PaymentFailed', 'PaymentVoided') AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.order_id::text = o.aggregate_id))
         OR (o.type = 'InventoryReserved' AND NOT EXISTS (SELECT 1 FROM reservation_items r WHERE r.order_id::text = o.aggregate_id))
         OR (o.type = 'InventoryReleased' AND NOT EXISTS (SELECT 1 FROM reservations r WHERE r.order_id::text = o.aggregate_id AND r.status = 'RELEASED')))`,
      ids,
    ),
  ).toEqual([]);
  // Per order, outbox sequences are 1..n without a gap (an event of a rolled-back change would leave one).
  expect(
    await q(
      `SELECT aggregate_id FROM outbox_events WHERE aggregate_id = ANY($1::text[]) GROUP BY aggregate_id HAVING max(sequence) <> count(*)`,
      ids,
    ),
  ).toEqual([]);
  // Stock is conserved and its counters are what the reservations say.
  const [stock] = await q<{ available: number; reserved: number; committed: number; held: bigint; done: bigint }>(
    `SELECT p.available, p.reserved, p.committed,
            COALESCE((SELECT sum(i.quantity) FROM reservation_items i JOIN reservations r USING (order_id) WHERE i.sku = p.sku AND r.status = 'HELD'), 0) AS held,
            COALESCE((SELECT sum(i.quantity) FROM reservation_items i JOIN reservations r USING (order_id) WHERE i.sku = p.sku AND r.status = 'COMMITTED'), 0) AS done
       FROM products p WHERE p.sku = $1`,
    sku,
  );
  expect({ total: stock!.available + stock!.reserved + stock!.committed, reserved: stock!.reserved, committed: stock!.committed }).toEqual({
    total: STOCK,
    reserved: Number(stock!.held),
    committed: Number(stock!.done),
  });
  // PostgreSQL itself saw no constraint violation from this database during the run.
  const logged = fs.existsSync(pgLog()) ? fs.readFileSync(pgLog(), 'utf8').slice(logStart) : '';
  const db = env.cfg.database.database;
  const violations = logged.split('\n').filter((l) => l.includes(`@${db} `) && /violates (foreign key|check) constraint/.test(l));
  expect(violations).toEqual([]);
}, 300_000);
