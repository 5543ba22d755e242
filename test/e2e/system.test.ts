/**
 * The whole system as `npm start` runs it: all seven app processes against their own
 * database and topics, driven only over HTTP. An order goes from POST to CONFIRMED, its
 * timeline (built from Kafka by the audit consumer) matches the outbox exactly, and a
 * poison message is listed and replayed through the dead-letter endpoints.
 */
import crypto from 'node:crypto';
import { DeadLetterPage, OrderView, TimelineView } from '../../api/schemas';
import { createApiKey } from '../../services/access/api-keys';
import { toMessage } from '../../services/platform/messaging/envelope';
import {
  createPipelineEnv,
  freePort,
  killAllRoles,
  metricValue,
  spawnRole,
  type PipelineEnv,
  type RoleProcess,
  callRole,
} from '../support/processes';
import { eventually } from '../support/wait';

let pipeline: PipelineEnv;
let api: RoleProcess;
const roles: Record<string, RoleProcess> = {};
let admin: string;
let client: string;

beforeAll(async () => {
  pipeline = await createPipelineEnv('system');
  const env = {
    ...pipeline.env,
    TEMPORAL_TASK_QUEUE_PREFIX: `sys-${crypto.randomUUID().slice(0, 8)}-`,
    API_PORT: String(await freePort()),
  };
  const started = await Promise.all(
    ['worker-orders', 'worker-payments', 'worker-inventory', 'relay', 'consumer-audit', 'consumer-notifications', 'api'].map((r) =>
      spawnRole(r, { env }),
    ),
  );
  for (const p of started) roles[p.role] = p;
  api = roles.api!;
  admin = (await createApiKey(pipeline.db, 'sys-admin', 'admin')).key;
  client = (await createApiKey(pipeline.db, 'sys-client', 'client', ['dana'])).key;
});
afterAll(async () => {
  await killAllRoles();
  await pipeline?.close();
});

const call = (method: string, path: string, key: string, body?: unknown) => callRole(api, method, path, key, body);

test('an order placed over HTTP is CONFIRMED, and its Kafka timeline equals its outbox', async () => {
  const sku = `SYS-${crypto.randomUUID().slice(0, 8)}`;
  expect(
    (await call('POST', '/admin/products', admin, { sku, name: 'Desk', unitPriceMinor: 12_000, currency: 'EUR', addStock: 3 })).status,
  ).toBe(201);
  expect((await call('POST', '/admin/accounts', admin, { customerId: 'dana', currency: 'EUR', depositMinor: 50_000 })).status).toBe(201);
  expect((await call('GET', '/readyz', client)).body).toEqual({ status: 'ok', checks: { database: 'ok', temporal: 'ok', kafka: 'ok' } });

  const placed = await call('POST', '/orders', client, { customerId: 'dana', items: [{ sku, quantity: 2 }] });
  expect(placed.status).toBe(202);
  const orderId = placed.body.orderId as string;
  const view = await eventually(
    async () => {
      const r = await call('GET', `/orders/${orderId}`, client);
      return r.body.status === 'CONFIRMED' ? OrderView.parse(r.body) : undefined;
    },
    { timeoutMs: 60_000, what: 'the order to be CONFIRMED' },
  );
  expect(view.totalMinor).toBe(24_000);
  expect((await call('GET', '/accounts/dana', client)).body.balanceMinor).toBe(26_000);

  const outbox = await pipeline.db.outboxEvent.findMany({ where: { aggregateId: orderId }, orderBy: { sequence: 'asc' } });
  const timeline = await eventually(
    async () => {
      const t = TimelineView.parse((await call('GET', `/orders/${orderId}/timeline`, client)).body);
      return t.entries.length === outbox.length ? t : undefined;
    },
    { timeoutMs: 30_000, what: 'the timeline to catch up with the outbox' },
  );
  expect(timeline.entries.map((e) => [e.eventId, e.sequence, e.type])).toEqual(outbox.map((o) => [o.eventId, o.sequence, o.type]));
  expect(timeline.anomalies).toEqual([]);
  expect(outbox.every((o) => o.publishedAt !== null)).toBe(true);

  // The audit consumer counted each of this order's event types it applied.
  const audit = await roles['consumer-audit']!.metrics();
  const group = `${pipeline.cfg.consumers.groupPrefix}audit`;
  for (const type of new Set(outbox.map((o) => o.type))) {
    expect({ type, processed: metricValue(audit, 'consumer_events_processed_total', { group, type }) >= 1 }).toEqual({
      type,
      processed: true,
    });
  }
});

test('a poison message is listed under /admin/dlq with its error, and replay sends it back once per call', async () => {
  const orderId = crypto.randomUUID();
  const producer = pipeline.kafka.producer({ idempotent: true });
  await producer.connect();
  // A schema version no consumer knows: both consumers must dead-letter it.
  const row = {
    id: '0',
    eventId: crypto.randomUUID(),
    type: 'OrderCreated',
    aggregateType: 'Order',
    aggregateId: orderId,
    sequence: 1,
    schemaVersion: 99,
    traceparent: null,
    payload: { orderId },
    occurredAt: new Date(),
  };
  await producer.send({ topic: pipeline.cfg.kafka.eventsTopic, acks: -1, messages: [toMessage(row)] });
  await producer.disconnect();

  const page = await eventually(
    async () => {
      const p = DeadLetterPage.parse((await call('GET', '/admin/dlq?limit=50', admin)).body);
      const mine = p.items.filter((d) => d.eventId === row.eventId);
      return mine.length >= 1 ? mine : undefined;
    },
    { timeoutMs: 60_000, what: 'the poison message to be dead-lettered' },
  );
  const dead = page[0]!;
  expect(dead).toMatchObject({ sourceTopic: pipeline.cfg.kafka.eventsTopic, eventType: 'OrderCreated', replayCount: 0 });
  expect(dead.errorMessage.length).toBeGreaterThan(5);

  expect((await call('GET', '/admin/dlq', client)).status).toBe(403);
  expect((await call('POST', '/admin/dlq/999999999/replay', admin)).status).toBe(404);
  expect((await call('GET', '/admin/dlq?limit=0', admin)).status).toBe(400);
  const replayed = await call('POST', `/admin/dlq/${dead.id}/replay`, admin);
  expect(replayed.status).toBe(202);
  expect(replayed.body.replayCount).toBe(1);
  expect((await call('GET', `/admin/dlq/${dead.id}`, admin)).body.replayCount).toBe(1);
});
