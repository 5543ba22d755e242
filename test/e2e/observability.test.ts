/**
 * Observability of the whole system, as `npm start` runs it: all seven app processes against
 * their own database and topics, driven only over HTTP with three orders (confirmed, out of
 * stock, insufficient funds). Then:
 *
 * - each process's /metrics shows the HTTP, saga, step, outbox, Kafka, pool and Temporal SDK
 *   figures of exactly that run;
 * - the spans every process wrote (OTEL_TRACES_FILE, the test-only file exporter: child
 *   processes cannot share an in-memory exporter, and running them in-process would hide the
 *   cross-process propagation this is about) form one trace per order, from POST /orders
 *   through the workflow and its activities to the relay's publish and each consumer;
 * - the log lines of one order, filtered by its orderId, tell its story in order;
 * - no log line holds an API key, the database password or a card-like number.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { OrderView } from '../../api/schemas';
import { loadStackConfig } from '../../scripts/stack/config';
import { readSpanLines, type SpanLine } from '../../lib/tracing';
import { createApiKey } from '../../services/access/api-keys';
import {
  createPipelineEnv,
  freePort,
  killAllRoles,
  metricValue,
  spawnRole,
  type PipelineEnv,
  type RoleProcess,
} from '../support/processes';
import { eventually } from '../support/wait';

const ROLES = ['worker-orders', 'worker-payments', 'worker-inventory', 'relay', 'consumer-audit', 'consumer-notifications', 'api'] as const;

let pipeline: PipelineEnv;
const roles: Record<string, RoleProcess> = {};
let tracesFile: string;
let dbPassword: string;
let adminKey: string;
let clientKey: string;
const orders: Record<'confirmed' | 'rejected' | 'unfunded', string> = { confirmed: '', rejected: '', unfunded: '' };

beforeAll(async () => {
  pipeline = await createPipelineEnv('obs');
  // The local server trusts 127.0.0.1, so any password connects: a unique one to look for in the logs.
  dbPassword = `pw-${crypto.randomUUID()}`;
  const url = new URL(pipeline.env.DATABASE_URL!);
  url.password = dbPassword;
  tracesFile = path.join(loadStackConfig().stack.dir, 'test-logs', `traces-${Date.now()}-${crypto.randomUUID().slice(0, 6)}.jsonl`);
  adminKey = `bootstrap-${crypto.randomBytes(24).toString('base64url')}`;
  const env = {
    ...pipeline.env,
    DATABASE_URL: url.toString(),
    ADMIN_API_KEY: adminKey,
    OTEL_TRACES_FILE: tracesFile,
    // Confirmed sagas close a second after confirmation, so their workflow spans end too.
    SAGA_COMPENSATION_WINDOW_MS: '1000',
    TEMPORAL_TASK_QUEUE_PREFIX: `obs-${crypto.randomUUID().slice(0, 8)}-`,
    API_PORT: String(await freePort()),
  };
  const started = await Promise.all(ROLES.map((r) => spawnRole(r, { env })));
  for (const p of started) roles[p.role] = p;
  clientKey = (await createApiKey(pipeline.db, 'obs-client', 'client', ['obs-rich', 'obs-poor'])).key;
  await runOrders();
}, 240_000);

afterAll(async () => {
  await killAllRoles();
  await pipeline?.close();
});

async function call(method: string, urlPath: string, key: string, body?: unknown) {
  const res = await fetch(`${roles.api!.url}${urlPath}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function finalStatus(orderId: string, wanted: string) {
  return eventually(
    async () => {
      const r = await call('GET', `/orders/${orderId}`, clientKey);
      return r.body.status === wanted ? OrderView.parse(r.body) : undefined;
    },
    { timeoutMs: 60_000, what: `order ${orderId} to be ${wanted}` },
  );
}

async function runOrders(): Promise<void> {
  const sku = `OBS-${crypto.randomUUID().slice(0, 8)}`;
  expect(
    (await call('POST', '/admin/products', adminKey, { sku, name: 'Lamp', unitPriceMinor: 4_000, currency: 'EUR', addStock: 5 })).status,
  ).toBe(201);
  expect((await call('POST', '/admin/accounts', adminKey, { customerId: 'obs-rich', currency: 'EUR', depositMinor: 100_000 })).status).toBe(
    201,
  );
  expect((await call('POST', '/admin/accounts', adminKey, { customerId: 'obs-poor', currency: 'EUR', depositMinor: 1_000 })).status).toBe(
    201,
  );
  const place = async (customerId: string, quantity: number) => {
    const r = await call('POST', '/orders', clientKey, { customerId, items: [{ sku, quantity }] });
    expect(r.status).toBe(202);
    return r.body.orderId as string;
  };
  orders.confirmed = await place('obs-rich', 2);
  orders.rejected = await place('obs-rich', 50);
  orders.unfunded = await place('obs-poor', 1);
  await finalStatus(orders.confirmed, 'CONFIRMED');
  await finalStatus(orders.rejected, 'REJECTED');
  await finalStatus(orders.unfunded, 'COMPENSATED');
  expect((await call('GET', `/orders/${crypto.randomUUID()}`, clientKey)).status).toBe(404);
  // Every event published and applied by both consumers.
  const events = await pipeline.db.outboxEvent.count({ where: { aggregateId: { in: Object.values(orders) } } });
  await eventually(
    async () => {
      const [audit, notifications] = await Promise.all([roles['consumer-audit']!.metrics(), roles['consumer-notifications']!.metrics()]);
      return (
        metricValue(audit, 'consumer_events_processed_total') >= events &&
        metricValue(notifications, 'consumer_events_processed_total') >= events
      );
    },
    { timeoutMs: 60_000, what: 'both consumers to apply every event' },
  );
  // The confirmed saga's workflow closes after its compensation window.
  await eventually(async () => metricValue(await roles['worker-orders']!.metrics(), 'temporal_workflow_completed_total') >= 3, {
    timeoutMs: 30_000,
    what: 'the three workflows to complete',
  });
}

// ---------------------------------------------------------------- metrics

describe('/metrics of each process after the run', () => {
  test('api: requests by route template and status, never by raw id', async () => {
    const text = await roles.api!.metrics();
    expect(metricValue(text, 'http_requests_total', { method: 'POST', route: '/orders', status: '202' })).toBe(3);
    expect(metricValue(text, 'http_requests_total', { method: 'GET', route: '/orders/:id', status: '200' })).toBeGreaterThanOrEqual(3);
    expect(metricValue(text, 'http_requests_total', { method: 'GET', route: '/orders/:id', status: '404' })).toBe(1);
    expect(metricValue(text, 'http_requests_total', { method: 'POST', route: '/admin/accounts', status: '201' })).toBe(2);
    expect(metricValue(text, 'http_request_duration_seconds_count', { route: '/orders', status: '202' })).toBe(3);
    expect(metricValue(text, 'http_request_errors_total')).toBe(0);
    const httpLines = text.split('\n').filter((l) => l.startsWith('http_'));
    expect(httpLines.filter((l) => /[0-9a-f]{8}-[0-9a-f]{4}-/.test(l))).toEqual([]);
    expect(metricValue(text, 'db_pool_connections_max')).toBe(10);
    expect(text).toContain('db_pool_connections_in_use');
    expect(text).toContain('db_pool_waiting_requests');
  });

  test('worker-orders: sagas started and finished by status and reason, durations, compensations, NEEDS_ATTENTION', async () => {
    const text = await roles['worker-orders']!.metrics();
    expect(metricValue(text, 'saga_started_total')).toBe(3);
    expect(metricValue(text, 'saga_finished_total', { status: 'CONFIRMED', reason: 'none' })).toBe(1);
    expect(metricValue(text, 'saga_finished_total', { status: 'REJECTED', reason: 'OUT_OF_STOCK' })).toBe(1);
    expect(metricValue(text, 'saga_finished_total', { status: 'COMPENSATED', reason: 'INSUFFICIENT_FUNDS' })).toBe(1);
    expect(metricValue(text, 'saga_finished_total')).toBe(3);
    expect(metricValue(text, 'saga_duration_seconds_count')).toBe(3);
    expect(metricValue(text, 'saga_duration_seconds_sum')).toBeGreaterThan(0);
    expect(metricValue(text, 'saga_compensations_total', { reason: 'INSUFFICIENT_FUNDS' })).toBe(1);
    expect(metricValue(text, 'saga_compensations_total')).toBe(1);
    expect(text).toMatch(/^orders_needs_attention\{[^}]*\} 0$/m);
    expect(
      metricValue(text, 'saga_step_duration_seconds_count', { activity: 'transitionOrder', outcome: 'completed' }),
    ).toBeGreaterThanOrEqual(9);
    // The Temporal SDK's own worker metrics, bridged into the same /metrics.
    expect(metricValue(text, 'temporal_workflow_completed_total', { workflow_type: 'orderSaga' })).toBe(3);
    expect(metricValue(text, 'temporal_workflow_task_execution_latency_seconds_count')).toBeGreaterThan(0);
    expect(metricValue(text, 'temporal_num_pollers', { poller_type: 'workflow_task' })).toBeGreaterThan(0);
  });

  test('worker-payments and worker-inventory: step latency and failures per activity', async () => {
    const payments = await roles['worker-payments']!.metrics();
    expect(metricValue(payments, 'saga_step_duration_seconds_count', { activity: 'chargePayment' })).toBe(2);
    expect(metricValue(payments, 'saga_step_failures_total', { activity: 'chargePayment', error_type: 'INSUFFICIENT_FUNDS' })).toBe(1);
    expect(metricValue(payments, 'temporal_activity_execution_latency_seconds_count', { activity_type: 'chargePayment' })).toBe(2);
    const inventory = await roles['worker-inventory']!.metrics();
    expect(metricValue(inventory, 'saga_step_duration_seconds_count', { activity: 'reserveInventory' })).toBe(3);
    expect(metricValue(inventory, 'saga_step_failures_total', { activity: 'reserveInventory', error_type: 'OUT_OF_STOCK' })).toBe(1);
    expect(metricValue(inventory, 'saga_step_duration_seconds_count', { activity: 'commitInventory', outcome: 'completed' })).toBe(1);
    expect(metricValue(inventory, 'saga_step_duration_seconds_count', { activity: 'releaseInventory', outcome: 'completed' })).toBe(1);
  });

  test('relay: everything published, nothing pending, publish latency observed', async () => {
    const rows = await pipeline.db.outboxEvent.count();
    const text = await eventually(
      async () => {
        const t = await roles.relay!.metrics();
        return metricValue(t, 'outbox_pending_rows') === 0 ? t : undefined;
      },
      { what: 'the outbox to drain' },
    );
    expect(metricValue(text, 'outbox_events_published_total')).toBe(rows);
    expect(metricValue(text, 'outbox_oldest_pending_age_seconds')).toBe(0);
    expect(metricValue(text, 'outbox_publish_lag_seconds_count')).toBe(rows);
    expect(metricValue(text, 'outbox_publish_failures_total')).toBe(0);
  });

  test('consumers: every event processed once, no lag, no retries or dead letters', async () => {
    const rows = await pipeline.db.outboxEvent.count();
    for (const role of ['consumer-audit', 'consumer-notifications']) {
      const text = await eventually(
        async () => {
          const t = await roles[role]!.metrics();
          return metricValue(t, 'consumer_events_processed_total') === rows && metricValue(t, 'consumer_partition_lag') === 0
            ? t
            : undefined;
        },
        { what: `${role} to catch up` },
      );
      expect({
        role,
        deadLetters: metricValue(text, 'consumer_dead_letters_total'),
        retries: metricValue(text, 'consumer_retries_total'),
      }).toEqual({
        role,
        deadLetters: 0,
        retries: 0,
      });
      expect(metricValue(text, 'consumer_events_processed_total', { type: 'OrderConfirmed' })).toBe(1);
    }
  });
});

// ---------------------------------------------------------------- traces

function spansOf(traceId: string): SpanLine[] {
  return readSpanLines(tracesFile).filter((s) => s.traceId === traceId);
}

test('each order is one trace: POST /orders -> workflow -> activities -> publish -> each consumer, correctly parented', async () => {
  for (const [kind, orderId] of Object.entries(orders)) {
    const outbox = await pipeline.db.outboxEvent.findMany({ where: { aggregateId: orderId }, orderBy: { sequence: 'asc' } });
    const traceIds = new Set(outbox.map((o) => o.traceparent?.split('-')[1]));
    expect({ kind, traceIds: traceIds.size }).toEqual({ kind, traceIds: 1 });
    const traceId = [...traceIds][0]!;
    // Spans are written as they end; the consumers' last ones may still be on their way.
    const spans = await eventually(
      async () => {
        const s = spansOf(traceId);
        return s.filter((x) => x.name.startsWith('process ')).length >= outbox.length * 2 &&
          s.some((x) => x.name === 'RunWorkflow:orderSaga')
          ? s
          : undefined;
      },
      { timeoutMs: 20_000, what: `the spans of order ${orderId}` },
    );
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const parentOf = (s: SpanLine) => (s.parentSpanId ? byId.get(s.parentSpanId) : undefined);
    const ancestors = (s: SpanLine): SpanLine[] => {
      const out: SpanLine[] = [];
      for (let p = parentOf(s); p; p = parentOf(p)) out.push(p);
      return out;
    };

    // One root: the API's server span of POST /orders; every other span hangs below it.
    const roots = spans.filter((s) => !s.parentSpanId);
    expect(roots.map((r) => [r.service, r.name, r.kind])).toEqual([['api', 'POST /orders', 1]]);
    const orphans = spans.filter((s) => s.parentSpanId && !byId.has(s.parentSpanId)).map((s) => s.name);
    expect(orphans).toEqual([]);

    const one = (name: string) => {
      const found = spans.filter((s) => s.name === name);
      expect({ name, count: found.length }).toEqual({ name, count: 1 });
      return found[0]!;
    };
    const start = one('StartWorkflow:orderSaga');
    expect(start.service).toBe('api');
    const run = one('RunWorkflow:orderSaga');
    expect(run.service).toBe('worker-orders');
    expect(parentOf(run)).toBe(start);
    expect(run.attributes.temporalWorkflowId).toBe(`order-${orderId}`);

    const expected = {
      confirmed: ['reserveInventory', 'chargePayment', 'commitInventory'],
      rejected: ['reserveInventory'],
      unfunded: ['reserveInventory', 'chargePayment', 'releaseInventory'],
    }[kind as keyof typeof orders];
    for (const activity of [...expected, 'transitionOrder']) {
      const runs = spans.filter((s) => s.name === `RunActivity:${activity}`);
      expect({ activity, runs: runs.length > 0 }).toEqual({ activity, runs: true });
      for (const r of runs) {
        expect({ activity, parent: parentOf(r)?.name, grandparent: parentOf(parentOf(r)!)?.spanId }).toEqual({
          activity,
          parent: `StartActivity:${activity}`,
          grandparent: run.spanId,
        });
      }
    }
    expect(spans.find((s) => s.name === 'RunActivity:chargePayment')?.service ?? 'worker-payments').toBe('worker-payments');

    for (const event of outbox) {
      const publish = spans.filter((s) => s.name.startsWith('publish ') && s.attributes['messaging.message.id'] === event.eventId);
      expect({ type: event.type, publishes: publish.length }).toEqual({ type: event.type, publishes: 1 });
      // The publish span's parent is the change that wrote the row.
      expect(publish[0]!.parentSpanId).toBe(event.traceparent!.split('-')[2]);
      expect(publish[0]!.service).toBe('relay');
      const processed = spans.filter((s) => s.name.startsWith('process ') && s.attributes['messaging.message.id'] === event.eventId);
      expect({ type: event.type, consumers: processed.map((p) => p.service).sort() }).toEqual({
        type: event.type,
        consumers: ['consumer-audit', 'consumer-notifications'],
      });
      for (const p of processed) expect(p.parentSpanId).toBe(publish[0]!.spanId);
    }
    // Everything reaches the root.
    for (const s of spans.filter((x) => x.parentSpanId)) expect(ancestors(s).at(-1)?.name).toBe('POST /orders');
  }
});

// ---------------------------------------------------------------- logs

interface LogLine {
  time: string;
  at?: string;
  level: string;
  service: string;
  msg: string;
  [k: string]: unknown;
}

function logLines(): LogLine[] {
  return Object.values(roles).flatMap((r) =>
    fs
      .readFileSync(r.logFile, 'utf8')
      .split('\n')
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as LogLine];
        } catch {
          return [];
        }
      }),
  );
}

test("one order's log lines, filtered by orderId, tell its story in order", () => {
  const orderId = orders.confirmed;
  const story = logLines()
    .filter((l) => l.orderId === orderId)
    .sort((a, b) => (a.at ?? a.time).localeCompare(b.at ?? b.time));
  type Step = [string, (l: LogLine) => boolean];
  const saga: Step[] = [
    ['accepted', (l) => l.msg === 'order accepted' && l.service === 'api'],
    ['reserve', (l) => l.msg === 'activity completed' && l.activity === 'reserveInventory'],
    ['charge', (l) => l.msg === 'activity completed' && l.activity === 'chargePayment'],
    ['commit', (l) => l.msg === 'activity completed' && l.activity === 'commitInventory'],
  ];
  // After the CONFIRMED transition commits, the orders worker logs it and the relay publishes
  // its event at the same time: two branches, each in order, neither before the other.
  // (CI once saw the relay's line a few ms before the worker's, when both were one sequence.)
  const logged: Step = ['confirmed', (l) => l.msg === 'order status changed' && l.to === 'CONFIRMED'];
  const streamed: Step[] = [
    ['relay publish', (l) => l.msg === 'event published' && l.type === 'OrderConfirmed'],
    ['consumer applied', (l) => l.msg === 'event applied' && l.type === 'OrderConfirmed'],
  ];
  const inOrder = (steps: Step[]): string[] => {
    let i = 0;
    const seen: string[] = [];
    for (const line of story) {
      if (i < steps.length && steps[i]![1](line)) {
        seen.push(steps[i]![0]);
        i += 1;
      }
    }
    return seen;
  };
  for (const branch of [
    [...saga, logged],
    [...saga, ...streamed],
  ])
    expect(inOrder(branch)).toEqual(branch.map(([name]) => name));

  // Every line about the order says which workflow and trace; event lines say which event.
  const accepted = story.find((l) => l.msg === 'order accepted')!;
  expect(accepted).toMatchObject({
    workflowId: `order-${orderId}`,
    requestId: expect.any(String),
    traceId: expect.stringMatching(/^[0-9a-f]{32}$/),
  });
  for (const l of story.filter((x) => x.service !== 'api')) {
    expect({ msg: l.msg, workflowId: l.workflowId }).toEqual({ msg: l.msg, workflowId: `order-${orderId}` });
  }
  const traceId = accepted.traceId;
  for (const l of story.filter((x) => x.msg === 'activity completed' || x.msg === 'event published' || x.msg === 'event applied')) {
    expect({ msg: l.msg, traceId: l.traceId }).toEqual({ msg: l.msg, traceId });
  }
  for (const l of story.filter((x) => x.msg === 'event published' || x.msg === 'event applied'))
    expect(l.eventId).toEqual(expect.any(String));
  for (const l of story.filter((x) => x.msg.startsWith('activity '))) expect(l.attempt).toBe(1);
  // The workflow logs through the worker's logger, with the order id.
  expect(story.some((l) => l.msg === 'saga started' && l.service === 'worker-orders')).toBe(true);
  // The access log carries the request id and route of each request about the order.
  expect(
    logLines().some((l) => l.msg === 'request' && l.route === '/orders/:id' && l.orderId === orderId && typeof l.requestId === 'string'),
  ).toBe(true);
});

test('no log line holds an API key, the database password or a card-like number', () => {
  const text = Object.values(roles)
    .map((r) => fs.readFileSync(r.logFile, 'utf8'))
    .join('\n');
  expect(text.length).toBeGreaterThan(1000);
  expect(text.includes(clientKey)).toBe(false);
  expect(text.includes(adminKey)).toBe(false);
  expect(text.includes(dbPassword)).toBe(false);
  // Trace and span ids are hex, and may happen to be all digits: not numbers of any kind.
  const withoutIds = text.replace(/"(traceId|spanId)":"[0-9a-f]+"/g, '"$1":""');
  expect(withoutIds.match(/(?<![0-9A-Za-z])[0-9]{13,19}(?![0-9A-Za-z])/g)).toBeNull();
});
