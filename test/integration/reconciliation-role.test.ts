/**
 * The reconciler reads with a role that can change nothing but its own findings and runs:
 * PostgreSQL refuses it every write to the application's tables, every delete, and the tables
 * it has no business reading (API keys, idempotency records).
 */
import { Pool } from 'pg';
import { RECONCILER_DB_ROLE } from '../../lib/config';
import { testConfig } from '../setup/test-config';

const cfg = testConfig();
let reconciler: Pool;

beforeAll(() => {
  reconciler = new Pool({ connectionString: cfg.reconciler.database.url, max: 2 });
});
afterAll(async () => {
  await reconciler?.end();
});

const denied = { code: '42501' }; // insufficient_privilege

test('the reconciler connects as the read-only role', async () => {
  const { rows } = await reconciler.query<{ user: string }>('SELECT current_user AS user');
  expect(rows[0]!.user).toBe(RECONCILER_DB_ROLE);
  await expect(reconciler.query('SELECT count(*) FROM orders')).resolves.toBeDefined();
  await expect(reconciler.query('SELECT count(*) FROM ledger_entries')).resolves.toBeDefined();
});

test.each([
  ['UPDATE orders SET status = status'],
  ['UPDATE accounts SET balance_minor = balance_minor'],
  ['UPDATE products SET available = available'],
  ["INSERT INTO stock_movements (sku, quantity, kind) VALUES ('x', 1, 'ADJUSTMENT')"],
  ['DELETE FROM orders'],
  ['DELETE FROM ledger_entries'],
  ['DELETE FROM outbox_events'],
  ['TRUNCATE audit_timeline'],
  ['DELETE FROM reconciliation_findings'],
  ['DELETE FROM reconciliation_runs'],
  ['SELECT count(*) FROM api_keys'],
  ['SELECT count(*) FROM idempotency_keys'],
])('when the reconciler role runs `%s`, PostgreSQL refuses it', async (sql) => {
  await expect(reconciler.query(sql)).rejects.toMatchObject(denied);
});

test('the reconciler role may write its own runs and findings', async () => {
  const client = await reconciler.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO reconciliation_runs (trigger, mode, status) VALUES ('CLI', 'FULL', 'RUNNING') RETURNING id::text`,
    );
    await client.query(`UPDATE reconciliation_runs SET status = 'SUCCEEDED' WHERE id = $1`, [rows[0]!.id]);
    await client.query(
      `INSERT INTO reconciliation_findings (check_name, fingerprint, subject_type, subject_id, details, first_seen_at, last_seen_at, first_run_id, last_run_id)
       VALUES ('saga.stuck', 'order:x', 'order', 'x', '{}', now(), now(), $1, $1)`,
      [rows[0]!.id],
    );
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
});
