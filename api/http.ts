/** Small request helpers shared by the routers. */
import type { NextFunction, Request, Response } from 'express';
import type { z } from 'zod';
import { problems } from './problem';
import { fieldErrors } from './schemas';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Bodies must be JSON; anything else is 415 before it is read. */
export function requireJson(req: Request, _res: Response, next: NextFunction): void {
  if (!req.is('application/json')) throw problems.unsupportedMediaType(req.headers['content-type']);
  next();
}

export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  if (body === undefined) throw problems.validation('the request needs a JSON body', [{ pointer: '/', detail: 'missing body' }]);
  const result = schema.safeParse(body);
  if (!result.success) {
    const errors = fieldErrors(result.error);
    throw problems.validation(errors.map((e) => `${e.pointer}: ${e.detail}`).join('; '), errors);
  }
  return result.data;
}

/** A path parameter as a string (express types allow arrays for wildcards). */
export function pathParam(req: Request, name: string): string {
  const value = (req.params as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(value) ? value.join('/') : (value ?? '');
}

/** Path ids that are not UUIDs cannot name anything: 404, like any unknown id. */
export function uuidParam(req: Request, name: string, what: string): string {
  const value = pathParam(req, name);
  if (typeof value !== 'string' || !UUID.test(value)) throw problems.notFound(`no ${what} "${value}"`);
  return value.toLowerCase();
}
