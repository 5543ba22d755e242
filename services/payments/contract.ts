/** The payment context's public contract. Pure TypeScript: workflow code may import it. */
import type { ErrorKind } from '../../lib/errors';

/** The task queue of the payments worker (before the deployment's prefix). */
export const PAYMENTS_TASK_QUEUE = 'payments';

/** ApplicationFailure types of a failed charge; all are non-retryable business failures. */
export const PAYMENT_FAILURES = {
  INSUFFICIENT_FUNDS: 'INSUFFICIENT_FUNDS',
  ACCOUNT_NOT_FOUND: 'ACCOUNT_NOT_FOUND',
  CURRENCY_MISMATCH: 'CURRENCY_MISMATCH',
  /** The order's payment was voided (refunded before any charge): it can no longer be charged. */
  PAYMENT_VOIDED: 'PAYMENT_VOIDED',
} as const;
export type PaymentFailureType = (typeof PAYMENT_FAILURES)[keyof typeof PAYMENT_FAILURES];

/** The payment failures other than CURRENCY_MISMATCH (a common kind, lib/errors.ts), and the ledger's refusals. */
export const PAYMENT_ERRORS = {
  INSUFFICIENT_FUNDS: {
    code: PAYMENT_FAILURES.INSUFFICIENT_FUNDS,
    status: 422,
    retryable: false,
    title: 'Insufficient funds',
    when: "the customer's balance is below the order total when the saga charges it (the order is REJECTED)",
    action: 'deposit into the account, then place a new order',
  },
  ACCOUNT_NOT_FOUND: {
    code: PAYMENT_FAILURES.ACCOUNT_NOT_FOUND,
    status: 422,
    retryable: false,
    title: 'No such account',
    when: 'the customer of an order has no account when the saga charges it',
    action: 'open the account (POST /admin/accounts), then place a new order',
  },
  PAYMENT_VOIDED: {
    code: PAYMENT_FAILURES.PAYMENT_VOIDED,
    status: 409,
    retryable: false,
    title: 'Payment was voided',
    when: "a charge arrives after the order's payment was voided (refunded before any charge, by a compensation)",
    action: 'nothing: the order is being compensated and no money moves',
  },
  /** A ledger transaction whose entries do not sum to zero: a bug, never retried. */
  LEDGER_UNBALANCED: {
    code: 'LEDGER_UNBALANCED',
    status: 500,
    retryable: false,
    title: 'Ledger transaction is unbalanced',
    when: 'a ledger transaction whose entries do not sum to zero was refused (a bug; nothing was written)',
    action: 'report it with the request id; do not retry',
  },
  /** An entry on a missing account or one in another currency. */
  LEDGER_ACCOUNT_INVALID: {
    code: 'LEDGER_ACCOUNT_INVALID',
    status: 422,
    retryable: false,
    title: 'Ledger account is not valid',
    when: 'a ledger entry names a missing account or one in another currency',
    action: 'check the account and its currency',
  },
  /** A deposit's idempotency key reused for another customer or amount. */
  DEPOSIT_KEY_REUSED: {
    code: 'DEPOSIT_KEY_REUSED',
    status: 422,
    retryable: false,
    title: 'Idempotency-Key reused for another deposit',
    when: 'a deposit reuses the Idempotency-Key of an earlier deposit with another customer or amount (even after its HTTP record expired)',
    action: 'use a new Idempotency-Key for a new deposit',
  },
  /** An account id that exists with another kind or currency. */
  ACCOUNT_CONFLICT: {
    code: 'ACCOUNT_CONFLICT',
    status: 422,
    retryable: false,
    title: 'Account currency differs',
    when: 'a system account (merchant or external) exists with another kind or currency than the one asked for',
    action: 'report it; system accounts are made by the system',
  },
} as const satisfies Record<string, ErrorKind>;

export interface ChargeInput {
  orderId: string;
  customerId: string;
  amountMinor: number;
  currency: string;
}
export interface ChargeResult {
  /** The charge's ledger transaction; null only for a charge of zero (no money moved). */
  transactionId: string | null;
  /** False when this call found the charge already done (a retry). */
  applied: boolean;
}

export interface RefundInput {
  orderId: string;
  reason: string;
}
export interface RefundResult {
  /** The refund's ledger transaction; null if nothing was charged (or the charge was zero). */
  transactionId: string | null;
  /** True when this call refunded, or voided a payment that was never charged. */
  applied: boolean;
}

/** The merchant account that receives charges in a currency. */
export function merchantAccountId(currency: string): string {
  return `merchant:${currency}`;
}
/** The outside world: the counter-account of deposits (may go negative). */
export function externalAccountId(currency: string): string {
  return `external:${currency}`;
}

/** Ledger idempotency keys: the unique index on them makes each effect happen once. */
export const ledgerKeys = {
  charge: (orderId: string) => `charge:${orderId}`,
  refund: (orderId: string) => `refund:${orderId}`,
};

/** The payment context's domain events (the outbox `type`; names are on the wire, never renamed), aggregated by order id. */
export const PAYMENT_EVENTS = {
  PaymentCaptured: 'PaymentCaptured',
  PaymentFailed: 'PaymentFailed',
  PaymentRefunded: 'PaymentRefunded',
  PaymentVoided: 'PaymentVoided',
} as const;
export type PaymentEventType = (typeof PAYMENT_EVENTS)[keyof typeof PAYMENT_EVENTS];

export interface PaymentCapturedPayload {
  orderId: string;
  customerId: string;
  amountMinor: number;
  currency: string;
  transactionId: string | null;
}
export interface PaymentFailedPayload {
  orderId: string;
  customerId: string;
  reason: string;
  message: string;
}
export interface PaymentRefundedPayload extends PaymentCapturedPayload {
  reason: string;
}
export interface PaymentVoidedPayload {
  orderId: string;
  reason: string;
}
export type PaymentEvent =
  | { type: typeof PAYMENT_EVENTS.PaymentCaptured; payload: PaymentCapturedPayload }
  | { type: typeof PAYMENT_EVENTS.PaymentFailed; payload: PaymentFailedPayload }
  | { type: typeof PAYMENT_EVENTS.PaymentRefunded; payload: PaymentRefundedPayload }
  | { type: typeof PAYMENT_EVENTS.PaymentVoided; payload: PaymentVoidedPayload };
