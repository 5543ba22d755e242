/**
 * The order saga's branches and timers, on Temporal's time-skipping test server with fake
 * activities: no database, no Kafka, no real Temporal server. Days of workflow time (the
 * compensation window, retry backoffs, the 10-minute deadline of a forward step) pass in
 * milliseconds.
 */
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { FAILURE_REASONS, type SagaState } from '../../services/orders/contract';
import { cancelSignal, cancelUpdate, compensateSignal, SAGA_DEFAULTS, statusQuery } from '../../workflows/order-saga';
import { SA } from '../../services/orders/search-attributes';
import { sagaWorkflowBundle, startTimeSkippingEnv, until, waitForStatus, withSagaWorker, type SagaHandle } from '../support/timeskip/env';
import {
  compensationStatuses,
  doneThenUndone,
  FORWARD_STEPS,
  forwardStatuses,
  stepsBefore,
  stepsThrough,
  undoOf,
} from '../support/timeskip/expected';
import { DATA_ERROR, FakeSagaActivities, TRANSIENT_FAILURES } from '../support/timeskip/fakes';
import { COMPENSATION_STEPS, type CompensationStep } from '../../workflows/saga-steps';

jest.setTimeout(60_000);

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  // The first run on a machine fetches the test server from Maven Central.
  [env] = await Promise.all([startTimeSkippingEnv(), sagaWorkflowBundle()]);
}, 300_000);

afterAll(async () => {
  await env?.teardown();
});

/** Every transition a run recorded has its own key (the orders service dedupes by it). */
function expectUniqueTransitionKeys(fakes: FakeSagaActivities): void {
  const keys = fakes.transitions().map((t) => t.transitionKey);
  expect(keys.length).toBeGreaterThan(0);
  expect(new Set(keys).size).toBe(keys.length);
}

const statuses = (fakes: FakeSagaActivities) => fakes.transitions().map((t) => t.orderStatus);

/** The OrderStatus values the run wrote to its search attribute (upsert events), in order. */
async function upsertedStatuses(handle: SagaHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const field = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.[SA.OrderStatus.name];
    return field?.data ? [JSON.parse(Buffer.from(field.data).toString('utf8')) as string] : [];
  });
}

describe('order saga (time skipping, fake activities)', () => {
  test('happy path: CONFIRMED, stays open for the compensation window, then completes without compensating', async () => {
    const fakes = new FakeSagaActivities();
    let startedAt = 0;
    await withSagaWorker(env, fakes, async (run) => {
      startedAt = await env.currentTimeMs();
      const handle = await run.start();

      const confirmed = await waitForStatus(env, handle, (s) => s.status === 'CONFIRMED');
      expect(confirmed.completedSteps).toEqual([...FORWARD_STEPS]);

      // A customer's cancel after confirmation is not accepted.
      await handle.signal(cancelSignal, { reason: 'too late' });
      // Just short of the 7-day window: still open, still CONFIRMED.
      await env.sleep(SAGA_DEFAULTS.compensationWindowMs - MINUTE);
      expect((await handle.describe()).status.name).toBe('RUNNING');
      const waiting = await handle.query(statusQuery);
      expect(waiting.status).toBe('CONFIRMED');
      expect(waiting.cancelRequested).toBe(false);

      const result: SagaState = await handle.result();
      expect(await env.currentTimeMs()).toBeGreaterThanOrEqual(startedAt + SAGA_DEFAULTS.compensationWindowMs);
      expect((await handle.describe()).status.name).toBe('COMPLETED');
      expect(result).toMatchObject({
        status: 'CONFIRMED',
        failureReason: null,
        completedSteps: [...FORWARD_STEPS],
        pendingCompensation: [],
        lastError: null,
      });
    });
    expect(fakes.steps()).toEqual([...FORWARD_STEPS]);
    expect(fakes.callsTo('refundPayment')).toHaveLength(0);
    expect(fakes.callsTo('releaseInventory')).toHaveLength(0);
    // The window's end is recorded with the confirmation, its closing when the timer elapsed.
    expect(statuses(fakes)).toEqual([...forwardStatuses(), 'CONFIRMED']);
    const [confirmedAt] = fakes.transitions().filter((t) => t.orderStatus === 'CONFIRMED');
    expect(Date.parse(confirmedAt!.compensationWindowClosesAt!)).toBeGreaterThanOrEqual(startedAt + SAGA_DEFAULTS.compensationWindowMs);
    expect(fakes.transitions().at(-1)).toMatchObject({
      step: 'compensationWindow',
      orderStatus: 'CONFIRMED',
      closeCompensationWindow: true,
    });
    expectUniqueTransitionKeys(fakes);
  });

  test('a compensate signal within the window refunds, then releases (last first) -> COMPENSATED', async () => {
    const fakes = new FakeSagaActivities();
    const result = await withSagaWorker(env, fakes, async (run) => {
      const handle = await run.start({ compensationWindowMs: 2 * DAY });
      await waitForStatus(env, handle, (s) => s.status === 'CONFIRMED');
      await env.sleep(DAY); // well inside the window
      await handle.signal(compensateSignal, { reason: 'customer returned the goods' });
      return handle.result();
    });
    expect(result).toMatchObject({
      status: 'COMPENSATED',
      failureReason: FAILURE_REASONS.MANUAL_COMPENSATION,
      completedSteps: doneThenUndone(FORWARD_STEPS),
      pendingCompensation: [],
      lastError: null,
    });
    expect(fakes.steps()).toEqual(doneThenUndone(FORWARD_STEPS));
    expect(statuses(fakes)).toEqual([...forwardStatuses(), ...compensationStatuses(FORWARD_STEPS)]);
    expectUniqueTransitionKeys(fakes);
  });

  test('OUT_OF_STOCK -> REJECTED at once: nothing charged, nothing released', async () => {
    const fakes = new FakeSagaActivities({ reserve: 'outOfStock' });
    const result = await withSagaWorker(env, fakes, async (run) => (await run.start()).result());
    expect(result).toMatchObject({
      status: 'REJECTED',
      failureReason: FAILURE_REASONS.OUT_OF_STOCK,
      completedSteps: [],
      pendingCompensation: [],
    });
    expect(fakes.callsTo('reserveInventory')).toHaveLength(1); // non-retryable: one attempt
    expect(fakes.callsTo('reserveInventory')[0]!.failureType).toBe('OUT_OF_STOCK');
    expect(fakes.callsTo('chargePayment')).toHaveLength(0);
    expect(fakes.callsTo('releaseInventory')).toHaveLength(0);
    expect(fakes.callsTo('refundPayment')).toHaveLength(0);
    expect(fakes.transitions()).toEqual([
      expect.objectContaining({ step: 'reserveInventory', stepStatus: 'FAILED', orderStatus: 'REJECTED', failureReason: 'OUT_OF_STOCK' }),
    ]);
  });

  test('OrderStatus is written where the saga rests or turns, not for the forward steps in between', async () => {
    const confirmed = await withSagaWorker(env, new FakeSagaActivities(), async (run) => {
      const handle = await run.start();
      await waitForStatus(env, handle, (s) => s.status === 'CONFIRMED');
      return upsertedStatuses(handle);
    });
    // PENDING is set by the start itself; INVENTORY_RESERVED and PAYMENT_CAPTURED last one step each.
    expect(confirmed).toEqual(['CONFIRMED']);

    const compensated = await withSagaWorker(env, new FakeSagaActivities({ charge: 'insufficientFunds' }), async (run) => {
      const handle = await run.start();
      await handle.result();
      return upsertedStatuses(handle);
    });
    expect(compensated).toEqual(['COMPENSATING', 'COMPENSATED']);
  });

  test('INSUFFICIENT_FUNDS -> COMPENSATED: inventory released, no refund (nothing was charged)', async () => {
    const fakes = new FakeSagaActivities({ charge: 'insufficientFunds' });
    const result = await withSagaWorker(env, fakes, async (run) => (await run.start()).result());
    expect(result).toMatchObject({
      status: 'COMPENSATED',
      failureReason: FAILURE_REASONS.INSUFFICIENT_FUNDS,
      completedSteps: doneThenUndone(stepsBefore('chargePayment')),
      pendingCompensation: [],
      lastError: null,
    });
    expect(fakes.callsTo('chargePayment')).toHaveLength(1);
    expect(fakes.callsTo('chargePayment')[0]!.failureType).toBe('INSUFFICIENT_FUNDS');
    expect(fakes.steps()).toEqual(doneThenUndone(stepsBefore('chargePayment')));
    expect(fakes.callsTo('refundPayment')).toHaveLength(0);
    expect(fakes.callsTo('commitInventory')).toHaveLength(0);
    expectUniqueTransitionKeys(fakes);
  });

  test('a charge that keeps failing transiently past its 10-minute deadline -> refund AND release, PAYMENT_DECLINED', async () => {
    const fakes = new FakeSagaActivities({ charge: 'unavailable' });
    const result = await withSagaWorker(env, fakes, async (run) => {
      const startedAt = await env.currentTimeMs();
      const state = await (await run.start()).result();
      // Retried in workflow time until the next attempt would pass the 10-minute schedule-to-close
      // deadline (the backoff is capped at 10 s).
      expect(await env.currentTimeMs()).toBeGreaterThanOrEqual(startedAt + 10 * MINUTE - 10_000);
      return state;
    });
    expect(result).toMatchObject({
      status: 'COMPENSATED',
      failureReason: FAILURE_REASONS.PAYMENT_DECLINED,
      completedSteps: doneThenUndone(stepsBefore('chargePayment'), stepsThrough('chargePayment')),
      pendingCompensation: [],
      lastError: null,
    });
    const charges = fakes.callsTo('chargePayment');
    expect(charges.length).toBeGreaterThan(5); // retried with backoff until the deadline
    expect(charges.every((c) => c.outcome === 'failed' && c.failureType === TRANSIENT_FAILURES.PAYMENT_GATEWAY_UNAVAILABLE)).toBe(true);
    // The outcome of the charge is unknown, so it is refunded too, before the release (last first).
    expect(fakes.steps()).toEqual(doneThenUndone(stepsBefore('chargePayment'), stepsThrough('chargePayment')));
    expect(fakes.transitions()).toContainEqual(expect.objectContaining({ step: 'chargePayment', stepStatus: 'FAILED' }));
    expectUniqueTransitionKeys(fakes);
  });

  test.each(FORWARD_STEPS)(
    'a cancel signal while %s runs undoes it and every step before it, last first -> COMPENSATED (CANCELLED)',
    async (step) => {
      const fakes = new FakeSagaActivities();
      fakes.hold(step);
      const result = await withSagaWorker(env, fakes, async (run) => {
        const handle = await run.start();
        await until(() => fakes.callsTo(step).length > 0, `${step} to be called`);
        await handle.signal(cancelSignal, { reason: 'customer changed their mind' });
        await waitForStatus(env, handle, (s) => s.cancelRequested, { stepMs: 0 });
        fakes.release(step);
        return handle.result();
      });
      const expected = doneThenUndone(stepsThrough(step));
      expect(result).toMatchObject({
        status: 'COMPENSATED',
        failureReason: FAILURE_REASONS.CANCELLED,
        cancelRequested: true,
        completedSteps: expected,
        lastError: null,
      });
      expect(fakes.steps()).toEqual(expected);
      // Nothing after the step ran, and nothing was undone that was not done.
      for (const later of FORWARD_STEPS.slice(FORWARD_STEPS.indexOf(step) + 1)) expect(fakes.callsTo(later)).toHaveLength(0);
      for (const undo of COMPENSATION_STEPS.filter((c) => !expected.includes(c))) expect(fakes.callsTo(undo)).toHaveLength(0);
      expectUniqueTransitionKeys(fakes);
    },
  );

  test('a compensation step that keeps failing parks the saga in NEEDS_ATTENTION; an operator retry finishes it', async () => {
    const maxAttempts = 3;
    const fakes = new FakeSagaActivities({ failing: new Set(['refundPayment']) });
    const result = await withSagaWorker(env, fakes, async (run) => {
      const handle = await run.start({ compensationMaxAttempts: maxAttempts, compensationInitialIntervalMs: 1000 });
      await waitForStatus(env, handle, (s) => s.status === 'CONFIRMED');
      await handle.signal(compensateSignal, { reason: 'goods returned' });

      const parked = await waitForStatus(env, handle, (s) => s.status === 'NEEDS_ATTENTION');
      expect(parked.pendingCompensation).toEqual(undoOf(FORWARD_STEPS));
      expect(parked.lastError).toMatchObject({ step: 'refundPayment', type: TRANSIENT_FAILURES.DEPENDENCY_UNAVAILABLE });
      expect(parked.failureReason).toBe(FAILURE_REASONS.MANUAL_COMPENSATION);
      expect(fakes.callsTo('refundPayment')).toHaveLength(maxAttempts);
      expect(fakes.callsTo('releaseInventory')).toHaveLength(0); // last first: release waits for the refund

      // Parked means parked: a day later nothing has been retried.
      await env.sleep(DAY);
      expect((await handle.query(statusQuery)).status).toBe('NEEDS_ATTENTION');
      expect(fakes.callsTo('refundPayment')).toHaveLength(maxAttempts);

      fakes.behaviour.failing.clear();
      await handle.signal(compensateSignal, { reason: 'payment provider is back' });
      return handle.result();
    });
    expect(result).toMatchObject({
      status: 'COMPENSATED',
      failureReason: FAILURE_REASONS.MANUAL_COMPENSATION,
      completedSteps: doneThenUndone(FORWARD_STEPS),
      pendingCompensation: [],
      lastError: null,
    });
    expect(fakes.steps()).toEqual(doneThenUndone(FORWARD_STEPS));
    expect(statuses(fakes)).toEqual([...forwardStatuses(), 'COMPENSATING', 'NEEDS_ATTENTION', ...compensationStatuses(FORWARD_STEPS)]);
    // 'compensation:STARTED' is recorded twice here; each still has its own key.
    expectUniqueTransitionKeys(fakes);
  });

  test('cancelling the workflow of a CONFIRMED order (temporal workflow cancel) closes its window and refunds nothing', async () => {
    const fakes = new FakeSagaActivities();
    await withSagaWorker(env, fakes, async (run) => {
      const handle = await run.start();
      await waitForStatus(env, handle, (s) => s.status === 'CONFIRMED');
      await handle.cancel();
      const failure = await handle.result().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      expect((failure as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      // The closed workflow still answers the status query.
      expect(await handle.query(statusQuery)).toMatchObject({ status: 'CONFIRMED', failureReason: null, pendingCompensation: [] });
    });
    expect(fakes.steps()).toEqual([...FORWARD_STEPS]);
    expect(fakes.callsTo('refundPayment')).toHaveLength(0);
    expect(fakes.callsTo('releaseInventory')).toHaveLength(0);
    expect(fakes.transitions().at(-1)).toMatchObject({
      step: 'compensationWindow',
      orderStatus: 'CONFIRMED',
      closeCompensationWindow: true,
    });
    expectUniqueTransitionKeys(fakes);
  });

  test('cancelling the workflow before confirmation (temporal workflow cancel) undoes what was done before it ends', async () => {
    // The charge keeps failing transiently: the saga waits in its retry backoff when cancelled.
    const fakes = new FakeSagaActivities({ charge: 'unavailable' });
    await withSagaWorker(env, fakes, async (run) => {
      const handle = await run.start();
      await until(() => fakes.callsTo('chargePayment').length > 0, 'chargePayment to be called');
      await handle.cancel();
      const failure = await handle.result().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect((failure as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      expect(await handle.query(statusQuery)).toMatchObject({
        status: 'COMPENSATED',
        failureReason: FAILURE_REASONS.CANCELLED,
        pendingCompensation: [],
      });
    });
    // The charge's outcome is unknown, so it is refunded (a no-op) before the release.
    expect(fakes.steps()).toEqual(doneThenUndone(stepsBefore('chargePayment'), stepsThrough('chargePayment')));
    expect(fakes.callsTo('commitInventory')).toHaveLength(0);
    expect(fakes.transitions()).toContainEqual(
      expect.objectContaining({ step: 'compensation', stepStatus: 'STARTED', failureReason: FAILURE_REASONS.CANCELLED }),
    );
    expect(fakes.transitions().at(-1)).toMatchObject({ step: 'compensation', stepStatus: 'COMPLETED', orderStatus: 'COMPENSATED' });
    expectUniqueTransitionKeys(fakes);
  });

  test('a cancel accepted (requestCancel update) while the commit runs is honoured after it: never CONFIRMED for good', async () => {
    const fakes = new FakeSagaActivities();
    fakes.hold('commitInventory');
    const result = await withSagaWorker(env, fakes, async (run) => {
      const handle = await run.start();
      await until(() => fakes.callsTo('commitInventory').length > 0, 'commitInventory to be called');
      const decision = await handle.executeUpdate(cancelUpdate, { args: [{ reason: 'changed my mind' }] });
      expect(decision).toEqual({ accepted: true, status: 'PAYMENT_CAPTURED' });
      fakes.release('commitInventory');
      return handle.result();
    });
    expect(result).toMatchObject({ status: 'COMPENSATED', failureReason: FAILURE_REASONS.CANCELLED, cancelRequested: true });
    expect(fakes.steps()).toEqual(doneThenUndone(FORWARD_STEPS));
    expectUniqueTransitionKeys(fakes);
  });

  test('the requestCancel update is refused once the order is CONFIRMED, and the refusal says why', async () => {
    const fakes = new FakeSagaActivities();
    await withSagaWorker(env, fakes, async (run) => {
      const handle = await run.start();
      await waitForStatus(env, handle, (s) => s.status === 'CONFIRMED');
      const refused = await handle.executeUpdate(cancelUpdate, { args: [{ reason: 'too late' }] }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
      const cause = (refused as WorkflowUpdateFailedError).cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect(cause).toMatchObject({ type: 'ORDER_NOT_CANCELLABLE', message: expect.stringContaining('CONFIRMED') });
      expect((await handle.query(statusQuery)).cancelRequested).toBe(false);
    });
    expect(fakes.callsTo('refundPayment')).toHaveLength(0);
  });

  test('a compensate signal that arrives while the commit runs is not lost: the order is compensated right after', async () => {
    const fakes = new FakeSagaActivities();
    fakes.hold('commitInventory');
    const result = await withSagaWorker(env, fakes, async (run) => {
      const handle = await run.start();
      await until(() => fakes.callsTo('commitInventory').length > 0, 'commitInventory to be called');
      await handle.signal(compensateSignal, { reason: 'sent before the confirmation landed' });
      fakes.release('commitInventory');
      return handle.result();
    });
    expect(result).toMatchObject({ status: 'COMPENSATED', failureReason: FAILURE_REASONS.MANUAL_COMPENSATION });
    expect(fakes.steps()).toEqual(doneThenUndone(FORWARD_STEPS));
  });

  test('a fresh run for an order charged and reserved by an earlier run undoes what the database says was done', async () => {
    // The earlier run's history is gone (retention); the database still says: charged, stock committed.
    const fakes = new FakeSagaActivities({ earlier: { chargeInEffect: true, stockInEffect: true } });
    fakes.hold('reserveInventory');
    const result = await withSagaWorker(env, fakes, async (run) => {
      const handle = await run.start();
      await handle.signal(compensateSignal, { reason: 'goods returned' });
      await waitForStatus(env, handle, () => true, { stepMs: 0 });
      fakes.release('reserveInventory');
      return handle.result();
    });
    expect(result).toMatchObject({ status: 'COMPENSATED', failureReason: FAILURE_REASONS.MANUAL_COMPENSATION });
    expect(fakes.steps().filter((s) => COMPENSATION_STEPS.includes(s as CompensationStep))).toEqual(undoOf(FORWARD_STEPS));
  });
});

describe('order saga: a transition the database refuses as data (DATABASE_DATA_ERROR)', () => {
  test('a cancel reason with a NUL (past the API) is recorded with the NUL replaced, once, and the order is COMPENSATED', async () => {
    const fakes = new FakeSagaActivities();
    fakes.hold('reserveInventory');
    const result = await withSagaWorker(env, fakes, async (run) => {
      const handle = await run.start();
      await until(() => fakes.callsTo('reserveInventory').length > 0, 'reserveInventory to be called');
      await handle.signal(cancelSignal, { reason: 'x \u0000' });
      fakes.release('reserveInventory');
      return handle.result();
    });
    expect(result).toMatchObject({ status: 'COMPENSATED', failureReason: FAILURE_REASONS.CANCELLED, pendingCompensation: [] });
    const refused = fakes.callsTo('transitionOrder').filter((c) => c.outcome === 'failed');
    // Non-retryable: refused once, not retried by Temporal.
    expect(refused.map((c) => [c.failureType, (c.input as { detail: string }).detail])).toEqual([[DATA_ERROR, 'x \u0000']]);
    const compensating = fakes.transitions().filter((t) => t.orderStatus === 'COMPENSATING' && t.step === 'compensation');
    expect(compensating.map((t) => t.detail)).toEqual(['x \u0000', 'x \uFFFD']);
    // The rewrite is the same transition (same key), so the orders service records it once.
    expect(new Set(compensating.map((t) => t.transitionKey)).size).toBe(1);
    expect(fakes.steps()).toEqual(doneThenUndone(['reserveInventory']));
  });

  test("a transition refused whatever its text parks the saga in NEEDS_ATTENTION after two attempts; an operator's compensate retries it and the saga compensates", async () => {
    let refusing = true;
    const fakes = new FakeSagaActivities({ refuse: (t) => refusing && t.orderStatus === 'COMPENSATING' });
    fakes.hold('reserveInventory');
    const result = await withSagaWorker(env, fakes, async (run) => {
      const handle = await run.start();
      await until(() => fakes.callsTo('reserveInventory').length > 0, 'reserveInventory to be called');
      await handle.signal(cancelSignal, { reason: 'changed my mind' });
      fakes.release('reserveInventory');
      const parked = await waitForStatus(env, handle, (s) => s.status === 'NEEDS_ATTENTION');
      expect(parked.lastError).toMatchObject({ step: 'compensation', type: DATA_ERROR });
      // Recorded for the operator (and the alert), and never retried without an operator.
      expect(fakes.transitions().filter((t) => t.orderStatus === 'NEEDS_ATTENTION')).toHaveLength(1);
      expect(fakes.callsTo('transitionOrder').filter((c) => c.outcome === 'failed')).toHaveLength(2);
      expect((await upsertedStatuses(handle)).at(-1)).toBe('NEEDS_ATTENTION');
      refusing = false;
      await handle.signal(compensateSignal, { reason: 'database fixed' });
      return handle.result();
    });
    expect(result).toMatchObject({ status: 'COMPENSATED', pendingCompensation: [], lastError: null });
    expect(fakes.steps()).toEqual(doneThenUndone(['reserveInventory']));
  });

  test('a status write failing retryably is tried statusWriteMaxAttempts times, then parks the saga in NEEDS_ATTENTION', async () => {
    let down = true;
    const fakes = new FakeSagaActivities({ unavailable: (t) => down && t.orderStatus === 'INVENTORY_RESERVED' });
    const result = await withSagaWorker(env, fakes, async (run) => {
      const handle = await run.start({ statusWriteMaxAttempts: 3 });
      const parked = await waitForStatus(env, handle, (s) => s.status === 'NEEDS_ATTENTION');
      expect(parked.lastError).toMatchObject({ step: 'reserveInventory', type: 'DATABASE_BUSY' });
      expect(fakes.callsTo('transitionOrder').filter((c) => c.outcome === 'failed')).toHaveLength(3);
      expect(fakes.callsTo('chargePayment')).toHaveLength(0);
      down = false;
      await handle.signal(compensateSignal, { reason: 'database back' });
      return handle.result();
    });
    // The operator's signal retried the write, and the saga undid what it had done.
    expect(result).toMatchObject({ status: 'COMPENSATED', failureReason: FAILURE_REASONS.MANUAL_COMPENSATION });
    expect(fakes.steps()).toEqual(doneThenUndone(['reserveInventory']));
  });
});
