/**
 * Every activity a saga step or compensation calls (workflows/saga-steps.ts names them), built
 * over injected dependencies. Which of them a worker registers follows from the step table's
 * task queues (app/workers.ts); the orders service's own local activities are in orders.ts.
 */
import type { InventoryDeps } from '../services/inventory/reservations';
import type { PaymentDeps } from '../services/payments/charges';
import { createInventoryActivities } from './inventory';
import { createPaymentActivities } from './payment';

export type StepActivityDeps = InventoryDeps & PaymentDeps;

export function createStepActivities(deps: StepActivityDeps) {
  return { ...createInventoryActivities(deps), ...createPaymentActivities(deps) };
}

export type StepActivities = ReturnType<typeof createStepActivities>;
