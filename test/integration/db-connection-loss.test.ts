/**
 * Found by the chaos run: when PostgreSQL restarted, every process with an idle pooled
 * connection died of an unhandled 'error' event ("Connection terminated unexpectedly").
 * A pool must survive its server: the lost connection is reported, and the next query gets
 * a new one. Ending the idle sessions from the server side is what a restart does to them.
 */
import { loadConfig } from '../../lib/config';
import { closeDb, createDb, inTransaction, poolOf, type Db } from '../../lib/db';
import { LOCKS } from '../../services/reconciliation/contract';
import { createReconcilerPool, withRunLock } from '../../services/reconciliation/service';
import type { Pool } from 'pg';
import { eventually } from '../support/wait';

const cfg = loadConfig();
const opened: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of opened) await close();
});

/** Ends every session of `pool` from another session of the same role (no superuser needed). */
async function killSessions(pool: Pool, killer: Pool): Promise<void> {
  const clients = await Promise.all([pool.connect(), pool.connect()]);
  const pids = await Promise.all(clients.map(async (c) => (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid));
  for (const c of clients) c.release(); // idle in the pool now
  await killer.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
}

test("when the server ends an app pool's idle connections, the process lives and the next query reconnects", async () => {
  const lost: Error[] = [];
  const db: Db = createDb(cfg.database.url, { poolSize: 3, onIdleError: (err) => lost.push(err) });
  const killer = createDb(cfg.database.url, 1);
  opened.push(
    () => closeDb(db),
    () => closeDb(killer),
  );

  await killSessions(poolOf(db), poolOf(killer));
  await eventually(async () => lost.length === 2, { what: 'both idle connections to be reported lost' });
  expect(lost[0]!.message).toMatch(/terminat/i);
  const { rows } = await poolOf(db).query<{ one: number }>('SELECT 1 AS one');
  expect(rows[0]!.one).toBe(1);
});

test("when the server ends the reconciler pool's idle connections, the process lives", async () => {
  const lost: Error[] = [];
  const pool = createReconcilerPool(cfg, 3, (err) => lost.push(err));
  const killer = createReconcilerPool(cfg, 1);
  opened.push(
    () => pool.end(),
    () => killer.end(),
  );

  await killSessions(pool, killer);
  await eventually(async () => lost.length === 2, { what: 'both idle connections to be reported lost' });
  expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
});

/** Ends the session of one held connection from another session of the same role. */
async function killBackend(pid: number, killer: Pool): Promise<void> {
  await killer.query('SELECT pg_terminate_backend($1::int)', [pid]);
}

test('when the server ends a transaction’s connection between statements, the transaction fails cleanly and the process lives', async () => {
  const db: Db = createDb(cfg.database.url, { poolSize: 2 });
  const killer = createDb(cfg.database.url, 1);
  opened.push(
    () => closeDb(db),
    () => closeDb(killer),
  );
  // Before the fix, pg emitted 'error' on the checked-out connection with no listener, which
  // throws out of the event emitter (an uncaught exception: the process dies).
  const outcome = await inTransaction(db, async (tx) => {
    const [me] = await tx.rows<{ pid: number }>`SELECT pg_backend_pid() AS pid`;
    await killBackend(me!.pid, poolOf(killer));
    await eventually(async () => (await poolOf(killer).query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [me!.pid])).rowCount === 0, {
      what: 'the backend to be gone',
    });
    return tx.rows`SELECT 1 AS one`;
  }).then(
    () => 'committed',
    (err: Error) => err.message,
  );
  expect(outcome).toMatch(/terminat|Connection|closed/i);
  expect((await poolOf(db).query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
});

test("when the server ends the reconciler's run-lock connection while a run works, the run's caller gets an answer and the process lives", async () => {
  const pool = createReconcilerPool(cfg, 3);
  const killer = createReconcilerPool(cfg, 1);
  opened.push(
    () => pool.end(),
    () => killer.end(),
  );
  const result = await withRunLock(pool, true, async () => {
    // The lock's connection is idle now, as during a real run; end it from outside.
    const { rows } = await killer.query<{ pid: number }>(
      // pg_locks is the whole server's: this database's holder is this run (other test files hold the same lock in theirs).
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND granted
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [...LOCKS.run],
    );
    await killBackend(rows[0]!.pid, killer);
    await eventually(async () => (await killer.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [rows[0]!.pid])).rowCount === 0, {
      what: 'the lock backend to be gone',
    });
    return 'ran';
  });
  expect(result).toBe('ran');
  expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
});
