/**
 * Charging an order's customer and refunding it. One explicit transaction each: the ledger
 * transaction (balanced entries), the balance updates, the payment row and the outbox
 * event. Exactly once per order: the payment row is claimed first (primary key = order id)
 * and ledger idempotency keys are unique. A refused charge is recorded (payment FAILED and
 * PaymentFailed) and committed before its business error is raised. The customer, amount and
 * currency are the order row's: an input that disagrees with it (or names no order) charges
 * nothing and fails ORDER_INPUT_MISMATCH, so whoever can start a workflow cannot pick them.
 *
 * A refund can run before the charge it undoes, or while that charge's transaction is still
 * open (a cancelled workflow, an attempt past its timeout). It claims the same row first: the
 * claim waits for an open charge to end, and if there is no payment it leaves a VOIDED one,
 * so a charge that comes later fails PAYMENT_VOIDED instead of taking money nobody refunds.
 */
import crypto from 'node:crypto';
import { inTransaction, type Db } from '../../lib/db';
import { COMMON_ERRORS, DomainError, type ErrorKind } from '../../lib/errors';
import { noFaults, type Faults } from '../../lib/faults';
import { prepared, sql, type Tx } from '../../lib/sql';
import { ORDER_AGGREGATE, ORDER_ERRORS } from '../orders/contract';
import { appendEvents, changeWithEvents } from '../platform/outbox/outbox';
import {
  ledgerKeys,
  merchantAccountId,
  PAYMENT_ERRORS,
  PAYMENT_EVENTS,
  PAYMENT_FAILURES,
  type ChargeInput,
  type ChargeResult,
  type PaymentEvent,
  type PaymentFailureType,
  type RefundInput,
  type RefundResult,
} from './contract';
import { accountLocksAfter, ledgerPosting, lockedAccountsOf, postLedgerTransaction } from './ledger';

/** The kind of each failed-charge type; CURRENCY_MISMATCH is the common kind. */
const CHARGE_FAILURES: Record<PaymentFailureType, ErrorKind> = {
  INSUFFICIENT_FUNDS: PAYMENT_ERRORS.INSUFFICIENT_FUNDS,
  ACCOUNT_NOT_FOUND: PAYMENT_ERRORS.ACCOUNT_NOT_FOUND,
  CURRENCY_MISMATCH: COMMON_ERRORS.CURRENCY_MISMATCH,
  PAYMENT_VOIDED: PAYMENT_ERRORS.PAYMENT_VOIDED,
};

export interface PaymentDeps {
  db: Db;
  faults?: Faults;
}

/** A payments row that breaks the table's own constraints: a bug or a hand edit, never a business answer. */
export class PaymentRowInvalidError extends Error {
  override name = 'PaymentRowInvalidError';
}

/** A payment that was charged (and perhaps refunded since). */
interface Charged {
  status: 'CAPTURED' | 'REFUNDED';
  customerId: string;
  amountMinor: number;
  currency: string;
  /** Null only for a charge of zero (no money moved); likewise its refund. */
  chargeTxId: string | null;
  refundTxId: string | null;
}

/** A payment row as its status constrains it (see the CHECK constraints on payments). */
export type Payment = Charged | { status: 'FAILED'; reason: PaymentFailureType } | { status: 'VOIDED' };

export interface PaymentRow {
  status: string;
  customer_id: string | null;
  amount_minor: bigint | null;
  currency: string | null;
  failure_reason: string | null;
  charge_tx_id: string | null;
  refund_tx_id: string | null;
}

const FAILURE_TYPES = new Set<string>(Object.values(PAYMENT_FAILURES));

/** Reads a payments row into what its status guarantees; a row that breaks that is an internal error. */
export function parsePayment(orderId: string, row: PaymentRow): Payment {
  const invalid = (why: string) => new PaymentRowInvalidError(`payment of order ${orderId} is ${row.status} ${why}`);
  switch (row.status) {
    case 'FAILED':
      if (row.failure_reason === null || !FAILURE_TYPES.has(row.failure_reason)) throw invalid(`with reason ${row.failure_reason}`);
      return { status: 'FAILED', reason: row.failure_reason as PaymentFailureType };
    case 'VOIDED':
      return { status: 'VOIDED' };
    case 'CAPTURED':
    case 'REFUNDED': {
      const { customer_id: customerId, amount_minor: amount, currency } = row;
      if (customerId === null || amount === null || currency === null) throw invalid('without its customer, amount or currency');
      if (row.charge_tx_id === null && amount !== 0n) throw invalid('without its charge transaction');
      const refundTxId = row.status === 'REFUNDED' ? row.refund_tx_id : null;
      return { status: row.status, customerId, amountMinor: Number(amount), currency, chargeTxId: row.charge_tx_id, refundTxId };
    }
    default:
      throw invalid('(an unknown status)');
  }
}

/** The order's payment row, locked, once a claim on it has conflicted (so it exists: rows are never deleted). */
async function lockPayment(tx: Tx, orderId: string): Promise<Payment> {
  const [row] = await tx.rows<PaymentRow>`
    SELECT status, customer_id, amount_minor, currency, failure_reason, charge_tx_id::text, refund_tx_id::text
      FROM payments WHERE order_id = ${orderId}::uuid FOR UPDATE`;
  if (!row) throw new PaymentRowInvalidError(`payment of order ${orderId} was claimed, yet there is no row`);
  return parsePayment(orderId, row);
}

/**
 * Refuses a charge whose terms are not the order's (a forged workflow input) or that names no
 * order: ORDER_INPUT_MISMATCH, non-retryable, nothing written. Orders' terms never change
 * after insert (trigger orders_immutable), so the row needs no lock.
 */
async function checkAgainstOrder(tx: Tx, input: ChargeInput): Promise<void> {
  const [order] = await tx.rows<{ customer_id: string; total_minor: bigint; currency: string }>`
    SELECT customer_id, total_minor, currency FROM orders WHERE id = ${input.orderId}::uuid`;
  const asked = `${input.amountMinor} ${input.currency} from ${input.customerId}`;
  if (!order) throw new DomainError(ORDER_ERRORS.ORDER_INPUT_MISMATCH, `order ${input.orderId} does not exist (asked to charge ${asked})`);
  if (order.customer_id !== input.customerId || Number(order.total_minor) !== input.amountMinor || order.currency !== input.currency) {
    throw new DomainError(
      ORDER_ERRORS.ORDER_INPUT_MISMATCH,
      `order ${input.orderId} is ${order.total_minor} ${order.currency} from ${order.customer_id}; asked to charge ${asked}`,
      { details: { orderId: input.orderId } },
    );
  }
}

type ChargeOutcome = { ok: true; result: ChargeResult } | { ok: false; type: PaymentFailureType; message: string };

async function refuseCharge(tx: Tx, input: ChargeInput, type: PaymentFailureType, message: string): Promise<ChargeOutcome> {
  await tx.exec`
    UPDATE payments SET status = 'FAILED', failure_reason = ${type}::text, charge_tx_id = NULL, updated_at = now()
     WHERE order_id = ${input.orderId}::uuid`;
  await appendEvents<PaymentEvent>(tx, { type: ORDER_AGGREGATE, id: input.orderId }, [
    { type: PAYMENT_EVENTS.PaymentFailed, payload: { orderId: input.orderId, customerId: input.customerId, reason: type, message } },
  ]);
  return { ok: false, type, message };
}

/** A charge already claimed by an earlier attempt or voided by a refund: its result, or its refusal. */
async function priorCharge(tx: Tx, orderId: string): Promise<ChargeOutcome> {
  const prior = await lockPayment(tx, orderId);
  if (prior.status === 'FAILED') {
    return { ok: false, type: prior.reason, message: `order ${orderId}: payment failed earlier (${prior.reason})` };
  }
  if (prior.status === 'VOIDED') {
    return { ok: false, type: PAYMENT_FAILURES.PAYMENT_VOIDED, message: `order ${orderId}: the payment was voided before it was charged` };
  }
  return { ok: true, result: { transactionId: prior.chargeTxId, applied: false } };
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

/** Refunds a captured payment: a new reversing ledger transaction, never an edit. */
async function refundCaptured(tx: Tx, orderId: string, reason: string, payment: Charged) {
  const { customerId, amountMinor, currency } = payment;
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
  await appendEvents<PaymentEvent>(tx, { type: ORDER_AGGREGATE, id: orderId }, [
    { type: PAYMENT_EVENTS.PaymentRefunded, payload: { orderId, customerId, amountMinor, currency, transactionId, reason } },
  ]);
  return transactionId;
}

export function createPaymentService({ db, faults = noFaults }: PaymentDeps) {
  return {
    /** Debits the customer and credits the merchant by the order total, once; PAYMENT_VOIDED after a refund. */
    async charge(input: ChargeInput): Promise<ChargeResult> {
      const { orderId, customerId, amountMinor, currency } = input;
      const outcome = await inTransaction(db, async (tx): Promise<ChargeOutcome> => {
        // The claimed row names its ledger transaction from the start (a charge of zero has none).
        const chargeTxId = amountMinor === 0 ? null : crypto.randomUUID();
        // The terms come from the order row: a claim is made only if the input agrees with it.
        // The claim, then (only if it was made) the accounts locked in id order: one statement.
        const {
          rows: [claim],
        } = await tx.query<{ claimed: number; accounts: Parameters<typeof lockedAccountsOf>[0] }>(
          prepared(sql`
          WITH claim AS (
            INSERT INTO payments (order_id, customer_id, amount_minor, currency, status, charge_tx_id)
            SELECT o.id, o.customer_id, o.total_minor, o.currency, 'CAPTURED', ${chargeTxId}::uuid FROM orders o
             WHERE o.id = ${orderId}::uuid AND o.customer_id = ${customerId}::text AND o.total_minor = ${amountMinor}::bigint
               AND o.currency = ${currency}::text
            ON CONFLICT DO NOTHING
            RETURNING 1
          )
          SELECT (SELECT count(*)::int FROM claim) AS claimed,
                 ${accountLocksAfter([customerId, merchantAccountId(currency)], sql`EXISTS (SELECT 1 FROM claim)`)} AS accounts`),
        );
        if (claim!.claimed === 0) {
          await checkAgainstOrder(tx, input);
          return priorCharge(tx, orderId);
        }
        const locked = lockedAccountsOf(claim!.accounts);
        const refused = refusal(
          locked.find((a) => a.id === customerId),
          input,
        );
        if (refused) return refuseCharge(tx, input, refused.type, refused.message);
        const entries = [
          { accountId: customerId, amountMinor: -amountMinor },
          { accountId: merchantAccountId(currency), amountMinor },
        ];
        const posting = ledgerPosting(
          { id: chargeTxId ?? undefined, kind: 'CHARGE', orderId, idempotencyKey: ledgerKeys.charge(orderId), currency, entries },
          locked,
        );
        const transactionId = posting?.id ?? null;
        // The ledger transaction and its event: one statement (the accounts are locked above).
        await changeWithEvents<PaymentEvent>(tx, posting?.ctes ?? null, { type: ORDER_AGGREGATE, id: orderId }, [
          { type: PAYMENT_EVENTS.PaymentCaptured, payload: { orderId, customerId, amountMinor, currency, transactionId } },
        ]);
        await faults.hit('payment.charge.beforeCommit', orderId);
        return { ok: true, result: { transactionId, applied: true } };
      });
      await faults.hit('payment.charge.afterCommit', orderId);
      if (!outcome.ok) throw new DomainError(CHARGE_FAILURES[outcome.type], outcome.message);
      return outcome.result;
    },

    /**
     * Compensation: refunds a captured charge; with no payment, leaves a VOIDED one so that a
     * later charge fails. A second call does nothing.
     */
    async refund({ orderId, reason }: RefundInput): Promise<RefundResult> {
      const result = await inTransaction(db, async (tx): Promise<RefundResult> => {
        // Waits for a charge of this order still in flight: its row is then what we refund.
        const voided = await tx.exec`INSERT INTO payments (order_id, status) VALUES (${orderId}::uuid, 'VOIDED') ON CONFLICT DO NOTHING`;
        if (voided === 1) {
          await appendEvents<PaymentEvent>(tx, { type: ORDER_AGGREGATE, id: orderId }, [
            { type: PAYMENT_EVENTS.PaymentVoided, payload: { orderId, reason } },
          ]);
          await faults.hit('payment.refund.beforeCommit', orderId);
          return { transactionId: null, applied: true };
        }
        const payment = await lockPayment(tx, orderId);
        if (payment.status === 'FAILED' || payment.status === 'VOIDED') return { transactionId: null, applied: false };
        if (payment.status === 'REFUNDED') return { transactionId: payment.refundTxId, applied: false };
        const transactionId = await refundCaptured(tx, orderId, reason, payment);
        await faults.hit('payment.refund.beforeCommit', orderId);
        return { transactionId, applied: true };
      });
      await faults.hit('payment.refund.afterCommit', orderId);
      return result;
    },
  };
}
