/**
 * The transactional outbox: domain events are rows written by the same transaction as the
 * change they describe, so an event exists if and only if its change committed.
 *
 * This module is the only writer of outbox_events. It computes what every row needs the same
 * way for every context: the per-aggregate sequence (gapless, from 1), the schema version and
 * the traceparent of the active span. Callers either append events from TypeScript
 * (`appendEvents`) or, to stay one round trip, splice `outboxAppend` into a statement of their
 * own and feed it rows from the same statement (services/orders/transitions.ts).
 */
import { context, propagation } from '@opentelemetry/api';
import { prepared, sql, type SqlFragment, type StatementPart, type Tx } from '../../../lib/sql';

/** Envelope schema version of every event type written today. */
export const CURRENT_SCHEMA_VERSION = 1;

/** An event to append; its context's contract names the type and its payload. */
export interface NewEvent<T extends string = string> {
  type: T;
  payload: object;
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
 * The CTEs that append the events `rows` yields, for a statement's WITH list:
 * `sql\`WITH ..., ${outboxAppend(rows)} SELECT ... FROM outbox_written\``.
 *
 * `rows` is a query with the columns `aggregate_type text, aggregate_id text, ord int, type text,
 * payload jsonb, schema_version int` (NULL: the current version), one row per event, `ord`
 * numbering each aggregate's events 1..n in the order they happened. It may read the
 * statement's earlier CTEs (an event only if a change happened). The counter row's lock
 * serialises writers of the same aggregate, and a rollback returns the numbers it took.
 * `outbox_written` yields `event_id, aggregate_id, sequence, type, payload, occurred_at` of
 * each row written.
 */
export function outboxAppend(rows: SqlFragment): SqlFragment {
  return sql`outbox_rows AS (${rows}),
    outbox_counts AS (SELECT aggregate_id, count(*)::int AS n FROM outbox_rows GROUP BY aggregate_id),
    outbox_seq AS (
      INSERT INTO outbox_sequences (aggregate_id, last_sequence) SELECT aggregate_id, n FROM outbox_counts
      ON CONFLICT (aggregate_id) DO UPDATE SET last_sequence = outbox_sequences.last_sequence + EXCLUDED.last_sequence
      RETURNING aggregate_id, last_sequence
    ),
    outbox_written AS (
      INSERT INTO outbox_events (event_id, type, aggregate_type, aggregate_id, sequence, schema_version, traceparent, payload)
      SELECT gen_random_uuid(), r.type, r.aggregate_type, r.aggregate_id, s.last_sequence - c.n + r.ord,
             COALESCE(r.schema_version, ${CURRENT_SCHEMA_VERSION}::int), ${currentTraceparent()}::text, r.payload
      FROM outbox_rows r JOIN outbox_counts c USING (aggregate_id) JOIN outbox_seq s USING (aggregate_id)
      ORDER BY r.ord
      RETURNING event_id, aggregate_id, sequence, type, payload, occurred_at
    )`;
}

/** The rows `outboxAppend` takes for events of one aggregate, numbered in the order given. */
export function eventRows(aggregate: Aggregate, events: NewEvent[]): SqlFragment {
  const rows = events.map((e, i) => ({ ord: i + 1, type: e.type, schema_version: e.schemaVersion ?? null, payload: e.payload }));
  return sql`
      SELECT ${aggregate.type}::text AS aggregate_type, ${aggregate.id}::text AS aggregate_id, e.ord, e.type, e.payload, e.schema_version
      FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS e(ord int, type text, schema_version int, payload jsonb)`;
}

/**
 * A change and its events for one aggregate in one statement, hence one round trip: `change`
 * is a comma-separated list of CTEs (`moved AS (UPDATE ...), kept AS (INSERT ...)`) that the
 * statement runs next to the outbox writer's. Every data-modifying CTE runs to completion, so
 * the change and its rows commit or roll back together with the caller's transaction. Must be
 * called with the transaction handle of the change itself.
 */
export async function changeWithEvents<E extends NewEvent = NewEvent>(
  tx: Tx,
  change: SqlFragment | null,
  aggregate: Aggregate,
  events: E[],
  parts: StatementPart[] = [],
): Promise<{ eventId: string; sequence: number }[]> {
  if (events.length === 0) throw new Error('changeWithEvents needs at least one event');
  const ctes = [...(change ? [change] : []), ...parts.map((p) => p.ctes)].map((c) => sql`${c},`);
  const results = parts.map((p, i) => sql`, ${p.result} AS ${sql([`part_${i}`])}`);
  const { rows: written } = await tx.query<{ event_id: string; sequence: number } & Record<string, unknown>>(
    prepared(sql`
    WITH ${joined(ctes)} ${outboxAppend(eventRows(aggregate, events))}
    SELECT event_id::text, sequence${joined(results)} FROM outbox_written ORDER BY sequence`),
  );
  parts.forEach((p, i) => p.check(written[0]?.[`part_${i}`]));
  return written.map((r) => ({ eventId: r.event_id, sequence: r.sequence }));
}

/** Fragments one after the other. */
function joined(fragments: SqlFragment[]): SqlFragment {
  return sql(['', ...fragments.map(() => '')], ...fragments);
}

/**
 * Appends events for one aggregate, in one round trip. Must be called with the transaction
 * handle of the change itself.
 */
export async function appendEvents<E extends NewEvent = NewEvent>(
  tx: Tx,
  aggregate: Aggregate,
  events: E[],
): Promise<{ eventId: string; sequence: number }[]> {
  if (events.length === 0) return [];
  return changeWithEvents(tx, null, aggregate, events);
}
