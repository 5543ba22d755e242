/**
 * Orders activities, run as local activities of the order saga in the orders worker:
 * Temporal's names for the orders context's status transition (services/orders/transitions.ts)
 * and for what the database says a compensation must undo (services/orders/compensation-facts.ts).
 */
import { createCompensationFacts } from '../services/orders/compensation-facts';
import { createTransitions, type TransitionDeps } from '../services/orders/transitions';
import { asActivities } from './failure';

export function createOrderActivities(deps: TransitionDeps) {
  return asActivities({
    transitionOrder: createTransitions(deps).transition,
    compensationFacts: createCompensationFacts(deps).facts,
  });
}

export type OrderActivities = ReturnType<typeof createOrderActivities>;
