/**
 * The transactional outbox: domain events are rows written by the same transaction as the
 * change they describe, so an event exists if and only if its change committed.
 */
import crypto from 'node:crypto';
import { context, propagation } from '@opentelemetry/api';
import type { Tx } from '../../../lib/sql';
import type { EventType } from '../../orders/contract';

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
  const traceparent = currentTraceparent();
  const rows = events.map((e, i) => ({
    ord: i + 1,
    event_id: crypto.randomUUID(),
    type: e.type,
    schema_version: e.schemaVersion ?? CURRENT_SCHEMA_VERSION,
    payload: e.payload,
  }));
  // One round trip: allocate the sequence range and insert every row.
  const written = await tx.rows<{ event_id: string; sequence: number }>`
    WITH seq AS (
      INSERT INTO outbox_sequences (aggregate_id, last_sequence) VALUES (${aggregate.id}, ${events.length}::int)
      ON CONFLICT (aggregate_id) DO UPDATE SET last_sequence = outbox_sequences.last_sequence + ${events.length}::int
      RETURNING last_sequence
    )
    INSERT INTO outbox_events (event_id, type, aggregate_type, aggregate_id, sequence, schema_version, traceparent, payload)
    SELECT e.event_id::uuid, e.type, ${aggregate.type}::text, ${aggregate.id}::text, seq.last_sequence - ${events.length}::int + e.ord,
           e.schema_version, ${traceparent}::text, e.payload
    FROM seq, jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
      AS e(ord int, event_id text, type text, schema_version int, payload jsonb)
    ORDER BY e.ord
    RETURNING event_id::text, sequence`;
  return written.map((r) => ({ eventId: r.event_id, sequence: r.sequence })).sort((a, b) => a.sequence - b.sequence);
}
