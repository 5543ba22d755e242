/**
 * Rate limits, shared by every API instance: rate-limiter-flexible's PostgreSQL store (table
 * rate_limits) counts per API key by role, per client address for anonymous requests, and
 * per client address for failed authentications (brute force; a valid key is never counted
 * there). Over a limit: 429 problem
 * with Retry-After and the IETF RateLimit / RateLimit-Policy fields. If the store fails, a
 * per-instance in-memory limiter takes over (logged and counted): the limits weaken to one
 * instance's view, and no client ever gets a 500 because of it.
 */
import type { Request, Response } from 'express';
import type { Counter, Registry } from 'prom-client';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../lib/config';
import { poolOf, type Db } from '../lib/db';
import type { Logger } from '../lib/logger';
import { counter } from '../lib/metrics';
import { API_PROBLEMS, Problem } from './problem';

export type LimitName = 'client' | 'admin' | 'anonymous' | 'auth-failures';

interface Limit {
  name: LimitName;
  points: number;
  windowS: number;
  store: RateLimiterPostgres;
  fallback: RateLimiterMemory;
}

export interface Verdict {
  allowed: boolean;
  remaining: number;
  resetS: number;
  limit: Limit;
}

export class RateLimits {
  private readonly limits: Record<LimitName, Limit>;
  private readonly storeErrors: Counter<'limit'> | undefined;

  constructor(
    db: Db,
    cfg: Config,
    private readonly log: Logger,
    registry?: Registry,
  ) {
    const s = cfg.api.rateLimits;
    const make = (name: LimitName, points: number, windowS: number): Limit => {
      const keyPrefix = `${s.keyPrefix}:${name}`;
      const store = new RateLimiterPostgres({
        storeClient: poolOf(db),
        storeType: 'pool',
        tableName: 'rate_limits',
        tableCreated: true,
        clearExpiredByTimeout: false,
        keyPrefix,
        points,
        duration: windowS,
        // Once a counter is past its limit this instance refuses from memory for the rest of
        // the window: a flood costs no store round trip per request.
        inMemoryBlockOnConsumed: points + 1,
      });
      return { name, points, windowS, store, fallback: new RateLimiterMemory({ keyPrefix, points, duration: windowS }) };
    };
    this.limits = {
      client: make('client', s.clientPoints, s.windowS),
      admin: make('admin', s.adminPoints, s.windowS),
      anonymous: make('anonymous', s.anonymousPoints, s.windowS),
      'auth-failures': make('auth-failures', s.authFailurePoints, s.authFailureWindowS),
    };
    this.storeErrors = registry
      ? counter(
          registry,
          'rate_limiter_store_errors_total',
          'Rate-limit checks answered by the in-memory fallback because the shared store failed.',
          ['limit'],
        )
      : undefined;
  }

  /** Counts one request against `limit` for `key`. */
  async consume(name: LimitName, key: string): Promise<Verdict> {
    return this.run(name, (l) => l.consume(key));
  }

  private storeFailed(name: LimitName, err: unknown): void {
    this.storeErrors?.inc({ limit: name });
    this.log.warn({ err, limit: name }, 'rate-limit store failed; this instance limits on its own meanwhile');
  }

  private async run(name: LimitName, op: (l: RateLimiterPostgres | RateLimiterMemory) => Promise<RateLimiterRes>): Promise<Verdict> {
    const limit = this.limits[name];
    const verdict = (res: RateLimiterRes, allowed: boolean): Verdict => ({
      allowed,
      remaining: Math.max(0, res.remainingPoints),
      resetS: Math.ceil(res.msBeforeNext / 1000),
      limit,
    });
    const attempt = async (l: RateLimiterPostgres | RateLimiterMemory, onError: (err: unknown) => Promise<Verdict>) => {
      try {
        return verdict(await op(l), true);
      } catch (err) {
        if (err instanceof RateLimiterRes) return verdict(err, false);
        return onError(err);
      }
    };
    return attempt(limit.store, async (err) => {
      this.storeFailed(name, err);
      return attempt(limit.fallback, async () => verdict(new RateLimiterRes(limit.points, 0, 0, false), true));
    });
  }
}

/** The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers) of a verdict. */
export function setRateLimitHeaders(res: Response, v: Verdict): void {
  res.setHeader('RateLimit-Policy', `"${v.limit.name}";q=${v.limit.points};w=${v.limit.windowS}`);
  res.setHeader('RateLimit', `"${v.limit.name}";r=${v.remaining};t=${v.resetS}`);
}

/** The 429 problem of a refused verdict, with its headers. */
export function tooManyRequests(v: Verdict): Problem {
  const retryAfter = String(Math.max(1, v.resetS));
  return new Problem(
    API_PROBLEMS.RATE_LIMITED,
    `the "${v.limit.name}" limit allows ${v.limit.points} requests per ${v.limit.windowS} s; retry after ${retryAfter} s`,
    { limit: v.limit.name },
    {
      'Retry-After': retryAfter,
      'RateLimit-Policy': `"${v.limit.name}";q=${v.limit.points};w=${v.limit.windowS}`,
      RateLimit: `"${v.limit.name}";r=0;t=${retryAfter}`,
    },
  );
}

/**
 * The client address a limit is keyed by: the socket's, or with API_TRUST_PROXY the entry the
 * trusted proxies added to X-Forwarded-For (never a client-chosen one).
 */
export function clientAddress(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}
