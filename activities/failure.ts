/**
 * The one place a domain error becomes a Temporal failure: an ApplicationFailure whose
 * `type` is the error's stable code, non-retryable unless the error says trying again can
 * help, with its details and its cause kept (never stringified). A data error from PostgreSQL
 * (lib/db-errors.ts dataErrorOf) is one too, DATABASE_DATA_ERROR: retrying the same value
 * would fail the same way forever.
 */
import { ApplicationFailure } from '@temporalio/common';
import { dataErrorOf } from '../lib/db-errors';
import { COMMON_ERRORS, DomainError } from '../lib/errors';

function asDataError(err: unknown): DomainError | undefined {
  const sqlstate = dataErrorOf(err);
  if (sqlstate === undefined) return undefined;
  const why = err instanceof Error ? err.message : String(err);
  return new DomainError(COMMON_ERRORS.DATABASE_DATA_ERROR, `the database refused the data (SQLSTATE ${sqlstate}): ${why}`, {
    details: { sqlstate },
    cause: err,
  });
}

export function toApplicationFailure(thrown: unknown): unknown {
  const err = thrown instanceof DomainError ? thrown : asDataError(thrown);
  if (!err) return thrown;
  return ApplicationFailure.create({
    type: err.code,
    message: err.message,
    nonRetryable: !err.retryable,
    details: Object.keys(err.details).length > 0 ? [err.details] : [],
    cause: err.cause instanceof Error ? err.cause : undefined,
  });
}

type AsyncFn = (...args: never[]) => Promise<unknown>;

/** Wraps each function of a service so that its domain errors reach Temporal as ApplicationFailures. */
export function asActivities<S extends Record<string, AsyncFn>>(service: S): S {
  const wrapped: Record<string, AsyncFn> = {};
  for (const [name, fn] of Object.entries(service)) {
    wrapped[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw toApplicationFailure(err);
      }
    };
  }
  return wrapped as S;
}
