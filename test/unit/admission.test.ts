/**
 * The front door's bound on sagas in flight (services/orders/admission.ts), on a counted
 * number and a clock of the test's own; and Temporal's ResourceExhausted on a workflow start, as
 * the real client receives it from a gRPC endpoint that answers status 8 (test/support/exhausted-temporal.ts).
 */
import { Client, Connection } from '@temporalio/client';
import { Registry } from 'prom-client';
import { loadConfig } from '../../lib/config';
import { startShedsLoad } from '../../lib/temporal';
import {
  Admission,
  admissionMetrics,
  isRefusal,
  isResourceExhausted,
  Throughput,
  THROUGHPUT_WINDOW_MS,
  type InFlightCount,
  type Ticket,
} from '../../services/orders/admission';
import { startSaga } from '../../services/orders/saga-starter';
import { startExhaustedTemporal } from '../support/exhausted-temporal';

/** A fixed bound of 3 (targetMs 0: not adaptive). */
const SETTINGS = { maxInFlight: 3, minInFlight: 1, targetMs: 0, cacheMs: 1000, retryAfterS: 2, horizonMs: 3_600_000 };
const counted = (n: number): InFlightCount => ({ n, at: 0, arrivedSince: 0 });

function door(counted: { n: number; calls: number }, settings = SETTINGS) {
  let now = 0;
  const registry = new Registry();
  const admission = new Admission(
    settings,
    async () => {
      counted.calls += 1;
      return { n: counted.n, at: 0, arrivedSince: 0 };
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
    return counted(3);
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
    adaptive: null,
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
    adaptive: null,
    inFlight: 3,
    refused: { in_flight: 1, temporal_exhausted: 1 },
    closedUntil: new Date(2000),
  });
  advance(2000);
  expect(admission.snapshot().closedUntil).toBeNull();
});

describe('the adaptive bound (ORDERS_IN_FLIGHT_TARGET_MS): measured throughput x the target wait, within its floor and cap', () => {
  /** A database of the test's own: sagas in flight, orders created at given times, and its clock. */
  function database() {
    const db = { inFlight: 0, created: [] as number[], clock: 1_000_000, sinceAsked: [] as (number | null)[] };
    const count = async (since: number | null): Promise<InFlightCount> => {
      db.sinceAsked.push(since);
      return { n: db.inFlight, at: db.clock, arrivedSince: since === null ? 0 : db.created.filter((t) => t > since).length };
    };
    return { db, count };
  }
  const ADAPTIVE = { ...SETTINGS, maxInFlight: 200, minInFlight: 20, targetMs: 3000, cacheMs: 0 };

  test('before any throughput is measured, the bound is the floor', async () => {
    const { db, count } = database();
    const admission = new Admission(ADAPTIVE, count, undefined, () => db.clock);
    db.inFlight = 20;
    const answer = await admission.admit();
    expect(isRefusal(answer) && answer.detail).toBe('20 orders are in flight, the bound is 20 (the floor, 20: no throughput measured yet)');
    expect(admission.snapshot().adaptive).toEqual({ throughputPerS: null, targetMs: 3000, floor: 20, cap: 200 });
  });

  test('sagas leaving flight at 15/s raise the bound to 45 (15/s x 3 s); the next count asks for the orders created since the last', async () => {
    const { db, count } = database();
    const registry = new Registry();
    const admission = new Admission(ADAPTIVE, count, admissionMetrics(registry), () => db.clock);
    db.inFlight = 10;
    await admission.admit(); // the span starts: 10 in flight
    // Over 2 s, 30 orders were created and 10 are in flight at the end: 10 + 30 - 10 = 30 left, 15/s.
    for (let i = 1; i <= 30; i += 1) db.created.push(db.clock + i * 60);
    db.clock += 2000;
    db.inFlight = 10;
    expect(isRefusal(await admission.admit())).toBe(false);
    expect(db.sinceAsked).toEqual([null, 1_000_000]);
    expect(admission.bound()).toBe(45);
    expect(await value(registry, 'orders_in_flight_max')).toBe(45);
    expect(await value(registry, 'orders_leaving_flight_per_second')).toBe(15);
    // 43 in flight (the count) + the two admissions still in progress (no done() yet) = 45: the next is refused, saying why.
    db.inFlight = 43;
    db.clock += 100;
    const refused = await admission.admit();
    expect(isRefusal(refused) && refused.detail).toBe(
      '45 orders are in flight, the bound is 45 (15.0 sagas/s measured x 3000 ms, at least 20)',
    );
    // The next span (from the last measured count, 2 s earlier): 10 + 90 created - 10 = 90 left in 2.1 s; smoothed: (42.9 + 15) / 2.
    for (let i = 1; i <= 90; i += 1) db.created.push(db.clock - 100 + i * 20);
    db.clock += 2000;
    db.inFlight = 10;
    await admission.admit();
    expect(admission.bound()).toBe(Math.ceil(((90 / 2.1 + 15) / 2) * 3));
  });

  test('sagas still in flight are not taken for throughput: fewer left than nothing counts as none, and the floor holds', async () => {
    const { db, count } = database();
    const admission = new Admission(ADAPTIVE, count, undefined, () => db.clock);
    db.inFlight = 10;
    await admission.admit();
    db.created.push(db.clock + 1);
    db.clock += 2000;
    db.inFlight = 30; // another API instance admitted more than were created by this clock's count (10 + 1 - 30 < 0)
    await admission.admit();
    expect(admission.snapshot().adaptive?.throughputPerS).toBe(0);
    expect(admission.bound()).toBe(20);
  });

  test('the bound never rises over the cap (ORDERS_MAX_IN_FLIGHT), nor falls under the floor', () => {
    const t = new Throughput();
    t.add({ n: 0, at: 0, arrivedSince: 0 });
    t.add({ n: 0, at: THROUGHPUT_WINDOW_MS, arrivedSince: 1000 }); // 500/s
    expect(t.perSecond).toBe(500);
    const fast = new Admission({ ...ADAPTIVE, maxInFlight: 200 }, async () => counted(0));
    (fast as unknown as { throughput: Throughput }).throughput.add({ n: 0, at: 0, arrivedSince: 0 });
    (fast as unknown as { throughput: Throughput }).throughput.add({ n: 0, at: 2000, arrivedSince: 1000 });
    expect(fast.bound()).toBe(200);
    const slow = new Admission(ADAPTIVE, async () => counted(0));
    (slow as unknown as { throughput: Throughput }).throughput.add({ n: 5, at: 0, arrivedSince: 0 });
    (slow as unknown as { throughput: Throughput }).throughput.add({ n: 5, at: 2000, arrivedSince: 2 }); // 1/s
    expect(slow.bound()).toBe(20);
  });

  test('a span shorter than the window measures nothing yet; a clock that went back starts a new span', () => {
    const t = new Throughput();
    t.add({ n: 3, at: 10_000, arrivedSince: 0 });
    t.add({ n: 0, at: 10_000 + THROUGHPUT_WINDOW_MS - 1, arrivedSince: 5 });
    expect(t.perSecond).toBeNull();
    expect(t.since).toBe(10_000);
    t.add({ n: 0, at: 5_000, arrivedSince: 0 });
    expect(t.since).toBe(5_000);
    expect(t.perSecond).toBeNull();
  });

  test('with ORDERS_IN_FLIGHT_TARGET_MS=0 the bound is ORDERS_MAX_IN_FLIGHT, whatever the throughput', async () => {
    const { db, count } = database();
    const admission = new Admission({ ...ADAPTIVE, targetMs: 0, maxInFlight: 7 }, count, undefined, () => db.clock);
    db.inFlight = 7;
    const answer = await admission.admit();
    expect(isRefusal(answer) && answer.detail).toBe('7 orders are in flight, the bound is 7');
    expect(admission.snapshot().adaptive).toBeNull();
  });
});
