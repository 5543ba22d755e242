/**
 * Bearer API-key authentication, rate limits and role checks. A valid key is always judged
 * by its own limit, whatever else came from its address; only failed attempts count against
 * the address, and past that limit they are refused (429) instead of answered 401. The
 * failure is counted first (one atomic increment in the shared store) and the answer follows
 * from the count, so concurrent failures cannot all slip under the limit.
 */
import type { NextFunction, Request, Response } from 'express';
import type { Db } from '../lib/db';
import { authenticate, type Principal, type Role } from '../services/access/api-keys';
import { problems } from './problem';
import { clientAddress, setRateLimitHeaders, tooManyRequests, type RateLimits } from './rate-limit';

const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/;

/** The API key of an `Authorization: Bearer <key>` header, if it is one. */
export function bearerKey(header: string | undefined): string | undefined {
  return header ? BEARER.exec(header)?.[1] : undefined;
}

/** The principal of the request's key, or why there is none. */
async function keyHolder(db: Db, header: string | undefined): Promise<Principal | string> {
  if (!header) return 'send Authorization: Bearer <API key>';
  const key = bearerKey(header);
  if (!key) return 'the Authorization header must be "Bearer <API key>"';
  return (await authenticate(db, key)) ?? 'the API key is not valid or has been revoked';
}

export function authn(db: Db, limits: RateLimits) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const principal = await keyHolder(db, req.headers.authorization);
    if (typeof principal === 'string') {
      const failures = await limits.consume('auth-failures', clientAddress(req));
      if (!failures.allowed) throw tooManyRequests(failures);
      throw problems.unauthorized(principal);
    }
    const verdict = await limits.consume(principal.role, principal.apiKeyId);
    setRateLimitHeaders(res, verdict);
    if (!verdict.allowed) throw tooManyRequests(verdict);
    res.locals.principal = principal;
    next();
  };
}

/** Anonymous requests are limited per client address. */
export function anonymousLimit(limits: RateLimits) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const verdict = await limits.consume('anonymous', clientAddress(req));
    setRateLimitHeaders(res, verdict);
    if (!verdict.allowed) throw tooManyRequests(verdict);
    next();
  };
}

export function requireRole(role: Role) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    const principal = res.locals.principal as Principal | undefined;
    if (principal?.role !== role) throw problems.forbidden(`this route needs an ${role} API key`);
    next();
  };
}

export function principalOf(res: Response): Principal {
  return res.locals.principal as Principal;
}
