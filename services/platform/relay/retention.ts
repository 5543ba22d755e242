/**
 * Retention of published outbox rows. Once on the topic, a row is only history (the topic,
 * the audit timeline and the services' own tables are the records), so rows published longer
 * ago than the retention are deleted, oldest first, in bounded chunks. Pending rows are never
 * touched, nor the per-aggregate sequence counters (outbox_sequences), which must outlive
 * their events so that sequences never restart.
 */
import { inTransaction, type Db } from '../../../lib/db';

const CHUNK = 5000;
/** Two-key advisory lock: only one relay prunes at a time; the others skip the round. */
const PRUNE_LOCK: [number, number] = [72_707_102, 0];

/**
 * Deletes published rows older than `retentionMs`; returns how many. Walks the table in id
 * order (the primary key), which is publication order give or take the odd straggler, and
 * stops at the first chunk with nothing to delete: what follows is younger. No index on
 * published_at is needed, so marking rows published (the relay's hot path) stays cheap.
 */
export async function pruneOutbox(db: Db, retentionMs: number, shouldStop: () => boolean = () => false): Promise<number> {
  let total = 0;
  let after = '0';
  for (;;) {
    const chunk = await inTransaction(db, async (tx) => {
      const [lock] = await tx.rows<{
        locked: boolean;
      }>`SELECT pg_try_advisory_xact_lock(${PRUNE_LOCK[0]}::int, ${PRUNE_LOCK[1]}::int) AS locked`;
      if (!lock?.locked) return undefined;
      const [result] = await tx.rows<{ last: string | null; deleted: number }>`
        WITH chunk AS (
          SELECT id, published_at FROM outbox_events WHERE id > ${after}::bigint ORDER BY id LIMIT ${CHUNK}::int
        ), gone AS (
          DELETE FROM outbox_events o USING chunk c
           WHERE o.id = c.id AND c.published_at < now() - ${retentionMs}::bigint * interval '1 millisecond'
          RETURNING o.id
        )
        SELECT (SELECT max(id)::text FROM chunk) AS last, (SELECT count(*)::int FROM gone) AS deleted`;
      return result;
    });
    if (!chunk) return total;
    total += chunk.deleted;
    if (chunk.deleted === 0 || chunk.last === null || shouldStop()) return total;
    after = chunk.last;
  }
}
