/**
 * Charging an order's customer and refunding it. One explicit transaction each: the ledger
 * transaction (balanced entries), the balance updates, the payment row and the outbox
 * event. Exactly once per order: the payment row is claimed first (primary key = order id)
 * and ledger idempotency keys are unique. A refused charge is recorded (payment FAILED and
 * PaymentFailed) and committed before its business error is raised.
 */
import { inTransaction, type Db } from '../../lib/db';
import { DomainError } from '../../lib/errors';
import { noFaults, type Faults } from '../../lib/faults';
import type { Tx } from '../../lib/sql';
import { EVENT_TYPES, ORDER_AGGREGATE } from '../orders/contract';
import { appendEvents } from '../platform/outbox/outbox';
import {
  ledgerKeys,
  merchantAccountId,
  PAYMENT_ERRORS,
  PAYMENT_FAILURES,
  type ChargeInput,
  type ChargeResult,
  type PaymentFailureType,
  type RefundInput,
  type RefundResult,
} from './contract';
import { lockAccounts, postLedgerTransaction } from './ledger';

export interface PaymentDeps {
  db: Db;
  faults?: Faults;
}

type ChargeOutcome = { ok: true; result: ChargeResult } | { ok: false; type: PaymentFailureType; message: string };

async function refuseCharge(tx: Tx, input: ChargeInput, type: PaymentFailureType, message: string): Promise<ChargeOutcome> {
  await tx.exec`UPDATE payments SET status = 'FAILED', failure_reason = ${type}::text, updated_at = now() WHERE order_id = ${input.orderId}::uuid`;
  await appendEvents(tx, { type: ORDER_AGGREGATE, id: input.orderId }, [
    { type: EVENT_TYPES.PaymentFailed, payload: { orderId: input.orderId, customerId: input.customerId, reason: type, message } },
  ]);
  return { ok: false, type, message };
}

/** A charge already claimed by an earlier attempt: its result, or its refusal. */
async function priorCharge(tx: Tx, orderId: string): Promise<ChargeOutcome> {
  const [prior] = await tx.rows<{ status: string; failure_reason: string | null; charge_tx_id: string | null }>`
    SELECT status, failure_reason, charge_tx_id FROM payments WHERE order_id = ${orderId}::uuid`;
  if (prior!.status === 'FAILED') {
    const type = (prior!.failure_reason ?? PAYMENT_FAILURES.INSUFFICIENT_FUNDS) as PaymentFailureType;
    return { ok: false, type, message: `order ${orderId}: payment failed earlier (${type})` };
  }
  return { ok: true, result: { transactionId: prior!.charge_tx_id ?? '', applied: false } };
}

/** Checks the locked customer account; the reason for refusing, if any. */
function refusal(account: { kind: string; currency: string; balance_minor: bigint } | undefined, input: ChargeInput) {
  if (!account || account.kind !== 'CUSTOMER') {
    return { type: PAYMENT_FAILURES.ACCOUNT_NOT_FOUND, message: `no account for customer ${input.customerId}` };
  }
  if (account.currency !== input.currency) {
    return { type: PAYMENT_FAILURES.CURRENCY_MISMATCH, message: `account is in ${account.currency}, order in ${input.currency}` };
  }
  if (account.balance_minor < BigInt(input.amountMinor)) {
    return {
      type: PAYMENT_FAILURES.INSUFFICIENT_FUNDS,
      message: `balance ${account.balance_minor} is less than the order total ${input.amountMinor}`,
    };
  }
  return null;
}

export function createPaymentService({ db, faults = noFaults }: PaymentDeps) {
  return {
    /** Debits the customer and credits the merchant by the order total, once. */
    async charge(input: ChargeInput): Promise<ChargeResult> {
      const { orderId, customerId, amountMinor, currency } = input;
      const outcome = await inTransaction(db, async (tx): Promise<ChargeOutcome> => {
        const claimed = await tx.exec`
          INSERT INTO payments (order_id, customer_id, amount_minor, currency, status)
          VALUES (${orderId}::uuid, ${customerId}::text, ${amountMinor}::bigint, ${currency}::text, 'CAPTURED') ON CONFLICT DO NOTHING`;
        if (claimed === 0) return priorCharge(tx, orderId);
        const locked = await lockAccounts(tx, [customerId, merchantAccountId(currency)]);
        const refused = refusal(
          locked.find((a) => a.id === customerId),
          input,
        );
        if (refused) return refuseCharge(tx, input, refused.type, refused.message);
        const entries = [
          { accountId: customerId, amountMinor: -amountMinor },
          { accountId: merchantAccountId(currency), amountMinor },
        ];
        const transactionId = await postLedgerTransaction(
          tx,
          { kind: 'CHARGE', orderId, idempotencyKey: ledgerKeys.charge(orderId), currency, entries },
          locked,
        );
        await tx.exec`UPDATE payments SET charge_tx_id = ${transactionId}::uuid, updated_at = now() WHERE order_id = ${orderId}::uuid`;
        await appendEvents(tx, { type: ORDER_AGGREGATE, id: orderId }, [
          { type: EVENT_TYPES.PaymentCaptured, payload: { orderId, customerId, amountMinor, currency, transactionId } },
        ]);
        await faults.hit('payment.charge.beforeCommit', orderId);
        return { ok: true, result: { transactionId: transactionId ?? '', applied: true } };
      });
      await faults.hit('payment.charge.afterCommit', orderId);
      if (!outcome.ok) throw new DomainError(PAYMENT_ERRORS[outcome.type], outcome.message);
      return outcome.result;
    },

    /** Compensation: a new reversing ledger transaction, never an edit. A second call does nothing. */
    async refund({ orderId, reason }: RefundInput): Promise<RefundResult> {
      const result = await inTransaction(db, async (tx): Promise<RefundResult> => {
        const [payment] = await tx.rows<{
          status: string;
          customer_id: string;
          amount_minor: bigint;
          currency: string;
          refund_tx_id: string | null;
        }>`
          SELECT status, customer_id, amount_minor, currency, refund_tx_id FROM payments WHERE order_id = ${orderId}::uuid FOR UPDATE`;
        if (!payment || payment.status === 'FAILED') return { transactionId: null, applied: false };
        if (payment.status === 'REFUNDED') return { transactionId: payment.refund_tx_id, applied: false };
        const amountMinor = Number(payment.amount_minor);
        const { customer_id: customerId, currency } = payment;
        const entries = [
          { accountId: customerId, amountMinor },
          { accountId: merchantAccountId(currency), amountMinor: -amountMinor },
        ];
        const transactionId = await postLedgerTransaction(tx, {
          kind: 'REFUND',
          orderId,
          idempotencyKey: ledgerKeys.refund(orderId),
          currency,
          entries,
        });
        await tx.exec`
          UPDATE payments SET status = 'REFUNDED', refund_tx_id = ${transactionId}::uuid, updated_at = now() WHERE order_id = ${orderId}::uuid`;
        await appendEvents(tx, { type: ORDER_AGGREGATE, id: orderId }, [
          { type: EVENT_TYPES.PaymentRefunded, payload: { orderId, customerId, amountMinor, currency, transactionId, reason } },
        ]);
        await faults.hit('payment.refund.beforeCommit', orderId);
        return { transactionId, applied: true };
      });
      await faults.hit('payment.refund.afterCommit', orderId);
      return result;
    },
  };
}
