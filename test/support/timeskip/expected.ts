/**
 * What the saga's tests expect, derived from its step table (workflows/saga-steps.ts): which
 * steps a run takes, and which statuses it records, for a path named by the steps it reached.
 */
import type { OrderStatus } from '../../../services/orders/contract';
import { compensationOf, FORWARD_STEPS, SAGA_STEPS, type ForwardStep, type SagaStep } from '../../../workflows/saga-steps';

export { FORWARD_STEPS };

/** The forward steps before `step`. */
export function stepsBefore(step: ForwardStep): ForwardStep[] {
  return FORWARD_STEPS.slice(0, FORWARD_STEPS.indexOf(step));
}

/** The forward steps up to and including `step`. */
export function stepsThrough(step: ForwardStep): ForwardStep[] {
  return FORWARD_STEPS.slice(0, FORWARD_STEPS.indexOf(step) + 1);
}

/** The compensations of the given forward steps, in the order the saga runs them: last first. */
export function undoOf(done: readonly ForwardStep[]): SagaStep[] {
  return [...done].reverse().flatMap((s) => compensationOf(s) ?? []);
}

/** The steps of a run that did `done` and then undid `undone` (default: the same). */
export function doneThenUndone(done: readonly ForwardStep[], undone: readonly ForwardStep[] = done): SagaStep[] {
  return [...done, ...undoOf(undone)];
}

/** The statuses the forward steps record, in order, through `step` (default all). */
export function forwardStatuses(step: ForwardStep = FORWARD_STEPS.at(-1)!): OrderStatus[] {
  return stepsThrough(step).map((name) => SAGA_STEPS.find((s) => s.name === name)!.statusWhenDone);
}

/** The statuses of a compensation that undoes `undone`: COMPENSATING, one more per compensation, COMPENSATED. */
export function compensationStatuses(undone: readonly ForwardStep[]): OrderStatus[] {
  return ['COMPENSATING', ...undoOf(undone).map((): OrderStatus => 'COMPENSATING'), 'COMPENSATED'];
}
