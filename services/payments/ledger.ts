/**
 * The double-entry ledger. A ledger transaction is a set of signed entries summing to zero
 * (the database checks this at commit). Balances are derived from it in the database: inserting
 * entries moves them (trigger ledger_entries_apply; the app role may not write balance_minor),
 * and they never go negative except for the EXTERNAL account. Rows are never updated or deleted.
 */
import crypto from 'node:crypto';
import { DomainError } from '../../lib/errors';
import { prepared, sql, type SqlFragment, type Tx } from '../../lib/sql';
import { externalAccountId, merchantAccountId, PAYMENT_ERRORS } from './contract';

export interface LedgerEntryInput {
  accountId: string;
  amountMinor: number;
}

export interface LedgerTransactionInput {
  /** The transaction's id, when the caller must name it before posting (default: a new one). */
  id?: string;
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
  const { rows } = await tx.query<LockedAccount>(
    prepared(sql`SELECT id, kind, currency, balance_minor FROM accounts WHERE id = ANY(${unique}::text[]) ORDER BY id FOR UPDATE`),
  );
  return rows;
}

/**
 * The same locks as lockAccounts, as a scalar subquery for a statement that must take them
 * only once `gate` (an uncommitted claim, say) holds: the gate is a one-time filter, evaluated
 * before any account is read, so the claim comes first and the accounts after it, in id order.
 * Its value (json) becomes LockedAccount[] with lockedAccountsOf.
 */
export function accountLocksAfter(ids: string[], gate: SqlFragment): SqlFragment {
  const unique = [...new Set(ids)].sort();
  return sql`(SELECT json_agg(json_build_object('id', a.id, 'kind', a.kind, 'currency', a.currency, 'balance_minor', a.balance_minor::text) ORDER BY a.id)
      FROM (SELECT id, kind, currency, balance_minor FROM accounts WHERE id = ANY(${unique}::text[]) AND ${gate} ORDER BY id FOR UPDATE) a)`;
}

/** The accounts accountLocksAfter locked (balances as bigint, never through a JSON number). */
export function lockedAccountsOf(json: { id: string; kind: string; currency: string; balance_minor: string }[] | null): LockedAccount[] {
  return (json ?? []).map((a) => ({ id: a.id, kind: a.kind, currency: a.currency, balance_minor: BigInt(a.balance_minor) }));
}

function checkEntries(input: LedgerTransactionInput, entries: LedgerEntryInput[], accounts: LockedAccount[]): void {
  const sum = entries.reduce((acc, e) => acc + e.amountMinor, 0);
  if (sum !== 0 || entries.some((e) => !Number.isSafeInteger(e.amountMinor))) {
    throw new DomainError(PAYMENT_ERRORS.LEDGER_UNBALANCED, `entries sum to ${sum}`);
  }
  for (const e of entries) {
    const account = accounts.find((a) => a.id === e.accountId);
    if (!account || account.currency !== input.currency) {
      const why = account ? `is in ${account.currency}, not ${input.currency}` : 'does not exist';
      throw new DomainError(PAYMENT_ERRORS.LEDGER_ACCOUNT_INVALID, `account ${e.accountId} ${why}`);
    }
  }
}

/** A checked ledger transaction, ready to post: its id and the CTEs that insert it. */
export interface LedgerPosting {
  id: string;
  /** `ledger_tx AS (INSERT ...), ledger_rows AS (INSERT ...)`: for a statement's WITH list (outbox changeWithEvents). */
  ctes: SqlFragment;
}

/**
 * Checks a transaction against its locked accounts and builds its insert; null if all amounts
 * are zero. The database moves the balances when the entries are inserted and checks the sum
 * at commit.
 */
export function ledgerPosting(input: LedgerTransactionInput, accounts: LockedAccount[]): LedgerPosting | null {
  const entries = input.entries.filter((e) => e.amountMinor !== 0);
  if (entries.length === 0) return null;
  checkEntries(input, entries, accounts);
  const id = input.id ?? crypto.randomUUID();
  const accountIds = entries.map((e) => e.accountId);
  const amounts = entries.map((e) => String(e.amountMinor));
  const ctes = sql`ledger_tx AS (
      INSERT INTO ledger_transactions (id, kind, order_id, idempotency_key)
      VALUES (${id}::uuid, ${input.kind}::text, ${input.orderId}::uuid, ${input.idempotencyKey}::text)
      RETURNING id
    ), ledger_rows AS (
      INSERT INTO ledger_entries (transaction_id, account_id, amount_minor)
      SELECT t.id, e.account_id, e.amount_minor FROM ledger_tx t, unnest(${accountIds}::text[], ${amounts}::bigint[]) AS e(account_id, amount_minor)
    )`;
  return { id, ctes };
}

/**
 * Posts a balanced transaction (the database moves the balances). Returns its id, or null if all amounts
 * are zero. A caller that already locked the accounts (to check a balance) passes them.
 */
export async function postLedgerTransaction(tx: Tx, input: LedgerTransactionInput, locked?: LockedAccount[]): Promise<string | null> {
  const entries = input.entries.filter((e) => e.amountMinor !== 0);
  if (entries.length === 0) return null;
  const accounts =
    locked ??
    (await lockAccounts(
      tx,
      entries.map((e) => e.accountId),
    ));
  const posting = ledgerPosting(input, accounts)!;
  await tx.query(sql`WITH ${posting.ctes} SELECT 1`);
  return posting.id;
}

/** Creates the merchant and external accounts of a currency if missing. */
export async function ensureSystemAccounts(tx: Tx, currency: string): Promise<void> {
  await tx.exec`
    INSERT INTO accounts (id, kind, currency) VALUES (${merchantAccountId(currency)}::text, 'MERCHANT', ${currency}::text),
      (${externalAccountId(currency)}::text, 'EXTERNAL', ${currency}::text)
    ON CONFLICT (id) DO NOTHING`;
}
