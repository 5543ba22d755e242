/**
 * Dead-letter operations: list what the consumer groups gave up on, and replay one to its
 * source topic once the cause is fixed. Replay is safe to repeat: the message keeps its event
 * id, and every group that already applied it skips it through processed_events, so replaying
 * twice (or replaying to a topic other groups also read) applies the effect at most once.
 */
import type { IHeaders, Kafka, Producer } from 'kafkajs';
import { DomainError } from '../../../lib/errors';
import { inTransaction, type Db } from '../../../lib/db';
import type { Tx } from '../../../lib/sql';
import { DLQ_HEADERS } from '../messaging/dead-letter';
import { ACKS_ALL, createIdempotentProducer } from '../messaging/kafka';

/** Header a replayed message carries: the dead letter it came from. */
export const REPLAY_HEADER = 'replay.deadLetterId';

export interface DeadLetterSummary {
  id: string;
  consumerGroup: string;
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: string;
  dlqTopic: string;
  eventId: string | null;
  eventType: string | null;
  messageKey: string | null;
  errorClass: string;
  errorMessage: string;
  retryable: boolean;
  attempts: number;
  firstFailedAt: string;
  lastFailedAt: string;
  deadLetteredAt: string;
  replayCount: number;
  replayedAt: string | null;
  /** The original value as text (UTF-8), for reading; replay sends the stored bytes. */
  value: string | null;
}

type Row = NonNullable<Awaited<ReturnType<Db['deadLetter']['findUnique']>>>;

function summary(r: Row): DeadLetterSummary {
  return {
    id: r.id.toString(),
    consumerGroup: r.consumerGroup,
    sourceTopic: r.sourceTopic,
    sourcePartition: r.sourcePartition,
    sourceOffset: r.sourceOffset.toString(),
    dlqTopic: r.dlqTopic,
    eventId: r.eventId,
    eventType: r.eventType,
    messageKey: r.messageKey,
    errorClass: r.errorClass,
    errorMessage: r.errorMessage,
    retryable: r.retryable,
    attempts: r.attempts,
    firstFailedAt: r.firstFailedAt.toISOString(),
    lastFailedAt: r.lastFailedAt.toISOString(),
    deadLetteredAt: r.createdAt.toISOString(),
    replayCount: r.replayCount,
    replayedAt: r.replayedAt?.toISOString() ?? null,
    value: r.value ? Buffer.from(r.value).toString('utf8') : null,
  };
}

/**
 * Newest first. `replayed: false` lists only those never replayed (what still waits for an
 * operator); `messageKeys` only those of these keys (an order's events are keyed by its id).
 */
export async function listDeadLetters(
  db: Db,
  { limit, offset = 0, replayed, messageKeys }: { limit: number; offset?: number; replayed?: boolean; messageKeys?: string[] },
): Promise<{ total: number; items: DeadLetterSummary[] }> {
  const take = Math.max(1, Math.min(500, Math.trunc(limit)));
  const skip = Math.max(0, Math.trunc(offset));
  const where = {
    ...(replayed === undefined ? {} : { replayedAt: replayed ? { not: null } : null }),
    ...(messageKeys ? { messageKey: { in: messageKeys } } : {}),
  };
  const [total, rows] = await Promise.all([
    db.deadLetter.count({ where }),
    db.deadLetter.findMany({ where, orderBy: { id: 'desc' }, take, skip }),
  ]);
  return { total, items: rows.map(summary) };
}

export async function getDeadLetter(db: Db, id: string | number | bigint): Promise<DeadLetterSummary | null> {
  const row = await db.deadLetter.findUnique({ where: { id: toId(id) } });
  return row ? summary(row) : null;
}

const MAX_BIGINT = 9_223_372_036_854_775_807n;

function toId(id: string | number | bigint): bigint {
  const text = String(id);
  // Ids are BIGSERIAL: anything else, or past its range, names nothing.
  if (!/^\d{1,19}$/.test(text) || BigInt(text) > MAX_BIGINT) throw new DomainError('NOT_FOUND', `no dead letter "${text}"`);
  return BigInt(text);
}

/** The original headers, without what dead-lettering added, marked as a replay. */
function replayHeaders(stored: unknown, id: bigint): IHeaders {
  const dlq = new Set<string>(Object.values(DLQ_HEADERS));
  const headers: IHeaders = {};
  for (const [name, value] of Object.entries((stored ?? {}) as Record<string, unknown>)) {
    if (!dlq.has(name) && typeof value === 'string') headers[name] = value;
  }
  headers[REPLAY_HEADER] = id.toString();
  return headers;
}

function isKafka(k: Kafka | Producer): k is Kafka {
  return typeof (k as Kafka).producer === 'function';
}

/**
 * Sends dead letter `id` back to its source topic (same key, value and event headers) and
 * counts the replay. The send is acknowledged by all in-sync replicas before the count is
 * written; a crash in between leaves the count one short, never a replay unsent.
 */
export async function replayDeadLetter(
  db: Db,
  kafkaOrProducer: Kafka | Producer,
  id: string | number | bigint,
  /** Runs in the transaction that records the replay (the operator audit log's row). */
  alsoInTransaction?: (tx: Tx, replayed: { id: string; eventId: string | null; sourceTopic: string }) => Promise<void>,
): Promise<DeadLetterSummary> {
  const key = toId(id);
  const row = await db.deadLetter.findUnique({ where: { id: key } });
  if (!row) throw new DomainError('NOT_FOUND', `no dead letter "${key}"`);
  // Our producer settings (partitioner included), so the replay lands in the order's partition.
  const producer = isKafka(kafkaOrProducer) ? createIdempotentProducer(kafkaOrProducer) : kafkaOrProducer;
  const owned = producer !== kafkaOrProducer;
  try {
    if (owned) await producer.connect();
    await producer.send({
      topic: row.sourceTopic,
      acks: ACKS_ALL,
      messages: [{ key: row.messageKey, value: row.value ? Buffer.from(row.value) : null, headers: replayHeaders(row.headers, key) }],
    });
  } finally {
    if (owned) await producer.disconnect().catch(() => undefined);
  }
  await inTransaction(db, async (tx) => {
    await tx.exec`UPDATE dead_letters SET replay_count = replay_count + 1, replayed_at = now() WHERE id = ${key}::bigint`;
    await alsoInTransaction?.(tx, { id: key.toString(), eventId: row.eventId, sourceTopic: row.sourceTopic });
  });
  return (await getDeadLetter(db, key))!;
}
