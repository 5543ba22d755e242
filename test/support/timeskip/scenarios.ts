/**
 * One run of each path through the order saga, on the time-skipping test server with fake
 * activities. test/replay/record-histories.ts records their histories into test/replay/histories/
 * (<name>.json), which test/unit/order-saga.replay.test.ts replays against the current code.
 * The workflow unit tests cover the same paths with assertions; these only drive them.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { cancelSignal, cancelUpdate, compensateSignal } from '../../../workflows/order-saga';
import { until, waitForStatus, withSagaWorker, type SagaHandle } from './env';
import { FakeSagaActivities } from './fakes';

export interface SagaScenario {
  /** File name (without .json) of its recorded history. */
  name: string;
  description: string;
  /** Drives the saga to its end; returns its (closed) workflow handle. */
  run(env: TestWorkflowEnvironment, orderId: string): Promise<SagaHandle>;
}

/** The workflow's own result or failure; a scenario only needs it to be over. */
async function settled(handle: SagaHandle): Promise<SagaHandle> {
  await handle.result().catch(() => undefined);
  return handle;
}

export const SCENARIOS: readonly SagaScenario[] = [
  {
    name: 'confirmed-then-compensated',
    description: 'CONFIRMED, then a compensate signal within the window: refund, release -> COMPENSATED',
    run: (env, orderId) =>
      withSagaWorker(env, new FakeSagaActivities(), async (saga) => {
        const handle = await saga.start(undefined, orderId);
        await waitForStatus(env, handle, (s) => s.status === 'CONFIRMED');
        await handle.signal(compensateSignal, { reason: 'goods returned' });
        return settled(handle);
      }),
  },
  {
    name: 'rejected-out-of-stock',
    description: 'OUT_OF_STOCK on reserve -> REJECTED',
    run: (env, orderId) =>
      withSagaWorker(env, new FakeSagaActivities({ reserve: 'outOfStock' }), async (saga) => settled(await saga.start(undefined, orderId))),
  },
  {
    name: 'insufficient-funds',
    description: 'INSUFFICIENT_FUNDS on charge: release -> COMPENSATED',
    run: (env, orderId) =>
      withSagaWorker(env, new FakeSagaActivities({ charge: 'insufficientFunds' }), async (saga) =>
        settled(await saga.start(undefined, orderId)),
      ),
  },
  {
    name: 'payment-unknown-outcome',
    description: 'charge retried past its 10-minute deadline: refund and release -> COMPENSATED (PAYMENT_DECLINED)',
    run: (env, orderId) =>
      withSagaWorker(env, new FakeSagaActivities({ charge: 'unavailable' }), async (saga) => settled(await saga.start(undefined, orderId))),
  },
  {
    name: 'cancelled',
    description: 'cancel signal while charging: refund, release -> COMPENSATED (CANCELLED)',
    run: (env, orderId) => {
      const fakes = new FakeSagaActivities();
      fakes.hold('chargePayment');
      return withSagaWorker(env, fakes, async (saga) => {
        const handle = await saga.start(undefined, orderId);
        await until(() => fakes.callsTo('chargePayment').length > 0, 'chargePayment to be called');
        await handle.signal(cancelSignal, { reason: 'customer changed their mind' });
        await waitForStatus(env, handle, (s) => s.cancelRequested, { stepMs: 0 });
        fakes.release('chargePayment');
        return settled(handle);
      });
    },
  },
  {
    name: 'needs-attention-then-compensated',
    description: 'manual compensation whose refund keeps failing -> NEEDS_ATTENTION; operator retry -> COMPENSATED',
    run: (env, orderId) => {
      const fakes = new FakeSagaActivities({ failing: new Set(['refundPayment']) });
      return withSagaWorker(env, fakes, async (saga) => {
        const handle = await saga.start({ compensationMaxAttempts: 3, compensationInitialIntervalMs: 1000 }, orderId);
        await waitForStatus(env, handle, (s) => s.status === 'CONFIRMED');
        await handle.signal(compensateSignal, { reason: 'goods returned' });
        await waitForStatus(env, handle, (s) => s.status === 'NEEDS_ATTENTION');
        fakes.behaviour.failing.clear();
        await handle.signal(compensateSignal, { reason: 'payment provider is back' });
        return settled(handle);
      });
    },
  },
  {
    name: 'status-write-parked-then-compensated',
    description:
      'version 2026-12-bounded-writes: the INVENTORY_RESERVED write fails past its 3 attempts -> NEEDS_ATTENTION; operator retry -> the write, then COMPENSATED',
    run: (env, orderId) => {
      let down = true;
      const fakes = new FakeSagaActivities({ unavailable: (t) => down && t.orderStatus === 'INVENTORY_RESERVED' });
      return withSagaWorker(env, fakes, async (saga) => {
        const handle = await saga.start({ statusWriteMaxAttempts: 3 }, orderId);
        await waitForStatus(env, handle, (s) => s.status === 'NEEDS_ATTENTION');
        down = false;
        await handle.signal(compensateSignal, { reason: 'database back' });
        return settled(handle);
      });
    },
  },
  {
    name: 'confirmed-window-closed',
    description: 'happy path: CONFIRMED with the window end recorded; the window elapses and its closing is recorded',
    run: (env, orderId) => withSagaWorker(env, new FakeSagaActivities(), async (saga) => settled(await saga.start(undefined, orderId))),
  },
  {
    name: 'cancel-update-during-commit',
    description: 'requestCancel update accepted while the commit runs: refund, release -> COMPENSATED (CANCELLED)',
    run: (env, orderId) => {
      const fakes = new FakeSagaActivities();
      fakes.hold('commitInventory');
      return withSagaWorker(env, fakes, async (saga) => {
        const handle = await saga.start(undefined, orderId);
        await until(() => fakes.callsTo('commitInventory').length > 0, 'commitInventory to be called');
        await handle.executeUpdate(cancelUpdate, { args: [{ reason: 'changed my mind' }] });
        fakes.release('commitInventory');
        return settled(handle);
      });
    },
  },
  {
    name: 'compensate-during-commit',
    description: 'compensate signal while the commit runs: acted on after it -> COMPENSATED (MANUAL_COMPENSATION)',
    run: (env, orderId) => {
      const fakes = new FakeSagaActivities();
      fakes.hold('commitInventory');
      return withSagaWorker(env, fakes, async (saga) => {
        const handle = await saga.start(undefined, orderId);
        await until(() => fakes.callsTo('commitInventory').length > 0, 'commitInventory to be called');
        await handle.signal(compensateSignal, { reason: 'sent before the confirmation landed' });
        fakes.release('commitInventory');
        return settled(handle);
      });
    },
  },
  {
    name: 'workflow-cancelled-confirmed',
    description: 'the workflow cancelled while CONFIRMED: the window closes, nothing refunded, ends cancelled',
    run: (env, orderId) =>
      withSagaWorker(env, new FakeSagaActivities(), async (saga) => {
        const handle = await saga.start(undefined, orderId);
        await waitForStatus(env, handle, (s) => s.status === 'CONFIRMED');
        await handle.cancel();
        return settled(handle);
      }),
  },
  {
    name: 'workflow-cancelled-before-confirmation',
    description: 'the workflow cancelled while the charge retries: refund (outcome unknown), release -> COMPENSATED, ends cancelled',
    run: (env, orderId) => {
      const fakes = new FakeSagaActivities({ charge: 'unavailable' });
      return withSagaWorker(env, fakes, async (saga) => {
        const handle = await saga.start(undefined, orderId);
        await until(() => fakes.callsTo('chargePayment').length > 0, 'chargePayment to be called');
        await handle.cancel();
        return settled(handle);
      });
    },
  },
  {
    name: 'fresh-run-compensated',
    description: 'a fresh run (the old one gone) with a compensate signal: undoes what the database says was done -> COMPENSATED',
    run: (env, orderId) => {
      const fakes = new FakeSagaActivities({ earlier: { chargeInEffect: true, stockInEffect: true } });
      fakes.hold('reserveInventory');
      return withSagaWorker(env, fakes, async (saga) => {
        const handle = await saga.start(undefined, orderId);
        await handle.signal(compensateSignal, { reason: 'goods returned' });
        await waitForStatus(env, handle, () => true, { stepMs: 0 });
        fakes.release('reserveInventory');
        return settled(handle);
      });
    },
  },
];

export const SCENARIO_NAMES: readonly string[] = SCENARIOS.map((s) => s.name);
