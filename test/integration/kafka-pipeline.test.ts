/**
 * The whole pipeline as it runs in production: outbox rows -> relay process(es) -> topic ->
 * consumer processes (audit, notifications), with processes killed where it hurts most.
 */
import crypto from 'node:crypto';
import { getAnomalies, getTimeline } from '../../services/audit/timeline';
import { SHARD_COUNT } from '../../services/platform/relay/shards';
import {
  CONFIRMED_ORDER,
  createPipelineEnv,
  EVENT_TYPES,
  envelopeOf,
  killAllRoles,
  metricValue,
  readTopic,
  spawnRole,
  writeOrderEvents,
  writeOrders,
  type EventType,
  type PipelineEnv,
  type RoleProcess,
  type TopicMessage,
} from '../support/processes';
import { eventually } from '../support/wait';

const REJECTED_ORDER: EventType[] = [EVENT_TYPES.OrderCreated, EVENT_TYPES.InventoryRejected, EVENT_TYPES.OrderRejected];

let env: PipelineEnv;
let relay: RoleProcess;
let audit: RoleProcess;

beforeAll(async () => {
  env = await createPipelineEnv('pipeline');
  // The notifications consumer runs throughout; only the relay and the audit consumer get killed.
  [relay, audit] = await Promise.all([
    spawnRole('relay', { env: env.env }),
    spawnRole('consumer-audit', { env: env.env }),
    spawnRole('consumer-notifications', { env: env.env }),
  ]);
});
afterAll(async () => {
  await killAllRoles();
  await env?.close();
});

const fault = (rule: Record<string, unknown>) => ({ ...env.env, FAULT_INJECTION: JSON.stringify([rule]) });

async function messagesOf(orderIds: string[], atLeast: number): Promise<TopicMessage[]> {
  const wanted = new Set(orderIds);
  const all = await readTopic(env.kafka, env.cfg.kafka.eventsTopic, (ms) => ms.filter((m) => wanted.has(m.key ?? '')).length >= atLeast);
  return all.filter((m) => wanted.has(m.key ?? ''));
}

/** Per order, the sequences of first deliveries, in partition order (duplicates dropped, as consumers do). */
function firstDeliveries(messages: TopicMessage[]): Map<string, number[]> {
  const seen = new Set<string>();
  const byOrder = new Map<string, number[]>();
  for (const m of [...messages].sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)))) {
    const e = envelopeOf(m);
    if (seen.has(e.eventId)) continue;
    seen.add(e.eventId);
    byOrder.set(e.aggregateId, [...(byOrder.get(e.aggregateId) ?? []), e.sequence]);
  }
  return byOrder;
}

/** The audit timeline holds exactly the order's outbox rows, and saw nothing odd. */
async function expectTimelineMatchesOutbox(orderId: string): Promise<void> {
  const outbox = await env.db.outboxEvent.findMany({ where: { aggregateId: orderId }, orderBy: { sequence: 'asc' } });
  expect(await getTimeline(env.db, orderId)).toEqual(
    outbox.map((r) => ({
      eventId: r.eventId,
      sequence: r.sequence,
      type: r.type,
      occurredAt: r.occurredAt.toISOString(),
      payload: r.payload,
    })),
  );
  expect(await getAnomalies(env.db, orderId)).toEqual([]);
}

async function waitForTimelines(orderIds: string[], eventsPerOrder: number): Promise<void> {
  await eventually(
    async () => (await env.db.auditTimelineEntry.count({ where: { aggregateId: { in: orderIds } } })) === orderIds.length * eventsPerOrder,
    {
      timeoutMs: 60_000,
      what: `the audit timelines of ${orderIds.length} orders`,
    },
  );
}

async function confirmationEmails(orderIds: string[]): Promise<number> {
  return env.db.notification.count({ where: { orderId: { in: orderIds }, template: 'ORDER_CONFIRMED' } });
}

describe('the event pipeline', () => {
  test('every outbox row of a run of orders reaches the topic in sequence, and the audit timeline matches the outbox exactly', async () => {
    const confirmed = await writeOrders(env.db, 80);
    const rejected = await writeOrders(env.db, 20, REJECTED_ORDER);
    const orders = [...confirmed, ...rejected];
    const total = confirmed.length * CONFIRMED_ORDER.length + rejected.length * REJECTED_ORDER.length;

    const messages = await messagesOf(orders, total);
    const outbox = await env.db.outboxEvent.findMany({ where: { aggregateId: { in: orders } } });
    expect(new Set(messages.map((m) => envelopeOf(m).eventId))).toEqual(new Set(outbox.map((r) => r.eventId)));
    const sequences = firstDeliveries(messages);
    for (const id of confirmed) expect(sequences.get(id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    for (const id of rejected) expect(sequences.get(id)).toEqual([1, 2, 3]);

    await eventually(async () => (await env.db.auditTimelineEntry.count({ where: { aggregateId: { in: orders } } })) === total, {
      timeoutMs: 60_000,
      what: 'every event in the audit timelines',
    });
    for (const id of orders) await expectTimelineMatchesOutbox(id);
    await eventually(async () => (await confirmationEmails(confirmed)) === confirmed.length, {
      what: 'a confirmation email per confirmed order',
    });
    await eventually(
      async () =>
        (await env.db.notification.count({ where: { orderId: { in: rejected }, template: 'ORDER_REJECTED' } })) === rejected.length,
      {
        what: 'a rejection email per rejected order',
      },
    );
  });

  test('two relays at once share the shards; no event is applied twice and no order goes out of sequence', async () => {
    const second = await spawnRole('relay', { env: env.env });
    try {
      await eventually(
        async () => {
          const [a, b] = await Promise.all([relay.metrics(), second.metrics()]);
          const [sa, sb] = [metricValue(a, 'relay_shards_owned'), metricValue(b, 'relay_shards_owned')];
          return sa > 0 && sb > 0 && sa + sb === SHARD_COUNT;
        },
        { what: 'both relays to hold a share of the shards' },
      );
      const orders = await writeOrders(env.db, 100);

      const sequences = firstDeliveries(await messagesOf(orders, orders.length * 7));
      for (const id of orders) expect(sequences.get(id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      await waitForTimelines(orders, 7);
      for (const id of orders) await expectTimelineMatchesOutbox(id);
      const [a, b] = await Promise.all([relay.metrics(), second.metrics()]);
      expect(metricValue(a, 'outbox_events_published_total')).toBeGreaterThan(0);
      expect(metricValue(b, 'outbox_events_published_total')).toBeGreaterThan(0);
    } finally {
      await second.kill('SIGTERM');
    }
  });

  test('a relay killed between publish and mark: the events are published again and every consumer applies them once', async () => {
    const orderId = crypto.randomUUID();
    const faulty = await spawnRole('relay', { env: fault({ point: 'relay.afterPublish', action: 'exit', orderId, times: 1 }) });
    await relay.kill('SIGTERM'); // the faulty relay now owns every shard
    await eventually(async () => metricValue(await faulty.metrics(), 'relay_shards_owned') === SHARD_COUNT, {
      what: 'the faulty relay to own all shards',
    });

    await writeOrderEvents(env.db, orderId);
    expect(await faulty.exited).toMatchObject({ signal: 'SIGKILL' });
    const onTopic = await messagesOf([orderId], 1);
    const published = new Set(onTopic.map((m) => envelopeOf(m).eventId));
    const stillPending = await env.db.outboxEvent.findMany({ where: { aggregateId: orderId, publishedAt: null } });
    expect(stillPending.some((r) => published.has(r.eventId))).toBe(true); // on the broker, not marked

    relay = await spawnRole('relay', { env: env.env });
    const all = await messagesOf([orderId], 7 + 1);
    expect(all.length).toBeGreaterThan(7); // something went out twice
    expect(firstDeliveries(all).get(orderId)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    await waitForTimelines([orderId], 7);
    await expectTimelineMatchesOutbox(orderId);
    await eventually(async () => (await confirmationEmails([orderId])) === 1, { what: 'the confirmation email' });
    expect(metricValue(await audit.metrics(), 'consumer_duplicates_skipped_total')).toBeGreaterThan(0);
    expect(await env.db.processedEvent.count({ where: { eventId: { in: stillPending.map((r) => r.eventId) } } })).toBe(
      stillPending.length * 2,
    );
  });

  test('a consumer killed after its effect but before committing the offset: the redelivered event is skipped by processed_events', async () => {
    const orderId = crypto.randomUUID();
    await audit.kill('SIGTERM');
    const faulty = await spawnRole('consumer-audit', { env: fault({ point: 'consumer.afterEffect', action: 'exit', orderId, times: 1 }) });

    await writeOrderEvents(env.db, orderId);
    expect(await faulty.exited).toMatchObject({ signal: 'SIGKILL' });
    const applied = await env.db.auditTimelineEntry.count({ where: { aggregateId: orderId } });
    expect(applied).toBeGreaterThanOrEqual(1); // the effect committed before the crash

    audit = await spawnRole('consumer-audit', { env: env.env });
    await waitForTimelines([orderId], 7);
    await expectTimelineMatchesOutbox(orderId);
    await eventually(async () => metricValue(await audit.metrics(), 'consumer_duplicates_skipped_total') >= 1, {
      timeoutMs: 30_000,
      what: 'the redelivered event to be skipped',
    });
  });
});
