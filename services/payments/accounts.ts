/** Customer accounts: opening one with a deposit, and the account as the API shows it. */
import type { Db } from '../../lib/db';
import { DomainError } from '../../lib/errors';
import type { Tx } from '../../lib/sql';
import { externalAccountId, PAYMENT_ERRORS } from './contract';
import { ensureSystemAccounts, postLedgerTransaction } from './ledger';

export interface DepositInput {
  customerId: string;
  currency: string;
  depositMinor: number;
  idempotencyKey: string;
}

/**
 * Opens a customer account (if missing) and deposits into it as a ledger transaction from the
 * external account, in the caller's transaction. Idempotent by `idempotencyKey`: a repeat
 * returns the first result.
 */
export interface DepositResult {
  created: boolean;
  transactionId: string | null;
  replayed: boolean;
  /** The balance after the deposit. */
  balanceMinor: number;
}

export async function openAndDeposit(tx: Tx, input: DepositInput): Promise<DepositResult> {
  await ensureSystemAccounts(tx, input.currency);
  const created = await tx.exec`
    INSERT INTO accounts (id, kind, currency) VALUES (${input.customerId}::text, 'CUSTOMER', ${input.currency}::text) ON CONFLICT (id) DO NOTHING`;
  const [account] = await tx.rows<{
    kind: string;
    currency: string;
  }>`SELECT kind, currency FROM accounts WHERE id = ${input.customerId}::text`;
  if (account!.kind !== 'CUSTOMER' || account!.currency !== input.currency) {
    throw new DomainError('CURRENCY_MISMATCH', `account ${input.customerId} is a ${account!.kind} account in ${account!.currency}`);
  }
  const [prior] = await tx.rows<{ id: string; customer_id: string | null; amount_minor: bigint | null }>`
    SELECT t.id::text, e.account_id AS customer_id, e.amount_minor
      FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id AND e.amount_minor > 0
     WHERE t.idempotency_key = ${input.idempotencyKey}::text`;
  // The key names one deposit: the same key for another customer or amount is refused, never a silent no-op.
  if (prior && (prior.customer_id !== input.customerId || Number(prior.amount_minor ?? 0) !== input.depositMinor)) {
    throw new DomainError(
      PAYMENT_ERRORS.DEPOSIT_KEY_REUSED,
      `deposit key "${input.idempotencyKey}" was used for another customer or amount`,
    );
  }
  const balance = async () => {
    const [row] = await tx.rows<{ balance_minor: bigint }>`SELECT balance_minor FROM accounts WHERE id = ${input.customerId}::text`;
    return Number(row!.balance_minor);
  };
  if (prior) return { created: false, transactionId: prior.id, replayed: true, balanceMinor: await balance() };
  const transactionId = await postLedgerTransaction(tx, {
    kind: 'DEPOSIT',
    orderId: null,
    idempotencyKey: input.idempotencyKey,
    currency: input.currency,
    entries: [
      { accountId: externalAccountId(input.currency), amountMinor: -input.depositMinor },
      { accountId: input.customerId, amountMinor: input.depositMinor },
    ],
  });
  return { created: created > 0, transactionId, replayed: false, balanceMinor: await balance() };
}

const iso = (d: Date) => d.toISOString();

/** A customer's balance and newest ledger entries; null if there is no such customer account. */
export async function findAccountView(db: Db, customerId: string, page: { limit: number; offset: number } = { limit: 50, offset: 0 }) {
  const account = await db.account.findUnique({ where: { id: customerId } });
  if (!account || account.kind !== 'CUSTOMER') return null;
  const entries = await db.ledgerEntry.findMany({
    where: { accountId: customerId },
    include: { transaction: true },
    orderBy: { id: 'desc' },
    take: page.limit,
    skip: page.offset,
  });
  return {
    customerId: account.id,
    currency: account.currency,
    balanceMinor: Number(account.balanceMinor),
    entries: entries.map((e) => ({
      transactionId: e.transactionId,
      kind: e.transaction.kind as 'DEPOSIT' | 'CHARGE' | 'REFUND',
      orderId: e.transaction.orderId,
      amountMinor: Number(e.amountMinor),
      at: iso(e.createdAt),
    })),
  };
}

export type AccountView = NonNullable<Awaited<ReturnType<typeof findAccountView>>>;

/** An order's money: its payment row and every ledger entry of its transactions (charge, refund), oldest first. */
export async function findOrderMoney(db: Db, orderId: string) {
  const [payment, entries] = await Promise.all([
    db.payment.findUnique({ where: { orderId } }),
    db.ledgerEntry.findMany({ where: { transaction: { orderId } }, include: { transaction: true }, orderBy: { id: 'asc' } }),
  ]);
  return {
    payment: payment
      ? {
          status: payment.status as 'CAPTURED' | 'FAILED' | 'REFUNDED' | 'VOIDED',
          amountMinor: payment.amountMinor === null ? null : Number(payment.amountMinor),
          currency: payment.currency,
          failureReason: payment.failureReason,
          updatedAt: iso(payment.updatedAt),
        }
      : null,
    entries: entries.map((e) => ({
      transactionId: e.transactionId,
      kind: e.transaction.kind as 'DEPOSIT' | 'CHARGE' | 'REFUND',
      accountId: e.accountId,
      amountMinor: Number(e.amountMinor),
      at: iso(e.createdAt),
    })),
  };
}
