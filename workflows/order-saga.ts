/**
 * The order saga: reserve inventory -> charge payment -> commit inventory -> confirm.
 * Out of stock: REJECTED. Payment failure, cancel or manual compensation: undo what was done,
 * last first -> COMPENSATED. A compensation step that exhausts its retries parks the saga in
 * NEEDS_ATTENTION until an operator's `compensate` signal retries it.
 *
 * The steps are a table (saga-steps.ts), run by SagaRun (saga-run.ts).
 * Deterministic: no I/O, no clocks, no randomness. Changes must stay replay-safe
 * (test/replay/ runs committed histories of every path).
 */
import { CancellationScope, defineQuery, defineSignal, isCancellation, setHandler } from '@temporalio/workflow';
import {
  FAILURE_REASONS,
  QUERIES,
  SIGNALS,
  type CancelSignal,
  type CompensateSignal,
  type OrderSagaInput,
  type SagaState,
} from '../services/orders/contract';
import { SagaRun } from './saga-run';
import { orderSagaSteps } from './saga-steps';

export const cancelSignal = defineSignal<[CancelSignal]>(SIGNALS.cancel);
export const compensateSignal = defineSignal<[CompensateSignal]>(SIGNALS.compensate);
export const statusQuery = defineQuery<SagaState>(QUERIES.status);

const DAY_MS = 24 * 60 * 60 * 1000;
export const SAGA_DEFAULTS = {
  compensationWindowMs: 7 * DAY_MS,
  compensationMaxAttempts: 10,
  compensationInitialIntervalMs: 1000,
};

export async function orderSaga(input: OrderSagaInput): Promise<SagaState> {
  const options = { ...SAGA_DEFAULTS, ...input.options };
  const steps = orderSagaSteps(input, options);
  const saga = new SagaRun(input.orderId);
  setHandler(statusQuery, () => saga.state);
  setHandler(cancelSignal, (signal) => saga.onCancel(signal));
  setHandler(compensateSignal, (signal) => saga.onCompensate(signal));
  try {
    await saga.run(steps, options.compensationWindowMs);
    return saga.state;
  } catch (err) {
    // `temporal workflow cancel` is a cancel too: undo what was done before ending.
    if (isCancellation(err) && !saga.isOver()) {
      await CancellationScope.nonCancellable(() => saga.compensate(FAILURE_REASONS.CANCELLED, 'workflow cancelled'));
    }
    throw err;
  }
}
