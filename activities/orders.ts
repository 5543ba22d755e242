/**
 * Orders activities, run as local activities of the order saga in the orders worker:
 * Temporal's name for the orders context's status transition (services/orders/transitions.ts).
 */
import { createTransitions, type TransitionDeps } from '../services/orders/transitions';
import { asActivities } from './failure';

export function createOrderActivities(deps: TransitionDeps) {
  return asActivities({ transitionOrder: createTransitions(deps).transition });
}

export type OrderActivities = ReturnType<typeof createOrderActivities>;
