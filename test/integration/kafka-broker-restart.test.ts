/**
 * The broker goes away mid-stream and comes back: the relay keeps rows pending and retries,
 * the consumers reconnect, and nothing is lost or reordered; no process is restarted by hand.
 *
 * The broker is a real Kafka started for this file alone (test/support/kafka-broker.ts), so
 * that stopping it cannot break test files running at the same time against the shared broker.
 */
import { getAnomalies } from '../../services/audit/timeline';
import { startOwnBroker, type OwnBroker } from '../support/kafka-broker';
import {
  createPipelineEnv,
  envelopeOf,
  killAllRoles,
  metricValue,
  readTopic,
  spawnRole,
  writeOrders,
  type PipelineEnv,
} from '../support/processes';
import { eventually } from '../support/wait';

let broker: OwnBroker | undefined;
let env: PipelineEnv | undefined;

beforeAll(async () => {
  broker = await startOwnBroker('broker');
  env = await createPipelineEnv('broker', broker.env);
}, 180_000);

afterAll(async () => {
  await killAllRoles();
  await env?.close().catch(() => undefined);
  await broker?.close();
}, 60_000);

test('Kafka stopped and restarted mid-stream: relay and consumers recover by themselves and nothing is lost', async () => {
  const e = env!;
  const [relay, audit] = await Promise.all([spawnRole('relay', { env: e.env }), spawnRole('consumer-audit', { env: e.env })]);
  const timelineRows = (ids: string[]) => e.db.auditTimelineEntry.count({ where: { aggregateId: { in: ids } } });

  const before = await writeOrders(e.db, 20);
  await eventually(async () => (await timelineRows(before)) === before.length * 7, { timeoutMs: 30_000, what: 'the pipeline to flow' });

  await broker!.stop();
  try {
    const during = await writeOrders(e.db, 20);
    await eventually(async () => metricValue(await relay.metrics(), 'outbox_publish_failures_total') > 0, {
      timeoutMs: 90_000,
      what: 'the relay to notice the broker is gone',
    });
    expect(await e.db.outboxEvent.count({ where: { aggregateId: { in: during }, publishedAt: null } })).toBe(during.length * 7);
    await broker!.start();
    const after = await writeOrders(e.db, 20);

    const orders = [...before, ...during, ...after];
    await eventually(async () => (await timelineRows(orders)) === orders.length * 7, {
      timeoutMs: 120_000,
      what: 'every event in the audit timelines',
    });
    expect(await e.db.outboxEvent.count({ where: { publishedAt: null } })).toBe(0);
    for (const id of orders) expect(await getAnomalies(e.db, id)).toEqual([]);

    const messages = await readTopic(e.kafka, e.cfg.kafka.eventsTopic, (ms) => new Set(ms.map((m) => m.key)).size >= orders.length);
    const firstSeen = new Map<string, number[]>();
    const seen = new Set<string>();
    for (const m of messages.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)))) {
      const ev = envelopeOf(m);
      if (seen.has(ev.eventId)) continue;
      seen.add(ev.eventId);
      firstSeen.set(ev.aggregateId, [...(firstSeen.get(ev.aggregateId) ?? []), ev.sequence]);
    }
    for (const id of orders) expect(firstSeen.get(id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(metricValue(await audit.metrics(), 'consumer_dead_letters_total')).toBe(0);
  } finally {
    // Whatever happened above, leave a running broker behind for afterAll to stop cleanly.
    if (!broker!.running()) await broker!.start();
  }
}, 240_000);
