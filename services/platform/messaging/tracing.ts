/**
 * Trace context across the outbox and Kafka. An outbox row carries the traceparent of the
 * change that wrote it; the relay's "publish" span (one per event) is that change's child, and
 * its own context goes into the message's traceparent header; each consumer's "process" span
 * is the child of the header's context. So the publish and every consumer's handling of an
 * order's events join the order's trace.
 *
 * Only called when tracingEnabled(): with tracing off nothing here runs.
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import { tracer } from '../../../lib/tracing';
import type { OutboxRow } from './envelope';

/** The context a W3C traceparent names (the root context if there is none). */
export function contextOf(traceparent: string | null | undefined): Context {
  return traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
}

/** The W3C traceparent of a span. */
export function traceparentOf(span: Span): string | null {
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), carrier);
  return carrier.traceparent ?? null;
}

function endSpan(span: Span, err?: unknown): void {
  if (err !== undefined) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
  }
  span.end();
}

/** Publish spans of a batch; rows of untraced changes get none. */
export class PublishSpans {
  private readonly spans = new Map<string, { span: Span; traceparent: string | null }>();

  constructor(rows: OutboxRow[], topic: string) {
    const t = tracer();
    for (const row of rows) {
      if (!row.traceparent) continue;
      const span = t.startSpan(
        `publish ${topic}`,
        {
          kind: SpanKind.PRODUCER,
          attributes: {
            'messaging.system': 'kafka',
            'messaging.operation.type': 'send',
            'messaging.destination.name': topic,
            'messaging.message.id': row.eventId,
            'messaging.kafka.message.key': row.aggregateId,
            'order.id': row.aggregateId,
            'event.type': row.type,
            'event.sequence': row.sequence,
            'messaging.batch.message_count': rows.length,
          },
        },
        contextOf(row.traceparent),
      );
      this.spans.set(row.eventId, { span, traceparent: traceparentOf(span) });
    }
  }

  /** The traceparent header of a row's message: its publish span, else the row's own. */
  readonly traceparentOf = (row: OutboxRow): string | null => this.spans.get(row.eventId)?.traceparent ?? row.traceparent;

  end(err?: unknown): void {
    for (const { span } of this.spans.values()) endSpan(span, err);
    this.spans.clear();
  }
}

export interface ProcessSpanInfo {
  group: string;
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  headers: Record<string, string>;
  traceparent: string | undefined;
}

/** Starts a consumer's "process" span for one message, the child of its traceparent header. */
export function startProcessSpan(info: ProcessSpanInfo, startTime?: number): Span {
  return tracer().startSpan(
    `process ${info.topic}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'process',
        'messaging.destination.name': info.topic,
        'messaging.consumer.group.name': info.group,
        'messaging.destination.partition.id': String(info.partition),
        'messaging.kafka.offset': Number(info.offset),
        ...(info.headers.eventId ? { 'messaging.message.id': info.headers.eventId } : {}),
        ...(info.key ? { 'messaging.kafka.message.key': info.key, 'order.id': info.key } : {}),
      },
      ...(startTime !== undefined ? { startTime } : {}),
    },
    contextOf(info.traceparent),
  );
}

export { endSpan };
