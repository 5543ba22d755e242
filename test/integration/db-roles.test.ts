/**
 * Least privilege in PostgreSQL itself: the app processes connect as a role that may not
 * edit or remove ledger rows, truncate, change the schema or switch off its triggers; the
 * reader role only reads. The database refuses, whatever the code does.
 */
import { Client } from 'pg';
import { closeDb, createDb } from '../../lib/db';
import { testConfig } from '../setup/test-config';
import { createCustomer } from '../support/fixtures';

const cfg = testConfig();

async function as(url: string, fn: (c: Client) => Promise<void>): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

/** The SQLSTATE a statement fails with, or 'ok'. */
async function outcome(c: Client, sql: string): Promise<string> {
  try {
    await c.query('BEGIN');
    await c.query(sql);
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  } finally {
    await c.query('ROLLBACK');
  }
}

const INSUFFICIENT_PRIVILEGE = '42501';

test('the app role is refused UPDATE, DELETE and TRUNCATE of ledger rows, DDL, and disabling the append-only triggers', async () => {
  await as(cfg.database.url, async (c) => {
    const refused = {
      'UPDATE ledger_entries': await outcome(c, 'UPDATE ledger_entries SET amount_minor = amount_minor'),
      'DELETE FROM ledger_transactions': await outcome(c, 'DELETE FROM ledger_transactions'),
      'TRUNCATE ledger_entries': await outcome(c, 'TRUNCATE ledger_entries'),
      'DISABLE TRIGGER': await outcome(c, 'ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only'),
      'DROP TRIGGER': await outcome(c, 'DROP TRIGGER ledger_entries_append_only ON ledger_entries'),
      'CREATE TABLE': await outcome(c, 'CREATE TABLE sneaky (id int)'),
      'DELETE FROM payments': await outcome(c, 'DELETE FROM payments'),
      'UPDATE _prisma_migrations': await outcome(c, 'UPDATE _prisma_migrations SET logs = NULL'),
    };
    expect(refused).toEqual(Object.fromEntries(Object.keys(refused).map((k) => [k, INSUFFICIENT_PRIVILEGE])));
    // What it needs, it has (so the refusals above are about privileges, not a broken login).
    expect(await outcome(c, 'SELECT count(*) FROM ledger_entries')).toBe('ok');
    expect(await outcome(c, "UPDATE accounts SET updated_at = updated_at WHERE id = 'nobody'")).toBe('ok');
  });
});

test('even the owner cannot edit a ledger row: the append-only trigger refuses it (privileges and triggers both)', async () => {
  const db = createDb(cfg.database.url, 2);
  const customer = await createCustomer(db, { balanceMinor: 100 });
  await closeDb(db);
  await as(cfg.databaseOwner.url, async (c) => {
    await expect(c.query('UPDATE ledger_entries SET amount_minor = amount_minor WHERE account_id = $1', [customer])).rejects.toThrow(
      /append-only/,
    );
    await expect(c.query('DELETE FROM ledger_entries WHERE account_id = $1', [customer])).rejects.toThrow(/append-only/);
  });
});

test('the reader role reads everything and writes nothing', async () => {
  await as(cfg.databaseReader.url, async (c) => {
    expect(await outcome(c, 'SELECT count(*) FROM orders')).toBe('ok');
    expect(await outcome(c, 'SELECT count(*) FROM ledger_entries')).toBe('ok');
    expect(await outcome(c, "INSERT INTO processed_events (consumer_group, event_id) VALUES ('x', gen_random_uuid())")).toBe(
      INSUFFICIENT_PRIVILEGE,
    );
    expect(await outcome(c, 'UPDATE accounts SET updated_at = now()')).toBe(INSUFFICIENT_PRIVILEGE);
  });
});
