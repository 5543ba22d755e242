/**
 * Fake saga activities for time-skipping workflow tests: plain async functions with the real
 * activities' names and shapes that record every call (failed attempts too) and fail the way
 * the real ones do. Business failures are non-retryable ApplicationFailures of the real types;
 * infrastructure trouble is a retryable ApplicationFailure of a type the workflow does not know.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { OrderActivities } from '../../../activities/orders';
import { INVENTORY_FAILURES } from '../../../services/inventory/contract';
import type { TransitionInput } from '../../../services/orders/contract';
import { PAYMENT_FAILURES } from '../../../services/payments/contract';
import {
  COMPENSATION_STEPS,
  FORWARD_STEPS,
  SAGA_STEPS,
  type CompensationStep,
  type EffectFact,
  type SagaStep,
} from '../../../workflows/saga-steps';

/** The orders service's local activities, faked too. */
const BOOKKEEPING_NAMES = ['transitionOrder', 'compensationFacts'] as const satisfies readonly (keyof OrderActivities)[];

/** Every activity the saga calls: the step table's, and the orders service's. */
export const ACTIVITY_NAMES: readonly ActivityName[] = [...FORWARD_STEPS, ...COMPENSATION_STEPS, ...BOOKKEEPING_NAMES];
export type ActivityName = SagaStep | (typeof BOOKKEEPING_NAMES)[number];
export type CompensationName = CompensationStep;

/** How a faked activity fails: a business failure (non-retryable) or transient trouble (retryable). */
export interface FakeFailure {
  type: string;
  nonRetryable: boolean;
}

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
  /** Any step failing on every attempt, the way given (every other step succeeds). */
  fail: Partial<Record<SagaStep, FakeFailure>>;
  /** Compensation steps that fail (retryably) on every attempt while listed here. */
  failing: Set<CompensationName>;
  /**
   * What an earlier run left in effect, as the database would report it (compensationFacts):
   * a run that starts fresh for an order charged and reserved long ago.
   */
  earlier: Partial<Record<EffectFact, boolean>>;
  /**
   * Transitions the database refuses as data (DATABASE_DATA_ERROR, non-retryable, as
   * activities/failure.ts reports a SQLSTATE class 22 error). By default, like PostgreSQL, any
   * whose detail holds a NUL.
   */
  refuse: (transition: TransitionInput) => boolean;
  /** Transitions that fail retryably (DATABASE_BUSY) on every attempt while this says so: a database that is down. */
  unavailable: (transition: TransitionInput) => boolean;
}

/** The data-error type of activities/failure.ts. */
export const DATA_ERROR = 'DATABASE_DATA_ERROR';

const PRESETS = {
  outOfStock: { type: INVENTORY_FAILURES.OUT_OF_STOCK, nonRetryable: true },
  insufficientFunds: { type: PAYMENT_FAILURES.INSUFFICIENT_FUNDS, nonRetryable: true },
  unavailable: { type: TRANSIENT_FAILURES.PAYMENT_GATEWAY_UNAVAILABLE, nonRetryable: false },
} satisfies Record<string, FakeFailure>;

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
const BOOKKEEPING = new Set<ActivityName>(BOOKKEEPING_NAMES);

function firstPerActivity(calls: FakeCall[]): FakeCall[] {
  const seen = new Set<string>();
  return calls.filter((c) => !seen.has(c.activityId) && seen.add(c.activityId));
}

export class FakeSagaActivities {
  readonly calls: FakeCall[] = [];
  readonly behaviour: FakeBehaviour;
  private readonly gates = new Map<ActivityName, Gate>();

  constructor(behaviour: Partial<FakeBehaviour> = {}) {
    this.behaviour = {
      reserve: 'ok',
      charge: 'ok',
      fail: {},
      failing: new Set(),
      earlier: {},
      refuse: (t) => (t.detail ?? '').includes('\u0000'),
      unavailable: () => false,
      ...behaviour,
    };
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

  /** How `name` fails now, if it does. */
  private failureOf(name: SagaStep): FakeFailure | undefined {
    const { reserve, charge, fail, failing } = this.behaviour;
    if (name === 'reserveInventory' && reserve !== 'ok') return PRESETS[reserve];
    if (name === 'chargePayment' && charge !== 'ok') return PRESETS[charge];
    if ((failing as Set<SagaStep>).has(name)) return { type: TRANSIENT_FAILURES.DEPENDENCY_UNAVAILABLE, nonRetryable: false };
    return fail[name];
  }

  private step(name: SagaStep, input: { orderId: string }) {
    return this.call(name, input, () => {
      const failure = this.failureOf(name);
      if (failure)
        throw ApplicationFailure.create({ ...failure, message: `order ${input.orderId}: ${name} failed ${failure.type} (fake)` });
      return { applied: true };
    });
  }

  private transition(input: TransitionInput): { applied: boolean } {
    if (this.behaviour.unavailable(input)) {
      throw ApplicationFailure.create({ type: 'DATABASE_BUSY', nonRetryable: false, message: 'the database is busy (fake)' });
    }
    if (this.behaviour.refuse(input)) {
      throw ApplicationFailure.create({
        type: DATA_ERROR,
        nonRetryable: true,
        message: 'the database refused the data (SQLSTATE 22021): invalid byte sequence for encoding "UTF8": 0x00 (fake)',
        details: [{ sqlstate: '22021' }],
      });
    }
    return { applied: true };
  }

  /** What a database would say: effects of successful steps (and of an earlier run) not yet undone. */
  private facts(): Record<EffectFact, boolean> {
    const succeeded = (name: ActivityName) => this.callsTo(name).some((c) => c.outcome === 'ok');
    const facts: Record<EffectFact, boolean> = { stockInEffect: false, chargeInEffect: false };
    for (const s of SAGA_STEPS) {
      const c = s.compensation;
      if (c) facts[c.inEffect] ||= ((this.behaviour.earlier[c.inEffect] ?? false) || succeeded(s.name)) && !succeeded(c.name);
    }
    return facts;
  }

  /** The activities to register on the test workers: one per step and compensation of the table, and the orders service's. */
  get activities(): Record<ActivityName, (input: never) => Promise<unknown>> {
    const steps = [...FORWARD_STEPS, ...COMPENSATION_STEPS].map((name) => [name, (input: { orderId: string }) => this.step(name, input)]);
    return {
      ...(Object.fromEntries(steps) as Record<SagaStep, (input: { orderId: string }) => Promise<unknown>>),
      transitionOrder: (input: TransitionInput) => this.call('transitionOrder', input, () => this.transition(input)),
      compensationFacts: (input: { orderId: string }) => this.call('compensationFacts', input, () => this.facts()),
    };
  }
}
