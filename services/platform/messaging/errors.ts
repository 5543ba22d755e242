/**
 * Why a message could not be applied, and whether trying again can help (database failures
 * by the one classifier in lib/db-errors.ts, broker failures here). Retrying is for
 * transient causes (the database or broker unreachable, a timeout, a serialization failure
 * or deadlock); it can never fix a malformed message, an event type or schema version this
 * consumer does not know, or a constraint the data violates.
 */

import { dbVerdict, type DbVerdict } from '../../../lib/db-errors';
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

const UNAVAILABLE_KAFKAJS_ERRORS = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSRequestTimeoutError',
]);

/** permanent: never retried; transient: retried up to the attempts; unavailable: retried until it works. */
type Verdict = DbVerdict | undefined;

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  retriable?: unknown;
  cause?: unknown;
}

/** What one error in the cause chain says about retrying, if anything. */
function verdictOf(e: ErrorLike): Verdict {
  // A domain error that says retrying cannot help is final; a retryable one lets its cause decide.
  if (e instanceof DomainError && !e.retryable) return 'permanent';
  if (e instanceof NonRetryableError) return 'permanent';
  if (e.name === 'InjectedFault') return 'transient';
  if (typeof e.name === 'string' && UNAVAILABLE_KAFKAJS_ERRORS.has(e.name)) return 'unavailable';
  const verdict = dbVerdict(e);
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
