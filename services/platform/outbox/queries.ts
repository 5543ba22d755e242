/** Reading the outbox: an aggregate's events with their published state and who consumed them, and the relay's backlog. */
import type { Db } from '../../../lib/db';

export interface OutboxEventView {
  eventId: string;
  sequence: number;
  type: string;
  occurredAt: string;
  /** When the relay had it acknowledged by Kafka; null while pending. */
  publishedAt: string | null;
  /** Consumer groups that applied it (processed_events), with when. */
  consumedBy: { group: string; at: string }[];
  traceparent: string | null;
}

/** Every outbox event of an aggregate, by sequence (published rows past RELAY_RETENTION_MS are gone). */
export async function eventsOfAggregate(db: Db, aggregateId: string): Promise<OutboxEventView[]> {
  const events = await db.outboxEvent.findMany({ where: { aggregateId }, orderBy: { sequence: 'asc' } });
  const processed = events.length
    ? await db.processedEvent.findMany({ where: { eventId: { in: events.map((e) => e.eventId) } }, orderBy: { processedAt: 'asc' } })
    : [];
  return events.map((e) => ({
    eventId: e.eventId,
    sequence: e.sequence,
    type: e.type,
    occurredAt: e.occurredAt.toISOString(),
    publishedAt: e.publishedAt?.toISOString() ?? null,
    consumedBy: processed.filter((p) => p.eventId === e.eventId).map((p) => ({ group: p.consumerGroup, at: p.processedAt.toISOString() })),
    traceparent: e.traceparent,
  }));
}

/** The relay's backlog: rows not yet published and the age of the oldest (the relay lag). */
export async function outboxBacklog(db: Db): Promise<{ pending: number; oldestAgeSeconds: number }> {
  const [row] = await db.$queryRaw<{ pending: number; oldest: Date | null }[]>`
    SELECT (SELECT count(*)::int FROM outbox_events WHERE published_at IS NULL) AS pending,
           (SELECT occurred_at FROM outbox_events WHERE published_at IS NULL ORDER BY id LIMIT 1) AS oldest`;
  return { pending: row?.pending ?? 0, oldestAgeSeconds: row?.oldest ? Math.max(0, (Date.now() - row.oldest.getTime()) / 1000) : 0 };
}
