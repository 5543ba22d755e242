/**
 * Bearer API-key authentication, rate limits and role checks. A client address that keeps
 * failing to authenticate is refused (429) before its key is even looked at; an
 * authenticated key is counted against its role's limit.
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

export function authn(db: Db, limits: RateLimits) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const address = clientAddress(req);
    const failures = await limits.peek('auth-failures', address);
    if (!failures.allowed) throw tooManyRequests(failures);
    const refuse = async (detail: string) => {
      await limits.consume('auth-failures', address);
      return problems.unauthorized(detail);
    };
    const header = req.headers.authorization;
    if (!header) throw await refuse('send Authorization: Bearer <API key>');
    const key = bearerKey(header);
    if (!key) throw await refuse('the Authorization header must be "Bearer <API key>"');
    const principal = await authenticate(db, key);
    if (!principal) throw await refuse('the API key is not valid or has been revoked');
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
