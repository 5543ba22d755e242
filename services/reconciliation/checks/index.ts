/** The table of checks, in the order of the contract (and the report). */
import { CHECK_NAMES, type CheckName } from '../contract';
import type { Check } from './check';
import { orderStatus, paymentAmounts } from './events';
import { inventoryConservation, inventoryCounters, reservationStatus } from './inventory';
import { accountBalance, orderTransactions, transactionBalanced } from './ledger';
import { orderPaymentLedger } from './orders';
import { orphanWorkflow, searchAttribute, stuck, workflowRunning } from './saga';
import { auditAnomalies, deadLetters, outboxPublished, timeline } from './stream';

const ALL: Check[] = [
  orderPaymentLedger,
  transactionBalanced,
  accountBalance,
  orderTransactions,
  inventoryCounters,
  inventoryConservation,
  reservationStatus,
  workflowRunning,
  searchAttribute,
  orphanWorkflow,
  stuck,
  outboxPublished,
  timeline,
  auditAnomalies,
  deadLetters,
  orderStatus,
  paymentAmounts,
];

export const CHECK_TABLE: Record<CheckName, Check> = Object.fromEntries(ALL.map((c) => [c.name, c])) as Record<CheckName, Check>;

// Every check of the contract is implemented, once.
const missing = CHECK_NAMES.filter((n) => !(n in CHECK_TABLE));
if (missing.length > 0 || ALL.length !== CHECK_NAMES.length)
  throw new Error(`reconciliation checks out of line with the contract: ${missing.join(', ')}`);

export { type Check } from './check';
