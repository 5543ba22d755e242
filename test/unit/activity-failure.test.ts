import { ApplicationFailure } from '@temporalio/common';
import { DatabaseError } from 'pg';
import { asActivities } from '../../activities/failure';
import { dataErrorOf } from '../../lib/db-errors';
import { DomainError } from '../../lib/errors';
import { ORDER_ERRORS } from '../../services/orders/contract';

/** What node-postgres throws when the server refuses a statement. */
function pgError(code: string, message: string): DatabaseError {
  return Object.assign(new DatabaseError(message, message.length, 'error'), { code });
}

/** What an activity that throws `err` fails with, as Temporal sees it. */
async function failureOf(err: unknown): Promise<unknown> {
  const activities = asActivities({ act: async () => Promise.reject(err) });
  return activities.act().then(
    () => undefined,
    (failure: unknown) => failure,
  );
}

describe('a data error from PostgreSQL in an activity', () => {
  test.each([
    ['a NUL byte in text', '22021', 'invalid byte sequence for encoding "UTF8": 0x00'],
    ['a value out of range', '22003', 'integer out of range'],
    ['a NOT NULL violation', '23502', 'null value in column "status" violates not-null constraint'],
    ['a check violation', '23514', 'new row violates check constraint'],
  ])('when it is %s, then the activity fails non-retryable as DATABASE_DATA_ERROR, cause kept', async (_what, code, message) => {
    const err = pgError(code, message);
    const failure = await failureOf(err);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'DATABASE_DATA_ERROR', nonRetryable: true, details: [{ sqlstate: code }] });
    expect((failure as ApplicationFailure).cause).toBe(err);
  });

  test('when it is wrapped (a cause of the error thrown), then it is found in the chain', async () => {
    const err = new Error('transition failed', { cause: pgError('22021', 'invalid byte sequence') });
    expect(dataErrorOf(err)).toBe('22021');
    expect(await failureOf(err)).toMatchObject({ type: 'DATABASE_DATA_ERROR', nonRetryable: true });
  });

  test.each([
    ['a serialization failure', pgError('40001', 'could not serialize access')],
    ['a lock timeout', pgError('55P03', 'lock not available')],
    ['an admin shutdown', pgError('57P01', 'terminating connection due to administrator command')],
    ['an error nobody recognises', new TypeError('x is undefined')],
  ])('when it is %s, then it is no data error and Temporal retries it as before', async (_what, err) => {
    expect(dataErrorOf(err)).toBeUndefined();
    expect(await failureOf(err)).toBe(err);
  });

  test('a domain error keeps its own kind', async () => {
    const err = new DomainError(ORDER_ERRORS.COMPENSATION_INCOMPLETE, 'still reserved', { cause: pgError('23514', 'check') });
    expect(await failureOf(err)).toMatchObject({ type: ORDER_ERRORS.COMPENSATION_INCOMPLETE.code, nonRetryable: true });
  });
});
