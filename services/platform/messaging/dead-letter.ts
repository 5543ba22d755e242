/**
 * Dead-lettering: a message a consumer group gives up on is recorded in the dead_letters
 * table, from which it can be listed and replayed (services/dlq), and sent to the dead-letter
 * topic (original key, value and headers, plus why and where it failed). Both happen before
 * the source offset is committed; a crash in between makes the group dead-letter the message
 * again, which the table's unique key turns into a no-op.
 */
import type { IHeaders, KafkaMessage, Producer } from 'kafkajs';
import type { Db } from '../../../lib/db';
import { headerStrings, HEADERS } from './envelope';
import type { Classified } from './errors';
import { ACKS_ALL } from './kafka';

/** Headers a dead letter carries on top of the original ones. */
export const DLQ_HEADERS = {
  consumerGroup: 'dlq.consumerGroup',
  errorClass: 'dlq.errorClass',
  errorMessage: 'dlq.errorMessage',
  retryable: 'dlq.retryable',
  attempts: 'dlq.attempts',
  firstFailureAt: 'dlq.firstFailureAt',
  lastFailureAt: 'dlq.lastFailureAt',
  sourceTopic: 'dlq.sourceTopic',
  sourcePartition: 'dlq.sourcePartition',
  sourceOffset: 'dlq.sourceOffset',
} as const;

export interface Failure {
  error: Classified;
  attempts: number;
  firstFailureAt: Date;
  lastFailureAt: Date;
}

export interface SourceMessage {
  topic: string;
  partition: number;
  message: KafkaMessage;
}

export function deadLetterHeaders(group: string, source: SourceMessage, failure: Failure): IHeaders {
  return {
    ...(source.message.headers ?? {}),
    [DLQ_HEADERS.consumerGroup]: group,
    [DLQ_HEADERS.errorClass]: failure.error.errorClass,
    [DLQ_HEADERS.errorMessage]: failure.error.message,
    [DLQ_HEADERS.retryable]: String(failure.error.retryable),
    [DLQ_HEADERS.attempts]: String(failure.attempts),
    [DLQ_HEADERS.firstFailureAt]: failure.firstFailureAt.toISOString(),
    [DLQ_HEADERS.lastFailureAt]: failure.lastFailureAt.toISOString(),
    [DLQ_HEADERS.sourceTopic]: source.topic,
    [DLQ_HEADERS.sourcePartition]: String(source.partition),
    [DLQ_HEADERS.sourceOffset]: source.message.offset,
  };
}

/** Event id and type from the headers, else from the value if it is a readable envelope. */
function identify(message: KafkaMessage): { eventId: string | null; eventType: string | null } {
  const h = headerStrings(message.headers);
  let eventId = h[HEADERS.eventId] ?? null;
  let eventType = h[HEADERS.type] ?? null;
  if ((!eventId || !eventType) && message.value) {
    try {
      const v = JSON.parse(message.value.toString('utf8')) as { eventId?: unknown; type?: unknown };
      if (!eventId && typeof v.eventId === 'string') eventId = v.eventId;
      if (!eventType && typeof v.type === 'string') eventType = v.type;
    } catch {
      // A value that is not JSON is exactly what dead letters are for; it is stored as bytes.
    }
  }
  return { eventId, eventType };
}

export async function sendDeadLetter(
  producer: Producer,
  dlqTopic: string,
  group: string,
  source: SourceMessage,
  failure: Failure,
): Promise<void> {
  await producer.send({
    topic: dlqTopic,
    acks: ACKS_ALL,
    messages: [{ key: source.message.key, value: source.message.value, headers: deadLetterHeaders(group, source, failure) }],
  });
}

/** Stores the dead letter; a second call for the same source message and group does nothing. */
export async function recordDeadLetter(db: Db, dlqTopic: string, group: string, source: SourceMessage, failure: Failure): Promise<void> {
  const { message } = source;
  const { eventId, eventType } = identify(message);
  // INSERT ... ON CONFLICT DO NOTHING on the (topic, partition, offset, group) key.
  await db.deadLetter.createMany({
    skipDuplicates: true,
    data: {
      consumerGroup: group,
      sourceTopic: source.topic,
      sourcePartition: source.partition,
      sourceOffset: BigInt(message.offset),
      dlqTopic,
      eventId,
      eventType,
      messageKey: message.key ? message.key.toString('utf8') : null,
      value: message.value ? new Uint8Array(message.value) : null,
      headers: headerStrings(message.headers),
      errorClass: failure.error.errorClass,
      errorMessage: failure.error.message,
      retryable: failure.error.retryable,
      attempts: failure.attempts,
      firstFailedAt: failure.firstFailureAt,
      lastFailedAt: failure.lastFailureAt,
    },
  });
}
