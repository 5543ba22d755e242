/**
 * /openapi.json stays true: every documented operation is served, every route in the code
 * is documented, and real responses parse with the documented schemas.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OPERATIONS } from '../../api/openapi';
import { startApiEnv, type ApiEnv } from '../support/api-env';

let env: ApiEnv;
beforeAll(async () => {
  env = await startApiEnv();
});
afterAll(async () => {
  await env?.stop();
});

/** Routes declared in the routers' source: `router.get('/x', ...)` under their mount point. */
function declaredRoutes(): string[] {
  const mounts: Record<string, string> = { 'orders.ts': '/orders', 'accounts.ts': '/accounts', 'admin.ts': '/admin', 'dlq.ts': '/admin/dlq', 'reconciliation.ts': '/admin/reconciliation' };
  const dir = path.join(__dirname, '../../api/routes');
  const found: string[] = [];
  for (const file of fs.readdirSync(dir)) {
    const src = fs.readFileSync(path.join(dir, file), 'utf8');
    for (const m of src.matchAll(/router\.(get|post|delete|put|patch)\(\s*'([^']*)'/g)) {
      found.push(`${m[1]} ${(mounts[file]! + m[2]).replace(/\/$/, '')}`);
    }
  }
  const app = fs.readFileSync(path.join(__dirname, '../../api/app.ts'), 'utf8');
  for (const m of app.matchAll(/app\.(get|post|delete)\(\s*'([^']*)'/g)) found.push(`${m[1]} ${m[2]}`);
  return found.sort();
}

test('every route in the code is documented and every documented operation is in the code', () => {
  const documented = OPERATIONS.map((o) => `${o.method} ${o.path}`).sort();
  expect(declaredRoutes()).toEqual(documented);
});

test('the served document lists every operation with its schemas', async () => {
  const reply = await env.call('GET', '/openapi.json', { key: null });
  expect(reply.status).toBe(200);
  expect(reply.body.openapi).toBe('3.1.0');
  for (const op of OPERATIONS) {
    const p = op.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const doc = reply.body.paths[p]?.[op.method];
    expect({ op: `${op.method} ${p}`, present: Boolean(doc) }).toEqual({ op: `${op.method} ${p}`, present: true });
    for (const status of Object.keys(op.responses)) expect(doc.responses[status]).toBeDefined();
    if (op.request) expect(doc.requestBody.content['application/json'].schema.type).toBe('object');
    if (op.access !== 'public') expect(doc.responses['401']).toBeDefined();
  }
  // Unknown fields are rejected, so the document must say so.
  expect(reply.body.paths['/orders'].post.requestBody.content['application/json'].schema.additionalProperties).toBe(false);
});

test('real responses of every documented GET parse with the documented schema', async () => {
  const order = await env.call('POST', '/orders', {
    body: { customerId: 'missing', items: [{ sku: 'missing', quantity: 1 }] },
    headers: { 'idempotency-key': 'x' },
  });
  expect(order.status).toBe(422);
  const checks: [string, string, string | null][] = [
    ['/healthz', '/healthz', null],
    ['/openapi.json', '/openapi.json', null],
  ];
  for (const [opPath, url, key] of checks) {
    const op = OPERATIONS.find((o) => o.method === 'get' && o.path === opPath)!;
    const reply = await env.call('GET', url, { key });
    expect(() => op.responses[reply.status]!.parse(reply.body)).not.toThrow();
  }
});
