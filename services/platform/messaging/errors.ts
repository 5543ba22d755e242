/**
 * Why a message could not be applied, and whether trying again can help. Retrying is for
 * transient causes (the database or broker unreachable, a timeout, a serialization failure
 * or deadlock); it can never fix a malformed message, an event type or schema version this
 * consumer does not know, or a constraint the data violates.
 */

import { DomainError } from '../../../lib/errors';

/** A failure that no retry can fix: the message goes to the dead-letter topic at once. */
export class NonRetryableError extends Error {
  override name = 'NonRetryableError';
}

/** The message is not a well-formed event (not JSON, a field missing or mistyped). */
export class ValidationError extends NonRetryableError {
  override name = 'ValidationError';
}

export class UnknownEventTypeError extends NonRetryableError {
  override name = 'UnknownEventTypeError';
  constructor(readonly eventType: string) {
    super(`unknown event type "${eventType}"`);
  }
}

export class UnsupportedSchemaVersionError extends NonRetryableError {
  override name = 'UnsupportedSchemaVersionError';
  constructor(
    readonly eventType: string,
    readonly schemaVersion: number,
  ) {
    super(`unsupported schema version ${schemaVersion} of event type "${eventType}"`);
  }
}

export interface Classified {
  retryable: boolean;
  /**
   * The database or broker could not be reached at all. That says nothing about the message,
   * so such failures do not use up its attempts: dead-lettering every message that arrives
   * during an outage would turn the outage into a replay job.
   */
  unavailable: boolean;
  /** A stable name for the kind of failure (metrics label, dead-letter header). */
  errorClass: string;
  message: string;
}

// SQLSTATE codes and classes that describe a moment, not the message.
const RETRYABLE_SQLSTATE = new Set(['40001', '40P01', '55P03', '57014']);
const UNAVAILABLE_SQLSTATE = new Set(['57P01', '57P02', '57P03']);
const UNAVAILABLE_SQLSTATE_CLASSES = ['08', '53'];
// SQLSTATE classes about the data itself: data exceptions, integrity constraint violations.
const PERMANENT_SQLSTATE_CLASSES = ['22', '23'];
// What @prisma/adapter-pg reports as the cause's kind.
const RETRYABLE_ADAPTER_KINDS = new Set(['TransactionWriteConflict', 'SocketTimeout', 'TransactionAlreadyClosed']);
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
const RETRYABLE_PRISMA_CODES = new Set(['P1008', 'P2028', 'P2034']);
const UNAVAILABLE_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1017', 'P2024']);
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const UNAVAILABLE_KAFKAJS_ERRORS = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSRequestTimeoutError',
]);

/** permanent: never retried; transient: retried up to the attempts; unavailable: retried until it works. */
type Verdict = 'permanent' | 'transient' | 'unavailable' | undefined;

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  retriable?: unknown;
  cause?: unknown;
  meta?: { driverAdapterError?: { cause?: { kind?: unknown; originalCode?: unknown; code?: unknown } } };
}

function sqlstateVerdict(code: unknown): Verdict {
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return undefined;
  if (UNAVAILABLE_SQLSTATE.has(code) || UNAVAILABLE_SQLSTATE_CLASSES.includes(code.slice(0, 2))) return 'unavailable';
  if (RETRYABLE_SQLSTATE.has(code)) return 'transient';
  if (PERMANENT_SQLSTATE_CLASSES.includes(code.slice(0, 2))) return 'permanent';
  return undefined;
}

function adapterVerdict(e: ErrorLike): Verdict {
  const adapter = e.meta?.driverAdapterError?.cause;
  if (!adapter) return undefined;
  const kind = typeof adapter.kind === 'string' ? adapter.kind : '';
  if (UNAVAILABLE_ADAPTER_KINDS.has(kind)) return 'unavailable';
  if (RETRYABLE_ADAPTER_KINDS.has(kind)) return 'transient';
  if (PERMANENT_ADAPTER_KINDS.has(kind)) return 'permanent';
  return sqlstateVerdict(adapter.originalCode ?? adapter.code);
}

function codeVerdict(code: unknown): Verdict {
  if (typeof code !== 'string') return undefined;
  if (UNAVAILABLE_PRISMA_CODES.has(code) || UNAVAILABLE_NODE_CODES.has(code)) return 'unavailable';
  if (RETRYABLE_PRISMA_CODES.has(code)) return 'transient';
  return sqlstateVerdict(code);
}

/** What one error in the cause chain says about retrying, if anything. */
function verdictOf(e: ErrorLike): Verdict {
  // A domain error that says retrying cannot help is final; a retryable one lets its cause decide.
  if (e instanceof DomainError && !e.retryable) return 'permanent';
  if (e instanceof NonRetryableError || e.name === 'PrismaClientValidationError') return 'permanent';
  if (e.name === 'InjectedFault') return 'transient';
  if (typeof e.name === 'string' && UNAVAILABLE_KAFKAJS_ERRORS.has(e.name)) return 'unavailable';
  const verdict = adapterVerdict(e) ?? codeVerdict(e.code);
  if (verdict) return verdict;
  if (e.retriable === true) return 'transient'; // kafkajs marks its transient errors so
  return undefined;
}

/**
 * Classifies an error by walking its cause chain; the first link with an opinion wins. An
 * error nobody recognises is retried: the attempts are bounded anyway, and treating a
 * transient fault as permanent would dead-letter healthy messages.
 */
export function classify(err: unknown): Classified {
  const top = (err ?? {}) as ErrorLike;
  let verdict: Verdict;
  let link: unknown = err;
  for (let depth = 0; depth < 8 && link && typeof link === 'object' && verdict === undefined; depth++) {
    verdict = verdictOf(link as ErrorLike);
    link = (link as ErrorLike).cause;
  }
  const name = typeof top.name === 'string' && top.name ? top.name : 'Error';
  const code = typeof top.code === 'string' ? top.code : undefined;
  const message = typeof top.message === 'string' ? top.message : String(err);
  const kind = verdict ?? 'transient';
  return {
    retryable: kind !== 'permanent',
    unavailable: kind === 'unavailable',
    errorClass: code ? `${name}:${code}` : name,
    message: message.slice(0, 2000),
  };
}
