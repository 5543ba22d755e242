/**
 * The audit projector: builds each order's timeline from the event stream and checks its
 * sequence numbers. The stream promises, per order, 1..n with no gap, no duplicate and in
 * order; the projector believes none of it. An event whose sequence is not the next one
 * expected is still recorded (it happened), and the surprise is recorded as an anomaly:
 *
 *   GAP           sequence beyond the next expected (something before it is missing)
 *   DUPLICATE     a sequence already in the timeline, under another event id
 *   OUT_OF_ORDER  a sequence below the highest seen that fills a hole (arrived late)
 *
 * It is this system's own consumer, so it reads strictly: an unknown event type or schema
 * version means the projector is older than the producer, and the event is dead-lettered
 * for replay after an upgrade rather than half-understood.
 */
import type { Registry } from 'prom-client';
import type { Tx } from '../../lib/sql';
import type { EventHandler, MessageContext } from '../platform/messaging/consumer';
import { parseEnvelope, type Envelope } from '../platform/messaging/envelope';
import { UnknownEventTypeError, UnsupportedSchemaVersionError } from '../platform/messaging/errors';
import { counter } from '../../lib/metrics';
import { INVENTORY_EVENTS } from '../inventory/contract';
import { ORDER_EVENTS, orderLogFields } from '../orders/contract';
import { PAYMENT_EVENTS } from '../payments/contract';

export const AUDIT_CONSUMER = 'audit';
export const SUPPORTED_SCHEMA_VERSIONS: readonly number[] = [1];
export const ANOMALY_KINDS = ['GAP', 'DUPLICATE', 'OUT_OF_ORDER'] as const;
export type AnomalyKind = (typeof ANOMALY_KINDS)[number];

/** Two-key advisory lock space of the projector: one aggregate's events are checked one at a time. */
const AGGREGATE_LOCK_CLASS = 72_707_201;
const KNOWN_TYPES = new Set<string>([ORDER_EVENTS, PAYMENT_EVENTS, INVENTORY_EVENTS].flatMap((names) => Object.values(names)));

export type AuditEvent = Envelope;

export function decodeAuditEvent(value: Buffer | null): AuditEvent {
  const envelope = parseEnvelope(value);
  if (!KNOWN_TYPES.has(envelope.type)) throw new UnknownEventTypeError(envelope.type);
  if (!SUPPORTED_SCHEMA_VERSIONS.includes(envelope.schemaVersion)) {
    throw new UnsupportedSchemaVersionError(envelope.type, envelope.schemaVersion);
  }
  return envelope;
}

/** How an arriving sequence relates to what the timeline already holds. */
export function checkSequence(sequence: number, highest: number | null, taken: boolean): AnomalyKind | null {
  const expected = (highest ?? 0) + 1;
  if (taken) return 'DUPLICATE';
  if (sequence > expected) return 'GAP';
  if (sequence < expected) return 'OUT_OF_ORDER';
  return null;
}

/** What the timeline holds of one aggregate, as far as the events at hand are concerned. */
export interface AggregateState {
  highest: number | null;
  /** Which of the sequences at hand are already recorded. */
  taken: Set<number>;
}

export interface NewAnomaly {
  aggregateId: string;
  kind: AnomalyKind;
  eventId: string;
  sequence: number;
  expectedSequence: number;
}

/**
 * Pure: the timeline rows and anomalies that a run of events produces, in order, given what
 * the timeline held before them. `state` is updated as if the rows were written.
 */
export function projectEvents(events: AuditEvent[], state: Map<string, AggregateState>): { rows: AuditEvent[]; anomalies: NewAnomaly[] } {
  const rows: AuditEvent[] = [];
  const anomalies: NewAnomaly[] = [];
  for (const e of events) {
    const st = state.get(e.aggregateId) ?? { highest: null, taken: new Set<number>() };
    state.set(e.aggregateId, st);
    const kind = checkSequence(e.sequence, st.highest, st.taken.has(e.sequence));
    if (kind)
      anomalies.push({
        aggregateId: e.aggregateId,
        kind,
        eventId: e.eventId,
        sequence: e.sequence,
        expectedSequence: (st.highest ?? 0) + 1,
      });
    if (kind === 'DUPLICATE') continue; // the timeline keeps the first event of a sequence
    rows.push(e);
    st.taken.add(e.sequence);
    st.highest = Math.max(st.highest ?? 0, e.sequence);
  }
  return { rows, anomalies };
}

/**
 * Takes the per-aggregate locks of a transaction's events in one statement, in a fixed order
 * (so two transactions can never wait on each other in a cycle). They are taken before the
 * statement that reads the timeline: a READ COMMITTED statement's snapshot is taken when it
 * starts, so a lock taken inside it would come too late. (Kafka gives one aggregate's events
 * to one consumer at a time; the lock covers the moments of a rebalance when it does not.)
 */
async function lockAggregates(tx: Tx, aggregateIds: string[]): Promise<void> {
  await tx.rows`
    SELECT pg_advisory_xact_lock(${AGGREGATE_LOCK_CLASS}::int, h)::text
      FROM (SELECT DISTINCT hashtext(a) AS h FROM unnest(${aggregateIds}::text[]) AS a ORDER BY 1) AS t`;
}

/** The timeline's highest sequence per aggregate, and which of the given sequences it already has. */
async function readState(tx: Tx, events: AuditEvent[]): Promise<Map<string, AggregateState>> {
  const rows = await tx.rows<{ aggregate_id: string; highest: number | null; taken: number[] }>`
    SELECT c.aggregate_id,
           (SELECT max(t.sequence) FROM audit_timeline t WHERE t.aggregate_id = c.aggregate_id) AS highest,
           ARRAY(SELECT t.sequence FROM audit_timeline t WHERE t.aggregate_id = c.aggregate_id AND t.sequence = ANY(c.sequences)) AS taken
      FROM (SELECT a AS aggregate_id, array_agg(s) AS sequences
              FROM unnest(${events.map((e) => e.aggregateId)}::text[], ${events.map((e) => e.sequence)}::int[]) AS u(a, s)
             GROUP BY a) AS c`;
  return new Map(rows.map((r) => [r.aggregate_id, { highest: r.highest, taken: new Set(r.taken) }]));
}

/** One multi-row INSERT from arrays (much cheaper than the ORM's per-row parameters). */
async function insertTimeline(tx: Tx, rows: AuditEvent[]): Promise<void> {
  await tx.exec`
    INSERT INTO audit_timeline (aggregate_id, sequence, event_id, type, aggregate_type, schema_version, occurred_at, payload, traceparent)
    SELECT * FROM unnest(
      ${rows.map((e) => e.aggregateId)}::text[], ${rows.map((e) => e.sequence)}::int[], ${rows.map((e) => e.eventId)}::text[]::uuid[],
      ${rows.map((e) => e.type)}::text[], ${rows.map((e) => e.aggregateType)}::text[], ${rows.map((e) => e.schemaVersion)}::int[],
      ${rows.map((e) => e.occurredAt)}::text[]::timestamptz[], ${rows.map((e) => JSON.stringify(e.payload))}::text[]::jsonb[],
      ${rows.map((e) => e.traceparent)}::text[])
    ON CONFLICT DO NOTHING`;
}

async function insertAnomalies(tx: Tx, anomalies: NewAnomaly[]): Promise<void> {
  await tx.exec`
    INSERT INTO audit_anomalies (aggregate_id, kind, event_id, sequence, expected_sequence)
    SELECT * FROM unnest(${anomalies.map((a) => a.aggregateId)}::text[], ${anomalies.map((a) => a.kind)}::text[],
      ${anomalies.map((a) => a.eventId)}::text[]::uuid[], ${anomalies.map((a) => a.sequence)}::int[], ${anomalies.map((a) => a.expectedSequence)}::int[])`;
}

/** The projection of a run of events: four statements, however many events. */
async function recordEvents(tx: Tx, events: AuditEvent[]): Promise<NewAnomaly[]> {
  await lockAggregates(
    tx,
    events.map((e) => e.aggregateId),
  );
  const { rows, anomalies } = projectEvents(events, await readState(tx, events));
  if (rows.length > 0) await insertTimeline(tx, rows);
  if (anomalies.length > 0) await insertAnomalies(tx, anomalies);
  return anomalies;
}

export function createAuditHandler(registry: Registry): EventHandler<AuditEvent> {
  const counted = counter(registry, 'audit_sequence_anomalies_total', 'Events whose sequence was not the next expected.', ['kind']);
  const applyBatch = async (tx: Tx, events: AuditEvent[]) => {
    const anomalies = await recordEvents(tx, events);
    return () => anomalies.forEach((a) => counted.inc({ kind: a.kind }));
  };
  return {
    name: AUDIT_CONSUMER,
    logFields: (e) => orderLogFields(e.aggregateId),
    decode: (value: Buffer | null, _ctx: MessageContext) => decodeAuditEvent(value),
    apply: (tx: Tx, event: AuditEvent) => applyBatch(tx, [event]),
    applyBatch,
  };
}
