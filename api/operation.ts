/**
 * One declaration per API operation: method, path, who may call it, its schemas, and its
 * handler. Express routes and the OpenAPI document (api/openapi.ts) are both made from
 * these declarations, so they cannot disagree.
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { z } from 'zod';
import { COMMON_ERRORS, type ErrorKind } from '../lib/errors';
import type { Principal } from '../services/access/api-keys';
import { IDEMPOTENCY_ERRORS } from '../services/access/idempotency';
import type { Permission } from '../services/access/permissions';
import { AccessTokens } from '../services/access/tokens';
import { anonymousLimit, authn, requirePermission } from './auth';
import type { ApiDeps } from './deps';
import { parseBody, requireJson } from './http';
import { idempotencyKeyOf } from './idempotency';
import { API_PROBLEMS, problems } from './problem';
import { PathParam } from './schemas';
import { RateLimits } from './rate-limit';

/** Who a route is for: anyone, tenants (acting for their granted customers), or the /admin area. */
export type Access = 'public' | 'client' | 'admin';

/** A public route needs nothing; every other one names the permission it needs (the one check, api/auth.ts). */
type Guard = { access: 'public'; permission?: never } | { access: 'client' | 'admin'; permission: Permission };

/** What a handler answers; `null` body for 204. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** What a handler is given. */
export interface Call<B> {
  req: Request;
  res: Response;
  deps: ApiDeps;
  /** The authenticated caller (public operations get none). */
  principal: Principal;
  /** The body, parsed with the operation's request schema. */
  body: B;
}

export type Operation<S extends z.ZodType = z.ZodType> = Guard & {
  method: 'get' | 'post' | 'put' | 'delete';
  /** Express-style path (`:id`); rendered as `{id}` in the document. */
  path: string;
  summary: string;
  /** Requires an Idempotency-Key header (the handler uses api/idempotency.ts). */
  idempotencyKey?: boolean;
  request?: S;
  /** Status -> body schema (null: no body). */
  responses: Record<number, z.ZodType | null>;
  /** Response headers by status: name -> what it says (documented in OpenAPI). */
  headers?: Record<number, Record<string, string>>;
  /** Problems this operation answers beyond those its access and shape imply (problemsOf). */
  problems?: readonly ErrorKind[];
  /**
   * Answers the call, or hands the response to a helper that writes it itself (idempotent
   * replays do) and returns nothing.
   */
  handle(call: Call<z.infer<S>>): Promise<Reply | void>;
};

/** Declares an operation with its body type inferred from its request schema. */
export function operation<S extends z.ZodType = z.ZodType<undefined>>(op: Operation<S>): Operation {
  return op as unknown as Operation;
}

/**
 * Every problem an operation may answer: those its access and shape imply (the middleware
 * mountOperations puts in front of it) and those it declares. OpenAPI lists them per status.
 */
export function problemsOf(op: Operation): ErrorKind[] {
  const p = API_PROBLEMS;
  // MALFORMED_REQUEST: the HTTP parser refuses a request before any route (api/client-error.ts).
  const kinds: ErrorKind[] = [p.RATE_LIMITED, p.INTERNAL_ERROR, p.MALFORMED_REQUEST];
  // Authentication reads the database: an overloaded one answers DATABASE_BUSY.
  // A route's permission may be missing from any caller (a token without the scope), and a token needs its issuer's keys.
  if (op.access !== 'public') kinds.push(p.UNAUTHORIZED, COMMON_ERRORS.DATABASE_BUSY, p.FORBIDDEN, p.IDENTITY_UNAVAILABLE);
  if (op.path.includes(':')) kinds.push(COMMON_ERRORS.NOT_FOUND, p.MALFORMED_PATH);
  if (op.request) kinds.push(p.VALIDATION_ERROR, p.MALFORMED_JSON, p.PAYLOAD_TOO_LARGE, p.UNSUPPORTED_MEDIA_TYPE);
  if (op.idempotencyKey) {
    kinds.push(p.IDEMPOTENCY_KEY_MISSING, p.IDEMPOTENCY_KEY_INVALID, IDEMPOTENCY_ERRORS.IN_FLIGHT, IDEMPOTENCY_ERRORS.REUSED);
  }
  kinds.push(...(op.problems ?? []));
  return [...new Map(kinds.map((k) => [k.code, k])).values()];
}

const JSON_LIMIT = '16kb';

/** Every path parameter obeys the one string rule (api/schemas.ts text()), before any handler reads it. */
function checkPathParams(req: Request, _res: Response, next: NextFunction): void {
  for (const [name, value] of Object.entries(req.params as Record<string, string | string[]>)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      const result = PathParam.safeParse(v);
      if (!result.success) throw problems.malformedPath(`path parameter ${name}: ${result.error.issues[0]?.message ?? 'not valid'}`);
    }
  }
  next();
}

function send(res: Response, reply: Reply): void {
  for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
  if (reply.body === undefined || reply.body === null) res.status(reply.status).end();
  else res.status(reply.status).json(reply.body);
}

/** Registers every operation on the app, each with the middleware its declaration asks for. */
export function mountOperations(
  app: Express,
  operations: readonly Operation[],
  deps: ApiDeps,
  limits: RateLimits = new RateLimits(deps.db, deps.cfg, deps.log, deps.registry),
): void {
  const tokens = deps.cfg.identity ? new AccessTokens(deps.db, deps.cfg.identity) : undefined;
  const authenticate = authn(deps.db, limits, tokens);
  const anonymous = anonymousLimit(limits);
  const json = express.json({ limit: JSON_LIMIT });
  for (const op of operations) {
    const chain: ((req: Request, res: Response, next: NextFunction) => unknown)[] = [];
    chain.push(op.access === 'public' ? anonymous : authenticate);
    if (op.access !== 'public') chain.push(requirePermission(op.permission));
    if (op.path.includes(':')) chain.push(checkPathParams);
    if (op.request) chain.push(requireJson, json);
    app[op.method](op.path, ...chain, async (req: Request, res: Response) => {
      if (op.idempotencyKey) idempotencyKeyOf(req);
      const body = op.request ? parseBody(op.request, req.body) : undefined;
      const reply = await op.handle({ req, res, deps, principal: res.locals.principal as Principal, body });
      if (reply) send(res, reply);
    });
  }
}
