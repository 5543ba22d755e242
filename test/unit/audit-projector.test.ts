import { checkSequence, decodeAuditEvent, projectEvents } from '../../services/audit/projector';
import { UnknownEventTypeError, UnsupportedSchemaVersionError, ValidationError } from '../../services/platform/messaging/errors';

const envelope = (overrides: Record<string, unknown> = {}) =>
  Buffer.from(
    JSON.stringify({
      eventId: '6f1c1b1e-8a53-4c55-9d39-0c7f6bda2a11',
      type: 'OrderCreated',
      aggregateType: 'Order',
      aggregateId: 'b5a1c4de-0d6f-4a8e-bd0c-96d1e7f0a001',
      sequence: 1,
      occurredAt: '2026-11-21T10:00:00.123Z',
      schemaVersion: 1,
      traceparent: null,
      payload: {},
      ...overrides,
    }),
  );

describe('checkSequence', () => {
  test.each([
    [1, null, false, null],
    [4, 3, false, null],
    [5, 3, false, 'GAP'],
    [1, null, false, null],
    [3, null, false, 'GAP'],
    [2, 4, false, 'OUT_OF_ORDER'],
    [2, 4, true, 'DUPLICATE'],
    [3, 3, true, 'DUPLICATE'],
  ] as const)('sequence %i after highest %p (taken: %p) is %p', (sequence, highest, taken, expected) => {
    expect(checkSequence(sequence, highest, taken)).toBe(expected);
  });
});

describe('decodeAuditEvent (strict)', () => {
  test('accepts every known event type in version 1, ignoring extra fields', () => {
    expect(decodeAuditEvent(envelope({ extra: true })).type).toBe('OrderCreated');
  });

  test('rejects an unknown event type, an unknown schema version and a malformed envelope, none retryable', () => {
    expect(() => decodeAuditEvent(envelope({ type: 'OrderTeleported' }))).toThrow(UnknownEventTypeError);
    expect(() => decodeAuditEvent(envelope({ schemaVersion: 2 }))).toThrow(UnsupportedSchemaVersionError);
    expect(() => decodeAuditEvent(envelope({ aggregateId: '' }))).toThrow(ValidationError);
  });
});

describe('projectEvents', () => {
  const ev = (aggregateId: string, sequence: number, eventId = `${aggregateId}-${sequence}`) => ({
    eventId,
    type: 'OrderStatusChanged',
    aggregateType: 'Order',
    aggregateId,
    sequence,
    occurredAt: '2026-11-21T10:00:00.000Z',
    schemaVersion: 1,
    traceparent: null,
    payload: {},
  });

  test('a run in sequence, over several aggregates, is recorded as it is with no anomaly', () => {
    const events = [ev('a', 1), ev('b', 1), ev('a', 2), ev('b', 2), ev('a', 3)];
    expect(projectEvents(events, new Map())).toEqual({ rows: events, anomalies: [] });
  });

  test('continues from what the timeline held, and reports gap, late arrival and duplicate in the order they arrive', () => {
    const state = new Map([['a', { highest: 2, taken: new Set([2]) }]]);
    const events = [ev('a', 4), ev('a', 3), ev('a', 3, 'impostor'), ev('a', 2, 'other')];
    const { rows, anomalies } = projectEvents(events, state);
    expect(rows.map((r) => r.eventId)).toEqual(['a-4', 'a-3']);
    expect(anomalies.map(({ kind, eventId, expectedSequence }) => ({ kind, eventId, expectedSequence }))).toEqual([
      { kind: 'GAP', eventId: 'a-4', expectedSequence: 3 },
      { kind: 'OUT_OF_ORDER', eventId: 'a-3', expectedSequence: 5 },
      { kind: 'DUPLICATE', eventId: 'impostor', expectedSequence: 5 },
      { kind: 'DUPLICATE', eventId: 'other', expectedSequence: 5 },
    ]);
    expect(state.get('a')).toEqual({ highest: 4, taken: new Set([2, 3, 4]) });
  });
});
