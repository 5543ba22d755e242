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

/** The SQLSTATE `sql` fails with after `setup` ran in the same (rolled-back) transaction, or 'ok'. */
async function outcome(c: Client, sql: string, setup: string[] = []): Promise<string> {
  try {
    await c.query('BEGIN');
    for (const s of setup) await c.query(s);
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

describe('the operator audit log is append-only', () => {
  const ROW = `INSERT INTO operator_audit_log (actor_kind, actor_id, actor_name, action, subject_kind, subject_id, outcome)
               VALUES ('api_key', 'db-roles', 'db-roles', 'order.compensate', 'order', 'db-roles-order', 'done')`;

  test('the app role may insert and read a row, never update, delete or truncate one', async () => {
    await as(cfg.database.url, async (c) => {
      const outcomes = {
        insert: await outcome(c, ROW),
        select: await outcome(c, 'SELECT count(*) FROM operator_audit_log'),
        update: await outcome(c, "UPDATE operator_audit_log SET reason = 'edited'", [ROW]),
        delete: await outcome(c, 'DELETE FROM operator_audit_log', [ROW]),
        truncate: await outcome(c, 'TRUNCATE operator_audit_log'),
      };
      expect(outcomes).toEqual({
        insert: 'ok',
        select: 'ok',
        update: INSUFFICIENT_PRIVILEGE,
        delete: INSUFFICIENT_PRIVILEGE,
        truncate: INSUFFICIENT_PRIVILEGE,
      });
    });
  });

  test('even the owner cannot change a row: the trigger refuses UPDATE, DELETE and TRUNCATE', async () => {
    await as(cfg.databaseOwner.url, async (c) => {
      const RESTRICT_VIOLATION = '23001';
      expect({
        update: await outcome(c, "UPDATE operator_audit_log SET reason = 'edited'", [ROW]),
        delete: await outcome(c, 'DELETE FROM operator_audit_log', [ROW]),
        truncate: await outcome(c, 'TRUNCATE operator_audit_log', [ROW]),
      }).toEqual({ update: RESTRICT_VIOLATION, delete: RESTRICT_VIOLATION, truncate: RESTRICT_VIOLATION });
    });
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

describe('money and identity are facts the app role cannot edit', () => {
  const refusedUpdates: [string, string][] = [
    ['a balance', 'UPDATE accounts SET balance_minor = balance_minor + 1'],
    ["an order's customer", "UPDATE orders SET customer_id = customer_id || '-x'"],
    ["an order's total", 'UPDATE orders SET total_minor = total_minor + 1'],
    ["an order's currency", "UPDATE orders SET currency = 'USD'"],
    ["an order's line", 'UPDATE order_items SET quantity = quantity + 1'],
    ["a key's role", "UPDATE api_keys SET role = 'admin'"],
    ["a payment's amount", 'UPDATE payments SET amount_minor = 0'],
    ["a product's currency", "UPDATE products SET currency = 'USD'"],
    ["a notification's body", "UPDATE notifications SET body = 'x'"],
  ];

  test.each(refusedUpdates)('the app role may not UPDATE %s', async (_what, sql) => {
    await as(cfg.database.url, async (c) => {
      expect(await outcome(c, sql)).toBe(INSUFFICIENT_PRIVILEGE);
    });
  });

  test('the app role may not open an account with a balance (only the ledger moves one)', async () => {
    await as(cfg.database.url, async (c) => {
      expect(
        await outcome(c, "INSERT INTO accounts (id, kind, currency, balance_minor) VALUES ('cust-rich', 'CUSTOMER', 'EUR', 1000000)"),
      ).toBe(INSUFFICIENT_PRIVILEGE);
      expect(await outcome(c, "INSERT INTO accounts (id, kind, currency) VALUES ('cust-poor', 'CUSTOMER', 'EUR')")).toBe('ok');
    });
  });

  test('the app role keeps the UPDATEs its code makes (status transitions, stock, payment status, key revocation)', async () => {
    await as(cfg.database.url, async (c) => {
      const kept = {
        orders: await outcome(
          c,
          'UPDATE orders SET status = status, failure_reason = failure_reason, saga_started_at = saga_started_at, updated_at = now()',
        ),
        products: await outcome(
          c,
          'UPDATE products SET available = available, reserved = reserved, committed = committed, updated_at = now()',
        ),
        payments: await outcome(c, 'UPDATE payments SET status = status, refund_tx_id = refund_tx_id, updated_at = now()'),
        api_keys: await outcome(c, 'UPDATE api_keys SET revoked_at = revoked_at, secret_hash = secret_hash'),
        accountLock: await outcome(c, "SELECT 1 FROM accounts WHERE id = 'nobody' FOR UPDATE"),
      };
      expect(kept).toEqual({ orders: 'ok', products: 'ok', payments: 'ok', api_keys: 'ok', accountLock: 'ok' });
    });
  });

  test('a balance follows the ledger: posting entries moves it, with no UPDATE by the app', async () => {
    const db = createDb(cfg.database.url, 2);
    try {
      const customer = await createCustomer(db, { balanceMinor: 250 });
      const [row] = await db.$queryRaw<{ balance: bigint; entries: bigint }[]>`
        SELECT a.balance_minor AS balance, (SELECT sum(amount_minor)::bigint FROM ledger_entries WHERE account_id = a.id) AS entries
          FROM accounts a WHERE a.id = ${customer}`;
      expect(row).toEqual({ balance: 250n, entries: 250n });
    } finally {
      await closeDb(db);
    }
  });

  const KEY = "'00000000-0000-4000-8000-00000000d0b1'";
  const ORDER = "'00000000-0000-4000-8000-00000000d0b2'";
  const setup = [
    `INSERT INTO api_keys (id, name, role, secret_hash) VALUES (${KEY}, 'db-roles', 'admin', 'x')`,
    `INSERT INTO orders (id, customer_id, api_key_id, status, currency, total_minor, workflow_id)
     VALUES (${ORDER}, 'cust-db-roles', ${KEY}, 'PENDING', 'EUR', 100, 'db-roles-' || ${ORDER})`,
  ];

  test.each([
    ["an order's customer", `UPDATE orders SET customer_id = 'cust-other' WHERE id = ${ORDER}`],
    ["an order's total", `UPDATE orders SET total_minor = 1 WHERE id = ${ORDER}`],
    ["a key's role", `UPDATE api_keys SET role = 'client' WHERE id = ${KEY}`],
  ])('even the owner cannot change %s: a trigger refuses it', async (_what, sql) => {
    await as(cfg.databaseOwner.url, async (c) => {
      expect(await outcome(c, `UPDATE orders SET status = 'INVENTORY_RESERVED' WHERE id = ${ORDER}`, setup)).toBe('ok');
      expect(await outcome(c, sql, setup)).toBe('23001');
    });
  });
});
