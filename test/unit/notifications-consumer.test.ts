import { UnsupportedSchemaVersionError, ValidationError } from '../../services/platform/messaging/errors';
import { decodeNotificationEvent, formatMoney } from '../../services/notifications/consumer';

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const eventId = '6f1c1b1e-8a53-4c55-9d39-0c7f6bda2a11';

describe('decodeNotificationEvent (a tolerant reader)', () => {
  test('needs only eventId, type, a version and an order id; ignores everything else', () => {
    const e = decodeNotificationEvent(
      json({ eventId, type: 'OrderConfirmed', schemaVersion: 1, payload: { orderId: 'o-1', surprise: [1, 2] }, extra: 'x' }),
    );
    expect(e).toEqual({ eventId, aggregateId: 'o-1', type: 'OrderConfirmed', payload: { orderId: 'o-1', surprise: [1, 2] } });
  });

  test('falls back to the aggregate id when the payload names no order', () => {
    expect(decodeNotificationEvent(json({ eventId, type: 'OrderConfirmed', schemaVersion: 1, aggregateId: 'o-2' })).aggregateId).toBe(
      'o-2',
    );
  });

  test('passes an unknown type through (to be ignored), whatever its version', () => {
    expect(decodeNotificationEvent(json({ eventId, type: 'OrderGiftWrapped', schemaVersion: 9, aggregateId: 'o-3' })).type).toBe(
      'OrderGiftWrapped',
    );
  });

  test('refuses a known type in a major version it does not know', () => {
    expect(() => decodeNotificationEvent(json({ eventId, type: 'OrderConfirmed', schemaVersion: 2, aggregateId: 'o-4' }))).toThrow(
      UnsupportedSchemaVersionError,
    );
    expect(() => decodeNotificationEvent(json({ eventId, type: 'OrderConfirmed', aggregateId: 'o-4' }))).toThrow(ValidationError);
  });

  test('refuses what is not an event at all', () => {
    expect(() => decodeNotificationEvent(Buffer.from('nope'))).toThrow(ValidationError);
    expect(() => decodeNotificationEvent(json({ eventId: 'not-a-uuid', type: 'OrderConfirmed' }))).toThrow(ValidationError);
    expect(() => decodeNotificationEvent(json({ eventId, type: 'OrderConfirmed', schemaVersion: 1 }))).toThrow(ValidationError);
  });
});

describe('formatMoney', () => {
  test('formats minor units with the currency’s own decimals', () => {
    expect(formatMoney(2500, 'EUR')).toBe('€25.00');
    expect(formatMoney(500, 'JPY')).toBe('¥500');
    expect(formatMoney(1234, 'XYZ')).toContain('XYZ');
  });
});
