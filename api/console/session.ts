/**
 * The console's HTTP guard: security headers, the session cookie, the same rate limits as
 * the API (per key by role once signed in, per address for anonymous requests and failed
 * sign-ins), and cross-site refusal on every POST: the Origin (or Sec-Fetch-Site) must be this
 * site and the form must carry the session's synchronizer token. Authorization is then the
 * API's own requirePermission (api/auth.ts) on res.locals.principal.
 */
import crypto from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Config } from '../../lib/config';
import type { Db } from '../../lib/db';
import { csrfMatches, resumeSession, type ConsoleSession, type SessionSettings } from '../../services/access/console-sessions';
import { can } from '../../services/access/permissions';
import { API_PROBLEMS, Problem, problems } from '../problem';
import { setRateLimitHeaders, tooManyRequests, type RateLimits } from '../rate-limit';
import type { Viewer } from './layout';

export const SESSION_COOKIE = 'console_session';
/** The sign-in form's double-submit token (there is no session yet to hold one). */
export const SIGN_IN_COOKIE = 'console_sign_in';
const COOKIE_PATH = '/console';

/** Pages: nothing but this origin's stylesheet; no script, no frame, no foreign form target. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "style-src 'self'",
  "img-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export function sessionSettings(cfg: Config): SessionSettings {
  return { idleMs: cfg.console.sessionIdleMs, maxMs: cfg.console.sessionMaxMs };
}

/** The security headers of every console answer. */
export function consoleHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Content-Security-Policy', CONSOLE_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'same-origin');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  next();
}

/** The cookies of a request (no library needed for name=value pairs). */
export function cookies(req: Request): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const name = part.slice(0, i).trim();
    if (!out.has(name)) out.set(name, part.slice(i + 1).trim());
  }
  return out;
}

/** A console cookie: HttpOnly, SameSite=Strict, Path=/console, Secure under TLS. `maxAgeMs` 0 clears it. */
export function setCookie(req: Request, res: Response, name: string, value: string, maxAgeMs: number): void {
  const attrs = [`${name}=${value}`, `Path=${COOKIE_PATH}`, 'HttpOnly', 'SameSite=Strict', `Max-Age=${Math.floor(maxAgeMs / 1000)}`];
  if (req.secure) attrs.push('Secure');
  res.append('Set-Cookie', attrs.join('; '));
}

/** A fresh random token for a form (the sign-in's double-submit value). */
export function randomToken(): string {
  return crypto.randomBytes(32).toString('base64url');
}

/**
 * Refuses a state change sent from another site: a browser names the page's origin in
 * Origin (and its relation in Sec-Fetch-Site) on every POST; either, when present, must be
 * this site. Clients that send neither (curl) still need the form's token.
 */
export function sameOrigin(req: Request, _res: Response, next: NextFunction): void {
  if (req.method !== 'POST') return next();
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none')
    throw problems.forbidden(`cross-site request refused (Sec-Fetch-Site: ${site})`);
  const origin = req.headers.origin;
  if (origin !== undefined) {
    const own = `${req.protocol}://${req.get('host') ?? ''}`;
    if (origin !== own) throw problems.forbidden(`cross-site request refused (Origin ${origin} is not ${own})`);
  }
  next();
}

/** The session of this request (set by requireSession). */
export function sessionOf(res: Response): ConsoleSession {
  return res.locals.consoleSession as ConsoleSession;
}

/** What a page knows of its viewer. */
export function viewerOf(res: Response): Viewer {
  const s = sessionOf(res);
  return { name: s.principal.name, apiKeyId: s.principal.apiKeyId, csrf: s.csrfSecret, may: (p) => can(s.principal, p) };
}

/** A request without a live session: pages go to the sign-in form, state changes are refused. */
export class SignInRequired extends Problem {
  constructor() {
    super(API_PROBLEMS.UNAUTHORIZED, 'sign in to the console first (the session is missing, expired, signed out or its key revoked)');
  }
}

/**
 * Resumes the cookie's session, counts the request against its key's rate limit (the API's
 * limits), puts its principal where requirePermission looks, and checks the CSRF token of a POST.
 */
export function requireSession(db: Db, limits: RateLimits, settings: SessionSettings) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const session = await resumeSession(db, cookies(req).get(SESSION_COOKIE), settings);
    if (!session) throw new SignInRequired();
    const verdict = await limits.consume(session.principal.role, session.principal.apiKeyId);
    setRateLimitHeaders(res, verdict);
    if (!verdict.allowed) throw tooManyRequests(verdict);
    if (req.method === 'POST' && !csrfMatches(session, (req.body as Record<string, unknown> | undefined)?._csrf)) {
      throw problems.forbidden('the form is missing its CSRF token or carries another session’s: reload the page and try again');
    }
    res.locals.consoleSession = session;
    res.locals.principal = session.principal;
    next();
  };
}
