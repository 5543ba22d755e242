/**
 * The explicit-transaction helper (lib/sql.ts) against the real PostgreSQL: what a failed or
 * timed-out transaction wrote is never visible, a statement after the end never runs, and
 * overload is a DATABASE_BUSY domain error, never a hang or a leaked connection.
 */
import crypto from 'node:crypto';
import { Pool } from 'pg';
import { loadConfig } from '../../lib/config';
import { DomainError } from '../../lib/errors';
import { transaction, TransactionClosedError, type Tx } from '../../lib/sql';
import { eventually } from '../support/wait';

const cfg = loadConfig();
let pool: Pool;
const prefix = `sql-test-${crypto.randomUUID().slice(0, 8)}:`;

beforeAll(() => {
  pool = new Pool({ connectionString: cfg.database.url, max: 3, connectionTimeoutMillis: 300 });
});
afterAll(async () => {
  await pool.query('DELETE FROM rate_limits WHERE key LIKE $1', [`${prefix}%`]);
  await pool.end();
});

/** A row only this test writes (the app role may insert, update and delete rate_limits rows). */
const write = (tx: Tx, id: string) => tx.exec`INSERT INTO rate_limits (key, points) VALUES (${prefix + id}::text, 1)`;
async function visible(id: string): Promise<boolean> {
  const r = await pool.query('SELECT 1 FROM rate_limits WHERE key = $1', [prefix + id]);
  return r.rowCount === 1;
}

test('when the body returns, then its writes commit and its result is returned', async () => {
  const id = crypto.randomUUID();
  await expect(transaction(pool, async (tx) => (await write(tx, id), 'done'))).resolves.toBe('done');
  expect(await visible(id)).toBe(true);
});

test("when the body throws, then nothing it wrote is visible and the error is the body's", async () => {
  const id = crypto.randomUUID();
  const boom = new Error('boom');
  await expect(transaction(pool, async (tx) => (await write(tx, id), Promise.reject(boom)))).rejects.toBe(boom);
  expect(await visible(id)).toBe(false);
});

test('when a statement is issued after the transaction rolled back, then it fails and commits nothing', async () => {
  const first = crypto.randomUUID();
  const late = crypto.randomUUID();
  let leaked: Tx | undefined;
  await expect(
    transaction(pool, async (tx) => {
      leaked = tx;
      await write(tx, first);
      throw new Error('give up');
    }),
  ).rejects.toThrow('give up');
  // The late statement of a body that gave up (e.g. an un-awaited branch) is refused.
  await expect(write(leaked!, late)).rejects.toBeInstanceOf(TransactionClosedError);
  // Meanwhile the pool reuses the connection for another transaction, which commits.
  const other = crypto.randomUUID();
  await transaction(pool, (tx) => write(tx, other));
  expect({ first: await visible(first), late: await visible(late), other: await visible(other) }).toEqual({
    first: false,
    late: false,
    other: true,
  });
});

test('when a statement runs past statement_timeout, then PostgreSQL aborts the transaction: DATABASE_BUSY, nothing visible', async () => {
  const id = crypto.randomUUID();
  const err = await transaction(
    pool,
    async (tx) => {
      await write(tx, id);
      await tx.rows`SELECT pg_sleep(2)`;
    },
    { statementTimeoutMs: 200 },
  ).catch((e: unknown) => e);
  expect(DomainError.is(err, 'DATABASE_BUSY')).toBe(true);
  expect(((err as Error).cause as { code?: string }).code).toBe('57014');
  expect(await visible(id)).toBe(false);
});

test('when the whole transaction outlives its deadline, then it is refused further statements, its session ends, nothing commits', async () => {
  const id = crypto.randomUUID();
  let pid = 0;
  const err = await transaction(
    pool,
    async (tx) => {
      pid = (await tx.rows<{ pid: number }>`SELECT pg_backend_pid() AS pid`)[0]!.pid;
      await write(tx, id);
      // Many short statements, none over statement_timeout: only the deadline can stop this.
      for (;;) await tx.rows`SELECT pg_sleep(0.05)`;
    },
    { deadlineMs: 400, statementTimeoutMs: 1000 },
  ).catch((e: unknown) => e);
  expect(DomainError.is(err, 'DATABASE_BUSY')).toBe(true);
  expect(await visible(id)).toBe(false);
  // The connection was destroyed, not returned: its backend goes away.
  await eventually(async () => (await pool.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount === 0, {
    what: `backend ${pid} to end`,
  });
});

test('when a row lock is held elsewhere past lock_timeout, then DATABASE_BUSY, not a hang', async () => {
  const id = crypto.randomUUID();
  await transaction(pool, (tx) => write(tx, id));
  const holder = await pool.connect();
  try {
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM rate_limits WHERE key = $1 FOR UPDATE', [prefix + id]);
    const err = await transaction(pool, (tx) => tx.exec`DELETE FROM rate_limits WHERE key = ${prefix + id}::text`, {
      lockTimeoutMs: 200,
    }).catch((e: unknown) => e);
    expect(DomainError.is(err, 'DATABASE_BUSY')).toBe(true);
    expect(((err as Error).cause as { code?: string }).code).toBe('55P03');
  } finally {
    await holder.query('ROLLBACK');
    holder.release();
  }
  expect(await visible(id)).toBe(true);
});

test('when every connection is taken, then a new transaction gets DATABASE_BUSY (retryable) instead of waiting forever', async () => {
  const held = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
  try {
    const err = await transaction(pool, async () => 'never').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect({ code: (err as DomainError).code, retryable: (err as DomainError).retryable, status: (err as DomainError).status }).toEqual({
      code: 'DATABASE_BUSY',
      retryable: true,
      status: 503,
    });
  } finally {
    held.forEach((c) => c.release());
  }
});
