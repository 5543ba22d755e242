/**
 * Scale-out as `npm start -- --scale worker-payments=2,relay=2,consumer-audit=2` runs it:
 * two instances of those roles against one database, one topic, one consumer group and one
 * task queue. Orders placed over HTTP are all CONFIRMED; each relay published some of their
 * events, each audit consumer applied some, each payment worker charged some, and every
 * order's timeline still equals its outbox, in sequence order.
 */
import crypto from 'node:crypto';
import { OrderView, TimelineView } from '../../api/schemas';
import { createApiKey } from '../../services/access/api-keys';
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

const SCALED = ['worker-payments', 'relay', 'consumer-audit'] as const;
type Scaled = (typeof SCALED)[number];

let pipeline: PipelineEnv;
let api: RoleProcess;
const pairs = {} as Record<Scaled, RoleProcess[]>;
let admin: string;
let client: string;

beforeAll(async () => {
  pipeline = await createPipelineEnv('scale');
  const env = {
    ...pipeline.env,
    TEMPORAL_TASK_QUEUE_PREFIX: `scale-${crypto.randomUUID().slice(0, 8)}-`,
    API_PORT: String(await freePort()),
  };
  // spawnRole gives each process a free metrics port; the Kafka client id tells siblings apart.
  // Nine processes start at once on a shared machine: a start deadline above spawnRole's 60 s.
  const readyTimeoutMs = 110_000;
  const scaled = SCALED.flatMap((role) =>
    [0, 1].map((i) => spawnRole(role, { env: { ...env, KAFKA_CLIENT_ID: `scale-${i}` }, readyTimeoutMs })),
  );
  const single = ['worker-orders', 'worker-inventory', 'api'].map((role) => spawnRole(role, { env, readyTimeoutMs }));
  const started = await Promise.all([...scaled, ...single]);
  for (const role of SCALED) pairs[role] = started.filter((p) => p.role === role);
  api = started.find((p) => p.role === 'api')!;
  admin = (await createApiKey(pipeline.db, 'scale-admin', 'admin')).key;
  client = (await createApiKey(pipeline.db, 'scale-client', 'client', ['erin'])).key;
});
afterAll(async () => {
  await killAllRoles();
  await pipeline?.close();
});

const call = (method: string, path: string, key: string, body?: unknown) => callRole(api, method, path, key, body);

/** Each instance's count of `metric` (with `labels`). */
async function perInstance(role: Scaled, metric: string, labels: Record<string, string> = {}): Promise<number[]> {
  return Promise.all(pairs[role].map(async (p) => metricValue(await p.metrics(), metric, labels)));
}

async function placeConfirmedOrders(sku: string, count: number): Promise<string[]> {
  const ids = await Promise.all(
    Array.from({ length: count }, async () => {
      const placed = await call('POST', '/orders', client, { customerId: 'erin', items: [{ sku, quantity: 1 }] });
      expect(placed.status).toBe(202);
      return placed.body.orderId as string;
    }),
  );
  for (const id of ids) {
    await eventually(
      async () => {
        const r = await call('GET', `/orders/${id}`, client);
        return r.body.status === 'CONFIRMED' && OrderView.parse(r.body);
      },
      { timeoutMs: 30_000, what: `order ${id} to be CONFIRMED` },
    );
  }
  return ids;
}

test('when roles run twice, then both instances of each share the work and every order keeps its event order', async () => {
  // The two relays split the outbox shards between them before any order exists.
  await eventually(async () => (await perInstance('relay', 'relay_shards_owned')).every((n) => n > 0), {
    timeoutMs: 20_000,
    what: 'both relays to own outbox shards',
  });
  const sku = `SCALE-${crypto.randomUUID().slice(0, 8)}`;
  expect(
    (await call('POST', '/admin/products', admin, { sku, name: 'Lamp', unitPriceMinor: 1_000, currency: 'EUR', addStock: 500 })).status,
  ).toBe(201);
  expect((await call('POST', '/admin/accounts', admin, { customerId: 'erin', currency: 'EUR', depositMinor: 500_000 })).status).toBe(201);

  // Rounds of orders until every instance did some of the work (the group may still be
  // rebalancing after the second consumer joined): a deadline, not a fixed number of orders.
  const group = `${pipeline.cfg.consumers.groupPrefix}audit`;
  const orders: string[] = [];
  const shares = await eventually(
    async () => {
      orders.push(...(await placeConfirmedOrders(sku, 8)));
      const s = {
        published: await perInstance('relay', 'outbox_events_published_total'),
        applied: await perInstance('consumer-audit', 'consumer_events_processed_total', { group }),
        charged: await perInstance('worker-payments', 'saga_step_duration_seconds_count', {
          activity: 'chargePayment',
          outcome: 'completed',
        }),
      };
      return Object.values(s).every((counts) => counts.every((n) => n > 0)) && s;
    },
    { timeoutMs: 45_000, intervalMs: 0, what: 'every instance to do some of the work' },
  );
  console.log(`scale-out: ${orders.length} orders; per instance ${JSON.stringify(shares)}`);
  expect(shares.charged.reduce((a, b) => a + b, 0)).toBe(orders.length);

  // Per-order order: each timeline (built by the two consumers) equals the outbox, in sequence.
  for (const orderId of orders) {
    const outbox = await pipeline.db.outboxEvent.findMany({ where: { aggregateId: orderId }, orderBy: { sequence: 'asc' } });
    const timeline = await eventually(
      async () => {
        const t = TimelineView.parse((await call('GET', `/orders/${orderId}/timeline`, client)).body);
        return t.entries.length === outbox.length && t;
      },
      { timeoutMs: 20_000, what: `the timeline of ${orderId} to catch up with its outbox` },
    );
    expect(timeline.entries.map((e) => [e.eventId, e.sequence, e.type])).toEqual(outbox.map((o) => [o.eventId, o.sequence, o.type]));
    expect(timeline.anomalies).toEqual([]);
  }
});
