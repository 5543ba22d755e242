/**
 * The transactional outbox: domain events are rows written by the same transaction as the
 * change they describe, so an event exists if and only if its change committed.
 */
import crypto from 'node:crypto';
import { context, propagation } from '@opentelemetry/api';
import type { Tx } from '../../lib/db';
import type { EventType } from '../orders/contract';

/** Envelope schema version of every event type written today. */
export const CURRENT_SCHEMA_VERSION = 1;

export interface NewEvent {
  type: EventType;
  payload: Record<string, unknown>;
  schemaVersion?: number;
}

export interface Aggregate {
  type: string;
  id: string;
}

/** The W3C traceparent of the active span, if tracing is on. */
export function currentTraceparent(): string | null {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ?? null;
}

/**
 * Appends events for one aggregate. Sequences are per aggregate, gapless and start at 1: the
 * counter row's lock serialises writers of the same aggregate, and a rollback returns the
 * numbers it took. Must be called with the transaction handle of the change itself.
 */
export async function appendEvents(tx: Tx, aggregate: Aggregate, events: NewEvent[]): Promise<{ eventId: string; sequence: number }[]> {
  if (events.length === 0) return [];
  const rows = await tx.$queryRaw<{ last_sequence: number }[]>`
    INSERT INTO outbox_sequences (aggregate_id, last_sequence) VALUES (${aggregate.id}, ${events.length})
    ON CONFLICT (aggregate_id) DO UPDATE SET last_sequence = outbox_sequences.last_sequence + ${events.length}
    RETURNING last_sequence`;
  const first = rows[0]!.last_sequence - events.length + 1;
  const traceparent = currentTraceparent();
  const written = events.map((e, i) => ({
    eventId: crypto.randomUUID(),
    type: e.type,
    aggregateType: aggregate.type,
    aggregateId: aggregate.id,
    sequence: first + i,
    schemaVersion: e.schemaVersion ?? CURRENT_SCHEMA_VERSION,
    traceparent,
    payload: e.payload as object,
  }));
  await tx.outboxEvent.createMany({ data: written });
  return written.map(({ eventId, sequence }) => ({ eventId, sequence }));
}
