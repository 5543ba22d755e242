/**
 * The database handle of a process: one pg.Pool, shared by Prisma 7 (typed reads, through
 * @prisma/adapter-pg) and by lib/sql.ts (every write, as explicit transactions or single
 * statements). `createPool` is the one pool factory. No native query engine.
 */
import { PrismaPg } from '@prisma/adapter-pg';
import { Pool } from 'pg';
import { PrismaClient } from '../generated/prisma/client';
import { DEFAULT_TX_LIMITS, execute, setPoolLimits, transaction, type Statement, type TxLimits } from './sql';

export type Db = PrismaClient;
export type { Tx } from './sql';

export interface PoolOptions {
  poolSize?: number;
  /** How long a caller waits for a free connection before the pool gives up (a 503, not a hang). */
  connectTimeoutMs?: number;
  /** Server-side limits of every transaction (and, as session defaults, of every statement). */
  limits?: Partial<TxLimits>;
  /**
   * Told when an idle pooled connection dies (the server restarted or ended the session).
   * The pool drops that connection and opens a new one on demand; without a listener its
   * 'error' event would be unhandled and end the process.
   */
  onIdleError?: (err: Error) => void;
  /** Further server settings of every session, as `-c name=value` pairs (a reporting role's planner settings). */
  serverOptions?: string;
}

export type DbOptions = PoolOptions;

/** A pool that survives its server: a lost idle connection is reported, not thrown. */
export function survivingIdleErrors<P extends Pool>(pool: P, onIdleError: (err: Error) => void = () => undefined): P {
  pool.on('error', onIdleError);
  return pool;
}

/**
 * The one pool factory: every pg.Pool of the code is made here (the process's, behind its Db,
 * and the reconciler's read-only one). Its limits are the session defaults of every statement
 * and the limits of every explicit transaction on it (a limit of 0: the server's default, none).
 */
export function createPool(url: string, opts: PoolOptions = {}): Pool {
  const limits = { ...DEFAULT_TX_LIMITS, ...opts.limits };
  const pool = new Pool({
    connectionString: url,
    max: opts.poolSize ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
    // Session defaults for statements outside explicit transactions (reads, single statements).
    statement_timeout: limits.statementTimeoutMs,
    lock_timeout: limits.lockTimeoutMs,
    idle_in_transaction_session_timeout: limits.idleInTransactionTimeoutMs,
    ...(opts.serverOptions ? { options: opts.serverOptions } : {}),
  });
  survivingIdleErrors(pool, opts.onIdleError);
  setPoolLimits(pool, limits);
  return pool;
}

// Our own pg.Pool behind the adapter: gauged, and used for explicit transactions.
const pools = new WeakMap<Db, Pool>();

export function createDb(url: string, options: DbOptions | number = {}): Db {
  const opts = typeof options === 'number' ? { poolSize: options } : options;
  const pool = createPool(url, opts);
  // The adapter ends the pool on $disconnect, as it does with a pool of its own.
  const adapter = new PrismaPg(pool, { disposeExternalPool: true });
  const db = new PrismaClient({ adapter });
  pools.set(db, pool);
  return db;
}

/** The connection pool behind a client made by createDb. */
export function poolOf(db: Db): Pool {
  const pool = pools.get(db);
  if (!pool) throw new Error('this Db was not made by createDb');
  return pool;
}

/** Closes the client and its pool (Prisma disposes the pool only if it ever connected itself). */
export async function closeDb(db: Db): Promise<void> {
  await db.$disconnect();
  const pool = pools.get(db);
  if (pool && !pool.ended) await pool.end();
}

/** An explicit transaction on its own connection (see lib/sql.ts). */
export function inTransaction<T>(db: Db, body: (tx: import('./sql').Tx) => Promise<T>, limits?: Partial<TxLimits>): Promise<T> {
  return transaction(poolOf(db), body, limits);
}

/** One statement, atomic on its own, outside any explicit transaction: its rows. */
export async function runStatement<T extends Record<string, unknown>>(db: Db, statement: Statement): Promise<T[]> {
  return (await execute<T>(poolOf(db), statement)).rows;
}

/** One statement, atomic on its own, outside any explicit transaction: how many rows it changed. */
export async function runCount(db: Db, statement: Statement): Promise<number> {
  return (await execute(poolOf(db), statement)).rowCount;
}
