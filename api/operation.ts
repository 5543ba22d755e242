/**
 * One declaration per API operation: method, path, who may call it, its schemas, and its
 * handler. Express routes and the OpenAPI document (api/openapi.ts) are both made from
 * these declarations, so they cannot disagree.
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { z } from 'zod';
import type { Principal } from '../services/access/api-keys';
import { anonymousLimit, authn, requireRole } from './auth';
import type { ApiDeps } from './deps';
import { parseBody, requireJson } from './http';
import { idempotencyKeyOf } from './idempotency';
import { RateLimits } from './rate-limit';

export type Access = 'public' | 'client' | 'admin';

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

export interface Operation<S extends z.ZodType = z.ZodType> {
  method: 'get' | 'post' | 'put' | 'delete';
  /** Express-style path (`:id`); rendered as `{id}` in the document. */
  path: string;
  summary: string;
  access: Access;
  /** Requires an Idempotency-Key header (the handler uses api/idempotency.ts). */
  idempotencyKey?: boolean;
  request?: S;
  /** Status -> body schema (null: no body). */
  responses: Record<number, z.ZodType | null>;
  /** Problem statuses this operation answers beyond those its access and shape imply. */
  problems?: number[];
  /**
   * Answers the call, or hands the response to a helper that writes it itself (idempotent
   * replays do) and returns nothing.
   */
  handle(call: Call<z.infer<S>>): Promise<Reply | void>;
}

/** Declares an operation with its body type inferred from its request schema. */
export function operation<S extends z.ZodType = z.ZodType<undefined>>(op: Operation<S>): Operation {
  return op as unknown as Operation;
}

const JSON_LIMIT = '16kb';

function send(res: Response, reply: Reply): void {
  for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
  if (reply.body === undefined || reply.body === null) res.status(reply.status).end();
  else res.status(reply.status).json(reply.body);
}

/** Registers every operation on the app, each with the middleware its declaration asks for. */
export function mountOperations(app: Express, operations: readonly Operation[], deps: ApiDeps): void {
  const limits = new RateLimits(deps.db, deps.cfg, deps.log, deps.registry);
  const authenticate = authn(deps.db, limits);
  const anonymous = anonymousLimit(limits);
  const json = express.json({ limit: JSON_LIMIT });
  for (const op of operations) {
    const chain: ((req: Request, res: Response, next: NextFunction) => unknown)[] = [];
    chain.push(op.access === 'public' ? anonymous : authenticate);
    if (op.access === 'admin') chain.push(requireRole('admin'));
    if (op.request) chain.push(requireJson, json);
    app[op.method](op.path, ...chain, async (req: Request, res: Response) => {
      if (op.idempotencyKey) idempotencyKeyOf(req);
      const body = op.request ? parseBody(op.request, req.body) : undefined;
      const reply = await op.handle({ req, res, deps, principal: res.locals.principal as Principal, body });
      if (reply) send(res, reply);
    });
  }
}
