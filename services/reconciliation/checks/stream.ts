/**
 * Outbox vs stream. The outbox is what the services committed; the audit timeline is what the
 * audit consumer got from Kafka. Each fault is reported once, by the check closest to its
 * cause: a message a consumer gave up on is a dead letter (not also a hole in the timeline);
 * a hole the consumer noticed is an anomaly (not also a timeline mismatch).
 */
import type { CheckContext, Failure, ListingCheck } from './check';
import { settledBefore, sqlCheck } from './check';

/** A GAP still not filled, or a DUPLICATE whose timeline kept a foreign event, for aggregate `agg`. */
const unhealedAnomaly = (agg: string) => `
  EXISTS (SELECT 1 FROM audit_anomalies a
           WHERE a.aggregate_id = ${agg}
             AND ((a.kind = 'GAP'
                   AND (SELECT count(*) FROM audit_timeline t WHERE t.aggregate_id = a.aggregate_id
                         AND t.sequence >= a.expected_sequence AND t.sequence < a.sequence) < a.sequence - a.expected_sequence)
              OR (a.kind = 'DUPLICATE'
                   AND EXISTS (SELECT 1 FROM audit_timeline t JOIN outbox_events e ON e.aggregate_id = t.aggregate_id AND e.sequence = t.sequence
                                WHERE t.aggregate_id = a.aggregate_id AND t.sequence = a.sequence AND t.event_id <> e.event_id))))`;

const unreplayedDeadLetter = (agg: string) => `
  EXISTS (SELECT 1 FROM dead_letters d WHERE d.message_key = ${agg} AND d.replay_count = 0)`;

/**
 * Settled: nothing of the order waits in the outbox, and its last publication is older than
 * the stream lag (time for the consumer). Pruned rows (RELAY_RETENTION_MS) are fine: the
 * sequence counter outlives them, so 1..n is still known.
 */
export const TIMELINE_SQL = `
WITH pairs AS (
  -- One pass over the batch's outbox rows, each with the timeline's event at its sequence.
  SELECT e.aggregate_id, e.sequence, e.published_at, t.event_id IS DISTINCT FROM e.event_id AS differs
    FROM outbox_events e
    LEFT JOIN audit_timeline t ON t.aggregate_id = e.aggregate_id AND t.sequence = e.sequence
   WHERE e.aggregate_id = ANY($1::text[])
), ob AS (
  SELECT aggregate_id, count(*) FILTER (WHERE published_at IS NULL) AS pending, max(published_at) AS last_published,
         (array_agg(sequence ORDER BY sequence) FILTER (WHERE differs))[1:10] AS differ
    FROM pairs GROUP BY aggregate_id
), settled AS (
  SELECT q.aggregate_id, q.last_sequence, ob.differ
    FROM outbox_sequences q LEFT JOIN ob ON ob.aggregate_id = q.aggregate_id
   WHERE q.aggregate_id = ANY($1::text[])
     AND ((COALESCE(ob.pending, 0) = 0 AND COALESCE(ob.last_published, '-infinity'::timestamptz) < $3) OR q.aggregate_id = ANY($2::text[]))
     AND NOT ${unreplayedDeadLetter('q.aggregate_id')}
     AND NOT ${unhealedAnomaly('q.aggregate_id')}
), tl AS (
  SELECT t.aggregate_id, count(*) AS n, max(t.sequence) AS hi
    FROM audit_timeline t WHERE t.aggregate_id = ANY($1::text[]) GROUP BY t.aggregate_id
)
SELECT s.aggregate_id AS subject_id,
       jsonb_build_object(
         'lastSequence', s.last_sequence, 'timelineEvents', COALESCE(tl.n, 0), 'timelineHighest', tl.hi,
         'missingSequences', to_jsonb(ARRAY(
            SELECT g FROM generate_series(1, s.last_sequence) g
             WHERE NOT EXISTS (SELECT 1 FROM audit_timeline t WHERE t.aggregate_id = s.aggregate_id AND t.sequence = g)
             ORDER BY g LIMIT 10)),
         'eventIdDiffersAt', to_jsonb(COALESCE(s.differ, '{}'::int[]))) AS details
  FROM settled s LEFT JOIN tl ON tl.aggregate_id = s.aggregate_id
 WHERE COALESCE(tl.n, 0) <> s.last_sequence OR tl.hi IS DISTINCT FROM s.last_sequence OR cardinality(s.differ) > 0`;

export const AUDIT_ANOMALIES_SQL = `
SELECT a.aggregate_id AS subject_id,
       jsonb_build_object('anomalies', jsonb_agg(jsonb_build_object(
         'id', a.id, 'kind', a.kind, 'eventId', a.event_id, 'sequence', a.sequence,
         'expectedSequence', a.expected_sequence, 'detectedAt', a.detected_at) ORDER BY a.id)) AS details
  FROM audit_anomalies a
 WHERE a.aggregate_id = ANY($1::text[]) AND a.kind IN ('GAP', 'DUPLICATE')
   AND (a.detected_at < $3 OR a.aggregate_id = ANY($2::text[]))
   AND ((a.kind = 'GAP'
         AND (SELECT count(*) FROM audit_timeline t WHERE t.aggregate_id = a.aggregate_id
               AND t.sequence >= a.expected_sequence AND t.sequence < a.sequence) < a.sequence - a.expected_sequence)
     OR (a.kind = 'DUPLICATE'
         AND EXISTS (SELECT 1 FROM audit_timeline t JOIN outbox_events e ON e.aggregate_id = t.aggregate_id AND e.sequence = t.sequence
                      WHERE t.aggregate_id = a.aggregate_id AND t.sequence = a.sequence AND t.event_id <> e.event_id)))
   AND NOT ${unreplayedDeadLetter('a.aggregate_id')}
 GROUP BY a.aggregate_id`;

export const timeline = sqlCheck('stream.timeline', 'orders', TIMELINE_SQL);
export const auditAnomalies = sqlCheck('stream.audit_anomalies', 'orders', AUDIT_ANOMALIES_SQL);

interface Row {
  subject_id: string;
  details: Record<string, unknown>;
}

/** Pages through a keyset query: $1..$n are `params`, then the last key and the page size. */
async function pages(ctx: CheckContext, sql: string, params: unknown[], emit: (f: Failure[]) => Promise<void>): Promise<void> {
  let after = '';
  for (;;) {
    const { rows } = await ctx.pg.query<Row>(sql, [...params, after, ctx.settings.batchSize]);
    if (rows.length > 0) await emit(rows.map((r) => ({ subjectId: r.subject_id, details: r.details })));
    if (rows.length < ctx.settings.batchSize) return;
    after = rows[rows.length - 1]!.subject_id;
  }
}

export const outboxPublished: ListingCheck = {
  kind: 'listing',
  name: 'stream.outbox_published',
  async examine(ctx, scope, emit) {
    const lagBefore = settledBefore(ctx, 'stream.outbox_published');
    // The partial index of pending rows: this reads only what still waits to be published.
    const sql = `
      SELECT aggregate_id AS subject_id,
             jsonb_build_object('unpublished', count(*), 'firstSequence', min(sequence), 'oldestOccurredAt', min(occurred_at)) AS details
        FROM outbox_events
       WHERE published_at IS NULL AND occurred_at < $1 AND ($2::text[] IS NULL OR aggregate_id = ANY($2::text[])) AND aggregate_id > $3
       GROUP BY aggregate_id ORDER BY aggregate_id LIMIT $4`;
    await pages(ctx, sql, [lagBefore, scope?.orderIds ?? null], emit);
  },
  async scopeSubjects(_ctx, scope) {
    return scope.orderIds;
  },
};

export const deadLetters: ListingCheck = {
  kind: 'listing',
  name: 'stream.dead_letters',
  async examine(ctx, scope, emit) {
    const sql = `
      SELECT id::text AS subject_id,
             jsonb_build_object('consumerGroup', consumer_group, 'sourceTopic', source_topic, 'sourcePartition', source_partition,
                                'sourceOffset', source_offset::text, 'eventId', event_id, 'eventType', event_type,
                                'messageKey', message_key, 'error', error_class || ': ' || left(error_message, 200),
                                'deadLetteredAt', created_at) AS details
        FROM dead_letters
       WHERE replay_count = 0 AND ($1::text[] IS NULL OR message_key = ANY($1::text[]))
         AND id > COALESCE(NULLIF($2, '')::bigint, 0)
       ORDER BY id LIMIT $3`;
    await pages(ctx, sql, [scope?.orderIds ?? null], emit);
  },
  async scopeSubjects(ctx, scope) {
    const { rows } = await ctx.pg.query<{ id: string }>('SELECT id::text AS id FROM dead_letters WHERE message_key = ANY($1::text[])', [
      scope.orderIds,
    ]);
    return rows.map((r) => r.id);
  },
};
