/**
 * The last line of defence of per-aggregate order. The claim query returns rows in id order,
 * which within an aggregate is sequence order (see ShardSession.claim); this makes the send
 * order independent of that argument: each aggregate's rows are put in sequence order into
 * the positions the aggregate occupies in the batch, leaving every other row where it was.
 */
import type { OutboxRow } from '../messaging/envelope';

export function orderForPublish(rows: OutboxRow[]): OutboxRow[] {
  const byAggregate = new Map<string, OutboxRow[]>();
  for (const row of rows) {
    const list = byAggregate.get(row.aggregateId);
    if (list) list.push(row);
    else byAggregate.set(row.aggregateId, [row]);
  }
  for (const list of byAggregate.values()) list.sort((a, b) => a.sequence - b.sequence);
  const next = new Map<string, number>();
  return rows.map((row) => {
    const i = next.get(row.aggregateId) ?? 0;
    next.set(row.aggregateId, i + 1);
    return byAggregate.get(row.aggregateId)![i]!;
  });
}
