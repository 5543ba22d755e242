/**
 * Express glue for idempotent writes: validates the Idempotency-Key header, replays a stored
 * response, answers 409/422 for in-flight or mismatched duplicates, and otherwise runs the
 * handler with a lease the handler completes inside its own transaction.
 */
import type { Request, Response } from 'express';
import { inTransaction, type Db, type Tx } from '../lib/db';
import type { SqlFragment, StatementPart } from '../lib/sql';
import type { Principal } from '../services/access/api-keys';
import {
  abandonIdempotent,
  beginIdempotent,
  completeIdempotent,
  completion,
  IDEMPOTENCY_ERRORS,
  requestFingerprint,
  type Lease,
} from '../services/access/idempotency';
import { Problem, problems } from './problem';

export interface IdempotentReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/**
 * What a handler gets: commit(tx, reply) stores the reply in the handler's transaction, or
 * completion(reply) does it as a part of the handler's own statement (one round trip fewer).
 */
export interface IdempotencyContext {
  commit(tx: Tx, reply: IdempotentReply): Promise<void>;
  completion(reply: IdempotentReply): StatementPart;
  /** The row of the `alongside` read given to idempotent(), read with the lease. */
  alongside?: Record<string, unknown>;
}

export function idempotencyKeyOf(req: Request): string {
  const key = req.headers['idempotency-key'];
  if (key === undefined) throw problems.missingIdempotencyKey();
  if (typeof key !== 'string' || !/^[\x20-\x7e]{1,255}$/.test(key)) throw problems.badIdempotencyKey();
  return key;
}

function send(res: Response, reply: IdempotentReply, replayed: boolean): void {
  for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
  if (replayed) res.setHeader('Idempotent-Replayed', 'true');
  res.status(reply.status).json(reply.body);
}

/**
 * Runs `handler` at most once per (API key, Idempotency-Key). The handler must call
 * ctx.commit(tx, reply) inside the transaction that makes its change. `alongside` (a read
 * yielding one row) runs in the lease's statement; the handler gets its row.
 */
export async function idempotent(
  db: Db,
  req: Request,
  res: Response,
  principal: Principal,
  body: unknown,
  handler: (ctx: IdempotencyContext) => Promise<IdempotentReply>,
  alongside?: SqlFragment,
): Promise<void> {
  const key = idempotencyKeyOf(req);
  // The canonical path: /orders and /orders/ are one resource.
  const fingerprint = requestFingerprint(req.method, (req.baseUrl + req.path).replace(/\/+$/, ''), body);
  const begun = await beginIdempotent(db, principal.apiKeyId, key, fingerprint, alongside);
  if (begun.kind === 'replay') return send(res, begun.response, true);
  if (begun.kind === 'mismatch') {
    throw new Problem(
      IDEMPOTENCY_ERRORS.REUSED,
      `the key "${key}" was first used with a different request body; use a new key for a new request`,
    );
  }
  if (begun.kind === 'in-flight') {
    throw new Problem(IDEMPOTENCY_ERRORS.IN_FLIGHT, `a request with the key "${key}" is still being processed; retry later`);
  }
  const lease: Lease = begun.lease;
  try {
    const reply = await handler({
      commit: (tx, r) => completeIdempotent(tx, lease, { status: r.status, body: r.body, headers: r.headers ?? {} }),
      completion: (r) => completion(lease, { status: r.status, body: r.body, headers: r.headers ?? {} }),
      alongside: begun.alongside,
    });
    send(res, reply, false);
  } catch (err) {
    // Deletes only a lease still IN_FLIGHT under our token: a committed reply is never lost.
    await abandonIdempotent(db, lease).catch(() => undefined);
    throw err;
  }
}

/**
 * The common case: the change and its stored reply in one explicit transaction. `work` returns
 * the reply to store (and replay), and optionally a different one for this first answer only
 * (a secret shown once).
 */
export async function idempotentInTransaction(
  db: Db,
  req: Request,
  res: Response,
  principal: Principal,
  body: unknown,
  work: (tx: Tx) => Promise<{ stored: IdempotentReply; firstAnswer?: IdempotentReply }>,
): Promise<void> {
  await idempotent(db, req, res, principal, body, async ({ commit }) =>
    inTransaction(db, async (tx) => {
      const { stored, firstAnswer } = await work(tx);
      await commit(tx, stored);
      return firstAnswer ?? stored;
    }),
  );
}
