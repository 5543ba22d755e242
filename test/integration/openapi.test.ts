/**
 * /openapi.json stays true. Express routes and the document come from one declaration per
 * operation (api/operation.ts); here every documented operation is really served, the
 * served document lists each, and real responses parse with the documented schemas.
 */
import { OPERATIONS } from '../../api/app';
import { startPgApiEnv, type ApiEnv } from '../support/api-env';

let env: ApiEnv;
beforeAll(async () => {
  env = await startPgApiEnv();
});
afterAll(async () => {
  await env?.stop();
});

test('every documented operation is served: express answers it, not the no-route fallback', async () => {
  const ids: Record<string, string> = { id: '00000000-0000-4000-8000-000000000000', customerId: 'nobody', sku: 'nothing' };
  for (const op of OPERATIONS) {
    const url = op.path.replace(/:([A-Za-z]+)/g, (_m, name: string) => ids[name] ?? 'x');
    const reply = await env.call(op.method.toUpperCase(), url, { key: env.keys.admin.key, body: op.request ? {} : undefined });
    expect({ op: `${op.method} ${op.path}`, fallback: /^no route/.test(String(reply.body?.detail ?? '')) }).toEqual({
      op: `${op.method} ${op.path}`,
      fallback: false,
    });
  }
  // The fallback itself exists, so the check above can fail.
  expect((await env.call('GET', '/no/such/route', { key: null })).body.detail).toMatch(/^no route/);
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
  expect(order.status).toBe(404);
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
