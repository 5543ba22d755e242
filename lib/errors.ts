/**
 * The one domain error model. A domain error names a kind from a context's contract: a
 * stable code, whether trying again can help, and the HTTP status it maps to. Two mappers
 * read it: api/problem.ts (RFC 9457 problem+json) and activities/failure.ts (Temporal
 * ApplicationFailure with `type` = code). Domain code never throws Temporal or HTTP types.
 */

/** One kind of failure, declared once in the contract of the context that raises it. */
export interface ErrorKind {
  /** Stable, public: the problem `code` and the ApplicationFailure `type`. */
  readonly code: string;
  /** HTTP status when it reaches a client. */
  readonly status: number;
  /** True when the same request may succeed later (overload, contention). */
  readonly retryable: boolean;
  /** Short human title of the kind (the problem's `title`). */
  readonly title: string;
}

/** Kinds every context may raise. */
export const COMMON_ERRORS = {
  DATABASE_BUSY: { code: 'DATABASE_BUSY', status: 503, retryable: true, title: 'Service is busy; retry shortly' },
  NOT_FOUND: { code: 'NOT_FOUND', status: 404, retryable: false, title: 'Not found' },
  INVALID_INPUT: { code: 'INVALID_INPUT', status: 400, retryable: false, title: 'Request is not valid' },
} as const satisfies Record<string, ErrorKind>;

export type CommonErrorCode = keyof typeof COMMON_ERRORS;

/** The codes of an error-kind table, e.g. ErrorCodeOf<typeof ORDER_ERRORS>. */
export type ErrorCodeOf<T extends Record<string, ErrorKind>> = keyof T & string;

export interface DomainErrorOptions {
  /** Facts for the caller (JSON-safe); shown to clients only where the API says so. */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class DomainError extends Error {
  override name = 'DomainError';
  readonly code: string;
  readonly status: number;
  readonly retryable: boolean;
  readonly title: string;
  readonly details: Record<string, unknown>;

  constructor(kind: ErrorKind | CommonErrorCode, message: string, opts: DomainErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    const k = typeof kind === 'string' ? COMMON_ERRORS[kind] : kind;
    this.code = k.code;
    this.status = k.status;
    this.retryable = k.retryable;
    this.title = k.title;
    this.details = opts.details ?? {};
  }

  /** True if `err` is a domain error of this kind. */
  static is(err: unknown, kind: ErrorKind | CommonErrorCode): err is DomainError {
    const code = typeof kind === 'string' ? kind : kind.code;
    return err instanceof DomainError && err.code === code;
  }
}
