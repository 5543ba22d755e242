/**
 * Bearer authentication (an API key, or an OAuth2 access token from the configured issuer:
 * services/access/tokens.ts), rate limits and the one permission check. A valid key is always judged
 * by its own limit, whatever else came from its address; only failed attempts count against
 * the address, and past that limit they are refused (429) instead of answered 401. The
 * failure is counted first (one atomic increment in the shared store) and the answer follows
 * from the count, so concurrent failures cannot all slip under the limit.
 */
import type { NextFunction, Request, Response } from 'express';
import type { Db } from '../lib/db';
import { authenticate, type Principal } from '../services/access/api-keys';
import { can, type Permission } from '../services/access/permissions';
import { IdentityUnavailable, looksLikeJwt, type AccessTokens } from '../services/access/tokens';
import { Problem, problems } from './problem';
import { clientAddress, setRateLimitHeaders, tooManyRequests, type RateLimits } from './rate-limit';

// Long enough for a JWT access token (an RS512 signature alone is 683 characters).
const BEARER = /^Bearer ([\x21-\x7e]{1,8192})$/;

/** The credential of an `Authorization: Bearer <credential>` header (an API key or an access token), if it is one. */
export function bearerKey(header: string | undefined): string | undefined {
  return header ? BEARER.exec(header)?.[1] : undefined;
}

/** The principal of the request's credential, or the problem that refuses it. */
async function holder(db: Db, tokens: AccessTokens | undefined, header: string | undefined): Promise<Principal | Problem> {
  if (!header) return problems.unauthorized('send Authorization: Bearer <API key>');
  const credential = bearerKey(header);
  if (!credential) return problems.unauthorized('the Authorization header must be "Bearer <API key>"');
  // Without an issuer configured a JWT is just a wrong API key (IDENTITY_ISSUER unset: keys only).
  if (tokens && looksLikeJwt(credential)) {
    try {
      const principal = await tokens.authenticate(credential);
      return typeof principal === 'string' ? problems.invalidToken(principal) : principal;
    } catch (err) {
      if (err instanceof IdentityUnavailable) throw problems.identityUnavailable(err.message);
      throw err;
    }
  }
  return (await authenticate(db, credential)) ?? problems.unauthorized('the API key is not valid or has been revoked');
}

/** Authenticates every request by its API key or access token; `tokens` undefined: API keys only. */
export function authn(db: Db, limits: RateLimits, tokens?: AccessTokens) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const principal = await holder(db, tokens, req.headers.authorization);
    if (principal instanceof Problem) {
      const failures = await limits.consume('auth-failures', clientAddress(req));
      if (!failures.allowed) throw tooManyRequests(failures);
      throw principal;
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

/** The one authorization check in front of a route: the caller has the route's permission. */
export function requirePermission(permission: Permission) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    const principal = res.locals.principal as Principal | undefined;
    if (principal && can(principal, permission)) return next();
    if (principal?.token) {
      throw problems.insufficientScope(`this route needs the permission "${permission}": ask the issuer for a scope that grants it`);
    }
    throw problems.forbidden(`this route needs the permission "${permission}", which an admin API key has`);
  };
}

export function principalOf(res: Response): Principal {
  return res.locals.principal as Principal;
}
