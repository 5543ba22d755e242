/**
 * Reconciliation benchmark (not a test): `npx tsx scripts/bench/reconcile.ts [--orders N] [--keep]`
 *
 * Seeds N orders (default 100,000) into a database of its own (<db>_bench_reconcile), directly
 * in SQL and consistent in every table the checks read: orders and lines, reservations, the
 * stock journal and counters, payments, balanced ledger transactions and account balances,
 * outbox rows (published) and the audit timeline. The mix: 70% confirmed, 10% rejected (out of
 * stock), 10% compensated for insufficient funds, 10% confirmed then manually compensated;
 * all older than the compensation window, so no workflow is expected. Then it times one full
 * pass of the real runner (read-only role, Temporal visibility on a task queue of its own),
 * and one incremental pass after 1% of the orders changed, and prints the figures. It asserts
 * nothing; it prints the findings count, which should be 0.
 */
import crypto from 'node:crypto';
import os from 'node:os';
import { Client } from 'pg';
import { exitOnConfigError, loadConfig, type Config } from '../../lib/config';
import { createLogger } from '../../lib/logger';
import { migrate } from '../../lib/migrate';
import { sql, type Statement } from '../../lib/sql';
import { createTemporalClient } from '../../lib/temporal';
import { outboxAppend } from '../../services/platform/outbox/outbox';
import { runReconciliation } from '../../services/reconciliation/runner';
import { createReconcilerPool } from '../../services/reconciliation/service';
import { ensureDatabase } from '../stack/postgres';

const SKUS = 100;
const CUSTOMERS = 1000;

function parseArgs(argv: string[]): { orders: number; keep: boolean } {
  const i = argv.indexOf('--orders');
  const orders = i >= 0 ? Number(argv[i + 1]) : 100_000;
  if (!Number.isSafeInteger(orders) || orders < 10) throw new Error('--orders needs an integer >= 10');
  return { orders, keep: argv.includes('--keep') };
}

/**
 * The event history of each kind of order: (kind, sequence, type, status it moves to).
 * Kind = i % 10: 0 rejected, 1 compensated (funds), 2 confirmed then compensated, else confirmed.
 */
const HISTORY = `
  (VALUES
    ('C', 1, 'OrderCreated', NULL), ('C', 2, 'InventoryReserved', NULL), ('C', 3, 'OrderStatusChanged', 'INVENTORY_RESERVED'),
    ('C', 4, 'PaymentCaptured', NULL), ('C', 5, 'OrderStatusChanged', 'PAYMENT_CAPTURED'), ('C', 6, 'InventoryCommitted', NULL),
    ('C', 7, 'OrderConfirmed', 'CONFIRMED'),
    ('R', 1, 'OrderCreated', NULL), ('R', 2, 'InventoryRejected', NULL), ('R', 3, 'OrderRejected', 'REJECTED'),
    ('F', 1, 'OrderCreated', NULL), ('F', 2, 'InventoryReserved', NULL), ('F', 3, 'OrderStatusChanged', 'INVENTORY_RESERVED'),
    ('F', 4, 'PaymentFailed', NULL), ('F', 5, 'CompensationStarted', 'COMPENSATING'), ('F', 6, 'InventoryReleased', NULL),
    ('F', 7, 'OrderCompensated', 'COMPENSATED'),
    ('M', 1, 'OrderCreated', NULL), ('M', 2, 'InventoryReserved', NULL), ('M', 3, 'OrderStatusChanged', 'INVENTORY_RESERVED'),
    ('M', 4, 'PaymentCaptured', NULL), ('M', 5, 'OrderStatusChanged', 'PAYMENT_CAPTURED'), ('M', 6, 'InventoryCommitted', NULL),
    ('M', 7, 'OrderConfirmed', 'CONFIRMED'), ('M', 8, 'CompensationStarted', 'COMPENSATING'), ('M', 9, 'PaymentRefunded', NULL),
    ('M', 10, 'InventoryReleased', NULL), ('M', 11, 'OrderCompensated', 'COMPENSATED')
  ) AS h(kind, seq, type, to_status)`;

function seedStatements(n: number): (string | Statement)[] {
  return [
    // The ledger's commit-time balance check would cost one query per entry; these entries balance by construction.
    `ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_balanced`,
    `CREATE TEMP TABLE o AS
       SELECT i, md5('order' || i)::uuid AS id, CASE i % 10 WHEN 0 THEN 'R' WHEN 1 THEN 'F' WHEN 2 THEN 'M' ELSE 'C' END AS kind,
              'bench-c' || (i % ${CUSTOMERS}) AS customer, 'BENCH-' || (i % ${SKUS}) AS sku, 1 + i % 3 AS qty,
              (1 + i % 3) * (100 + i % ${SKUS})::bigint AS total,
              now() - interval '30 days' + i * interval '10 milliseconds' AS created_at
         FROM generate_series(1, ${n}) AS i`,
    `INSERT INTO products (sku, name, unit_price_minor, currency, available)
       SELECT 'BENCH-' || k, 'bench ' || k, 100 + k, 'EUR', 10000000 FROM generate_series(0, ${SKUS - 1}) AS k`,
    `INSERT INTO stock_movements (sku, quantity, kind, created_at) SELECT sku, 10000000, 'OPENING', now() - interval '31 days' FROM products`,
    `INSERT INTO accounts (id, kind, currency) VALUES ('merchant:EUR', 'MERCHANT', 'EUR'), ('external:EUR', 'EXTERNAL', 'EUR')`,
    `INSERT INTO accounts (id, kind, currency) SELECT 'bench-c' || c, 'CUSTOMER', 'EUR' FROM generate_series(0, ${CUSTOMERS - 1}) AS c`,
    `INSERT INTO orders (id, customer_id, api_key_id, status, failure_reason, currency, total_minor, workflow_id, saga_started_at, created_at, updated_at)
       SELECT id, customer, '00000000-0000-4000-8000-000000000001', CASE kind WHEN 'C' THEN 'CONFIRMED' WHEN 'R' THEN 'REJECTED' ELSE 'COMPENSATED' END,
              CASE kind WHEN 'R' THEN 'OUT_OF_STOCK' WHEN 'F' THEN 'INSUFFICIENT_FUNDS' WHEN 'M' THEN 'MANUAL_COMPENSATION' END,
              'EUR', total, 'order-' || id, created_at, created_at, created_at + interval '2 seconds'
         FROM o`,
    `INSERT INTO order_items (order_id, line_no, sku, quantity, unit_price_minor) SELECT id, 1, sku, qty, total / qty FROM o`,
    `INSERT INTO reservations (order_id, status, created_at, updated_at)
       SELECT id, CASE kind WHEN 'R' THEN 'REJECTED' WHEN 'C' THEN 'COMMITTED' ELSE 'RELEASED' END, created_at, created_at FROM o`,
    `INSERT INTO reservation_items (order_id, sku, quantity) SELECT id, sku, qty FROM o WHERE kind <> 'R'`,
    `UPDATE products p SET committed = c.q, available = 10000000 - c.q
       FROM (SELECT sku, sum(qty)::int AS q FROM o WHERE kind = 'C' GROUP BY sku) c WHERE c.sku = p.sku`,
    // Deposits, charges and refunds, each balanced.
    `INSERT INTO ledger_transactions (id, kind, order_id, idempotency_key)
       SELECT md5('deposit' || c)::uuid, 'DEPOSIT', NULL, 'deposit:bench-c' || c FROM generate_series(0, ${CUSTOMERS - 1}) AS c`,
    `INSERT INTO ledger_entries (transaction_id, account_id, amount_minor, created_at)
       SELECT md5('deposit' || c)::uuid, a, x, now() - interval '31 days' FROM generate_series(0, ${CUSTOMERS - 1}) AS c,
              LATERAL (VALUES ('external:EUR', -100000000::bigint), ('bench-c' || c, 100000000::bigint)) AS e(a, x)`,
    `INSERT INTO ledger_transactions (id, kind, order_id, idempotency_key, created_at)
       SELECT md5('charge' || i)::uuid, 'CHARGE', id, 'charge:' || id, created_at FROM o WHERE kind IN ('C', 'M')`,
    `INSERT INTO ledger_transactions (id, kind, order_id, idempotency_key, created_at)
       SELECT md5('refund' || i)::uuid, 'REFUND', id, 'refund:' || id, created_at FROM o WHERE kind = 'M'`,
    `INSERT INTO ledger_entries (transaction_id, account_id, amount_minor, created_at)
       SELECT md5('charge' || i)::uuid, a, x, created_at FROM o, LATERAL (VALUES (customer, -total), ('merchant:EUR', total)) AS e(a, x) WHERE kind IN ('C', 'M')`,
    `INSERT INTO ledger_entries (transaction_id, account_id, amount_minor, created_at)
       SELECT md5('refund' || i)::uuid, a, x, created_at FROM o, LATERAL (VALUES (customer, total), ('merchant:EUR', -total)) AS e(a, x) WHERE kind = 'M'`,
    `ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_balanced`,
    `UPDATE accounts a SET balance_minor = s.total FROM (SELECT account_id, sum(amount_minor) AS total FROM ledger_entries GROUP BY account_id) s
      WHERE s.account_id = a.id`,
    `INSERT INTO payments (order_id, customer_id, amount_minor, currency, status, failure_reason, charge_tx_id, refund_tx_id, created_at, updated_at)
       SELECT id, customer, total, 'EUR', CASE kind WHEN 'C' THEN 'CAPTURED' WHEN 'F' THEN 'FAILED' ELSE 'REFUNDED' END,
              CASE kind WHEN 'F' THEN 'INSUFFICIENT_FUNDS' END,
              CASE WHEN kind IN ('C', 'M') THEN md5('charge' || i)::uuid END, CASE WHEN kind = 'M' THEN md5('refund' || i)::uuid END,
              created_at, created_at
         FROM o WHERE kind <> 'R'`,
    // The outbox (published) and the audit timeline the consumer built from it.
    `CREATE TEMP TABLE ev AS
       SELECT h.type, o.id::text AS aggregate_id, h.seq AS sequence,
              o.created_at + h.seq * interval '100 milliseconds' AS occurred_at,
              CASE WHEN h.to_status IS NOT NULL THEN jsonb_build_object('orderId', o.id, 'to', h.to_status, 'step', 'bench')
                   WHEN h.type = 'PaymentCaptured' THEN jsonb_build_object('orderId', o.id, 'customerId', o.customer, 'amountMinor', o.total,
                                                                          'currency', 'EUR', 'transactionId', md5('charge' || o.i)::uuid)
                   WHEN h.type = 'PaymentRefunded' THEN jsonb_build_object('orderId', o.id, 'customerId', o.customer, 'amountMinor', o.total,
                                                                          'currency', 'EUR', 'transactionId', md5('refund' || o.i)::uuid)
                   ELSE jsonb_build_object('orderId', o.id) END AS payload
         FROM o JOIN ${HISTORY} ON h.kind = o.kind`,
    // Through the outbox writer (sequences from 1 in a fresh database), then dated as if published long ago.
    sql`WITH ${outboxAppend(sql`
      SELECT 'Order'::text AS aggregate_type, aggregate_id, sequence AS ord, type, payload, NULL::int AS schema_version FROM ev`)}
      SELECT count(*) FROM outbox_written`,
    `UPDATE outbox_events o SET occurred_at = ev.occurred_at, published_at = ev.occurred_at + interval '10 milliseconds'
       FROM ev WHERE o.aggregate_id = ev.aggregate_id AND o.sequence = ev.sequence`,
    `INSERT INTO audit_timeline (aggregate_id, sequence, event_id, type, aggregate_type, schema_version, occurred_at, payload, recorded_at)
       SELECT aggregate_id, sequence, event_id, type, aggregate_type, schema_version, occurred_at, payload, occurred_at + interval '20 milliseconds'
         FROM outbox_events`,
    `ANALYZE`,
  ];
}

async function seed(cfg: Config, n: number): Promise<number> {
  const started = Date.now();
  const pg = new Client({ connectionString: cfg.database.url });
  await pg.connect();
  try {
    for (const statement of seedStatements(n)) await pg.query(statement);
  } finally {
    await pg.end();
  }
  return (Date.now() - started) / 1000;
}

/** 1% of the orders change, as a manual compensation would: new events and ledger rows. */
async function touch(cfg: Config, n: number): Promise<number> {
  const pg = new Client({ connectionString: cfg.database.url });
  await pg.connect();
  try {
    const { rows } = await pg.query<{ n: number }>(
      sql`WITH t AS (SELECT id::text AS id FROM orders WHERE status = 'REJECTED' ORDER BY id LIMIT ${Math.max(1, Math.floor(n / 100))}),
            ${outboxAppend(sql`
              SELECT 'Order'::text AS aggregate_type, t.id AS aggregate_id, 1 AS ord, 'OrderRejected'::text AS type,
                     jsonb_build_object('orderId', t.id, 'to', 'REJECTED', 'step', 'bench') AS payload, NULL::int AS schema_version FROM t`)},
            t2 AS (INSERT INTO audit_timeline (aggregate_id, sequence, event_id, type, aggregate_type, schema_version, occurred_at, payload)
                   SELECT aggregate_id, sequence, event_id, type, 'Order', 1, occurred_at, payload FROM outbox_written RETURNING 1)
       SELECT count(*)::int AS n FROM t2`,
    );
    // Published, as the relay would have (a statement of its own: the insert is not visible to its own statement).
    await pg.query(`UPDATE outbox_events SET published_at = now() WHERE published_at IS NULL`);
    return rows[0]!.n;
  } finally {
    await pg.end();
  }
}

async function dropDatabase(cfg: Config): Promise<void> {
  const url = new URL(cfg.database.url);
  url.pathname = '/postgres';
  const pg = new Client({ connectionString: url.toString(), user: 'postgres' });
  await pg.connect();
  await pg.query(`DROP DATABASE IF EXISTS "${cfg.database.database}" WITH (FORCE)`).finally(() => pg.end());
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  let base: Config;
  try {
    base = loadConfig();
  } catch (err) {
    exitOnConfigError(err);
  }
  const url = new URL(base.database.url);
  url.pathname = `/${base.database.database}_bench_reconcile`;
  const env: Record<string, string | undefined> = {
    ...process.env,
    DATABASE_URL: url.toString(),
    // A task queue of its own: the orphan listing sees none of the shared server's workflows.
    TEMPORAL_TASK_QUEUE_PREFIX: `bench-reconcile-${crypto.randomUUID().slice(0, 8)}-`,
    LOG_LEVEL: 'warn',
  };
  delete env.RECONCILER_DATABASE_URL;
  const cfg = loadConfig(env);
  await dropDatabase(cfg);
  await ensureDatabase(cfg, cfg.database.database);
  await migrate(cfg.database.url);
  console.log(`seeding ${opts.orders} orders into ${cfg.database.database} ...`);
  const seedSeconds = await seed(cfg, opts.orders);
  console.log(`seeded in ${seedSeconds.toFixed(1)} s`);

  const pg = createReconcilerPool(cfg, 4);
  const temporal = await createTemporalClient(cfg);
  const deps = { pg, temporal, cfg, log: createLogger('bench-reconcile', 'warn') };
  try {
    const loadBefore = os.loadavg()[0]!;
    const full = await runReconciliation(deps, { trigger: 'CLI', mode: 'FULL' });
    const loadAfter = os.loadavg()[0]!;
    const failing = Object.values(full.summary.checks).reduce((s, c) => s + c.failing, 0);
    const touched = await touch(cfg, opts.orders);
    // The changes must be older than the grace window to be past the watermark; skip it here.
    const incremental = await runReconciliation(deps, {
      trigger: 'CLI',
      mode: 'INCREMENTAL',
      settings: { graceMs: 0, sagaGraceMs: 0, streamLagMs: 0 },
    });
    const { rows } = await pg.query<{ subjects_examined: number }>('SELECT subjects_examined FROM reconciliation_runs WHERE id = $1', [
      incremental.runId,
    ]);
    console.log(
      [
        '',
        `full pass over ${opts.orders} orders: ${(full.durationMs / 1000).toFixed(2)} s (batch ${cfg.reconciler.batchSize}; ${failing} failing subjects, expected 0; ` +
          `${os.cpus().length} cores, load average ${loadBefore.toFixed(1)} -> ${loadAfter.toFixed(1)})`,
        `incremental pass after ${touched} orders changed: ${(incremental.durationMs / 1000).toFixed(2)} s (${rows[0]?.subjects_examined} subjects examined)`,
      ].join('\n'),
    );
  } finally {
    await temporal.connection.close();
    await pg.end();
    if (!opts.keep) await dropDatabase(cfg);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
