/**
 * The double-entry ledger. A ledger transaction is a set of signed entries summing to zero
 * (the database checks this at commit); balances are updated in the same transaction and
 * never go negative except for the EXTERNAL account. Rows are never updated or deleted.
 */
import crypto from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { Tx } from '../../lib/db';
import { externalAccountId, merchantAccountId } from './contract';

export interface LedgerEntryInput {
  accountId: string;
  amountMinor: number;
}

export interface LedgerTransactionInput {
  kind: 'DEPOSIT' | 'CHARGE' | 'REFUND';
  orderId: string | null;
  idempotencyKey: string;
  currency: string;
  entries: LedgerEntryInput[];
}

export interface LockedAccount {
  id: string;
  kind: string;
  currency: string;
  balance_minor: bigint;
}

/**
 * Locks accounts in one global order (by id), whoever calls: two transactions touching the
 * same accounts can then never deadlock.
 */
export async function lockAccounts(tx: Tx, ids: string[]): Promise<LockedAccount[]> {
  const unique = [...new Set(ids)].sort();
  return tx.$queryRaw<LockedAccount[]>`
    SELECT id, kind, currency, balance_minor FROM accounts WHERE id = ANY(${unique}) ORDER BY id FOR UPDATE`;
}

/**
 * Posts a balanced transaction and moves the balances. Returns its id, or null if all amounts
 * are zero. A caller that already locked the accounts (to check a balance) passes them.
 */
export async function postLedgerTransaction(tx: Tx, input: LedgerTransactionInput, locked?: LockedAccount[]): Promise<string | null> {
  const entries = input.entries.filter((e) => e.amountMinor !== 0);
  if (entries.length === 0) return null;
  const sum = entries.reduce((acc, e) => acc + e.amountMinor, 0);
  if (sum !== 0 || entries.some((e) => !Number.isSafeInteger(e.amountMinor))) {
    throw ApplicationFailure.create({ type: 'LEDGER_UNBALANCED', message: `entries sum to ${sum}`, nonRetryable: true });
  }
  const accounts = locked ?? (await lockAccounts(tx, entries.map((e) => e.accountId)));
  for (const e of entries) {
    const account = accounts.find((a) => a.id === e.accountId);
    if (!account || account.currency !== input.currency) {
      throw ApplicationFailure.create({
        type: 'LEDGER_ACCOUNT_INVALID',
        message: `account ${e.accountId} ${account ? `is in ${account.currency}, not ${input.currency}` : 'does not exist'}`,
        nonRetryable: true,
      });
    }
  }
  const id = crypto.randomUUID();
  await tx.ledgerTransaction.create({
    data: {
      id,
      kind: input.kind,
      orderId: input.orderId,
      idempotencyKey: input.idempotencyKey,
      entries: { createMany: { data: entries.map((e) => ({ accountId: e.accountId, amountMinor: BigInt(e.amountMinor) })) } },
    },
  });
  for (const e of entries) {
    await tx.$executeRaw`
      UPDATE accounts SET balance_minor = balance_minor + ${e.amountMinor}, updated_at = now() WHERE id = ${e.accountId}`;
  }
  return id;
}

/** Creates the merchant and external accounts of a currency if missing. */
export async function ensureSystemAccounts(tx: Tx, currency: string): Promise<void> {
  await tx.$executeRaw`
    INSERT INTO accounts (id, kind, currency) VALUES (${merchantAccountId(currency)}, 'MERCHANT', ${currency}),
      (${externalAccountId(currency)}, 'EXTERNAL', ${currency})
    ON CONFLICT (id) DO NOTHING`;
}

export class AccountCurrencyError extends Error {
  override name = 'AccountCurrencyError';
}

/**
 * Opens a customer account (if missing) and deposits into it as a ledger transaction from the
 * external account. Idempotent by `idempotencyKey`: a repeat returns the first result.
 */
export async function openAndDeposit(
  tx: Tx,
  input: { customerId: string; currency: string; depositMinor: number; idempotencyKey: string },
): Promise<{ created: boolean; transactionId: string | null; replayed: boolean }> {
  await ensureSystemAccounts(tx, input.currency);
  const created = await tx.$executeRaw`
    INSERT INTO accounts (id, kind, currency) VALUES (${input.customerId}, 'CUSTOMER', ${input.currency}) ON CONFLICT (id) DO NOTHING`;
  const account = await tx.account.findUniqueOrThrow({ where: { id: input.customerId } });
  if (account.kind !== 'CUSTOMER' || account.currency !== input.currency) {
    throw new AccountCurrencyError(`account ${input.customerId} is a ${account.kind} account in ${account.currency}`);
  }
  const prior = await tx.ledgerTransaction.findUnique({ where: { idempotencyKey: input.idempotencyKey } });
  if (prior) return { created: false, transactionId: prior.id, replayed: true };
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
  return { created: created > 0, transactionId, replayed: false };
}
