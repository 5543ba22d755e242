/**
 * The one classifier of database failures: what a PostgreSQL SQLSTATE, a node-postgres socket
 * error or a Prisma (adapter) error says about trying again. lib/sql.ts turns `transient` into
 * the retryable DATABASE_BUSY; the message consumers (services/platform/messaging/errors.ts)
 * decide retry, park or dead-letter from it.
 */

/**
 * permanent: about the data itself, no retry can help; transient: a moment (timeout, lock,
 * serialization failure, deadlock), worth a bounded retry; unavailable: the database could not
 * be reached at all, which says nothing about the work.
 */
export type DbVerdict = 'permanent' | 'transient' | 'unavailable';

/** SQLSTATEs of contention and overload: a statement or lock timeout, a serialization failure, a deadlock. */
const TRANSIENT_SQLSTATE = new Set(['40001', '40P01', '55P03', '57014']);
/** The server shutting down or starting up. */
const UNAVAILABLE_SQLSTATE = new Set(['57P01', '57P02', '57P03']);
/** Connection exceptions, insufficient resources. */
const UNAVAILABLE_SQLSTATE_CLASSES = ['08', '53'];
/** Data exceptions, integrity constraint violations. */
const PERMANENT_SQLSTATE_CLASSES = ['22', '23'];

// What @prisma/adapter-pg reports as the cause's kind.
const TRANSIENT_ADAPTER_KINDS = new Set(['TransactionWriteConflict', 'SocketTimeout', 'TransactionAlreadyClosed']);
const UNAVAILABLE_ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'TooManyConnections']);
const PERMANENT_ADAPTER_KINDS = new Set([
  'InvalidInputValue',
  'UniqueConstraintViolation',
  'ForeignKeyConstraintViolation',
  'NullConstraintViolation',
  'LengthMismatch',
  'ValueOutOfRange',
]);
// Prisma's own codes for timeouts and write conflicts, and for an unreachable database.
const TRANSIENT_PRISMA_CODES = new Set(['P1008', 'P2028', 'P2034']);
const UNAVAILABLE_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1017', 'P2024']);
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** What a SQLSTATE says, if it is one and says anything. */
export function sqlstateVerdict(code: unknown): DbVerdict | undefined {
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return undefined;
  if (UNAVAILABLE_SQLSTATE.has(code) || UNAVAILABLE_SQLSTATE_CLASSES.includes(code.slice(0, 2))) return 'unavailable';
  if (TRANSIENT_SQLSTATE.has(code)) return 'transient';
  if (PERMANENT_SQLSTATE_CLASSES.includes(code.slice(0, 2))) return 'permanent';
  return undefined;
}

interface DbErrorLike {
  name?: unknown;
  code?: unknown;
  meta?: { driverAdapterError?: { cause?: { kind?: unknown; originalCode?: unknown; code?: unknown } } };
}

function adapterVerdict(e: DbErrorLike): DbVerdict | undefined {
  const adapter = e.meta?.driverAdapterError?.cause;
  if (!adapter) return undefined;
  const kind = typeof adapter.kind === 'string' ? adapter.kind : '';
  if (UNAVAILABLE_ADAPTER_KINDS.has(kind)) return 'unavailable';
  if (TRANSIENT_ADAPTER_KINDS.has(kind)) return 'transient';
  if (PERMANENT_ADAPTER_KINDS.has(kind)) return 'permanent';
  return sqlstateVerdict(adapter.originalCode ?? adapter.code);
}

function codeVerdict(code: unknown): DbVerdict | undefined {
  if (typeof code !== 'string') return undefined;
  if (UNAVAILABLE_PRISMA_CODES.has(code) || UNAVAILABLE_NODE_CODES.has(code)) return 'unavailable';
  if (TRANSIENT_PRISMA_CODES.has(code)) return 'transient';
  return sqlstateVerdict(code);
}

/** What one error (one link of a cause chain, not its causes) says as a database failure, if anything. */
export function dbVerdict(err: unknown): DbVerdict | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as DbErrorLike;
  if (e.name === 'PrismaClientValidationError') return 'permanent';
  return adapterVerdict(e) ?? codeVerdict(e.code);
}

/**
 * The SQLSTATE of a data exception or an integrity violation (class 22, 23) anywhere in the cause
 * chain, if the first link with a database verdict is one: a value the database will never
 * store, whatever the number of tries. Business rules that PostgreSQL enforces are turned into
 * domain errors by the service that owns them before this sees them.
 */
export function dataErrorOf(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const verdict = dbVerdict(e);
    if (verdict === undefined) continue;
    if (verdict !== 'permanent') return undefined;
    const code = (e as DbErrorLike).meta?.driverAdapterError?.cause?.originalCode ?? (e as DbErrorLike).code;
    return typeof code === 'string' ? code : 'unknown';
  }
  return undefined;
}

/** pg's pool gave up waiting for a free connection, here or anywhere in the cause chain (Prisma wraps it). */
export function poolExhausted(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof Error && /timeout exceeded when trying to connect/i.test(e.message)) return true;
  }
  return false;
}
