/** Bearer API-key authentication and role checks. */
import type { NextFunction, Request, Response } from 'express';
import type { Db } from '../lib/db';
import { authenticate, type Principal, type Role } from '../services/access/api-keys';
import { problems } from './problem';

export function authn(db: Db) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const header = req.headers.authorization;
    if (!header) throw problems.unauthorized('send Authorization: Bearer <API key>');
    const match = /^Bearer ([\x21-\x7e]{1,512})$/.exec(header);
    if (!match) throw problems.unauthorized('the Authorization header must be "Bearer <API key>"');
    const principal = await authenticate(db, match[1]!);
    if (!principal) throw problems.unauthorized('the API key is not valid or has been revoked');
    res.locals.principal = principal;
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
