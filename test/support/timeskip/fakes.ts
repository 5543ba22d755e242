/**
 * Fake saga activities for time-skipping workflow tests: plain async functions with the real
 * activities' names and shapes that record every call (failed attempts too) and fail the way
 * the real ones do. Business failures are non-retryable ApplicationFailures of the real types;
 * infrastructure trouble is a retryable ApplicationFailure of a type the workflow does not know.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { InventoryActivities } from '../../../activities/inventory';
import type { OrderActivities } from '../../../activities/orders';
import type { PaymentActivities } from '../../../activities/payment';
import { INVENTORY_FAILURES } from '../../../services/inventory/contract';
import type { TransitionInput } from '../../../services/orders/contract';
import { PAYMENT_FAILURES } from '../../../services/payments/contract';

/** Every activity the saga calls, as the real workers register them. */
export type SagaActivities = InventoryActivities & PaymentActivities & OrderActivities;

export const ACTIVITY_NAMES = [
  'reserveInventory',
  'chargePayment',
  'commitInventory',
  'releaseInventory',
  'refundPayment',
  'transitionOrder',
  'compensationFacts',
] as const satisfies readonly (keyof SagaActivities)[];
export type ActivityName = (typeof ACTIVITY_NAMES)[number];
export type CompensationName = 'releaseInventory' | 'refundPayment';

/** Failure types the fakes throw for transient (retryable) trouble. */
export const TRANSIENT_FAILURES = {
  PAYMENT_GATEWAY_UNAVAILABLE: 'PAYMENT_GATEWAY_UNAVAILABLE',
  DEPENDENCY_UNAVAILABLE: 'DEPENDENCY_UNAVAILABLE',
} as const;

export interface FakeCall {
  name: ActivityName;
  input: unknown;
  /** The scheduled activity this call is an attempt of (one id per ScheduleActivityTask command). */
  activityId: string;
  /** Set once the call returned or threw. */
  outcome: 'pending' | 'ok' | 'failed';
  failureType: string | null;
}

export interface FakeBehaviour {
  /** outOfStock: OUT_OF_STOCK (business). */
  reserve: 'ok' | 'outOfStock';
  /** insufficientFunds: INSUFFICIENT_FUNDS (business); unavailable: retryable, forever. */
  charge: 'ok' | 'insufficientFunds' | 'unavailable';
  /** Compensation steps that fail (retryably) on every attempt while listed here. */
  failing: Set<CompensationName>;
  /**
   * What an earlier run left in effect, as the database would report it (compensationFacts):
   * a run that starts fresh for an order charged and reserved long ago.
   */
  earlier: { charged: boolean; reserved: boolean };
}

interface Gate {
  promise: Promise<void>;
  open: () => void;
}

function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Activities that record or read, not saga steps. */
const BOOKKEEPING = new Set<ActivityName>(['transitionOrder', 'compensationFacts']);

function firstPerActivity(calls: FakeCall[]): FakeCall[] {
  const seen = new Set<string>();
  return calls.filter((c) => !seen.has(c.activityId) && seen.add(c.activityId));
}

export class FakeSagaActivities {
  readonly calls: FakeCall[] = [];
  readonly behaviour: FakeBehaviour;
  private readonly gates = new Map<ActivityName, Gate>();

  constructor(behaviour: Partial<FakeBehaviour> = {}) {
    this.behaviour = { reserve: 'ok', charge: 'ok', failing: new Set(), earlier: { charged: false, reserved: false }, ...behaviour };
  }

  /** Calls to `name` from now on wait (after being recorded) until release(name). */
  hold(name: ActivityName): void {
    if (!this.gates.has(name)) this.gates.set(name, gate());
  }

  release(name: ActivityName): void {
    this.gates.get(name)?.open();
    this.gates.delete(name);
  }

  releaseAll(): void {
    for (const name of [...this.gates.keys()]) this.release(name);
  }

  /** Every call to `name`, failed attempts included. */
  callsTo(name: ActivityName): FakeCall[] {
    return this.calls.filter((c) => c.name === name);
  }

  /**
   * Names of the successful saga-step calls (no transitions, no failed attempts), in order: one
   * per activity the workflow scheduled. Activities are at-least-once: when the time-skipping
   * server skips past a start-to-close timeout while an attempt is still on its way back (a busy
   * machine), the same scheduled activity runs again and succeeds twice. That is delivery, not a
   * step the workflow took, so only the first success per activity id counts; a workflow that
   * scheduled a step twice still shows it twice.
   */
  steps(): ActivityName[] {
    return firstPerActivity(this.calls.filter((c) => !BOOKKEEPING.has(c.name) && c.outcome === 'ok')).map((c) => c.name);
  }

  /** The inputs of every transition the workflow scheduled, in order (one per activity id, as steps()). */
  transitions(): TransitionInput[] {
    return firstPerActivity(this.callsTo('transitionOrder')).map((c) => c.input as TransitionInput);
  }

  private async call<T>(name: ActivityName, input: unknown, body: () => T): Promise<T> {
    const { activityId, workflowExecution } = Context.current().info;
    const record: FakeCall = {
      name,
      input,
      activityId: `${workflowExecution?.runId ?? '-'}/${activityId}`,
      outcome: 'pending',
      failureType: null,
    };
    this.calls.push(record);
    const held = this.gates.get(name);
    if (held) await held.promise;
    try {
      const result = body();
      record.outcome = 'ok';
      return result;
    } catch (err) {
      record.outcome = 'failed';
      record.failureType = err instanceof ApplicationFailure ? (err.type ?? null) : null;
      throw err;
    }
  }

  private inEffect(done: ActivityName, undone: ActivityName, earlier: boolean): boolean {
    const succeeded = (name: ActivityName) => this.callsTo(name).some((c) => c.outcome === 'ok');
    return (earlier || succeeded(done)) && !succeeded(undone);
  }

  private failIfFailing(name: CompensationName): void {
    if (this.behaviour.failing.has(name)) {
      throw ApplicationFailure.create({
        type: TRANSIENT_FAILURES.DEPENDENCY_UNAVAILABLE,
        message: `${name}: dependency unavailable (fake)`,
        nonRetryable: false,
      });
    }
  }

  /** The activities to register on a test worker, checked against the real ones' signatures. */
  get activities() {
    return {
      reserveInventory: (input) =>
        this.call('reserveInventory', input, () => {
          if (this.behaviour.reserve === 'outOfStock') {
            throw ApplicationFailure.create({
              type: INVENTORY_FAILURES.OUT_OF_STOCK,
              message: `order ${input.orderId}: not enough stock (fake)`,
              nonRetryable: true,
            });
          }
          return { applied: true };
        }),
      chargePayment: (input) =>
        this.call('chargePayment', input, () => {
          if (this.behaviour.charge === 'insufficientFunds') {
            throw ApplicationFailure.create({
              type: PAYMENT_FAILURES.INSUFFICIENT_FUNDS,
              message: `order ${input.orderId}: insufficient funds (fake)`,
              nonRetryable: true,
            });
          }
          if (this.behaviour.charge === 'unavailable') {
            throw ApplicationFailure.create({
              type: TRANSIENT_FAILURES.PAYMENT_GATEWAY_UNAVAILABLE,
              message: 'payment gateway unavailable (fake)',
              nonRetryable: false,
            });
          }
          return { transactionId: `tx-charge-${input.orderId}`, applied: true };
        }),
      commitInventory: (input) => this.call('commitInventory', input, () => ({ applied: true })),
      releaseInventory: (input) =>
        this.call('releaseInventory', input, () => {
          this.failIfFailing('releaseInventory');
          return { releasedFrom: 'HELD', applied: true };
        }),
      refundPayment: (input) =>
        this.call('refundPayment', input, () => {
          this.failIfFailing('refundPayment');
          return { transactionId: `tx-refund-${input.orderId}`, applied: true };
        }),
      transitionOrder: (input) => this.call('transitionOrder', input, () => ({ applied: true })),
      // What a database would say: effects of successful steps (and of an earlier run) not yet undone.
      compensationFacts: (input) =>
        this.call('compensationFacts', input, () => ({
          chargeInEffect: this.inEffect('chargePayment', 'refundPayment', this.behaviour.earlier.charged),
          stockInEffect: this.inEffect('reserveInventory', 'releaseInventory', this.behaviour.earlier.reserved),
        })),
    } satisfies SagaActivities;
  }
}
