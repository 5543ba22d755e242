/**
 * RFC 9457 problem details. Every error the API returns is one of these, as
 * application/problem+json, with a stable `type` per kind of problem.
 */
import type { NextFunction, Request, Response } from 'express';
import { DomainError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { asDomainError } from '../lib/sql';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface FieldError {
  /** JSON pointer (RFC 6901) into the request body, e.g. /items/0/quantity. */
  pointer: string;
  detail: string;
}

/** A problem the API reports on purpose; anything else becomes a 500. */
export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly slug: string,
    readonly title: string,
    readonly detail: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'Problem';
  }

  get type(): string {
    return `https://order-saga.dev/problems/${this.slug}`;
  }
}

export const problems = {
  validation: (detail: string, errors: FieldError[]) => new Problem(400, 'validation-error', 'Request is not valid', detail, { errors }),
  malformedJson: (detail: string) => new Problem(400, 'malformed-json', 'Request body is not valid JSON', detail),
  missingIdempotencyKey: () =>
    new Problem(400, 'idempotency-key-missing', 'Idempotency-Key header required', 'send an Idempotency-Key header of 1 to 255 characters'),
  badIdempotencyKey: () =>
    new Problem(
      400,
      'idempotency-key-invalid',
      'Idempotency-Key header is not valid',
      'the Idempotency-Key must be 1 to 255 printable ASCII characters',
    ),
  unauthorized: (detail: string) =>
    new Problem(401, 'unauthorized', 'Authentication required', detail, {}, { 'WWW-Authenticate': 'Bearer realm="order-saga"' }),
  forbidden: (detail: string) => new Problem(403, 'forbidden', 'Not allowed', detail),
  notFound: (detail: string) => new Problem(404, 'not-found', 'Not found', detail),
  conflict: (slug: string, title: string, detail: string, ext: Record<string, unknown> = {}) => new Problem(409, slug, title, detail, ext),
  tooLarge: (limit: string) => new Problem(413, 'payload-too-large', 'Request body too large', `the body may be at most ${limit}`),
  unsupportedMediaType: (got: string | undefined) =>
    new Problem(415, 'unsupported-media-type', 'Unsupported content type', `send Content-Type: application/json (got ${got ?? 'none'})`),
  unprocessable: (slug: string, title: string, detail: string, ext: Record<string, unknown> = {}) =>
    new Problem(422, slug, title, detail, ext),
  unavailable: (detail: string, ext: Record<string, unknown> = {}) => new Problem(503, 'unavailable', 'Service unavailable', detail, ext),
};

export function sendProblem(res: Response, problem: Problem, instance: string): void {
  for (const [k, v] of Object.entries(problem.headers)) res.setHeader(k, v);
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
        ...problem.extensions,
      }),
    );
}

/** Seconds a client should wait before retrying a retryable problem. */
const RETRY_AFTER_S = 1;

/** The one table from domain errors to problems: status, slug and title come from the error's kind. */
export function problemOf(err: DomainError): Problem {
  const slug = err.code.toLowerCase().replace(/_/g, '-');
  const headers: Record<string, string> = err.retryable ? { 'Retry-After': String(RETRY_AFTER_S) } : {};
  return new Problem(err.status, slug, err.title, err.message, { code: err.code, ...err.details }, headers);
}

interface BodyParserError extends Error {
  type?: string;
  status?: number;
}

/** Turns anything thrown into a problem response; unknown errors are logged and hidden. */
export function problemHandler(log: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const instance = req.originalUrl;
    if (err instanceof Problem) return sendProblem(res, err, instance);
    const domain = asDomainError(err);
    if (domain instanceof DomainError && domain.status < 500) return sendProblem(res, problemOf(domain), instance);
    if (domain instanceof DomainError && domain.retryable) {
      log.warn({ err, method: req.method, path: req.path, requestId: res.locals.requestId }, 'overloaded; answered 503');
      return sendProblem(res, problemOf(domain), instance);
    }
    const e = err as BodyParserError;
    if (e?.type === 'entity.parse.failed') return sendProblem(res, problems.malformedJson(e.message), instance);
    if (e?.type === 'entity.too.large') return sendProblem(res, problems.tooLarge('16kb'), instance);
    if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') {
      return sendProblem(res, problems.unsupportedMediaType(req.headers['content-type']), instance);
    }
    log.error({ err, method: req.method, path: req.path, requestId: res.locals.requestId }, 'unhandled error');
    sendProblem(
      res,
      new Problem(500, 'internal-error', 'Internal error', `something went wrong; request id ${res.locals.requestId ?? 'unknown'}`),
      instance,
    );
  };
}
