/**
 * The outbox relay against the real database and broker, in this process: what it publishes,
 * in what order, with what headers; two relays sharing the shards; retention.
 */
import { Client } from 'pg';
import { Registry } from 'prom-client';
import { createLogger } from '../../lib/logger';
import { createKafka } from '../../services/platform/messaging/kafka';
import { loadConfig } from '../../lib/config';
import { Relay } from '../../services/platform/relay/relay';
import { pruneOutbox } from '../../services/platform/relay/retention';
import { SHARD_COUNT } from '../../services/platform/relay/shards';
import { createPipelineEnv, envelopeOf, readTopic, writeOrders, type PipelineEnv, type TopicMessage } from '../support/processes';
import { eventually } from '../support/wait';

let env: PipelineEnv;
const relays: Relay[] = [];
const log = createLogger('relay-test', 'warn');

beforeAll(async () => {
  env = await createPipelineEnv('relay');
});
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.stop()));
});
afterAll(async () => {
  await env?.close();
});

function startRelay(registry = new Registry(), settings: Record<string, string> = {}): Relay {
  const relay = new Relay({
    db: env.db,
    databaseUrl: env.cfg.database.url,
    kafka: createKafka(env.cfg, 'relay-test', log),
    topic: env.cfg.kafka.eventsTopic,
    settings: loadConfig({ ...process.env, ...env.env, ...settings }).relay,
    log,
    registry,
  });
  relay.start();
  relays.push(relay);
  return relay;
}

/** Per order, the sequences in the order its partition holds them. */
function sequencesByOrder(messages: TopicMessage[]): Map<string, number[]> {
  const byOrder = new Map<string, number[]>();
  const ordered = [...messages].sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
  for (const m of ordered) {
    const e = envelopeOf(m);
    byOrder.set(e.aggregateId, [...(byOrder.get(e.aggregateId) ?? []), e.sequence]);
  }
  return byOrder;
}

async function readAllOf(orderIds: string[], eventsPerOrder: number): Promise<TopicMessage[]> {
  const wanted = new Set(orderIds);
  return readTopic(
    env.kafka,
    env.cfg.kafka.eventsTopic,
    (ms) => ms.filter((m) => wanted.has(m.key ?? '')).length >= orderIds.length * eventsPerOrder,
  );
}

describe('the outbox relay', () => {
  test('publishes every row once acknowledged, keyed by order, each order in sequence 1..n, and marks them published', async () => {
    const registry = new Registry();
    startRelay(registry);
    const orders = await writeOrders(env.db, 60);

    const messages = (await readAllOf(orders, 7)).filter((m) => orders.includes(m.key ?? ''));
    const byOrder = sequencesByOrder(messages);
    for (const id of orders) expect(byOrder.get(id)).toEqual([1, 2, 3, 4, 5, 6, 7]);

    const rows = await env.db.outboxEvent.findMany({ where: { aggregateId: { in: orders } } });
    expect(rows).toHaveLength(orders.length * 7);
    const published = new Map(messages.map((m) => [envelopeOf(m).eventId, m]));
    for (const row of rows) {
      const m = published.get(row.eventId)!;
      expect(m).toBeDefined();
      expect(m.key).toBe(row.aggregateId);
      expect(m.headers).toMatchObject({ eventId: row.eventId, type: row.type, sequence: String(row.sequence), schemaVersion: '1' });
      expect(envelopeOf(m)).toEqual({
        eventId: row.eventId,
        type: row.type,
        aggregateType: 'Order',
        aggregateId: row.aggregateId,
        sequence: row.sequence,
        occurredAt: row.occurredAt.toISOString(),
        schemaVersion: row.schemaVersion,
        traceparent: row.traceparent,
        payload: row.payload,
      });
    }
    await eventually(async () => (await env.db.outboxEvent.count({ where: { aggregateId: { in: orders }, publishedAt: null } })) === 0, {
      what: 'every row marked published',
    });
    const metrics = await registry.getSingleMetricAsString('outbox_events_published_total');
    expect(Number(/outbox_events_published_total\S* (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(orders.length * 7);
  });

  test('two relays at once split the shards between them and still publish each order exactly in sequence', async () => {
    const a = startRelay();
    const b = startRelay();
    await eventually(async () => a.shards.length > 0 && b.shards.length > 0 && a.shards.length + b.shards.length === SHARD_COUNT, {
      what: 'both relays to hold shards',
    });
    expect(a.shards.filter((s) => b.shards.includes(s))).toEqual([]);

    const orders = await writeOrders(env.db, 120);
    const messages = (await readAllOf(orders, 7)).filter((m) => orders.includes(m.key ?? ''));
    const byOrder = sequencesByOrder(messages);
    // Not merely "in order": with one publisher per shard, nothing is published twice either.
    for (const id of orders) expect(byOrder.get(id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  test('when one of two relays stops, the other takes over all its shards', async () => {
    const a = startRelay();
    const b = startRelay();
    await eventually(async () => a.shards.length > 0 && b.shards.length > 0, { what: 'both relays to hold shards' });
    relays.splice(relays.indexOf(b), 1);
    await b.stop();
    await eventually(async () => a.shards.length === SHARD_COUNT, { what: 'the remaining relay to hold every shard' });

    const orders = await writeOrders(env.db, 10);
    const byOrder = sequencesByOrder((await readAllOf(orders, 7)).filter((m) => orders.includes(m.key ?? '')));
    for (const id of orders) expect(byOrder.get(id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  test('a commit wakes the relay at once (LISTEN/NOTIFY), without waiting for the poll', async () => {
    const relay = startRelay(new Registry(), { RELAY_POLL_INTERVAL_MS: '60000', RELAY_REBALANCE_INTERVAL_MS: '60000' });
    await eventually(async () => relay.shards.length === SHARD_COUNT, { what: 'the relay to hold every shard' });
    await eventually(async () => (await env.db.outboxEvent.count({ where: { publishedAt: null } })) === 0, { what: 'an idle relay' });

    const [order] = await writeOrders(env.db, 1, ['OrderCreated']);
    await eventually(async () => (await env.db.outboxEvent.count({ where: { aggregateId: order, publishedAt: { not: null } } })) === 1, {
      timeoutMs: 5000,
      intervalMs: 20,
      what: 'the row published long before the 60 s poll',
    });
  });

  test('with notifications lost, the poll still publishes every row', async () => {
    startRelay(new Registry(), { RELAY_POLL_INTERVAL_MS: '100' });
    // Only the owner may switch a trigger off (the app role cannot: test/integration/db-roles.test.ts).
    const owner = new Client({ connectionString: env.cfg.databaseOwner.url });
    await owner.connect();
    await owner.query('ALTER TABLE outbox_events DISABLE TRIGGER outbox_events_notify');
    try {
      const orders = await writeOrders(env.db, 3);
      await eventually(async () => (await env.db.outboxEvent.count({ where: { aggregateId: { in: orders }, publishedAt: null } })) === 0, {
        what: 'every row published by polling',
      });
    } finally {
      await owner.query('ALTER TABLE outbox_events ENABLE TRIGGER outbox_events_notify');
      await owner.end();
    }
  });

  test('retention deletes published rows older than the retention, never pending or recent ones', async () => {
    const [old, recent, pending] = await writeOrders(env.db, 3, ['OrderCreated']);
    await env.db.outboxEvent.updateMany({ where: { aggregateId: old }, data: { publishedAt: new Date(Date.now() - 3_600_000) } });
    await env.db.outboxEvent.updateMany({ where: { aggregateId: recent }, data: { publishedAt: new Date() } });

    const deleted = await pruneOutbox(env.db, 60_000);

    expect(deleted).toBeGreaterThanOrEqual(1);
    expect(await env.db.outboxEvent.count({ where: { aggregateId: old } })).toBe(0);
    expect(await env.db.outboxEvent.count({ where: { aggregateId: recent } })).toBe(1);
    expect(await env.db.outboxEvent.count({ where: { aggregateId: pending, publishedAt: null } })).toBe(1);
    // The sequence counter survives its events, so the order's next event is 2, not 1 again.
    expect(await env.db.outboxSequence.findUnique({ where: { aggregateId: old } })).toMatchObject({ lastSequence: 1 });
  });
});
