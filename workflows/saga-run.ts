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
import type { COMMON_ERRORS } from '../lib/errors';
import {
  FAILURE_REASONS,
  ORDER_ERRORS,
  type CancelDecision,
  type CancelSignal,
  type CompensateRequest,
  type CompensateSignal,
  type FailureReason,
  type OrderStatus,
  type SagaState,
  type TransitionInput,
} from '../services/orders/contract';
import { SA, TRANSIENT_STATUSES } from '../services/orders/search-attributes';
import type { Compensation, SagaStep, SagaStepDefinition } from './saga-steps';
import type { RunVersion, SagaVersion } from './versions';

/** What an activity fails with when PostgreSQL refuses a value as data (activities/failure.ts). */
const DATA_ERROR: (typeof COMMON_ERRORS)['DATABASE_DATA_ERROR']['code'] = 'DATABASE_DATA_ERROR';
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSTORABLE = /[\u0000-\u001F\u007F]|[\uD800-\uDFFF]/gu;

/** Free text as the database can store it: control characters and lone surrogates become U+FFFD. */
function storable(text: string): string {
  return text.replace(UNSTORABLE, '\uFFFD');
}

/** Before confirmation, a customer's cancel is accepted. */
const CANCELLABLE: readonly OrderStatus[] = ['PENDING', 'INVENTORY_RESERVED', 'PAYMENT_CAPTURED'];

/** A refusal the saga ends with: its type is an ORDER_ERRORS code, its message says why. */
function refusal(kind: { code: string }, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: kind.code, message, nonRetryable: true });
}

/**
 * The business failure (a non-retryable ApplicationFailure) an activity failed with, if any:
 * the cause of an ActivityFailure, or the failure itself (how a local activity's can arrive).
 */
function businessFailure(err: unknown): ApplicationFailure | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && cause.nonRetryable ? cause : undefined;
}

/** The type of the business failure an activity failed with, if any. */
function refusedAs(err: unknown): string | undefined {
  return businessFailure(err)?.type ?? undefined;
}

function describeFailure(err: unknown): { type: string | null; message: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? null, message: cause.message };
  return { type: null, message: cause instanceof Error ? cause.message : String(cause) };
}

/** A duration for a summary, in the largest whole unit (`7 days`, `90 seconds`, `1500 ms`). */
export function describeDuration(ms: number): string {
  const units = [
    ['day', 86_400_000],
    ['hour', 3_600_000],
    ['minute', 60_000],
    ['second', 1000],
  ] as const;
  const [name, size] = units.find(([, size]) => ms >= size && ms % size === 0) ?? ['ms', 1];
  if (size === 1) return `${ms} ms`;
  const n = ms / size;
  return `${n} ${name}${n === 1 ? '' : 's'}`;
}

export class SagaRun {
  readonly state: SagaState<SagaStep>;
  /** Compensations of the steps done so far; the last one runs first. */
  private readonly undoStack: Compensation[] = [];
  private cancelRequest: CancelSignal | null = null;
  private compensateRequest: CompensateSignal | null = null;
  /** The workflow was cancelled and no transition has said so yet: the next one names it (the audit log's source). */
  private workflowCancelPending = false;
  /** `compensate` signals received so far: the number of the one in compensateRequest. */
  private compensateSignals = 0;
  private compensationStarted = false;
  /** Every compensation of this run's steps, in the steps' order: what the database's record may call for. */
  private knownUndo: Compensation[] = [];
  private windowMs = 0;
  /** Transitions recorded so far: numbers their keys, so each is unique. */
  private transitions = 0;
  private readonly orders: ReturnType<typeof proxyLocalActivities<OrderActivities>>;
  /** Saga version 2026-12-bounded-writes: a status write failed past its budget parks the saga instead of failing the run. */
  private readonly parkOnFailedWrite: boolean;

  /** `statusWriteMaxAttempts` bounds every local activity's retries (transient failures too; data errors are never retried). */
  constructor(orderId: string, version?: RunVersion<SagaVersion>, statusWriteMaxAttempts = 10) {
    this.parkOnFailedWrite = version?.atLeast('2026-12-bounded-writes') ?? false;
    this.orders = proxyLocalActivities<OrderActivities>({
      startToCloseTimeout: '10 seconds',
      retry: {
        initialInterval: '200 milliseconds',
        backoffCoefficient: 2,
        maximumInterval: '10 seconds',
        maximumAttempts: statusWriteMaxAttempts,
      },
    });
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

  /**
   * Validator of the `requestCancel` update: throwing rejects it, and the caller is told why.
   * Accepted only before confirmation and before any compensation began, so an accepted cancel
   * always ends COMPENSATED.
   */
  validateCancel(): void {
    const { status, orderId } = this.state;
    if (!CANCELLABLE.includes(status) || this.compensationStarted) {
      const why = this.compensationStarted ? 'its compensation has already begun' : `it is ${status}`;
      throw ApplicationFailure.create({
        type: ORDER_ERRORS.ORDER_NOT_CANCELLABLE.code,
        message: `order ${orderId} can no longer be cancelled: ${why}`,
        nonRetryable: true,
        details: [{ orderStatus: status }],
      });
    }
  }

  /** The `requestCancel` update, once validated: the saga will undo what was done. */
  acceptCancel(request: CancelSignal): CancelDecision {
    this.onCancel(request);
    return { accepted: true, status: this.state.status };
  }

  /** The `compensate` signal: undo a CONFIRMED order, or retry a parked compensation. */
  onCompensate(signal: CompensateSignal): void {
    this.compensateSignals += 1;
    this.compensateRequest = signal;
  }

  /** The pending `compensate` signal as a transition names it (the audit log's source for one the API did not record). */
  private requestOf(signal: CompensateSignal | null, resumes: boolean): CompensateRequest | undefined {
    if (!signal) return undefined;
    const reason = typeof signal.reason === 'string' ? signal.reason : '';
    const auditId = typeof signal.auditId === 'string' ? signal.auditId : undefined;
    return { seq: this.compensateSignals, reason, resumes, ...(auditId ? { auditId } : {}) };
  }

  /**
   * The workflow itself was cancelled (`temporal workflow cancel`, tctl). A CONFIRMED order keeps
   * its money and stock: only its window closes (refunds come from `compensate` alone). Before
   * confirmation it is a cancel: undo what was done.
   */
  async onWorkflowCancelled(): Promise<void> {
    this.workflowCancelPending = true;
    if (this.state.status === 'CONFIRMED') {
      await this.closeWindow('workflow cancelled while CONFIRMED: window closed, nothing refunded');
      return;
    }
    await this.compensate(FAILURE_REASONS.CANCELLED, 'workflow cancelled');
  }

  /** REJECTED or COMPENSATED: nothing is left to undo. */
  isOver(): boolean {
    return this.state.status === 'COMPENSATED' || this.state.status === 'REJECTED';
  }

  /** Runs the steps in order, then stays open for a `compensate` signal during the window. */
  async run(steps: readonly SagaStepDefinition[], compensationWindowMs: number): Promise<void> {
    this.windowMs = compensationWindowMs;
    this.knownUndo = steps.flatMap((step) => (step.undo ? [step.undo] : []));
    for (const step of steps) {
      if (await this.compensatedOnRequest()) return;
      if (!(await this.runStep(step))) return;
    }
    // A cancel accepted (or a compensate sent) while the last step ran.
    if (await this.compensatedOnRequest()) return;
    await this.stayOpenForCompensation(compensationWindowMs);
  }

  /** Undoes what was done, last first. Never gives up: a stuck step waits for an operator. */
  async compensate(reason: FailureReason, detail: string): Promise<void> {
    this.compensationStarted = true;
    const requestedBy = reason === FAILURE_REASONS.MANUAL_COMPENSATION ? this.requestOf(this.compensateRequest, false) : undefined;
    this.compensateRequest = null; // acted on now
    await this.startCompensating(reason, detail, requestedBy);
    await this.addUndoFromRecords();
    this.state.pendingCompensation = this.undoStack.map((c) => c.step).reverse();
    for (;;) {
      while (this.undoStack.length > 0) await this.undoLastStep(`${reason}: ${detail}`);
      this.state.lastError = null;
      try {
        await this.record('compensation', 'COMPLETED', 'COMPENSATED');
        return;
      } catch (err) {
        if (refusedAs(err) !== ORDER_ERRORS.COMPENSATION_INCOMPLETE.code) throw err;
        // The database says something is still in effect although every step reported done (a
        // service that lies, a hand edit): an operator must look. Their retry undoes what is left.
        await this.addUndoFromRecords();
        this.state.pendingCompensation = this.undoStack.map((c) => c.step).reverse();
        await this.parkUntilRetried(this.undoStack.at(-1)?.step ?? this.knownUndo[0]!.step, err);
      }
    }
  }

  /** COMPENSATING; if the database refuses (the window has closed), the window is closed and the saga ends refusing. */
  private async startCompensating(reason: FailureReason, detail: string, requestedBy?: CompensateRequest): Promise<void> {
    try {
      await this.record('compensation', 'STARTED', 'COMPENSATING', { failureReason: reason, detail, requestedBy });
    } catch (err) {
      if (refusedAs(err) !== ORDER_ERRORS.COMPENSATION_WINDOW_CLOSED.code) throw err;
      await this.closeWindow(`compensation refused: ${detail}`);
      throw refusal(
        ORDER_ERRORS.COMPENSATION_WINDOW_CLOSED,
        `order ${this.state.orderId}: its compensation window has closed; nothing was undone`,
      );
    }
  }

  /** Adds the compensations that the database's record of this order calls for and this run does not hold. */
  private async addUndoFromRecords(): Promise<void> {
    const facts = await this.orders.compensationFacts({ orderId: this.state.orderId });
    const held = new Set(this.undoStack.map((c) => c.step));
    // The stack keeps the steps' order, so the step done last is undone first.
    const undo = this.knownUndo.filter((c) => held.has(c.step) || facts[c.inEffect]);
    this.undoStack.splice(0, this.undoStack.length, ...undo);
  }

  /** Records that the order's compensation window is closed (its status stays CONFIRMED). */
  private async closeWindow(detail: string): Promise<void> {
    await this.record('compensationWindow', 'COMPLETED', 'CONFIRMED', { closeWindow: true, detail });
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
    const confirmed = step.statusWhenDone === 'CONFIRMED';
    // Workflow time: deterministic, and what the window's timer counts from.
    const windowClosesAt = confirmed ? new Date(Date.now() + this.windowMs).toISOString() : undefined;
    await this.record(step.name, 'COMPLETED', step.statusWhenDone, windowClosesAt ? { windowClosesAt } : {});
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
    const summary = `compensation window of order ${this.state.orderId}: ${describeDuration(windowMs)}`;
    if (await condition(() => this.compensateRequest !== null, windowMs, { summary })) {
      try {
        await this.compensate(FAILURE_REASONS.MANUAL_COMPENSATION, this.compensateRequest?.reason ?? '');
      } catch (err) {
        // The request came as the window closed: the database refused it, and the window is closed now.
        if (!(err instanceof ApplicationFailure && err.type === ORDER_ERRORS.COMPENSATION_WINDOW_CLOSED.code)) throw err;
      }
    } else {
      await this.closeWindow('compensation window elapsed');
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
    await this.record(step, 'FAILED', 'NEEDS_ATTENTION', { detail: lastError.message });
    await condition(() => this.compensateRequest !== null);
    const requestedBy = this.requestOf(this.compensateRequest, true);
    this.compensateRequest = null; // acted on now
    await this.record('compensation', 'STARTED', 'COMPENSATING', { detail: `retry requested: ${requestedBy?.reason ?? ''}`, requestedBy });
  }

  /** Records a step and the order's status (one transaction in the orders service). */
  private async record(
    step: string,
    stepStatus: TransitionInput['stepStatus'],
    orderStatus: OrderStatus,
    extra: {
      failureReason?: FailureReason;
      detail?: string;
      windowClosesAt?: string;
      closeWindow?: boolean;
      requestedBy?: CompensateRequest;
    } = {},
  ): Promise<void> {
    this.transitions += 1;
    const transition: TransitionInput = {
      orderId: this.state.orderId,
      transitionKey: `${this.transitions}:${step}:${stepStatus}`,
      step,
      stepStatus,
      orderStatus,
      failureReason: extra.failureReason,
      detail: extra.detail ?? null,
      ...(extra.windowClosesAt ? { compensationWindowClosesAt: extra.windowClosesAt } : {}),
      ...(extra.closeWindow ? { closeCompensationWindow: true } : {}),
      ...(extra.requestedBy ? { requestedBy: extra.requestedBy } : {}),
      ...(this.workflowCancelPending ? { workflowCancelled: true } : {}),
    };
    this.workflowCancelPending = false;
    try {
      await this.write(transition);
    } catch (err) {
      // Refused twice as data, or failing past its budget of attempts: never retried without end.
      // The orders service's business refusals (window closed, compensation incomplete) are the caller's.
      const refusal = refusedAs(err);
      if (!this.parkOnFailedWrite || isCancellation(err) || (refusal !== undefined && refusal !== DATA_ERROR)) throw err;
      await this.parkOnWriteFailure(transition, err);
    }
    if (extra.failureReason) this.state.failureReason = extra.failureReason;
    this.setStatus(orderStatus);
  }

  /**
   * One status write. The database refused it as data (never retried): the free text is what
   * may hold a byte it cannot store, so the same transition once more with that text made
   * storable (same key: the refused statement changed nothing). A second refusal is not about
   * the text: it is thrown, with the database's error as its cause.
   */
  private async write(transition: TransitionInput): Promise<void> {
    try {
      await this.orders.transitionOrder(transition);
    } catch (err) {
      if (refusedAs(err) !== DATA_ERROR || !transition.detail) throw err;
      await this.orders.transitionOrder({ ...transition, detail: storable(transition.detail) });
    }
  }

  /**
   * A status write that failed for good: NEEDS_ATTENTION (in the database when it takes that
   * write, which raises the OrdersNeedAttention alert; in the status query and the search
   * attribute in any case; the reconciler's saga.stuck finds an order whose row does not move),
   * until an operator's `compensate` signal. Then the same write once more, without its free
   * text; the signal stays pending, so the saga compensates at its next step.
   */
  private async parkOnWriteFailure(transition: TransitionInput, err: unknown): Promise<void> {
    const failure = describeFailure(err);
    this.state.lastError = { step: transition.step as SagaStep, ...failure };
    for (let retry = 1; ; retry += 1) {
      this.setStatus('NEEDS_ATTENTION');
      try {
        await this.orders.transitionOrder({
          orderId: this.state.orderId,
          transitionKey: `${transition.transitionKey}:parked`,
          step: transition.step,
          stepStatus: 'FAILED',
          orderStatus: 'NEEDS_ATTENTION',
          detail: `status write failed (${failure.type ?? 'error'}); retried on an operator's compensate`,
        });
      } catch (parkErr) {
        if (isCancellation(parkErr)) throw parkErr;
        // The database takes no write at all: the query, the search attribute and saga.stuck still show the order.
      }
      await condition(() => this.compensateRequest !== null);
      try {
        // A key of its own: the failed write may have committed before it timed out, and the parked one came after it.
        await this.orders.transitionOrder({
          ...transition,
          transitionKey: `${transition.transitionKey}:retry${retry}`,
          detail: null,
          requestedBy: this.requestOf(this.compensateRequest, true),
        });
        this.state.lastError = null;
        return;
      } catch (retryErr) {
        if (isCancellation(retryErr)) throw retryErr;
        this.state.lastError = { step: transition.step as SagaStep, ...describeFailure(retryErr) };
        this.compensateRequest = null; // acted on: the next retry needs a new signal
      }
    }
  }

  private setStatus(orderStatus: OrderStatus): void {
    if (orderStatus === this.state.status) return;
    this.state.status = orderStatus;
    // The status query and the orders table have every status; the search attribute has those an operator searches for.
    if (!TRANSIENT_STATUSES.includes(orderStatus)) upsertSearchAttributes([{ key: SA.OrderStatus, value: orderStatus }]);
  }
}
