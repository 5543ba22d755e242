/**
 * The reconciliation context's public contract: the checks by name (what each proves, what
 * it is about, which grace window applies), the shapes of findings and runs as the API and
 * the CLI show them, and the names other processes meet (advisory locks, NOTIFY channel).
 *
 * A check examines subjects (orders, accounts, products, ledger transactions, workflows,
 * dead letters). A subject that fails becomes a suspect; it is raised as a finding only once
 * it has kept failing for longer than the check's grace window (in-flight work is not a
 * finding), and resolved, never deleted, when it passes again. One open finding per
 * (check, fingerprint), the fingerprint being `<subject type>:<subject id>`.
 */

export const SUBJECT_TYPES = ['order', 'account', 'product', 'transaction', 'workflow', 'dead_letter', 'check'] as const;
export type SubjectType = (typeof SUBJECT_TYPES)[number];

/** Which grace window a check waits out: database writes, Temporal, or the event stream. */
export type GraceWindow = 'db' | 'saga' | 'stream';

export interface CheckSpec {
  /** The area of the list it belongs to. */
  area: 'orders' | 'ledger' | 'inventory' | 'saga' | 'stream' | 'events';
  subject: Exclude<SubjectType, 'check'>;
  grace: GraceWindow;
  /** What a pass proves, one line (docs/reconciliation.md lists these). */
  proves: string;
}

/** Every check, by name. The order is the report's. */
export const CHECKS = {
  'order.payment_ledger': {
    area: 'orders',
    subject: 'order',
    grace: 'db',
    proves:
      'the order, its payment row and the ledger agree: CONFIRMED has one charge of the order total and no refund, COMPENSATED nets to zero, REJECTED and PENDING have no money movement, the payment row says what the ledger did, a VOIDED payment (refunded before any charge) moved no money and only on an order being compensated',
  },
  'ledger.transaction_balanced': {
    area: 'ledger',
    subject: 'transaction',
    grace: 'db',
    proves: 'every ledger transaction has at least two entries, in one currency, summing to zero',
  },
  'ledger.account_balance': {
    area: 'ledger',
    subject: 'account',
    grace: 'db',
    proves: "every account's balance is the sum of its entries, and no customer or merchant account is negative",
  },
  'ledger.order_transactions': {
    area: 'ledger',
    subject: 'order',
    grace: 'db',
    proves:
      "an order has at most one charge and one refund, under the order's own idempotency keys, and a refund only with its charge, of the same amount",
  },
  'inventory.counters': {
    area: 'inventory',
    subject: 'product',
    grace: 'db',
    proves: "a product's reserved and committed counters are what its HELD and COMMITTED reservations add up to",
  },
  'inventory.conservation': {
    area: 'inventory',
    subject: 'product',
    grace: 'db',
    proves: 'stock is conserved: the stock journal (stock added) equals available + reserved + committed',
  },
  'inventory.reservation_status': {
    area: 'inventory',
    subject: 'order',
    grace: 'db',
    proves:
      "an order's reservation is in the state its status implies (CONFIRMED: COMMITTED, COMPENSATED: released or none, ...) and holds the order's lines (a release before any reserve leaves a RELEASED one without items)",
  },
  'saga.workflow_running': {
    area: 'saga',
    subject: 'order',
    grace: 'saga',
    proves: 'every order that is not final (or CONFIRMED within its compensation window) has a running orderSaga workflow',
  },
  'saga.search_attribute': {
    area: 'saga',
    subject: 'order',
    grace: 'saga',
    proves: "the running workflow's OrderStatus search attribute equals the order's status in the database",
  },
  'saga.orphan_workflow': {
    area: 'saga',
    subject: 'workflow',
    grace: 'saga',
    proves: "no running orderSaga workflow on this deployment's task queue lacks its order",
  },
  'saga.stuck': {
    area: 'saga',
    subject: 'order',
    grace: 'saga',
    proves:
      'no order sits in one in-flight status (PENDING, INVENTORY_RESERVED, PAYMENT_CAPTURED, COMPENSATING) longer than RECONCILE_STUCK_MS',
  },
  'stream.outbox_published': {
    area: 'stream',
    subject: 'order',
    grace: 'stream',
    proves: 'every outbox row older than the stream lag window has been published to Kafka',
  },
  'stream.timeline': {
    area: 'stream',
    subject: 'order',
    grace: 'stream',
    proves: "the audit timeline built from Kafka holds exactly the order's outbox event ids, with sequences 1..n",
  },
  'stream.audit_anomalies': {
    area: 'stream',
    subject: 'order',
    grace: 'stream',
    proves: 'every sequence gap the audit consumer saw has been filled, and no foreign event took a sequence of the outbox',
  },
  'stream.dead_letters': {
    area: 'stream',
    subject: 'dead_letter',
    grace: 'db',
    proves: 'no message a consumer group gave up on waits unreplayed',
  },
  'events.order_status': {
    area: 'events',
    subject: 'order',
    grace: 'db',
    proves: "the order's latest status event says the status the order row has",
  },
  'events.payment_amounts': {
    area: 'events',
    subject: 'order',
    grace: 'db',
    proves: 'the transaction and amount in every PaymentCaptured / PaymentRefunded event are those of the ledger',
  },
} as const satisfies Record<string, CheckSpec>;

export type CheckName = keyof typeof CHECKS;
export const CHECK_NAMES = Object.keys(CHECKS) as CheckName[];

export function fingerprintOf(type: SubjectType, id: string): string {
  return `${type}:${id}`;
}

/** The flood meta-finding of a check: more new findings in one run than RECONCILE_FLOOD_CAP. */
export function floodFingerprint(check: CheckName): string {
  return fingerprintOf('check', check);
}

export type RunTrigger = 'SCHEDULE' | 'API' | 'CLI';
export type RunMode = 'FULL' | 'INCREMENTAL';
export type RunStatus = 'REQUESTED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';

/** Limits a run to some subjects (an operator looking at one order; tests). Null: everything. */
export interface RunScope {
  orderIds?: string[];
  accountIds?: string[];
  skus?: string[];
}

/** Positions in the change logs a run covered up to; the next incremental run starts there. */
export interface Watermark {
  outboxId: string;
  ledgerEntryId: string;
  stockMovementId: string;
}

export interface CheckSummary {
  /** Subjects that failed in this run (raised, already open, or suspects). */
  failing: number;
  /** Findings raised in this run (their failure outlasted the grace window). */
  raised: number;
  resolved: number;
  /** Open findings of the check after the run (not counting suspects). */
  open: number;
  suspects: number;
  /** True when more than RECONCILE_FLOOD_CAP new failures were replaced by one meta-finding. */
  flooded: boolean;
  /** Time spent examining (queries to PostgreSQL and Temporal) in this run. */
  durationMs: number;
}

export interface NeedsAttention {
  orderId: string;
  failureReason: string | null;
  /** Since the order entered NEEDS_ATTENTION (its last status change). */
  ageMs: number;
}

export interface RunSummary {
  checks: Record<CheckName, CheckSummary>;
  needsAttention: { count: number; orders: NeedsAttention[] };
  /** Checks that could not run in this pass, and why (the run is then FAILED). */
  errors?: Partial<Record<CheckName, string>>;
}

export interface RunView {
  id: string;
  trigger: RunTrigger;
  mode: RunMode;
  status: RunStatus;
  scope: RunScope | null;
  requestedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  subjectsExamined: number;
  failing: number;
  raised: number;
  resolved: number;
  openFindings: number;
  summary: RunSummary | null;
  error: string | null;
}

export type FindingStatus = 'suspect' | 'open' | 'resolved';

export interface FindingView {
  id: string;
  check: string;
  fingerprint: string;
  subjectType: string;
  subjectId: string;
  status: FindingStatus;
  details: unknown;
  firstSeenAt: string;
  lastSeenAt: string;
  raisedAt: string | null;
  resolvedAt: string | null;
  occurrences: number;
}

/** Session advisory locks (two-key form): the active instance, and whoever runs a pass. */
export const LOCKS = {
  active: [72_707_301, 1],
  run: [72_707_301, 2],
} as const;

/** NOTIFY channel on which the API wakes the active reconciler for a requested run. */
export const RUNS_CHANNEL = 'reconciliation_runs';
