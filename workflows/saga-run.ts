/**
 * One run of the order saga: runs its steps (saga-steps.ts) in order, keeps the compensations of
 * the steps done, and undoes them last first when a step fails or a cancel or compensate signal
 * asks for it. A compensation that exhausts its retries parks the saga in NEEDS_ATTENTION until
 * an operator's `compensate` signal retries it. Every step and status change is recorded by the
 * orders service (a local activity); `state` is what the `status` query answers.
 *
 * Workflow code: deterministic, activities imported as types only.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  isCancellation,
  proxyLocalActivities,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { OrderActivities } from '../activities/orders';
import {
  FAILURE_REASONS,
  type CancelSignal,
  type CompensateSignal,
  type FailureReason,
  type OrderStatus,
  type SagaState,
  type SagaStep,
  type TransitionInput,
} from '../services/orders/contract';
import { SA } from '../services/orders/search-attributes';
import type { Compensation, SagaStepDefinition } from './saga-steps';

/** Before confirmation, a customer's cancel is accepted. */
const CANCELLABLE: readonly OrderStatus[] = ['PENDING', 'INVENTORY_RESERVED', 'PAYMENT_CAPTURED'];

/** The business failure (a non-retryable ApplicationFailure) behind an activity failure, if any. */
function businessFailure(err: unknown): ApplicationFailure | undefined {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.nonRetryable) {
    return err.cause;
  }
  return undefined;
}

function describeFailure(err: unknown): { type: string | null; message: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? null, message: cause.message };
  return { type: null, message: cause instanceof Error ? cause.message : String(cause) };
}

export class SagaRun {
  readonly state: SagaState;
  /** Compensations of the steps done so far; the last one runs first. */
  private readonly undoStack: Compensation[] = [];
  private cancelRequest: CancelSignal | null = null;
  private compensateRequest: CompensateSignal | null = null;
  /** Transitions recorded so far: numbers their keys, so each is unique. */
  private transitions = 0;
  private readonly orders = proxyLocalActivities<OrderActivities>({
    startToCloseTimeout: '10 seconds',
    retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds' },
  });

  constructor(orderId: string) {
    this.state = {
      orderId,
      status: 'PENDING',
      failureReason: null,
      completedSteps: [],
      pendingCompensation: [],
      lastError: null,
      cancelRequested: false,
    };
  }

  /** The `cancel` signal: counts only before confirmation; the first one wins. */
  onCancel(signal: CancelSignal): void {
    if (CANCELLABLE.includes(this.state.status)) {
      this.cancelRequest ??= signal;
      this.state.cancelRequested = true;
    }
  }

  /** The `compensate` signal: undo a CONFIRMED order, or retry a parked compensation. */
  onCompensate(signal: CompensateSignal): void {
    this.compensateRequest = signal;
  }

  /** REJECTED or COMPENSATED: nothing is left to undo. */
  isOver(): boolean {
    return this.state.status === 'COMPENSATED' || this.state.status === 'REJECTED';
  }

  /** Runs the steps in order, then stays open for a `compensate` signal during the window. */
  async run(steps: readonly SagaStepDefinition[], compensationWindowMs: number): Promise<void> {
    for (const step of steps) {
      if (await this.compensatedOnRequest()) return;
      if (!(await this.runStep(step))) return;
    }
    await this.stayOpenForCompensation(compensationWindowMs);
  }

  /** Undoes what was done, last first. Never gives up: a stuck step waits for an operator. */
  async compensate(reason: FailureReason, detail: string): Promise<void> {
    await this.record('compensation', 'STARTED', 'COMPENSATING', { failureReason: reason, detail });
    this.state.pendingCompensation = this.undoStack.map((c) => c.step).reverse();
    while (this.undoStack.length > 0) await this.undoLastStep(`${reason}: ${detail}`);
    this.state.lastError = null;
    await this.record('compensation', 'COMPLETED', 'COMPENSATED');
  }

  /** Between forward steps: compensates if a cancel or compensate signal asked for it. */
  private async compensatedOnRequest(): Promise<boolean> {
    if (this.cancelRequest) await this.compensate(FAILURE_REASONS.CANCELLED, this.cancelRequest.reason);
    else if (this.compensateRequest) await this.compensate(FAILURE_REASONS.MANUAL_COMPENSATION, this.compensateRequest.reason);
    else return false;
    return true;
  }

  /** Runs one forward step; false if its failure ended the saga. */
  private async runStep(step: SagaStepDefinition): Promise<boolean> {
    try {
      await step.run();
    } catch (err) {
      await this.stepFailed(step, err);
      return false;
    }
    if (step.undo) this.undoStack.push(step.undo);
    this.state.completedSteps.push(step.name);
    await this.record(step.name, 'COMPLETED', step.statusWhenDone);
    return true;
  }

  private async stepFailed(step: SagaStepDefinition, err: unknown): Promise<void> {
    const failure = step.onFailure(businessFailure(err));
    const detail = describeFailure(err).message;
    if (failure.then === 'reject') {
      await this.record(step.name, 'FAILED', 'REJECTED', { failureReason: failure.reason, detail });
      return;
    }
    if (failure.undoAnyway && step.undo) this.undoStack.push(step.undo);
    if (failure.recordFailed) await this.record(step.name, 'FAILED', this.state.status, { detail });
    await this.compensate(failure.reason, detail);
  }

  /** A CONFIRMED order can still be refunded and restocked by a `compensate` signal in the window. */
  private async stayOpenForCompensation(windowMs: number): Promise<void> {
    this.forgetCompensateRequest();
    if (await condition(() => this.compensateRequest !== null, windowMs)) {
      await this.compensate(FAILURE_REASONS.MANUAL_COMPENSATION, this.compensateRequest?.reason ?? '');
    }
  }

  /** Runs the newest compensation; if it exhausts its retries, parks until an operator retries it. */
  private async undoLastStep(reason: string): Promise<void> {
    const last = this.undoStack.at(-1);
    if (!last) return;
    try {
      await last.run(reason);
    } catch (err) {
      if (isCancellation(err)) throw err;
      await this.parkUntilRetried(last.step, err);
      return;
    }
    this.undoStack.pop();
    this.state.pendingCompensation.shift();
    this.state.completedSteps.push(last.step);
    await this.record(last.step, 'COMPLETED', 'COMPENSATING');
  }

  /** NEEDS_ATTENTION, with the failure in `lastError`, until a `compensate` signal sent from now on. */
  private async parkUntilRetried(step: SagaStep, err: unknown): Promise<void> {
    const lastError = { step, ...describeFailure(err) };
    this.state.lastError = lastError;
    this.forgetCompensateRequest();
    await this.record(step, 'FAILED', 'NEEDS_ATTENTION', { detail: lastError.message });
    await condition(() => this.compensateRequest !== null);
    await this.record('compensation', 'STARTED', 'COMPENSATING', { detail: `retry requested: ${this.compensateRequest?.reason ?? ''}` });
  }

  /** Only a `compensate` signal sent after this counts. */
  private forgetCompensateRequest(): void {
    this.compensateRequest = null;
  }

  /** Records a step and the order's status (one transaction in the orders service). */
  private async record(
    step: string,
    stepStatus: TransitionInput['stepStatus'],
    orderStatus: OrderStatus,
    extra: { failureReason?: FailureReason; detail?: string } = {},
  ): Promise<void> {
    this.transitions += 1;
    await this.orders.transitionOrder({
      orderId: this.state.orderId,
      transitionKey: `${this.transitions}:${step}:${stepStatus}`,
      step,
      stepStatus,
      orderStatus,
      failureReason: extra.failureReason,
      detail: extra.detail ?? null,
    });
    if (extra.failureReason) this.state.failureReason = extra.failureReason;
    if (orderStatus !== this.state.status) {
      this.state.status = orderStatus;
      upsertSearchAttributes([{ key: SA.OrderStatus, value: orderStatus }]);
    }
  }
}
