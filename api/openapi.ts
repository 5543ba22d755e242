/**
 * The OpenAPI 3.1 document, generated from one table of operations whose request and
 * response schemas are the zod schemas the code uses. A test checks the table against the
 * routes express really serves and parses real responses with the documented schemas.
 */
import { z } from 'zod';
import * as s from './schemas';

export type Access = 'public' | 'client' | 'admin';

export interface Operation {
  method: 'get' | 'post' | 'delete';
  /** Express-style path (`:id`); rendered as `{id}` in the document. */
  path: string;
  summary: string;
  access: Access;
  idempotencyKey?: boolean;
  request?: z.ZodType;
  /** Status -> body schema (null: no body). Problem responses are added by access and method. */
  responses: Record<number, z.ZodType | null>;
}

export const OPERATIONS: Operation[] = [
  { method: 'get', path: '/healthz', summary: 'Process is alive', access: 'public', responses: { 200: s.Health } },
  { method: 'get', path: '/readyz', summary: 'Database, Temporal and Kafka are reachable', access: 'public', responses: { 200: s.Health } },
  { method: 'get', path: '/openapi.json', summary: 'This document', access: 'public', responses: { 200: z.object({ openapi: z.string() }).loose() } },
  {
    method: 'post',
    path: '/orders',
    summary: 'Place an order (starts its saga)',
    access: 'client',
    idempotencyKey: true,
    request: s.PlaceOrderBody,
    responses: { 202: s.OrderAccepted },
  },
  { method: 'get', path: '/orders/:id', summary: 'An order, its lines and saga steps', access: 'client', responses: { 200: s.OrderView } },
  {
    method: 'post',
    path: '/orders/:id/cancel',
    summary: 'Ask the saga to cancel the order (before confirmation)',
    access: 'client',
    request: s.ReasonBody,
    responses: { 202: s.CancelAccepted },
  },
  { method: 'get', path: '/accounts/:customerId', summary: 'A customer balance and ledger entries', access: 'client', responses: { 200: s.AccountView } },
  {
    method: 'post',
    path: '/admin/products',
    summary: 'Create a product, or update its name/price and add stock',
    access: 'admin',
    idempotencyKey: true,
    request: s.ProductBody,
    responses: { 200: s.ProductView, 201: s.ProductView },
  },
  { method: 'get', path: '/admin/products/:sku', summary: 'A product and its stock', access: 'admin', responses: { 200: s.ProductView } },
  {
    method: 'post',
    path: '/admin/accounts',
    summary: 'Open a customer account, or deposit into it (a ledger transaction)',
    access: 'admin',
    idempotencyKey: true,
    request: s.AccountBody,
    responses: { 200: s.AccountView, 201: s.AccountView },
  },
  { method: 'get', path: '/admin/accounts/:customerId', summary: 'Any customer account', access: 'admin', responses: { 200: s.AccountView } },
  {
    method: 'post',
    path: '/admin/orders/:id/compensate',
    summary: 'Manual compensation: refund and restock a CONFIRMED order, or retry a NEEDS_ATTENTION one',
    access: 'admin',
    request: s.ReasonBody,
    responses: { 202: s.CancelAccepted },
  },
  {
    method: 'post',
    path: '/admin/api-keys',
    summary: 'Create an API key (the secret is shown once)',
    access: 'admin',
    idempotencyKey: true,
    request: s.ApiKeyBody,
    responses: { 201: s.ApiKeyCreated },
  },
  { method: 'delete', path: '/admin/api-keys/:id', summary: 'Revoke an API key', access: 'admin', responses: { 204: null } },
  {
    method: 'get',
    path: '/orders/:id/timeline',
    summary: "The order's events as the audit consumer saw them on Kafka, and any sequence anomalies",
    access: 'client',
    responses: { 200: s.TimelineView },
  },
  { method: 'get', path: '/admin/dlq', summary: 'Dead letters, newest first (?limit=&offset=)', access: 'admin', responses: { 200: s.DeadLetterPage } },
  { method: 'get', path: '/admin/dlq/:id', summary: 'One dead letter with its error details', access: 'admin', responses: { 200: s.DeadLetter } },
  {
    method: 'post',
    path: '/admin/dlq/:id/replay',
    summary: 'Send a dead letter back to its source topic (consumers apply it at most once)',
    access: 'admin',
    responses: { 202: s.DeadLetter },
  },
  {
    method: 'post',
    path: '/admin/reconciliation/runs',
    summary: 'Request a reconciliation run (full or incremental, optionally limited to some orders); the active reconciler runs it',
    access: 'admin',
    idempotencyKey: true,
    request: s.ReconciliationRunBody,
    responses: { 202: s.ReconciliationRunView },
  },
  { method: 'get', path: '/admin/reconciliation/runs/:id', summary: 'A reconciliation run: status, counts per check, duration', access: 'admin', responses: { 200: s.ReconciliationRunView } },
  {
    method: 'get',
    path: '/admin/reconciliation/findings',
    summary: 'Reconciliation findings, newest first (?status=open|suspect|resolved|all&check=&limit=&offset=)',
    access: 'admin',
    responses: { 200: s.ReconciliationFindingPage },
  },
];

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') => z.toJSONSchema(schema, { io, unrepresentable: 'any' });

function problemResponses(op: Operation): Record<string, unknown> {
  const statuses = new Set<number>();
  if (op.access !== 'public') statuses.add(401);
  if (op.access === 'admin') statuses.add(403);
  if (op.path.includes(':')) statuses.add(404);
  if (op.request) [400, 413, 415].forEach((x) => statuses.add(x));
  if (op.idempotencyKey) [409, 422].forEach((x) => statuses.add(x));
  if (op.method === 'post' && op.path.includes(':')) statuses.add(409);
  if (op.path === '/orders') statuses.add(422);
  if (op.path === '/readyz') statuses.add(503);
  return Object.fromEntries(
    [...statuses].sort().map((st) => [st, { description: 'Problem', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } }]),
  );
}

export function buildOpenApi(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const path = op.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const params = [...op.path.matchAll(/:([A-Za-z]+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    if (op.idempotencyKey) {
      params.push({ name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', minLength: 1, maxLength: 255 } as never });
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
      ...(op.request ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(op.request, 'input') } } } } : {}),
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
