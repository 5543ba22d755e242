/**
 * The OpenAPI 3.1 document, generated from the same operation declarations that express
 * serves (api/operation.ts), with the zod schemas the code uses.
 */
import { z } from 'zod';
import type { ErrorKind } from '../lib/errors';
import { problemsOf, type Operation } from './operation';
import * as s from './schemas';

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') => z.toJSONSchema(schema, { io, unrepresentable: 'any' });

/** One response per problem status, its `code` limited to the problems the operation declares for it. */
function problemResponses(op: Operation): Record<string, unknown> {
  const byStatus = new Map<number, ErrorKind[]>();
  for (const kind of problemsOf(op)) byStatus.set(kind.status, [...(byStatus.get(kind.status) ?? []), kind]);
  return Object.fromEntries(
    [...byStatus.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, kinds]) => {
        const codes = kinds.map((k) => k.code).sort();
        const schema = {
          allOf: [{ $ref: '#/components/schemas/Problem' }, { type: 'object', properties: { code: { type: 'string', enum: codes } } }],
        };
        const description = kinds.map((k) => `${k.code}: ${k.title}`).join('; ');
        const headers = kinds.some((k) => k.retryable) ? { 'Retry-After': { schema: { type: 'integer' } } } : undefined;
        return [status, { description, ...(headers ? { headers } : {}), content: { 'application/problem+json': { schema } } }];
      }),
  );
}

function responseHeaders(op: Operation, status: number): Record<string, unknown> | undefined {
  const declared = op.headers?.[status];
  if (!declared) return undefined;
  return Object.fromEntries(Object.entries(declared).map(([name, description]) => [name, { description, schema: { type: 'string' } }]));
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
      const headers = responseHeaders(op, Number(status));
      responses[status] = {
        description: schema ? 'OK' : 'No content',
        ...(headers ? { headers } : {}),
        ...(schema ? { content: { 'application/json': { schema: jsonSchema(schema, 'output') } } } : {}),
      };
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
