/**
 * The order saga: reserve inventory -> charge payment -> commit inventory -> confirm.
 * Out of stock: REJECTED. Payment failure, cancel or manual compensation: undo what was done,
 * last first -> COMPENSATED. A compensation step that exhausts its retries parks the saga in
 * NEEDS_ATTENTION until an operator's `compensate` signal retries it. A customer's cancel is the
 * `requestCancel` update (its validator's answer is the caller's answer); cancelling the workflow
 * of a CONFIRMED order closes its compensation window and refunds nothing.
 *
 * The steps are a table (saga-steps.ts: SAGA_STEPS), run by SagaRun (saga-run.ts).
 * Deterministic: no I/O, no clocks, no randomness. Changes must stay replay-safe
 * (test/replay/ runs committed histories of every path; docs/workflow-versioning.md).
 */
import { CancellationScope, defineQuery, defineSignal, defineUpdate, isCancellation, setHandler } from '@temporalio/workflow';
import {
  QUERIES,
  SIGNALS,
  UPDATES,
  type CancelDecision,
  type CancelSignal,
  type CompensateSignal,
  type OrderSagaInput,
  type SagaState,
} from '../services/orders/contract';
import { SagaRun } from './saga-run';
import { orderSagaSteps, type SagaStep } from './saga-steps';
import { sagaVersions } from './versions';

export const cancelSignal = defineSignal<[CancelSignal]>(SIGNALS.cancel);
export const compensateSignal = defineSignal<[CompensateSignal]>(SIGNALS.compensate);
export const statusQuery = defineQuery<SagaState<SagaStep>>(QUERIES.status);
/** A customer's cancel, answered with the saga's decision (the API's POST /orders/:id/cancel). */
export const cancelUpdate = defineUpdate<CancelDecision, [CancelSignal]>(UPDATES.cancel);

const DAY_MS = 24 * 60 * 60 * 1000;
export const SAGA_DEFAULTS = {
  compensationWindowMs: 7 * DAY_MS,
  compensationMaxAttempts: 10,
  compensationInitialIntervalMs: 1000,
  statusWriteMaxAttempts: 10,
  taskQueuePrefix: '',
};

export async function orderSaga(input: OrderSagaInput): Promise<SagaState<SagaStep>> {
  const options = { ...SAGA_DEFAULTS, ...input.options };
  // Once, before anything else: the version this run follows to its end (workflows/versions.ts).
  const version = sagaVersions.ofThisRun();
  const steps = orderSagaSteps(input, options, version);
  const saga = new SagaRun(input.orderId, version, options.statusWriteMaxAttempts);
  setHandler(statusQuery, () => saga.state);
  setHandler(cancelSignal, (signal) => saga.onCancel(signal));
  setHandler(compensateSignal, (signal) => saga.onCompensate(signal));
  setHandler(cancelUpdate, (request) => saga.acceptCancel(request), { validator: (_request) => saga.validateCancel() });
  try {
    await saga.run(steps, options.compensationWindowMs);
    return saga.state;
  } catch (err) {
    // `temporal workflow cancel`: before confirmation a cancel (undo what was done); once
    // CONFIRMED it only closes the compensation window.
    if (isCancellation(err) && !saga.isOver()) {
      await CancellationScope.nonCancellable(() => saga.onWorkflowCancelled());
    }
    throw err;
  }
}
