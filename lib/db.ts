/** Prisma 7 client over node-postgres (no native query engine). One per process. */
import { PrismaPg } from '@prisma/adapter-pg';
import { Pool } from 'pg';
import { PrismaClient } from '../generated/prisma/client';

export type Db = PrismaClient;
/** The handle a `$transaction` callback receives; use it for every statement inside. */
export type Tx = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];

// Our own pg.Pool behind the adapter, so its in-use and waiting counts can be gauged.
const pools = new WeakMap<Db, Pool>();

export function createDb(url: string, poolSize = 10): Db {
  const pool = new Pool({ connectionString: url, max: poolSize });
  // The adapter ends the pool on $disconnect, as it does with a pool of its own.
  const adapter = new PrismaPg(pool, { disposeExternalPool: true });
  const db = new PrismaClient({ adapter });
  pools.set(db, pool);
  return db;
}

/** The connection pool behind a client made by createDb. */
export function poolOf(db: Db): Pool | undefined {
  return pools.get(db);
}
