/**
 * PostgreSQL transactions and round trips of one pool, counted at the client: every query() a
 * pooled connection sends is one round trip; a transaction is a COMMIT after a BEGIN, or one
 * statement sent outside any (autocommit). Counts per order do not drift with machine load, so
 * they compare code before and after a change where throughput figures cannot.
 */
import type { Pool, PoolClient } from 'pg';

export interface DbCounts {
  roundTrips: number;
  transactions: number;
  rollbacks: number;
}

const zero = (): DbCounts => ({ roundTrips: 0, transactions: 0, rollbacks: 0 });

function statementText(arg: unknown): string {
  if (typeof arg === 'string') return arg;
  const text = (arg as { text?: unknown } | undefined)?.text;
  return typeof text === 'string' ? text : '';
}

/** Counts from now on, on every connection the pool opens (call it before the pool's first query). */
export function countPool(pool: Pool): { read(): DbCounts } {
  const counts = zero();
  pool.on('connect', (client: PoolClient) => {
    let inTx = false;
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const text = statementText(args[0]).trimStart().slice(0, 10).toUpperCase();
      counts.roundTrips += 1;
      if (text.startsWith('BEGIN')) inTx = true;
      else if (text.startsWith('COMMIT')) {
        inTx = false;
        counts.transactions += 1;
      } else if (text.startsWith('ROLLBACK')) {
        inTx = false;
        counts.rollbacks += 1;
      } else if (!inTx) counts.transactions += 1;
      return query(...args);
    };
  });
  return { read: () => ({ ...counts }) };
}

/** What happened between two reads, per item. */
export function countsPerItem(before: DbCounts, after: DbCounts, items: number): DbCounts {
  return {
    roundTrips: (after.roundTrips - before.roundTrips) / items,
    transactions: (after.transactions - before.transactions) / items,
    rollbacks: (after.rollbacks - before.rollbacks) / items,
  };
}
