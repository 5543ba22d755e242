/** Liveness, readiness and the API's own description. Public. */
import { z } from 'zod';
import { authenticate } from '../../services/access/api-keys';
import { bearerKey } from '../auth';
import type { ApiDeps } from '../deps';
import { buildOpenApi } from '../openapi';
import { operation, type Operation } from '../operation';
import { API_PROBLEMS, problems } from '../problem';
import { pathParam } from '../http';
import { problemBySlug } from '../problem-catalog';
import { Health, ProblemDoc } from '../schemas';

const READY_TIMEOUT_MS = 2000;

async function check(fn: () => Promise<unknown>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      }),
    ]);
    return 'ok';
  } catch (err) {
    return `failing: ${(err as Error).message}`;
  } finally {
    clearTimeout(timer);
  }
}

async function isAdmin(deps: ApiDeps, header: string | undefined): Promise<boolean> {
  const key = bearerKey(header);
  if (!key) return false;
  return (await authenticate(deps.db, key).catch(() => null))?.role === 'admin';
}

/** The system operations; /openapi.json describes `all` (every operation the app serves). */
export function systemOperations(all: () => readonly Operation[]): Operation[] {
  let document: Record<string, unknown> | undefined;
  return [
    operation({
      method: 'get',
      path: '/healthz',
      summary: 'Process is alive',
      access: 'public',
      responses: { 200: Health },
      handle: async () => ({ status: 200, body: { status: 'ok' } }),
    }),
    operation({
      method: 'get',
      path: '/readyz',
      summary: 'Database, Temporal and Kafka are reachable',
      access: 'public',
      responses: { 200: Health },
      problems: [API_PROBLEMS.UNAVAILABLE],
      // Anyone sees up or down per component; only an admin key sees why (hosts, ports, errors).
      async handle({ req, deps }) {
        const names = Object.keys(deps.readiness);
        const results = await Promise.all(names.map((n) => check(deps.readiness[n]!)));
        const detailed = await isAdmin(deps, req.headers.authorization);
        const checks = Object.fromEntries(names.map((n, i) => [n, detailed || results[i] === 'ok' ? results[i]! : 'down']));
        if (results.some((r) => r !== 'ok')) throw problems.unavailable('a dependency is not reachable', { checks });
        return { status: 200, body: { status: 'ok', checks } };
      },
    }),
    operation({
      method: 'get',
      path: '/problems/:slug',
      summary: "A problem type's documentation: what `type` of a problem answer names (code, status, when, what to do)",
      access: 'public',
      responses: { 200: ProblemDoc },
      async handle({ req }) {
        const found = problemBySlug(pathParam(req, 'slug'));
        if (!found) throw problems.notFound(`no problem type "${pathParam(req, 'slug')}"`);
        const { code, status, title, when, action, retryable } = found.kind;
        return { status: 200, body: { type: found.type, code, status, title, when, action, retryable } };
      },
    }),
    operation({
      method: 'get',
      path: '/openapi.json',
      summary: 'This document',
      access: 'public',
      responses: { 200: z.object({ openapi: z.string() }).loose() },
      async handle() {
        document ??= buildOpenApi(all());
        return { status: 200, body: document };
      },
    }),
  ];
}
