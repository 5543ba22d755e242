/**
 * The consumer framework and both consumers against the real broker and database, in this
 * process, fed hand-made messages (so that duplicates, gaps and poison can be staged):
 * exactly-once effects, sequence anomalies, the retry policy, dead letters and their replay,
 * and the notifications consumer's tolerant reading.
 */
import crypto from 'node:crypto';
import type { Message, Producer } from 'kafkajs';
import { Registry } from 'prom-client';
import { FaultPlan } from '../../lib/faults';
import { createLogger } from '../../lib/logger';
import { createAuditHandler } from '../../services/audit/projector';
import { getAnomalies, getTimeline } from '../../services/audit/timeline';
import { listDeadLetters, replayDeadLetter } from '../../services/platform/dlq/dead-letters';
import { EventConsumer, type DecodedEvent, type EventHandler } from '../../services/platform/messaging/consumer';
import { DLQ_HEADERS } from '../../services/platform/messaging/dead-letter';
import { toMessage, type OutboxRow } from '../../services/platform/messaging/envelope';
import { ACKS_ALL, createIdempotentProducer, createKafka } from '../../services/platform/messaging/kafka';
import { loadConfig } from '../../lib/config';
import { createNotificationsHandler } from '../../services/notifications/consumer';
import { createPipelineEnv, metricValue, orderEvent, readTopic, type PipelineEnv } from '../support/processes';
import { eventually } from '../support/wait';

const log = createLogger('consumer-test', 'fatal');
let env: PipelineEnv;
let producer: Producer;
const registry = new Registry();
const faults = new FaultPlan();
const consumers: EventConsumer<DecodedEvent>[] = [];

function startConsumer(handler: EventHandler<DecodedEvent>): EventConsumer<DecodedEvent> {
  const consumer = new EventConsumer({
    kafka: createKafka(env.cfg, `test-${handler.name}`, log),
    db: env.db,
    handler,
    topic: env.cfg.kafka.eventsTopic,
    dlqTopic: env.cfg.kafka.dlqTopic,
    settings: loadConfig({ ...process.env, ...env.env }).consumers,
    log,
    registry,
    faults,
  });
  consumers.push(consumer);
  return consumer;
}

beforeAll(async () => {
  env = await createPipelineEnv('consumer', { CONSUMER_MAX_ATTEMPTS: '5' });
  producer = createIdempotentProducer(createKafka(env.cfg, 'test-producer', log));
  await producer.connect();
  const started = [startConsumer(createAuditHandler(registry)), startConsumer(createNotificationsHandler())];
  await Promise.all(started.map((c) => c.start()));
});
afterEach(() => faults.clear());
afterAll(async () => {
  await Promise.all(consumers.map((c) => c.stop()));
  await producer?.disconnect();
  await env?.close();
});

/** An event as the relay would publish it. */
function event(orderId: string, sequence: number, type: OutboxRow['type'], overrides: Partial<OutboxRow> = {}): OutboxRow {
  return {
    id: '0',
    eventId: crypto.randomUUID(),
    type,
    aggregateType: 'Order',
    aggregateId: orderId,
    sequence,
    schemaVersion: 1,
    traceparent: null,
    payload: orderEvent(type as never, orderId).payload,
    occurredAt: new Date(),
    ...overrides,
  };
}

async function send(...messages: Message[]): Promise<void> {
  await producer.send({ topic: env.cfg.kafka.eventsTopic, acks: ACKS_ALL, messages });
}

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricValue(await registry.metrics(), name, labels);
}

const auditGroup = () => `${env.env.CONSUMER_GROUP_PREFIX}audit`;
const notificationsGroup = () => `${env.env.CONSUMER_GROUP_PREFIX}notifications`;

async function deadLettersOf(eventId: string) {
  return (await listDeadLetters(env.db, { limit: 500 })).items.filter((d) => d.eventId === eventId);
}

describe('the consumer framework', () => {
  test('a redelivered event is applied once: processed_events skips the second delivery', async () => {
    const orderId = crypto.randomUUID();
    const created = event(orderId, 1, 'OrderCreated');
    const before = await metric('consumer_duplicates_skipped_total', { group: auditGroup() });

    await send(toMessage(created), toMessage(created), toMessage(event(orderId, 2, 'InventoryReserved')));

    await eventually(async () => (await getTimeline(env.db, orderId)).length === 2, { what: 'both events in the timeline' });
    expect(await metric('consumer_duplicates_skipped_total', { group: auditGroup() })).toBe(before + 1);
    expect(await getAnomalies(env.db, orderId)).toEqual([]);
    expect(await env.db.processedEvent.count({ where: { consumerGroup: auditGroup(), eventId: created.eventId } })).toBe(1);
  });

  test('the audit projector records a gap, an out-of-order event and a duplicate sequence as anomalies', async () => {
    const orderId = crypto.randomUUID();
    const [one, two, three] = [
      event(orderId, 1, 'OrderCreated'),
      event(orderId, 2, 'InventoryReserved'),
      event(orderId, 3, 'OrderStatusChanged'),
    ];
    const impostor = event(orderId, 2, 'InventoryRejected'); // same sequence, another event

    await send(toMessage(one), toMessage(three), toMessage(two), toMessage(impostor));

    await eventually(async () => (await getAnomalies(env.db, orderId)).length === 3, { what: 'three anomalies' });
    const anomalies = await getAnomalies(env.db, orderId);
    expect(anomalies.map(({ kind, sequence, expectedSequence }) => ({ kind, sequence, expectedSequence }))).toEqual([
      { kind: 'GAP', sequence: 3, expectedSequence: 2 },
      { kind: 'OUT_OF_ORDER', sequence: 2, expectedSequence: 4 },
      { kind: 'DUPLICATE', sequence: 2, expectedSequence: 4 },
    ]);
    expect((await getTimeline(env.db, orderId)).map((e) => e.eventId)).toEqual([one.eventId, two.eventId, three.eventId]);
    expect(await metric('audit_sequence_anomalies_total', { kind: 'GAP' })).toBeGreaterThanOrEqual(1);
  });

  test('a poison message is retried per policy, dead-lettered with every detail, does not hold up its partition, and replays exactly once', async () => {
    const poisoned = crypto.randomUUID();
    const healthy = crypto.randomUUID();
    const poison = event(poisoned, 1, 'OrderCreated');
    const next = event(healthy, 1, 'OrderCreated');
    faults.add({ point: 'consumer.beforeEffect', action: 'fail', orderId: poisoned });
    const retriesBefore = await metric('consumer_retries_total', { group: auditGroup() });

    // Same partition, poison first: the healthy event behind it must still get through.
    await send({ ...toMessage(poison), partition: 0 }, { ...toMessage(next), partition: 0 });

    await eventually(async () => (await getTimeline(env.db, healthy)).length === 1, { what: 'the event behind the poison' });
    const [letter] = await eventually(
      async () => {
        const found = (await deadLettersOf(poison.eventId)).filter((d) => d.consumerGroup === auditGroup());
        return found.length ? found : undefined;
      },
      { what: 'the dead letter' },
    );
    expect(letter).toMatchObject({
      consumerGroup: auditGroup(),
      sourceTopic: env.cfg.kafka.eventsTopic,
      sourcePartition: 0,
      eventId: poison.eventId,
      eventType: 'OrderCreated',
      messageKey: poisoned,
      errorClass: 'InjectedFault',
      retryable: true,
      attempts: 5,
      replayCount: 0,
    });
    expect(Date.parse(letter!.lastFailedAt)).toBeGreaterThan(Date.parse(letter!.firstFailedAt));
    expect(await metric('consumer_retries_total', { group: auditGroup() })).toBeGreaterThanOrEqual(retriesBefore + 4);
    expect(await getTimeline(env.db, poisoned)).toEqual([]);

    const onDlq = await readTopic(env.kafka, env.cfg.kafka.dlqTopic, (ms) => ms.some((m) => m.headers.eventId === poison.eventId));
    const dlqMessage = onDlq.find((m) => m.headers.eventId === poison.eventId && m.headers[DLQ_HEADERS.consumerGroup] === auditGroup())!;
    expect(dlqMessage.key).toBe(poisoned);
    expect(dlqMessage.headers).toMatchObject({
      eventId: poison.eventId,
      type: 'OrderCreated',
      sequence: '1',
      schemaVersion: '1',
      [DLQ_HEADERS.errorClass]: 'InjectedFault',
      [DLQ_HEADERS.retryable]: 'true',
      [DLQ_HEADERS.attempts]: '5',
      [DLQ_HEADERS.sourceTopic]: env.cfg.kafka.eventsTopic,
      [DLQ_HEADERS.sourcePartition]: '0',
      [DLQ_HEADERS.sourceOffset]: letter!.sourceOffset,
      [DLQ_HEADERS.firstFailureAt]: letter!.firstFailedAt,
      [DLQ_HEADERS.lastFailureAt]: letter!.lastFailedAt,
    });
    expect(dlqMessage.headers[DLQ_HEADERS.errorMessage]).toContain('injected fault');

    // The cause is fixed; replay, twice.
    faults.clear();
    const skippedBefore = await metric('consumer_duplicates_skipped_total', { group: auditGroup() });
    await replayDeadLetter(env.db, env.kafka, letter!.id);
    await eventually(async () => (await getTimeline(env.db, poisoned)).length === 1, { what: 'the replayed event applied' });
    const replayed = await replayDeadLetter(env.db, env.kafka, letter!.id);
    expect(replayed).toMatchObject({ replayCount: 2 });
    expect(replayed.replayedAt).not.toBeNull();
    // Every message a replay puts back is seen by both groups; the second replay is skipped by audit.
    await eventually(async () => (await metric('consumer_duplicates_skipped_total', { group: auditGroup() })) >= skippedBefore + 1, {
      what: 'the second replay to be skipped',
    });
    expect(await getTimeline(env.db, poisoned)).toHaveLength(1);
    expect(await getAnomalies(env.db, poisoned)).toEqual([]);
    expect(await env.db.processedEvent.count({ where: { consumerGroup: auditGroup(), eventId: poison.eventId } })).toBe(1);
  });

  test('a message that is not JSON is dead-lettered at once, not retried', async () => {
    const key = crypto.randomUUID();
    await send({ key, value: 'this is not an event', headers: { type: 'Garbage' } });

    const letters = await eventually(
      async () => {
        const found = (await listDeadLetters(env.db, { limit: 500 })).items.filter((d) => d.messageKey === key);
        return found.length === 2 ? found : undefined;
      },
      { what: 'a dead letter from each group' },
    );
    for (const d of letters)
      expect(d).toMatchObject({
        errorClass: 'ValidationError',
        retryable: false,
        attempts: 1,
        eventId: null,
        value: 'this is not an event',
      });
  });
});

describe('the notifications consumer (a tolerant reader)', () => {
  test('queues one email per customer-facing event, ignoring unknown fields and event types', async () => {
    const orderId = crypto.randomUUID();
    const created = event(orderId, 1, 'OrderCreated');
    const createdValue = JSON.parse(toMessage(created).value as string) as Record<string, unknown>;
    const withExtras = {
      ...createdValue,
      somethingNew: { nested: true },
      payload: { ...(createdValue.payload as object), loyaltyTier: 'gold' },
    };
    const unknownType = event(orderId, 2, 'OrderStatusChanged', { type: 'OrderGiftWrapped' as never, schemaVersion: 7 });
    const confirmed = event(orderId, 3, 'OrderConfirmed');

    await send({ ...toMessage(created), value: JSON.stringify(withExtras) }, toMessage(unknownType), toMessage(confirmed));

    const [email] = await eventually(
      async () => {
        const found = await env.db.notification.findMany({ where: { orderId } });
        return found.length ? found : undefined;
      },
      { what: 'the confirmation email' },
    );
    expect(email).toMatchObject({
      eventId: confirmed.eventId,
      customerId: 'cust-test',
      channel: 'EMAIL',
      template: 'ORDER_CONFIRMED',
      status: 'PENDING',
    });
    expect(email!.body).toContain('€25.00');
    await eventually(
      async () =>
        (await env.db.processedEvent.count({ where: { consumerGroup: notificationsGroup(), eventId: unknownType.eventId } })) === 1,
      {
        what: 'the unknown type to be consumed (and ignored)',
      },
    );
    expect(await deadLettersOf(unknownType.eventId).then((ds) => ds.filter((d) => d.consumerGroup === notificationsGroup()))).toEqual([]);
    expect(await env.db.notification.count({ where: { orderId } })).toBe(1);
  });

  test('dead-letters a known event type in an unknown major schema version at once', async () => {
    const orderId = crypto.randomUUID();
    const future = event(orderId, 1, 'OrderCreated', { schemaVersion: 2 });

    await send(toMessage(future));

    const [letter] = await eventually(
      async () => {
        const found = (await deadLettersOf(future.eventId)).filter((d) => d.consumerGroup === notificationsGroup());
        return found.length ? found : undefined;
      },
      { what: 'the dead letter' },
    );
    expect(letter).toMatchObject({ errorClass: 'UnsupportedSchemaVersionError', retryable: false, attempts: 1, eventType: 'OrderCreated' });
    expect(await env.db.notificationOrder.findUnique({ where: { orderId } })).toBeNull();
  });
});
