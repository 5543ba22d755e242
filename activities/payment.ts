/**
 * Payment activities (task queue `payments`): charge an order's customer, refund it on
 * compensation. One transaction each: the ledger transaction (balanced entries), the balance
 * updates, the payment row and the outbox event. Exactly once per order: the payment row is
 * claimed first (primary key = order id) and ledger idempotency keys are unique.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Db, Tx } from '../lib/db';
import { noFaults, type Faults } from '../lib/faults';
import { EVENT_TYPES, ORDER_AGGREGATE } from '../services/orders/contract';
import { appendEvents } from '../services/outbox/outbox';
import {
  ledgerKeys,
  merchantAccountId,
  PAYMENT_FAILURES,
  type ChargeInput,
  type ChargeResult,
  type PaymentFailureType,
  type RefundInput,
  type RefundResult,
} from '../services/payments/contract';
import { lockAccounts, postLedgerTransaction } from '../services/payments/ledger';

export interface PaymentDeps {
  db: Db;
  faults?: Faults;
}

function paymentFailure(type: PaymentFailureType, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}

type ChargeOutcome = { ok: true; result: ChargeResult } | { ok: false; type: PaymentFailureType; message: string };

async function failCharge(tx: Tx, input: ChargeInput, type: PaymentFailureType, message: string): Promise<ChargeOutcome> {
  await tx.payment.update({ where: { orderId: input.orderId }, data: { status: 'FAILED', failureReason: type, updatedAt: new Date() } });
  await appendEvents(tx, { type: ORDER_AGGREGATE, id: input.orderId }, [
    { type: EVENT_TYPES.PaymentFailed, payload: { orderId: input.orderId, customerId: input.customerId, reason: type, message } },
  ]);
  return { ok: false, type, message };
}

export function createPaymentActivities({ db, faults = noFaults }: PaymentDeps) {
  return {
    /** Debits the customer and credits the merchant by the order total, once. */
    async chargePayment(input: ChargeInput): Promise<ChargeResult> {
      const { orderId, customerId, amountMinor, currency } = input;
      const outcome = await db.$transaction(async (tx): Promise<ChargeOutcome> => {
        const claimed = await tx.$executeRaw`
          INSERT INTO payments (order_id, customer_id, amount_minor, currency, status)
          VALUES (${orderId}::uuid, ${customerId}, ${amountMinor}, ${currency}, 'CAPTURED') ON CONFLICT DO NOTHING`;
        if (claimed === 0) {
          const prior = await tx.payment.findUniqueOrThrow({ where: { orderId } });
          if (prior.status === 'FAILED') {
            const type = (prior.failureReason ?? PAYMENT_FAILURES.INSUFFICIENT_FUNDS) as PaymentFailureType;
            return { ok: false, type, message: `order ${orderId}: payment failed earlier (${type})` };
          }
          return { ok: true, result: { transactionId: prior.chargeTxId ?? '', applied: false } };
        }
        const locked = await lockAccounts(tx, [customerId, merchantAccountId(currency)]);
        const account = locked.find((a) => a.id === customerId && a.kind === 'CUSTOMER');
        if (!account) return failCharge(tx, input, PAYMENT_FAILURES.ACCOUNT_NOT_FOUND, `no account for customer ${customerId}`);
        if (account.currency !== currency) {
          return failCharge(tx, input, PAYMENT_FAILURES.CURRENCY_MISMATCH, `account is in ${account.currency}, order in ${currency}`);
        }
        if (account.balance_minor < BigInt(amountMinor)) {
          return failCharge(
            tx,
            input,
            PAYMENT_FAILURES.INSUFFICIENT_FUNDS,
            `balance ${account.balance_minor} is less than the order total ${amountMinor}`,
          );
        }
        const transactionId = await postLedgerTransaction(tx, {
          kind: 'CHARGE',
          orderId,
          idempotencyKey: ledgerKeys.charge(orderId),
          currency,
          entries: [
            { accountId: customerId, amountMinor: -amountMinor },
            { accountId: merchantAccountId(currency), amountMinor },
          ],
        }, locked);
        await tx.payment.update({ where: { orderId }, data: { chargeTxId: transactionId, updatedAt: new Date() } });
        await appendEvents(tx, { type: ORDER_AGGREGATE, id: orderId }, [
          { type: EVENT_TYPES.PaymentCaptured, payload: { orderId, customerId, amountMinor, currency, transactionId } },
        ]);
        await faults.hit('payment.charge.beforeCommit', orderId);
        return { ok: true, result: { transactionId: transactionId ?? '', applied: true } };
      });
      await faults.hit('payment.charge.afterCommit', orderId);
      if (!outcome.ok) throw paymentFailure(outcome.type, outcome.message);
      return outcome.result;
    },

    /** Compensation: a new reversing ledger transaction, never an edit. A second call does nothing. */
    async refundPayment({ orderId, reason }: RefundInput): Promise<RefundResult> {
      const result = await db.$transaction(async (tx): Promise<RefundResult> => {
        const rows = await tx.$queryRaw<{ status: string; customer_id: string; amount_minor: bigint; currency: string; refund_tx_id: string | null }[]>`
          SELECT status, customer_id, amount_minor, currency, refund_tx_id FROM payments WHERE order_id = ${orderId}::uuid FOR UPDATE`;
        const payment = rows[0];
        if (!payment || payment.status === 'FAILED') return { transactionId: null, applied: false };
        if (payment.status === 'REFUNDED') return { transactionId: payment.refund_tx_id, applied: false };
        const amountMinor = Number(payment.amount_minor);
        const transactionId = await postLedgerTransaction(tx, {
          kind: 'REFUND',
          orderId,
          idempotencyKey: ledgerKeys.refund(orderId),
          currency: payment.currency,
          entries: [
            { accountId: payment.customer_id, amountMinor },
            { accountId: merchantAccountId(payment.currency), amountMinor: -amountMinor },
          ],
        });
        await tx.payment.update({ where: { orderId }, data: { status: 'REFUNDED', refundTxId: transactionId, updatedAt: new Date() } });
        await appendEvents(tx, { type: ORDER_AGGREGATE, id: orderId }, [
          {
            type: EVENT_TYPES.PaymentRefunded,
            payload: { orderId, customerId: payment.customer_id, amountMinor, currency: payment.currency, transactionId, reason },
          },
        ]);
        await faults.hit('payment.refund.beforeCommit', orderId);
        return { transactionId, applied: true };
      });
      await faults.hit('payment.refund.afterCommit', orderId);
      return result;
    },
  };
}

export type PaymentActivities = ReturnType<typeof createPaymentActivities>;
