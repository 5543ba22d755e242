import { classify, UnknownEventTypeError, UnsupportedSchemaVersionError, ValidationError } from '../../services/platform/messaging/errors';
import { InjectedFault } from '../../lib/faults';

/** The shape @prisma/adapter-pg errors have (checked against the real driver). */
function prismaError(code: string, cause: Record<string, unknown>) {
  return Object.assign(new Error('prisma failed'), {
    name: 'PrismaClientKnownRequestError',
    code,
    meta: { driverAdapterError: { name: 'DriverAdapterError', cause } },
  });
}

describe('classify', () => {
  test.each([
    ['a serialization failure', prismaError('P2010', { kind: 'TransactionWriteConflict', originalCode: '40001' })],
    ['a deadlock', prismaError('P2010', { kind: 'TransactionWriteConflict', originalCode: '40P01' })],
    ['a statement timeout', prismaError('P2010', { kind: 'postgres', originalCode: '57014' })],
    ['a lock timeout', prismaError('P2010', { kind: 'postgres', code: '55P03' })],
    ['an injected fault', new InjectedFault('boom')],
    ['a kafkajs retriable error', Object.assign(new Error('leader moved'), { name: 'KafkaJSProtocolError', retriable: true })],
    ['an error nobody recognises', new TypeError('undefined is not a function')],
  ])('%s is retried within the attempts', (_what, err) => {
    expect(classify(err)).toMatchObject({ retryable: true, unavailable: false });
  });

  test.each([
    ['an unreachable database', prismaError('P1001', { kind: 'DatabaseNotReachable', host: '127.0.0.1', port: 1 })],
    ['a closed connection', prismaError('P2010', { kind: 'ConnectionClosed' })],
    ['an admin shutdown', prismaError('P2010', { kind: 'postgres', originalCode: '57P01' })],
    ['a connection exception class', prismaError('P2010', { kind: 'postgres', originalCode: '08006' })],
    ['a refused socket', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
    ['a broker connection error', Object.assign(new Error('Connection error'), { name: 'KafkaJSConnectionError' })],
  ])('%s is retried without using up attempts', (_what, err) => {
    expect(classify(err)).toMatchObject({ retryable: true, unavailable: true });
  });

  test.each([
    ['a validation error', new ValidationError('payload must be a JSON object')],
    ['an unknown event type', new UnknownEventTypeError('OrderTeleported')],
    ['an unknown schema version', new UnsupportedSchemaVersionError('OrderCreated', 3)],
    ['invalid input for a column', prismaError('P2007', { kind: 'InvalidInputValue', originalCode: '22P02' })],
    ['a check constraint violation', prismaError('P2010', { kind: 'postgres', originalCode: '23514' })],
    ['a division by zero', prismaError('P2010', { kind: 'postgres', originalCode: '22012' })],
  ])('%s is never retried', (_what, err) => {
    expect(classify(err)).toMatchObject({ retryable: false, unavailable: false });
  });

  test('walks the cause chain to the first link with an opinion', () => {
    const wrapped = new Error('apply failed', { cause: new Error('inner', { cause: new ValidationError('bad') }) });
    expect(classify(wrapped)).toMatchObject({ retryable: false, errorClass: 'Error', message: 'apply failed' });
  });

  test('names the error class with its code, for metrics and dead-letter headers', () => {
    expect(classify(prismaError('P2010', { kind: 'TransactionWriteConflict', originalCode: '40001' })).errorClass).toBe(
      'PrismaClientKnownRequestError:P2010',
    );
    expect(classify(new UnsupportedSchemaVersionError('OrderCreated', 2)).errorClass).toBe('UnsupportedSchemaVersionError');
  });
});
