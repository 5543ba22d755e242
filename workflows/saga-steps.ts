/**
 * The order saga's steps, declared once: each row is a forward step (its name is its
 * activity's name), the task queue its activity runs on, what the activity is given, the order's
 * status once it is done, the compensation that undoes it, what a failure of it means, and the
 * saga version that added it. The step types, the task queues, which activities each worker
 * registers (app/workers.ts), the test fakes and the tests' expected step lists all follow from
 * SAGA_STEPS; saga-run.ts runs the rows.
 *
 * Workflow code: deterministic, activities imported as types only.
 */
import { proxyActivities, type ActivityOptions, type ApplicationFailure } from '@temporalio/workflow';
import type { StepActivities } from '../activities';
import { INVENTORY_FAILURES, INVENTORY_TASK_QUEUE } from '../services/inventory/contract';
import { FAILURE_REASONS, ORDERS_TASK_QUEUE, type FailureReason, type OrderSagaInput, type OrderStatus } from '../services/orders/contract';
import { PAYMENT_FAILURES, PAYMENTS_TASK_QUEUE } from '../services/payments/contract';
import type { RunVersion, SagaVersion } from './versions';

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

/** What the database says a compensation must undo (the orders service's compensationFacts). */
export type EffectFact = 'stockInEffect' | 'chargeInEffect';

type ActivityName = keyof StepActivities;
/** Activities that take what every compensation is given. */
type UndoActivity = {
  [K in ActivityName]: StepActivities[K] extends (input: { orderId: string; reason: string }) => unknown ? K : never;
}[ActivityName];

/** One row of the table. */
export interface StepRow<N extends ActivityName = ActivityName, C extends UndoActivity = UndoActivity> {
  /** The step's name, and the name of the activity it calls. */
  name: N;
  /** The task queue of its activity (before the deployment's prefix). */
  queue: string;
  /** What its activity is given. */
  input(order: OrderSagaInput): Parameters<StepActivities[N]>[0];
  /** One line the Web UI shows for the activity (user metadata): from the input only, so replays see the same, and nothing secret. */
  summary(order: OrderSagaInput): string;
  /** The order's status once the step succeeded. */
  statusWhenDone: OrderStatus;
  /** Undoes the step: registered once it succeeded (or per StepFailure.undoAnyway). */
  compensation?: {
    name: C;
    queue: string;
    /** The fact by which the database says the step is still in effect (a fresh run undoes it too). */
    inEffect: EffectFact;
    /** Its line in the Web UI, like the step's (the reason an operator typed is not in it). */
    summary(order: OrderSagaInput): string;
  };
  /**
   * What a failure of the step means. `business` is its non-retryable ApplicationFailure;
   * undefined means the outcome is unknown (retries exhausted, timed out).
   */
  onFailure(business: ApplicationFailure | undefined): StepFailure;
  /** The saga version that added the step: runs of older versions never take it. */
  since: SagaVersion;
}

/** Checks a row against its activities' names and inputs, keeping its literal names. */
function row<N extends ActivityName, C extends UndoActivity = never>(r: StepRow<N, C>): StepRow<N, C> {
  return r;
}

const BASELINE: SagaVersion = '2026-12-baseline';

/** An order's lines for a summary (`2 × MUG-LOGO, 1 × POSTER-A2`), the first few only: a summary is one short line. */
function linesOf(o: OrderSagaInput, shown = 3): string {
  const listed = o.items.slice(0, shown).map((i) => `${i.quantity} × ${i.sku}`);
  return o.items.length > shown ? `${listed.join(', ')} and ${o.items.length - shown} more lines` : listed.join(', ');
}

/** reserve inventory -> charge payment -> commit inventory (CONFIRMED). */
export const SAGA_STEPS = [
  row({
    name: 'reserveInventory',
    queue: INVENTORY_TASK_QUEUE,
    input: (o) => ({ orderId: o.orderId, items: o.items.map(({ sku, quantity }) => ({ sku, quantity })) }),
    summary: (o) => `reserve ${linesOf(o)} for order ${o.orderId}`,
    statusWhenDone: 'INVENTORY_RESERVED',
    compensation: {
      name: 'releaseInventory',
      queue: INVENTORY_TASK_QUEUE,
      inEffect: 'stockInEffect',
      summary: (o) => `release the stock of order ${o.orderId}`,
    },
    onFailure: (business) =>
      business?.type === INVENTORY_FAILURES.OUT_OF_STOCK
        ? { then: 'reject', reason: FAILURE_REASONS.OUT_OF_STOCK }
        : // Outcome unknown (e.g. timed out): releasing is safe either way.
          { then: 'compensate', reason: FAILURE_REASONS.INVENTORY_UNAVAILABLE, undoAnyway: true, recordFailed: false },
    since: BASELINE,
  }),
  row({
    name: 'chargePayment',
    queue: PAYMENTS_TASK_QUEUE,
    input: (o) => ({ orderId: o.orderId, customerId: o.customerId, amountMinor: o.totalMinor, currency: o.currency }),
    summary: (o) => `charge ${o.customerId} ${o.totalMinor} ${o.currency} minor units for order ${o.orderId}`,
    statusWhenDone: 'PAYMENT_CAPTURED',
    compensation: {
      name: 'refundPayment',
      queue: PAYMENTS_TASK_QUEUE,
      inEffect: 'chargeInEffect',
      summary: (o) => `refund ${o.customerId} the charge of order ${o.orderId}`,
    },
    // Only a business failure proves nothing was charged; otherwise refund (a no-op if nothing was).
    onFailure: (business) => ({
      then: 'compensate',
      reason:
        business?.type === PAYMENT_FAILURES.INSUFFICIENT_FUNDS ? FAILURE_REASONS.INSUFFICIENT_FUNDS : FAILURE_REASONS.PAYMENT_DECLINED,
      undoAnyway: business === undefined,
      recordFailed: true,
    }),
    since: BASELINE,
  }),
  row({
    name: 'commitInventory',
    queue: INVENTORY_TASK_QUEUE,
    input: (o) => ({ orderId: o.orderId }),
    summary: (o) => `commit the reserved stock of order ${o.orderId}`,
    // No undo of its own: releaseInventory returns committed stock too.
    statusWhenDone: 'CONFIRMED',
    onFailure: () => ({ then: 'compensate', reason: FAILURE_REASONS.INVENTORY_UNAVAILABLE, undoAnyway: false, recordFailed: false }),
    since: BASELINE,
  }),
] as const;

type Row = (typeof SAGA_STEPS)[number];
export type ForwardStep = Row['name'];
export type CompensationStep = NonNullable<Row['compensation']>['name'];
/** A step the saga records: a forward step or a compensation. */
export type SagaStep = ForwardStep | CompensationStep;

/** The forward steps, in order. */
export const FORWARD_STEPS: readonly ForwardStep[] = SAGA_STEPS.map((s: Row) => s.name);

/** The compensation of a forward step, if it has one. */
export function compensationOf(step: ForwardStep): CompensationStep | undefined {
  return SAGA_STEPS.find((s: Row) => s.name === step)?.compensation?.name;
}

/** Every compensation, in the forward steps' order. */
export const COMPENSATION_STEPS: readonly CompensationStep[] = FORWARD_STEPS.flatMap((s) => compensationOf(s) ?? []);

/** Every task queue the saga uses, the orders worker's (the workflow and its local activities) first. */
export const SAGA_QUEUES: readonly string[] = [
  ...new Set([ORDERS_TASK_QUEUE, ...SAGA_STEPS.flatMap((s) => [s.queue, ...(s.compensation ? [s.compensation.queue] : [])])]),
];

/** The step and compensation activities that run on `queue`, by name. */
export function activitiesOn(queue: string): ActivityName[] {
  return SAGA_STEPS.flatMap((s) => [
    ...(s.queue === queue ? [s.name] : []),
    ...(s.compensation?.queue === queue ? [s.compensation.name] : []),
  ]);
}

/** The queue `name` on a deployment whose queues carry `prefix` (config TEMPORAL_TASK_QUEUE_PREFIX). */
export function prefixedQueue(prefix: string, queue: string): string {
  return `${prefix}${queue}`;
}

/** Undoes a forward step; `reason` says why (it reaches the activity and its events). */
export interface Compensation {
  step: CompensationStep;
  inEffect: EffectFact;
  run(reason: string): Promise<unknown>;
}

/** A row made runnable for one saga run. */
export interface SagaStepDefinition {
  name: ForwardStep;
  run(): Promise<unknown>;
  undo?: Compensation;
  statusWhenDone: OrderStatus;
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

type Call = (input: unknown) => Promise<unknown>;

/** The rows this run's version has, bound to this order and this deployment's queues. */
export function orderSagaSteps(
  input: OrderSagaInput,
  tuning: CompensationTuning & { taskQueuePrefix: string },
  version: RunVersion<SagaVersion>,
): SagaStepDefinition[] {
  const queue = (q: string) => prefixedQueue(tuning.taskQueuePrefix, q);
  return SAGA_STEPS.filter((s: Row) => version.atLeast(s.since)).map((s: Row): SagaStepDefinition => {
    const forward = proxyActivities<Record<string, Call>>({ ...FORWARD, taskQueue: queue(s.queue), summary: s.summary(input) });
    const c = s.compensation;
    const undo = c && proxyActivities<Record<string, Call>>({ ...compensationOptions(queue(c.queue), tuning), summary: c.summary(input) });
    return {
      name: s.name,
      run: () => forward[s.name]!(s.input(input)),
      ...(c && undo
        ? { undo: { step: c.name, inEffect: c.inEffect, run: (reason) => undo[c.name]!({ orderId: input.orderId, reason }) } }
        : {}),
      statusWhenDone: s.statusWhenDone,
      onFailure: (business) => s.onFailure(business),
    };
  });
}
