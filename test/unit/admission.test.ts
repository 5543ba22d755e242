/**
 * The front door's bound on sagas in flight (services/orders/admission.ts), on a counted
 * number and a clock of the test's own; and Temporal's ResourceExhausted on a workflow start, as
 * the real client receives it from a gRPC endpoint that answers status 8 (test/support/exhausted-temporal.ts).
 */
import { Client, Connection } from '@temporalio/client';
import { Registry } from 'prom-client';
import { loadConfig } from '../../lib/config';
import { startShedsLoad } from '../../lib/temporal';
import { Admission, admissionMetrics, isRefusal, isResourceExhausted, type Ticket } from '../../services/orders/admission';
import { startSaga } from '../../services/orders/saga-starter';
import { startExhaustedTemporal } from '../support/exhausted-temporal';

const SETTINGS = { maxInFlight: 3, cacheMs: 1000, retryAfterS: 2, horizonMs: 3_600_000 };

function door(counted: { n: number; calls: number }, settings = SETTINGS) {
  let now = 0;
  const registry = new Registry();
  const admission = new Admission(
    settings,
    async () => {
      counted.calls += 1;
      return counted.n;
    },
    admissionMetrics(registry),
    () => now,
  );
  return { admission, registry, advance: (ms: number) => (now += ms) };
}

const value = async (registry: Registry, name: string, labels: Record<string, string> = {}) =>
  (await registry.getSingleMetric(name)!.get()).values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;

test('when the counted sagas in flight reach the bound, then the next order is refused with Retry-After, and counted as refused', async () => {
  const counted = { n: 3, calls: 0 };
  const { admission, registry } = door(counted);
  const answer = await admission.admit();
  expect(isRefusal(answer) && answer).toMatchObject({ reason: 'in_flight', retryAfterS: 2 });
  expect(await value(registry, 'orders_refused_total', { reason: 'in_flight' })).toBe(1);
  expect(await value(registry, 'orders_in_flight_max')).toBe(3);
});

test('when orders are admitted between two counts, then they count: the cached count never lets a burst past the bound', async () => {
  const counted = { n: 1, calls: 0 };
  const { admission, registry } = door(counted);
  const answers = await Promise.all(Array.from({ length: 5 }, () => admission.admit()));
  expect(answers.map((a) => (isRefusal(a) ? a.reason : 'admitted'))).toEqual([
    'admitted',
    'admitted',
    'in_flight',
    'in_flight',
    'in_flight',
  ]);
  expect(counted.calls).toBe(1); // one count for the burst, shared
  expect(await value(registry, 'orders_in_flight')).toBe(3);
});

test('when the cache expires, then the database count replaces the local one, keeping admissions still in progress', async () => {
  const counted = { n: 0, calls: 0 };
  const { admission, advance } = door(counted);
  const first = (await admission.admit()) as Ticket; // in progress: its order may not be committed yet
  const second = (await admission.admit()) as Ticket;
  second.done(); // committed: the next count has it
  counted.n = 1;
  advance(1001);
  expect(isRefusal(await admission.admit())).toBe(false); // count 1 + 1 in progress + this one = 3
  expect(counted.calls).toBe(2);
  expect(admission.estimate()).toBe(3);
  expect(isRefusal(await admission.admit())).toBe(true);
  first.done();
  first.done(); // twice is once
  counted.n = 0;
  advance(1001);
  expect(isRefusal(await admission.admit())).toBe(false); // the sagas finished: the door is open again
});

test('when the count fails, then the last count is kept, and before any count the door stays open', async () => {
  let calls = 0;
  const admission = new Admission({ ...SETTINGS, cacheMs: 0 }, async () => {
    calls += 1;
    if (calls > 1) throw new Error('database down');
    return 3;
  });
  expect(isRefusal(await admission.admit())).toBe(true);
  expect(isRefusal(await admission.admit())).toBe(true); // the count failed: still 3 in flight
  expect(calls).toBe(2);
  const never = new Admission({ ...SETTINGS, cacheMs: 0 }, async () => Promise.reject(new Error('down')));
  expect(isRefusal(await never.admit())).toBe(false); // the placement's own database errors answer
});

test('when Temporal refused a start with ResourceExhausted, then every order is refused for Retry-After seconds, bound or not', async () => {
  const counted = { n: 0, calls: 0 };
  const { admission, registry, advance } = door(counted, { ...SETTINGS, maxInFlight: 0 });
  admission.temporalExhausted();
  const answer = await admission.admit();
  expect(isRefusal(answer) && answer).toMatchObject({ reason: 'temporal_exhausted', retryAfterS: 2 });
  expect(await value(registry, 'orders_refused_total', { reason: 'temporal_exhausted' })).toBe(1);
  advance(2000);
  expect(isRefusal(await admission.admit())).toBe(false);
  expect(counted.calls).toBe(0); // ORDERS_MAX_IN_FLIGHT=0: no bound, no count
});

test("when Temporal's frontend answers a workflow start with RESOURCE_EXHAUSTED, then the real client fails at once, not retried, as ResourceExhausted", async () => {
  const temporal = await startExhaustedTemporal();
  const connection = await Connection.connect({ address: temporal.address, interceptors: [startShedsLoad()] });
  try {
    const client = new Client({ connection, namespace: 'default' });
    const cfg = loadConfig({});
    const order = { id: '00000000-0000-4000-8000-00000000aaaa', customerId: 'c', currency: 'EUR', totalMinor: 100, items: [] };
    const started = Date.now();
    const err = await startSaga(client, cfg, order).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isResourceExhausted(err)).toBe(true);
    // The SDK's default would retry it with 1 s of backoff and more; the API sheds it instead.
    expect(temporal.calls.get('StartWorkflowExecution')).toBe(1);
    expect(Date.now() - started).toBeLessThan(900);
  } finally {
    await connection.close();
    await temporal.close();
  }
});

test('a cause chain with a gRPC status 8 is ResourceExhausted; other statuses are not', () => {
  const grpc = (code: number) => Object.assign(new Error(`${code}`), { code });
  expect(isResourceExhausted(new Error('wrapped', { cause: grpc(8) }))).toBe(true);
  expect(isResourceExhausted(new Error('wrapped', { cause: grpc(14) }))).toBe(false);
  expect(isResourceExhausted(undefined)).toBe(false);
});

test("the door's snapshot (the console's overview) gives the bound, the estimate, the refusals by reason and how long Temporal keeps it shut", async () => {
  const counted = { n: 2, calls: 0 };
  const { admission, advance } = door(counted);
  expect(admission.snapshot()).toEqual({
    maxInFlight: 3,
    inFlight: 0,
    refused: { in_flight: 0, temporal_exhausted: 0 },
    closedUntil: null,
  });
  await admission.admit();
  await admission.admit();
  admission.temporalExhausted();
  await admission.admit();
  expect(admission.snapshot()).toEqual({
    maxInFlight: 3,
    inFlight: 3,
    refused: { in_flight: 1, temporal_exhausted: 1 },
    closedUntil: new Date(2000),
  });
  advance(2000);
  expect(admission.snapshot().closedUntil).toBeNull();
});
