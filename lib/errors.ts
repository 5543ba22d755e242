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
  /** When it happens, one sentence (docs/problems.md and GET /problems/<slug> show it). */
  readonly when: string;
  /** What the client should do about it, one sentence. */
  readonly action: string;
}

/** Kinds every context may raise. Each code is defined once in the whole system (test/unit/problems.test.ts). */
export const COMMON_ERRORS = {
  DATABASE_BUSY: {
    code: 'DATABASE_BUSY',
    status: 503,
    retryable: true,
    title: 'Service is busy; retry shortly',
    when: 'the database is overloaded or a concurrent transaction conflicted; the request was rolled back and changed nothing',
    action: 'retry the same request (with the same Idempotency-Key) after the Retry-After seconds',
  },
  DATABASE_DATA_ERROR: {
    code: 'DATABASE_DATA_ERROR',
    status: 500,
    retryable: false,
    title: 'The database refused the data',
    when: 'PostgreSQL refused a value as data (SQLSTATE class 22, such as a NUL byte in text, or an integrity violation of class 23) that no check caught before it; an activity fails with it at once, without retries',
    action: 'report it: the value should have been refused at the edge; the order shows where it stopped',
  },
  NOT_FOUND: {
    code: 'NOT_FOUND',
    status: 404,
    retryable: false,
    title: 'Not found',
    when: 'the route, or the order, customer, product, key or record the request names, does not exist or is not visible to this API key',
    action: 'check the id (and that this API key is granted the customer); do not retry unchanged',
  },
  CURRENCY_MISMATCH: {
    code: 'CURRENCY_MISMATCH',
    status: 422,
    retryable: false,
    title: 'Currencies do not match',
    when: "amounts in different currencies meet: a product priced in another currency than the customer's account, a product or account whose currency would change, or a charge in another currency than the account's",
    action: 'use the currency the product or account already has; a currency never changes once set',
  },
} as const satisfies Record<string, ErrorKind>;

export type CommonErrorCode = keyof typeof COMMON_ERRORS;

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
  /** The kind it was raised as (the problem catalogue documents it). */
  readonly kind: ErrorKind;

  constructor(kind: ErrorKind | CommonErrorCode, message: string, opts: DomainErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    const k: ErrorKind = typeof kind === 'string' ? COMMON_ERRORS[kind] : kind;
    this.kind = k;
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
