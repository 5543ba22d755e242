/** The payment context's public contract. Pure TypeScript: workflow code may import it. */

/** ApplicationFailure types of payment activities; all are non-retryable business failures. */
export const PAYMENT_FAILURES = {
  INSUFFICIENT_FUNDS: 'INSUFFICIENT_FUNDS',
  ACCOUNT_NOT_FOUND: 'ACCOUNT_NOT_FOUND',
  CURRENCY_MISMATCH: 'CURRENCY_MISMATCH',
} as const;
export type PaymentFailureType = (typeof PAYMENT_FAILURES)[keyof typeof PAYMENT_FAILURES];

export interface ChargeInput {
  orderId: string;
  customerId: string;
  amountMinor: number;
  currency: string;
}
export interface ChargeResult {
  transactionId: string;
  /** False when this call found the charge already done (a retry). */
  applied: boolean;
}

export interface RefundInput {
  orderId: string;
  reason: string;
}
export interface RefundResult {
  transactionId: string | null;
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
