/**
 * The one place a domain error becomes a Temporal failure: an ApplicationFailure whose
 * `type` is the error's stable code, non-retryable unless the error says trying again can
 * help, with its details and its cause kept (never stringified).
 */
import { ApplicationFailure } from '@temporalio/common';
import { DomainError } from '../lib/errors';

export function toApplicationFailure(err: unknown): unknown {
  if (!(err instanceof DomainError)) return err;
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
