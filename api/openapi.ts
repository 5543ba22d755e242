/**
 * The OpenAPI 3.1 document, generated from the same operation declarations that express
 * serves (api/operation.ts), with the zod schemas the code uses.
 */
import { z } from 'zod';
import type { Operation } from './operation';
import * as s from './schemas';

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') => z.toJSONSchema(schema, { io, unrepresentable: 'any' });

function problemResponses(op: Operation): Record<string, unknown> {
  const statuses = new Set<number>();
  statuses.add(429);
  if (op.access !== 'public') statuses.add(401);
  if (op.access === 'admin') statuses.add(403);
  if (op.path.includes(':')) statuses.add(404);
  if (op.request) [400, 413, 415].forEach((x) => statuses.add(x));
  if (op.idempotencyKey) [409, 422].forEach((x) => statuses.add(x));
  if (op.method === 'post' && op.path.includes(':')) statuses.add(409);
  (op.problems ?? []).forEach((x) => statuses.add(x));
  return Object.fromEntries(
    [...statuses]
      .sort()
      .map((st) => [
        st,
        { description: 'Problem', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } },
      ]),
  );
}

export function buildOpenApi(operations: readonly Operation[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const path = op.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const params = [...op.path.matchAll(/:([A-Za-z]+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    if (op.idempotencyKey) {
      params.push({
        name: 'Idempotency-Key',
        in: 'header',
        required: true,
        schema: { type: 'string', minLength: 1, maxLength: 255 } as never,
      });
    }
    const responses: Record<string, unknown> = {};
    for (const [status, schema] of Object.entries(op.responses)) {
      responses[status] = schema
        ? { description: 'OK', content: { 'application/json': { schema: jsonSchema(schema, 'output') } } }
        : { description: 'No content' };
    }
    (paths[path] ??= {})[op.method] = {
      summary: op.summary,
      security: op.access === 'public' ? [] : [{ apiKey: [] }],
      parameters: params,
      ...(op.request
        ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(op.request, 'input') } } } }
        : {}),
      responses: { ...responses, ...problemResponses(op) },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'order-saga', version: '0.1.0', description: 'Orders driven by a Temporal saga through inventory and payment.' },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'API key: Authorization: Bearer osk_...' } },
      schemas: { Problem: jsonSchema(s.ProblemBody, 'output') },
    },
    paths,
  };
}
