/**
 * Payment activities (task queue `payments`): Temporal's names for the payment context's
 * charge and refund (services/payments/charges.ts).
 */
import { createPaymentService, type PaymentDeps } from '../services/payments/charges';
import { asActivities } from './failure';

export function createPaymentActivities(deps: PaymentDeps) {
  const payments = createPaymentService(deps);
  return asActivities({ chargePayment: payments.charge, refundPayment: payments.refund });
}

export type PaymentActivities = ReturnType<typeof createPaymentActivities>;
