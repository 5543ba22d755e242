import { headerStrings, parseEnvelope, toMessage, type OutboxRow } from '../../services/platform/messaging/envelope';
import { ValidationError } from '../../services/platform/messaging/errors';

const row: OutboxRow = {
  id: '42',
  eventId: '6f1c1b1e-8a53-4c55-9d39-0c7f6bda2a11',
  type: 'OrderCreated',
  aggregateType: 'Order',
  aggregateId: 'b5a1c4de-0d6f-4a8e-bd0c-96d1e7f0a001',
  sequence: 1,
  schemaVersion: 1,
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  payload: { orderId: 'b5a1c4de-0d6f-4a8e-bd0c-96d1e7f0a001', totalMinor: 2500 },
  occurredAt: new Date('2026-11-21T10:00:00.123Z'),
};

describe('the event message', () => {
  test('is keyed by the aggregate, carries the envelope as JSON and the routing fields as headers', () => {
    const m = toMessage(row);
    expect(m.key).toBe(row.aggregateId);
    expect(m.headers).toEqual({
      eventId: row.eventId,
      type: 'OrderCreated',
      sequence: '1',
      schemaVersion: '1',
      traceparent: row.traceparent,
    });
    expect(JSON.parse(m.value as string)).toEqual({
      eventId: row.eventId,
      type: 'OrderCreated',
      aggregateType: 'Order',
      aggregateId: row.aggregateId,
      sequence: 1,
      occurredAt: '2026-11-21T10:00:00.123Z',
      schemaVersion: 1,
      traceparent: row.traceparent,
      payload: row.payload,
    });
  });

  test('has no traceparent header when the event has no trace', () => {
    expect(toMessage({ ...row, traceparent: null }).headers).not.toHaveProperty('traceparent');
  });

  test('round-trips through the strict reader', () => {
    const m = toMessage(row);
    expect(parseEnvelope(Buffer.from(m.value as string))).toMatchObject({ eventId: row.eventId, sequence: 1, payload: row.payload });
  });

  test.each([
    ['no value', null],
    ['not JSON', Buffer.from('{oops')],
    ['an array', Buffer.from('[]')],
    ['a sequence of 0', Buffer.from(JSON.stringify({ ...JSON.parse(toMessage(row).value as string), sequence: 0 }))],
    ['an eventId that is not a UUID', Buffer.from(JSON.stringify({ ...JSON.parse(toMessage(row).value as string), eventId: 'x' }))],
    ['a payload that is not an object', Buffer.from(JSON.stringify({ ...JSON.parse(toMessage(row).value as string), payload: 'x' }))],
    [
      'an occurredAt that is not a time',
      Buffer.from(JSON.stringify({ ...JSON.parse(toMessage(row).value as string), occurredAt: 'yesterday' })),
    ],
  ])('the strict reader rejects %s with a ValidationError', (_what, value) => {
    expect(() => parseEnvelope(value)).toThrow(ValidationError);
  });

  test('header values are read as strings, last value winning', () => {
    expect(headerStrings({ a: Buffer.from('x'), b: 'y', c: [Buffer.from('1'), Buffer.from('2')], d: undefined })).toEqual({
      a: 'x',
      b: 'y',
      c: '2',
    });
  });
});
