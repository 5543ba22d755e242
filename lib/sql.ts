/**
 * Every write of the code goes through here: explicit PostgreSQL transactions, or one atomic
 * statement (`execute`), built with the `sql` tag. Prisma only reads (eslint enforces it).
 *
 * Why not Prisma's interactive `$transaction`: with a driver adapter it is not atomic on its
 * client-side timeout (prisma/orm#29762, #29719): a statement can run after the rollback,
 * outside the transaction, on a connection another caller then commits. Here instead:
 *
 * - one dedicated pg client per transaction, with BEGIN / COMMIT / ROLLBACK sent by us;
 * - the limits are PostgreSQL's own (`SET LOCAL statement_timeout`, `lock_timeout`,
 *   `idle_in_transaction_session_timeout`), which abort the whole transaction server-side;
 * - a deadline for the whole transaction: when it passes, the handle refuses every further
 *   statement and the connection is destroyed, never returned to the pool, so no COMMIT can
 *   follow (the server rolls back a transaction whose session ends);
 * - once a transaction has ended, its handle refuses statements: a late `await` can never
 *   run on a connection that is back in the pool.
 */
import crypto from 'node:crypto';
import { types as pgTypes, type Pool, type PoolClient, type QueryResultRow } from 'pg';
import { dbVerdict, poolExhausted } from './db-errors';
import { DomainError } from './errors';

/** Server-side limits of one transaction (milliseconds). */
export interface TxLimits {
  /** Longest single statement. */
  statementTimeoutMs: number;
  /** Longest wait for a row or table lock. */
  lockTimeoutMs: number;
  /** Longest the session may sit idle inside the transaction before the server ends it. */
  idleInTransactionTimeoutMs: number;
  /** Longest the whole transaction may take, BEGIN to COMMIT; then it is aborted. */
  deadlineMs: number;
}

/** Sized below the activities' 10 s start-to-close, so a retried attempt never overlaps a live one. */
export const DEFAULT_TX_LIMITS: TxLimits = {
  statementTimeoutMs: 4000,
  lockTimeoutMs: 3000,
  idleInTransactionTimeoutMs: 4000,
  deadlineMs: 7000,
};

/** int8 as bigint (like Prisma), everything else as pg parses it. */
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => BigInt(v) : pgTypes.getTypeParser(oid, format as 'text')) as typeof pgTypes.getTypeParser,
};

/** A parameterised statement: `sql\`... ${value}\`` -> text with $1..$n and the values. */
export interface Statement {
  text: string;
  values: unknown[];
  /** Set by prepared(): the name the connection prepares it under. */
  name?: string;
}

/**
 * The statement as a named prepared statement: each connection parses it once, and once
 * PostgreSQL has seen it a few times it may keep one generic plan instead of planning every
 * execution. For the hot statements (every order runs them): their text depends only on the
 * code path, never on values, so the names (a hash of the text) stay few.
 */
export function prepared(statement: Statement): Statement {
  const name = `os_${crypto.createHash('sha1').update(statement.text).digest('hex').slice(0, 24)}`;
  return { text: statement.text, values: statement.values, name };
}

/** What pg is given for a statement. */
function queryConfig(statement: Statement) {
  return { text: statement.text, values: statement.values, types: TYPES, ...(statement.name ? { name: statement.name } : {}) };
}

/**
 * What `sql` returns: a statement that can also be spliced into another one. A `SqlFragment`
 * given as a value is inlined, its parameters renumbered, so a module can hand out a piece
 * of SQL (the outbox writer's CTEs) that its callers compose into one statement.
 */
export class SqlFragment implements Statement {
  constructor(
    readonly text: string,
    readonly values: unknown[],
  ) {}
}

export function sql(strings: TemplateStringsArray | readonly string[], ...values: unknown[]): SqlFragment {
  let text = strings[0]!;
  const params: unknown[] = [];
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value instanceof SqlFragment) {
      const offset = params.length;
      text += value.text.replace(/\$(\d+)/g, (_m, n: string) => `$${Number(n) + offset}`);
      params.push(...value.values);
    } else {
      params.push(value);
      text += `$${params.length}`;
    }
    text += strings[i + 1];
  }
  return new SqlFragment(text, params);
}

/**
 * What another module adds to a caller's statement, to stay in its round trip: CTEs for its
 * WITH list, and a scalar expression over them whose value the statement returns and `check`
 * judges (throwing rolls the caller's transaction back). E.g. the idempotency record completed
 * by the statement that writes the order (services/access/idempotency.ts completion()).
 */
export interface StatementPart {
  ctes: SqlFragment;
  result: SqlFragment;
  check(value: unknown): void;
}

/** A statement ran after its transaction had ended (committed, rolled back or aborted). */
export class TransactionClosedError extends Error {
  override name = 'TransactionClosedError';
}

/** What a transaction body gets: every statement of the body must go through it. */
export interface Tx {
  /** Rows of a statement: `await tx.rows<Row>\`SELECT ... ${x}\``. */
  rows<T extends QueryResultRow>(strings: TemplateStringsArray, ...values: unknown[]): Promise<T[]>;
  /** Affected row count of a statement. */
  exec(strings: TemplateStringsArray, ...values: unknown[]): Promise<number>;
  /** A prebuilt statement. */
  query<T extends QueryResultRow>(statement: Statement): Promise<{ rows: T[]; rowCount: number }>;
}

type State = 'open' | 'ended' | 'aborted';

class TxHandle implements Tx {
  state: State = 'open';
  constructor(private client: PoolClient | null) {}

  async query<T extends QueryResultRow>(statement: Statement): Promise<{ rows: T[]; rowCount: number }> {
    if (this.state !== 'open' || !this.client) {
      throw new TransactionClosedError(`statement after the transaction ${this.state}: ${statement.text.trim().slice(0, 80)}`);
    }
    const result = await this.client.query<T>(queryConfig(statement));
    return { rows: result.rows, rowCount: result.rowCount ?? 0 };
  }

  async rows<T extends QueryResultRow>(strings: TemplateStringsArray, ...values: unknown[]): Promise<T[]> {
    return (await this.query<T>(sql(strings, ...values))).rows;
  }

  async exec(strings: TemplateStringsArray, ...values: unknown[]): Promise<number> {
    return (await this.query(sql(strings, ...values))).rowCount;
  }

  /** Ends the handle: from now on it refuses statements. Returns the client it held. */
  detach(state: Exclude<State, 'open'>): PoolClient | null {
    const client = this.client;
    this.state = state;
    this.client = null;
    return client;
  }
}

const PG_SERIALIZATION = ['40001', '40P01'];

/** Overload and contention are normal: they become a retryable 503, never a 500 (verdicts: lib/db-errors.ts). */
function classify(err: unknown, aborted: boolean): unknown {
  if (err instanceof DomainError) return err;
  if (aborted) return new DomainError('DATABASE_BUSY', 'the transaction ran past its deadline and was rolled back', { cause: err });
  if (dbVerdict(err) === 'transient') {
    const code = (err as { code?: string }).code ?? '';
    const why = PG_SERIALIZATION.includes(code) ? 'a concurrent transaction conflicted' : 'the database is busy';
    return new DomainError('DATABASE_BUSY', why, { cause: err });
  }
  if (poolExhausted(err)) return new DomainError('DATABASE_BUSY', 'no database connection is free', { cause: err });
  return err;
}

/** The domain error an infrastructure failure amounts to (overload: DATABASE_BUSY), or the error itself. */
export function asDomainError(err: unknown): unknown {
  return classify(err, false);
}

/** Limits per pool (set by createDb). */
const limitsByPool = new WeakMap<Pool, TxLimits>();

export function setPoolLimits(pool: Pool, limits: TxLimits): void {
  limitsByPool.set(pool, limits);
}

/**
 * A connection checked out of the pool, kept for a while between statements. pg's pool listens
 * for errors only on idle connections; a checked-out one whose server ends the session between
 * statements (a PostgreSQL restart) emits an 'error' that, unheard, kills the process. While
 * held, the error is kept instead: the next statement on the connection fails (pg reports the
 * closed connection) and the caller's own error handling runs. Call the returned `done()` after
 * releasing it.
 */
export async function holdConnection(pool: Pool): Promise<{ client: PoolClient; lost(): Error | undefined; done(): void }> {
  const client = await pool.connect();
  let lostWith: Error | undefined;
  const onError = (err: Error) => {
    lostWith = err;
  };
  client.on('error', onError);
  return { client, lost: () => lostWith, done: () => client.off('error', onError) };
}

/**
 * Runs `body` in one transaction on its own connection and commits, or rolls back if it
 * throws. Everything the body does to the database must go through `tx`.
 */
export async function transaction<T>(pool: Pool, body: (tx: Tx) => Promise<T>, limits?: Partial<TxLimits>): Promise<T> {
  const l = { ...DEFAULT_TX_LIMITS, ...limitsByPool.get(pool), ...limits };
  let held: Awaited<ReturnType<typeof holdConnection>>;
  try {
    held = await holdConnection(pool);
  } catch (err) {
    throw classify(err, false);
  }
  try {
    return await inHeldTransaction(held.client, body, l);
  } finally {
    held.done();
  }
}

async function inHeldTransaction<T>(client: PoolClient, body: (tx: Tx) => Promise<T>, l: TxLimits): Promise<T> {
  const tx = new TxHandle(client);
  const statementMs = Math.min(l.statementTimeoutMs, l.deadlineMs);
  const deadline = setTimeout(() => {
    // Past the deadline: refuse everything and drop the session; the server rolls back.
    tx.detach('aborted')?.release(new Error('transaction deadline passed'));
  }, l.deadlineMs);
  try {
    await client.query(
      `BEGIN; SET LOCAL statement_timeout = ${statementMs}; SET LOCAL lock_timeout = ${Math.min(l.lockTimeoutMs, statementMs)};` +
        ` SET LOCAL idle_in_transaction_session_timeout = ${l.idleInTransactionTimeoutMs}`,
    );
    const result = await body(tx);
    await tx.query({ text: 'COMMIT', values: [] });
    clearTimeout(deadline);
    tx.detach('ended')?.release();
    return result;
  } catch (err) {
    clearTimeout(deadline);
    const aborted = tx.state === 'aborted';
    const held = tx.detach(aborted ? 'aborted' : 'ended');
    if (held) {
      // A connection whose rollback fails is in an unknown state: destroy it.
      await held.query('ROLLBACK').then(
        () => held.release(),
        (rollbackErr: Error) => held.release(rollbackErr),
      );
    }
    throw classify(err, aborted);
  }
}

/** One statement outside any explicit transaction (atomic on its own): its rows and affected row count. */
export async function execute<T extends QueryResultRow>(pool: Pool, statement: Statement): Promise<{ rows: T[]; rowCount: number }> {
  try {
    const result = await pool.query<T>(queryConfig(statement));
    return { rows: result.rows, rowCount: result.rowCount ?? 0 };
  } catch (err) {
    throw classify(err, false);
  }
}
