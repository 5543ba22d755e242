import type { OutboxRow } from '../../services/platform/messaging/envelope';
import { orderForPublish } from '../../services/platform/relay/ordering';

const row = (id: number, aggregateId: string, sequence: number): OutboxRow => ({
  id: String(id),
  eventId: `e${id}`,
  type: 'OrderStatusChanged',
  aggregateType: 'Order',
  aggregateId,
  sequence,
  schemaVersion: 1,
  traceparent: null,
  payload: {},
  occurredAt: new Date(0),
});

const shape = (rows: OutboxRow[]) => rows.map((r) => `${r.aggregateId}${r.sequence}`);

describe('orderForPublish', () => {
  test('keeps a batch that is already in order as it is', () => {
    const rows = [row(1, 'a', 1), row(2, 'b', 1), row(3, 'a', 2), row(4, 'b', 2)];
    expect(orderForPublish(rows)).toEqual(rows);
  });

  test('puts each aggregate in sequence order within the slots it occupies, leaving the others alone', () => {
    const rows = [row(1, 'a', 3), row(2, 'b', 1), row(3, 'a', 1), row(4, 'c', 7), row(5, 'a', 2)];
    expect(shape(orderForPublish(rows))).toEqual(['a1', 'b1', 'a2', 'c7', 'a3']);
  });

  test('handles an empty batch', () => {
    expect(orderForPublish([])).toEqual([]);
  });
});
