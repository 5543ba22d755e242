/**
 * Dead-lettering: a message a consumer group gives up on is recorded in the dead_letters
 * table, from which it can be listed and replayed (services/dlq), and sent to the dead-letter
 * topic (original key, value and headers, plus why and where it failed). Both happen before
 * the source offset is committed; a crash in between makes the group dead-letter the message
 * again, which the table's unique key turns into a no-op.
 */
import type { IHeaders, KafkaMessage, Producer } from 'kafkajs';
import { runStatement, type Db } from '../../../lib/db';
import { sql } from '../../../lib/sql';
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
  const headers = JSON.stringify(headerStrings(message.headers));
  await runStatement(
    db,
    sql`
    INSERT INTO dead_letters (consumer_group, source_topic, source_partition, source_offset, dlq_topic, event_id, event_type, message_key,
                              value, headers, error_class, error_message, retryable, attempts, first_failed_at, last_failed_at)
    VALUES (${group}::text, ${source.topic}::text, ${source.partition}::int, ${message.offset}::bigint, ${dlqTopic}::text, ${eventId}::text,
            ${eventType}::text, ${message.key ? message.key.toString('utf8') : null}::text, ${message.value ?? null}::bytea, ${headers}::jsonb,
            ${failure.error.errorClass}::text, ${failure.error.message}::text, ${failure.error.retryable}::boolean, ${failure.attempts}::int,
            ${failure.firstFailureAt}::timestamptz, ${failure.lastFailureAt}::timestamptz)
    ON CONFLICT (source_topic, source_partition, source_offset, consumer_group) DO NOTHING`,
  );
}
