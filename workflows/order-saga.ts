/**
 * The order saga: reserve inventory -> charge payment -> commit inventory -> confirm.
 * Out of stock: REJECTED. Payment failure, cancel or manual compensation: undo what was done,
 * last first -> COMPENSATED. A compensation step that exhausts its retries parks the saga in
 * NEEDS_ATTENTION until an operator's `compensate` signal retries it.
 *
 * Deterministic: no I/O, no clocks, no randomness. Changes must stay replay-safe
 * (test/replay/ runs committed histories of every path).
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineSignal,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { InventoryActivities } from '../activities/inventory';
import type { OrderActivities } from '../activities/orders';
import type { PaymentActivities } from '../activities/payment';
import { INVENTORY_FAILURES } from '../services/inventory/contract';
import {
  FAILURE_REASONS,
  QUERIES,
  SIGNALS,
  type CancelSignal,
  type CompensateSignal,
  type FailureReason,
  type OrderSagaInput,
  type OrderStatus,
  type SagaState,
  type SagaStep,
  type TransitionInput,
} from '../services/orders/contract';
import { SA } from '../services/orders/search-attributes';
import { PAYMENT_FAILURES } from '../services/payments/contract';

export const cancelSignal = defineSignal<[CancelSignal]>(SIGNALS.cancel);
export const compensateSignal = defineSignal<[CompensateSignal]>(SIGNALS.compensate);
export const statusQuery = defineQuery<SagaState>(QUERIES.status);

const DAY_MS = 24 * 60 * 60 * 1000;
export const SAGA_DEFAULTS = {
  compensationWindowMs: 7 * DAY_MS,
  compensationMaxAttempts: 10,
  compensationInitialIntervalMs: 1000,
};

/** Forward steps retry transient failures with backoff until this deadline, then compensate. */
const FORWARD: ActivityOptions = {
  startToCloseTimeout: '10 seconds',
  scheduleToCloseTimeout: '10 minutes',
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds' },
};

interface Compensation {
  step: SagaStep;
  run: (reason: string) => Promise<unknown>;
}

/** The business failure (a non-retryable ApplicationFailure) behind an activity failure, if any. */
function businessFailure(err: unknown): ApplicationFailure | undefined {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.nonRetryable) {
    return err.cause;
  }
  return undefined;
}

function describe(err: unknown): { type: string | null; message: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? null, message: cause.message };
  return { type: null, message: cause instanceof Error ? cause.message : String(cause) };
}

export async function orderSaga(input: OrderSagaInput): Promise<SagaState> {
  const { orderId } = input;
  const opts = { ...SAGA_DEFAULTS, ...input.options };
  const compensationRetry = {
    initialInterval: opts.compensationInitialIntervalMs,
    backoffCoefficient: 2,
    maximumInterval: '30 seconds' as const,
    maximumAttempts: opts.compensationMaxAttempts,
  };
  const inventory = proxyActivities<InventoryActivities>({ ...FORWARD, taskQueue: input.taskQueues.inventory });
  const payment = proxyActivities<PaymentActivities>({ ...FORWARD, taskQueue: input.taskQueues.payments });
  const undoInventory = proxyActivities<InventoryActivities>({
    taskQueue: input.taskQueues.inventory,
    startToCloseTimeout: '10 seconds',
    retry: compensationRetry,
  });
  const undoPayment = proxyActivities<PaymentActivities>({
    taskQueue: input.taskQueues.payments,
    startToCloseTimeout: '10 seconds',
    retry: compensationRetry,
  });
  const orders = proxyLocalActivities<OrderActivities>({
    startToCloseTimeout: '10 seconds',
    retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds' },
  });

  const state: SagaState = {
    orderId,
    status: 'PENDING',
    failureReason: null,
    completedSteps: [],
    pendingCompensation: [],
    lastError: null,
    cancelRequested: false,
  };
  let cancel: CancelSignal | null = null;
  let manual: CompensateSignal | null = null;
  let transitions = 0;
  const compensations: Compensation[] = [];

  setHandler(statusQuery, () => state);
  setHandler(cancelSignal, (signal) => {
    if (state.status === 'PENDING' || state.status === 'INVENTORY_RESERVED' || state.status === 'PAYMENT_CAPTURED') {
      cancel ??= signal;
      state.cancelRequested = true;
    }
  });
  setHandler(compensateSignal, (signal) => {
    manual = signal;
  });

  /** Records a step and the order's status (one transaction in the orders service). */
  async function record(
    step: string,
    stepStatus: TransitionInput['stepStatus'],
    orderStatus: OrderStatus,
    extra: { failureReason?: FailureReason; detail?: string } = {},
  ): Promise<void> {
    transitions += 1;
    await orders.transitionOrder({
      orderId,
      transitionKey: `${transitions}:${step}:${stepStatus}`,
      step,
      stepStatus,
      orderStatus,
      failureReason: extra.failureReason,
      detail: extra.detail ?? null,
    });
    if (extra.failureReason) state.failureReason = extra.failureReason;
    if (orderStatus !== state.status) {
      state.status = orderStatus;
      upsertSearchAttributes([{ key: SA.OrderStatus, value: orderStatus }]);
    }
  }

  /** Undoes what was done, last first. Never gives up: a stuck step waits for an operator. */
  async function compensate(reason: FailureReason, detail: string): Promise<void> {
    await record('compensation', 'STARTED', 'COMPENSATING', { failureReason: reason, detail });
    state.pendingCompensation = compensations.map((c) => c.step).reverse();
    while (compensations.length > 0) {
      const next = compensations[compensations.length - 1]!;
      try {
        await next.run(`${reason}: ${detail}`);
      } catch (err) {
        if (isCancellation(err)) throw err;
        state.lastError = { step: next.step, ...describe(err) };
        manual = null;
        await record(next.step, 'FAILED', 'NEEDS_ATTENTION', { detail: state.lastError.message });
        await condition(() => manual !== null);
        await record('compensation', 'STARTED', 'COMPENSATING', { detail: `retry requested: ${manual!.reason}` });
        continue;
      }
      compensations.pop();
      state.pendingCompensation.shift();
      state.completedSteps.push(next.step);
      await record(next.step, 'COMPLETED', 'COMPENSATING');
    }
    state.lastError = null;
    await record('compensation', 'COMPLETED', 'COMPENSATED');
  }

  /** Between forward steps: compensates if a cancel or manual compensation was requested. */
  async function compensatedOnRequest(): Promise<boolean> {
    if (cancel) await compensate(FAILURE_REASONS.CANCELLED, cancel.reason);
    else if (manual) await compensate(FAILURE_REASONS.MANUAL_COMPENSATION, (manual as CompensateSignal).reason);
    else return false;
    return true;
  }

  const releaseInventory: Compensation = {
    step: 'releaseInventory',
    run: (reason) => undoInventory.releaseInventory({ orderId, reason }),
  };
  const refundPayment: Compensation = {
    step: 'refundPayment',
    run: (reason) => undoPayment.refundPayment({ orderId, reason }),
  };

  try {
    // 0. Cancelled before anything was done (e.g. signal-with-start after a lost start).
    if (await compensatedOnRequest()) return state;

    // 1. Reserve inventory.
    try {
      await inventory.reserveInventory({ orderId, items: input.items.map(({ sku, quantity }) => ({ sku, quantity })) });
    } catch (err) {
      const failure = businessFailure(err);
      if (failure?.type === INVENTORY_FAILURES.OUT_OF_STOCK) {
        await record('reserveInventory', 'FAILED', 'REJECTED', { failureReason: FAILURE_REASONS.OUT_OF_STOCK, detail: failure.message });
        return state;
      }
      // Outcome unknown (e.g. timed out): releasing is safe either way.
      compensations.push(releaseInventory);
      await compensate(FAILURE_REASONS.INVENTORY_UNAVAILABLE, describe(err).message);
      return state;
    }
    compensations.push(releaseInventory);
    state.completedSteps.push('reserveInventory');
    await record('reserveInventory', 'COMPLETED', 'INVENTORY_RESERVED');

    if (await compensatedOnRequest()) return state;

    // 2. Charge the customer.
    try {
      await payment.chargePayment({
        orderId,
        customerId: input.customerId,
        amountMinor: input.totalMinor,
        currency: input.currency,
      });
    } catch (err) {
      const failure = businessFailure(err);
      // Only a business failure proves nothing was charged; otherwise refund (a no-op if nothing was).
      if (!failure) compensations.push(refundPayment);
      const reason =
        failure?.type === PAYMENT_FAILURES.INSUFFICIENT_FUNDS ? FAILURE_REASONS.INSUFFICIENT_FUNDS : FAILURE_REASONS.PAYMENT_DECLINED;
      await record('chargePayment', 'FAILED', state.status, { detail: describe(err).message });
      await compensate(reason, describe(err).message);
      return state;
    }
    compensations.push(refundPayment);
    state.completedSteps.push('chargePayment');
    await record('chargePayment', 'COMPLETED', 'PAYMENT_CAPTURED');

    if (await compensatedOnRequest()) return state;

    // 3. Commit the stock and confirm.
    try {
      await inventory.commitInventory({ orderId });
    } catch (err) {
      await compensate(FAILURE_REASONS.INVENTORY_UNAVAILABLE, describe(err).message);
      return state;
    }
    state.completedSteps.push('commitInventory');
    await record('commitInventory', 'COMPLETED', 'CONFIRMED');

    // 4. Stay open for manual compensation (refund and restock) during the window.
    manual = null;
    if (await condition(() => manual !== null, opts.compensationWindowMs)) {
      await compensate(FAILURE_REASONS.MANUAL_COMPENSATION, (manual as CompensateSignal | null)?.reason ?? '');
    }
    return state;
  } catch (err) {
    // `temporal workflow cancel` is a cancel too: undo what was done before ending.
    if (isCancellation(err) && state.status !== 'COMPENSATED' && state.status !== 'REJECTED') {
      await CancellationScope.nonCancellable(() => compensate(FAILURE_REASONS.CANCELLED, 'workflow cancelled'));
    }
    throw err;
  }
}
