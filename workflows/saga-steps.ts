/**
 * The order saga's forward steps, in order: each step's activity call, the compensation that
 * undoes it, and what a failure of it means. saga-run.ts runs them.
 *
 * Workflow code: deterministic, activities imported as types only.
 */
import { proxyActivities, type ActivityOptions, type ApplicationFailure } from '@temporalio/workflow';
import type { InventoryActivities } from '../activities/inventory';
import type { PaymentActivities } from '../activities/payment';
import { INVENTORY_FAILURES } from '../services/inventory/contract';
import { FAILURE_REASONS, type FailureReason, type OrderSagaInput, type OrderStatus, type SagaStep } from '../services/orders/contract';
import { PAYMENT_FAILURES } from '../services/payments/contract';
import type { RunVersion, SagaVersion } from './versions';

export type ForwardStep = Extract<SagaStep, 'reserveInventory' | 'chargePayment' | 'commitInventory'>;
export type CompensationStep = Exclude<SagaStep, ForwardStep>;

/** Undoes a forward step; `reason` says why (it reaches the activity and its events). */
export interface Compensation {
  step: CompensationStep;
  run(reason: string): Promise<unknown>;
}

/** What a failed forward step means for the saga. */
export type StepFailure =
  /** Proof that nothing was done: the step is recorded FAILED and the order REJECTED. */
  | { then: 'reject'; reason: FailureReason }
  | {
      /** Undo what was done, last first, and end COMPENSATED (parked in NEEDS_ATTENTION while an undo is stuck). */
      then: 'compensate';
      reason: FailureReason;
      /** The step may have taken effect anyway (its outcome is unknown): register its undo too. */
      undoAnyway: boolean;
      /** Record the step FAILED, the order's status unchanged, before compensating. */
      recordFailed: boolean;
    };

export interface SagaStepDefinition {
  name: ForwardStep;
  /** The saga version that added the step: runs of older versions never take it. */
  since: SagaVersion;
  /** Calls the step's activity. */
  run(): Promise<unknown>;
  /** Registered once the step succeeded (or per StepFailure.undoAnyway). */
  undo?: Compensation;
  /** The order's status once the step succeeded. */
  statusWhenDone: OrderStatus;
  /**
   * What a failure of the step means. `business` is its non-retryable ApplicationFailure;
   * undefined means the outcome is unknown (retries exhausted, timed out).
   */
  onFailure(business: ApplicationFailure | undefined): StepFailure;
}

/** Tuning of compensation retries (SagaOptions with the workflow's defaults applied). */
export interface CompensationTuning {
  compensationMaxAttempts: number;
  compensationInitialIntervalMs: number;
}

/** Forward steps retry transient failures with backoff until this deadline, then compensate. */
const FORWARD: ActivityOptions = {
  startToCloseTimeout: '10 seconds',
  scheduleToCloseTimeout: '10 minutes',
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds' },
};

/** Compensations retry up to the tuned attempts; then the saga waits for an operator. */
function compensationOptions(taskQueue: string, tuning: CompensationTuning): ActivityOptions {
  return {
    taskQueue,
    startToCloseTimeout: '10 seconds',
    retry: {
      initialInterval: tuning.compensationInitialIntervalMs,
      backoffCoefficient: 2,
      maximumInterval: '30 seconds',
      maximumAttempts: tuning.compensationMaxAttempts,
    },
  };
}

/** reserve inventory -> charge payment -> commit inventory (CONFIRMED). */
export function orderSagaSteps(input: OrderSagaInput, tuning: CompensationTuning, version: RunVersion<SagaVersion>): SagaStepDefinition[] {
  const { orderId, taskQueues } = input;
  const inventory = proxyActivities<InventoryActivities>({ ...FORWARD, taskQueue: taskQueues.inventory });
  const payment = proxyActivities<PaymentActivities>({ ...FORWARD, taskQueue: taskQueues.payments });
  const undoInventory = proxyActivities<InventoryActivities>(compensationOptions(taskQueues.inventory, tuning));
  const undoPayment = proxyActivities<PaymentActivities>(compensationOptions(taskQueues.payments, tuning));

  const reserve: SagaStepDefinition = {
    name: 'reserveInventory',
    since: '2026-12-baseline',
    run: () => inventory.reserveInventory({ orderId, items: input.items.map(({ sku, quantity }) => ({ sku, quantity })) }),
    undo: { step: 'releaseInventory', run: (reason) => undoInventory.releaseInventory({ orderId, reason }) },
    statusWhenDone: 'INVENTORY_RESERVED',
    onFailure: (business) =>
      business?.type === INVENTORY_FAILURES.OUT_OF_STOCK
        ? { then: 'reject', reason: FAILURE_REASONS.OUT_OF_STOCK }
        : // Outcome unknown (e.g. timed out): releasing is safe either way.
          { then: 'compensate', reason: FAILURE_REASONS.INVENTORY_UNAVAILABLE, undoAnyway: true, recordFailed: false },
  };
  const charge: SagaStepDefinition = {
    name: 'chargePayment',
    since: '2026-12-baseline',
    run: () => payment.chargePayment({ orderId, customerId: input.customerId, amountMinor: input.totalMinor, currency: input.currency }),
    undo: { step: 'refundPayment', run: (reason) => undoPayment.refundPayment({ orderId, reason }) },
    statusWhenDone: 'PAYMENT_CAPTURED',
    // Only a business failure proves nothing was charged; otherwise refund (a no-op if nothing was).
    onFailure: (business) => ({
      then: 'compensate',
      reason:
        business?.type === PAYMENT_FAILURES.INSUFFICIENT_FUNDS ? FAILURE_REASONS.INSUFFICIENT_FUNDS : FAILURE_REASONS.PAYMENT_DECLINED,
      undoAnyway: business === undefined,
      recordFailed: true,
    }),
  };
  const commit: SagaStepDefinition = {
    name: 'commitInventory',
    since: '2026-12-baseline',
    run: () => inventory.commitInventory({ orderId }),
    // No undo of its own: releaseInventory returns committed stock too.
    statusWhenDone: 'CONFIRMED',
    onFailure: () => ({ then: 'compensate', reason: FAILURE_REASONS.INVENTORY_UNAVAILABLE, undoAnyway: false, recordFailed: false }),
  };
  return [reserve, charge, commit].filter((step) => version.atLeast(step.since));
}
