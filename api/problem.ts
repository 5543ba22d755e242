/**
 * RFC 9457 problem details. Every error the API returns is one of these, as
 * application/problem+json: `type`, `title`, `status`, `detail`, `instance` and the stable
 * `code` of its kind (an ErrorKind, declared once: here for HTTP-only problems, in lib/errors.ts
 * and the contexts' contracts for the domain's). api/problem-catalog.ts lists them all.
 */
import type { NextFunction, Request, Response } from 'express';
import { COMMON_ERRORS, DomainError, type ErrorKind } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { asDomainError } from '../lib/sql';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface FieldError {
  /** JSON pointer (RFC 6901) into the request body, e.g. /items/0/quantity. */
  pointer: string;
  detail: string;
}

/** Seconds a client should wait before retrying a retryable problem. */
const RETRY_AFTER_S = 1;

/**
 * The problems only HTTP has (the domain's kinds live in lib/errors.ts and each context's
 * contract). Every code is unique in the system: test/unit/problems.test.ts enumerates them.
 */
export const API_PROBLEMS = {
  VALIDATION_ERROR: {
    code: 'VALIDATION_ERROR',
    status: 400,
    retryable: false,
    title: 'Request is not valid',
    when: 'the body or the query string breaks the documented schema (a wrong type, a value out of range, an unknown field); errors[] points at each field',
    action: 'correct the fields that errors[] names (JSON pointers) and send again',
  },
  MALFORMED_JSON: {
    code: 'MALFORMED_JSON',
    status: 400,
    retryable: false,
    title: 'Request body is not valid JSON',
    when: 'the body is not parseable JSON (truncated, or not JSON at all)',
    action: 'send a complete JSON document',
  },
  MALFORMED_PATH: {
    code: 'MALFORMED_PATH',
    status: 400,
    retryable: false,
    title: 'Request path is not valid',
    when: 'a path parameter is not valid percent-encoded UTF-8 (such as %ff), or holds a control character (such as %00)',
    action: 'percent-encode the path parameter as UTF-8, without control characters',
  },
  MALFORMED_REQUEST: {
    code: 'MALFORMED_REQUEST',
    status: 400,
    retryable: false,
    title: 'Request is not valid HTTP',
    when: "the server's HTTP parser refused the request before any route saw it: a header value with a control character (such as U+0007), a malformed request line or header",
    action: 'send a well-formed HTTP/1.1 request: header values of visible characters, spaces and tabs only',
  },
  IDEMPOTENCY_KEY_MISSING: {
    code: 'IDEMPOTENCY_KEY_MISSING',
    status: 400,
    retryable: false,
    title: 'Idempotency-Key header required',
    when: 'a write that must be idempotent came without an Idempotency-Key header',
    action: 'send an Idempotency-Key header (a UUID is a good choice), and the same one when retrying',
  },
  IDEMPOTENCY_KEY_INVALID: {
    code: 'IDEMPOTENCY_KEY_INVALID',
    status: 400,
    retryable: false,
    title: 'Idempotency-Key header is not valid',
    when: 'the Idempotency-Key header is empty, longer than 255 characters or not printable ASCII',
    action: 'send 1 to 255 printable ASCII characters',
  },
  UNAUTHORIZED: {
    code: 'UNAUTHORIZED',
    status: 401,
    retryable: false,
    title: 'Authentication required',
    when: 'no Authorization header, one that is not "Bearer <credential>", an API key that is unknown or revoked, or an access token that is expired, not yet valid, for another audience or issuer, signed with another algorithm or key, or of an unregistered client',
    action:
      'send Authorization: Bearer <API key> with a valid key (an operator issues keys), or a fresh access token from the configured issuer',
  },
  FORBIDDEN: {
    code: 'FORBIDDEN',
    status: 403,
    retryable: false,
    title: 'Not allowed',
    when: "the caller is authenticated but lacks the route's permission (a client key on an /admin route, a token without the scope)",
    action: 'use an admin key for /admin routes, or a token with a scope that grants the permission the detail names',
  },
  PAYLOAD_TOO_LARGE: {
    code: 'PAYLOAD_TOO_LARGE',
    status: 413,
    retryable: false,
    title: 'Request body too large',
    when: 'the body is larger than 16 kB',
    action: 'send a smaller body (an order holds at most 100 lines)',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    code: 'UNSUPPORTED_MEDIA_TYPE',
    status: 415,
    retryable: false,
    title: 'Unsupported content type',
    when: 'a body came with another Content-Type than application/json, or in an unsupported encoding or charset',
    action: 'send Content-Type: application/json in UTF-8',
  },
  RATE_LIMITED: {
    code: 'RATE_LIMITED',
    status: 429,
    retryable: true,
    title: 'Too many requests',
    when: "the API key, the client address (anonymous calls), or the address's failed authentications are over their limit for the window",
    action: 'wait the Retry-After seconds (RateLimit and RateLimit-Policy say the limit), then retry',
  },
  UNAVAILABLE: {
    code: 'UNAVAILABLE',
    status: 503,
    retryable: true,
    title: 'Service unavailable',
    when: 'GET /readyz: a dependency (database, Temporal, Kafka) is not reachable; checks says which',
    action: 'send no traffic to this instance until it is ready again',
  },
  IDENTITY_UNAVAILABLE: {
    code: 'IDENTITY_UNAVAILABLE',
    status: 503,
    retryable: true,
    title: 'Identity provider unavailable',
    when: "an access token came while the issuer's discovery document or signing keys (JWKS) cannot be fetched",
    action: 'retry after Retry-After; API keys keep working meanwhile',
  },
  INTERNAL_ERROR: {
    code: 'INTERNAL_ERROR',
    status: 500,
    retryable: false,
    title: 'Internal error',
    when: 'something failed that the API did not expect (a bug); the detail names the request id, the log has the cause',
    action: 'report it with the request id; retry only an idempotent request',
  },
} as const satisfies Record<string, ErrorKind>;

/** The slug of a code: its `type` URI and its docs/problems.md anchor (NOT_FOUND -> not-found). */
export function problemSlug(code: string): string {
  return code.toLowerCase().replace(/_/g, '-');
}

/**
 * A problem's `type`: a URI reference that resolves against the API that answered, where
 * GET /problems/<slug> documents it (the same text as docs/problems.md).
 */
export function problemType(code: string): string {
  return `/problems/${problemSlug(code)}`;
}

/** A problem the API reports on purpose; anything else becomes a 500. */
export class Problem extends Error {
  readonly headers: Record<string, string>;

  constructor(
    readonly kind: ErrorKind,
    readonly detail: string,
    readonly extensions: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'Problem';
    this.headers = kind.retryable ? { 'Retry-After': String(RETRY_AFTER_S), ...headers } : headers;
  }

  get status(): number {
    return this.kind.status;
  }
  get code(): string {
    return this.kind.code;
  }
  get title(): string {
    return this.kind.title;
  }
  get type(): string {
    return problemType(this.kind.code);
  }
}

export const problems = {
  validation: (detail: string, errors: FieldError[]) => new Problem(API_PROBLEMS.VALIDATION_ERROR, detail, { errors }),
  malformedJson: (detail: string) => new Problem(API_PROBLEMS.MALFORMED_JSON, detail),
  malformedPath: (detail: string) => new Problem(API_PROBLEMS.MALFORMED_PATH, detail),
  missingIdempotencyKey: () => new Problem(API_PROBLEMS.IDEMPOTENCY_KEY_MISSING, 'send an Idempotency-Key header of 1 to 255 characters'),
  badIdempotencyKey: () =>
    new Problem(API_PROBLEMS.IDEMPOTENCY_KEY_INVALID, 'the Idempotency-Key must be 1 to 255 printable ASCII characters'),
  unauthorized: (detail: string) => new Problem(API_PROBLEMS.UNAUTHORIZED, detail, {}, { 'WWW-Authenticate': 'Bearer realm="order-saga"' }),
  forbidden: (detail: string) => new Problem(API_PROBLEMS.FORBIDDEN, detail),
  /** RFC 6750: an access token that is refused. */
  invalidToken: (detail: string) =>
    new Problem(API_PROBLEMS.UNAUTHORIZED, detail, {}, { 'WWW-Authenticate': 'Bearer realm="order-saga", error="invalid_token"' }),
  /** RFC 6750: a valid access token without a scope the route needs. */
  insufficientScope: (detail: string) =>
    new Problem(API_PROBLEMS.FORBIDDEN, detail, {}, { 'WWW-Authenticate': 'Bearer realm="order-saga", error="insufficient_scope"' }),
  identityUnavailable: (detail: string) => new Problem(API_PROBLEMS.IDENTITY_UNAVAILABLE, detail),
  notFound: (detail: string) => new Problem(COMMON_ERRORS.NOT_FOUND, detail),
  tooLarge: (limit: string) => new Problem(API_PROBLEMS.PAYLOAD_TOO_LARGE, `the body may be at most ${limit}`),
  unsupportedMediaType: (got: string | undefined) =>
    new Problem(API_PROBLEMS.UNSUPPORTED_MEDIA_TYPE, `send Content-Type: application/json (got ${got ?? 'none'})`),
  unavailable: (detail: string, ext: Record<string, unknown> = {}) => new Problem(API_PROBLEMS.UNAVAILABLE, detail, ext),
  internal: (requestId: string | undefined) =>
    new Problem(API_PROBLEMS.INTERNAL_ERROR, `something went wrong; request id ${requestId ?? 'unknown'}`),
};

/** Members of the body that an extension may not replace. */
const RESERVED = new Set(['type', 'title', 'status', 'detail', 'instance', 'code']);

export function sendProblem(res: Response, problem: Problem, instance: string): void {
  for (const [k, v] of Object.entries(problem.headers)) res.setHeader(k, v);
  const extensions = Object.fromEntries(Object.entries(problem.extensions).filter(([k]) => !RESERVED.has(k)));
  res
    .status(problem.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(
      JSON.stringify({
        type: problem.type,
        title: problem.title,
        status: problem.status,
        detail: problem.detail,
        instance,
        code: problem.code,
        ...extensions,
      }),
    );
}

/** The one way from a domain error to a problem: status, code and title come from the error's kind. */
export function problemOf(err: DomainError): Problem {
  return new Problem(err.kind, err.message, err.details);
}

interface BodyParserError extends Error {
  type?: string;
  status?: number;
}

/** The problem anything thrown amounts to; unknown errors are logged and hidden (a 500 naming the request id). */
export function problemFor(err: unknown, req: Request, res: Response, log: Logger): Problem {
  if (err instanceof Problem) return err;
  const domain = asDomainError(err);
  if (domain instanceof DomainError && domain.status < 500) return problemOf(domain);
  if (domain instanceof DomainError && domain.retryable) {
    log.warn({ err, method: req.method, path: req.path, requestId: res.locals.requestId }, 'overloaded; answered 503');
    return problemOf(domain);
  }
  // The router could not percent-decode a path parameter (GET /orders/%ff).
  if (err instanceof URIError) return problems.malformedPath('a path parameter is not valid percent-encoded UTF-8');
  const e = err as BodyParserError;
  if (e?.type === 'entity.parse.failed') return problems.malformedJson(e.message);
  if (e?.type === 'entity.too.large') return problems.tooLarge('16kb');
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported')
    return problems.unsupportedMediaType(req.headers['content-type']);
  log.error({ err, method: req.method, path: req.path, requestId: res.locals.requestId }, 'unhandled error');
  return problems.internal(res.locals.requestId);
}

/** Turns anything thrown into a problem response. */
export function problemHandler(log: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    sendProblem(res, problemFor(err, req, res, log), req.originalUrl);
  };
}
