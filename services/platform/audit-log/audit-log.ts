/**
 * The operator audit log: who did which sensitive action to what, why, through which request,
 * and how it ended. A row is written with the transaction handle of the action's own effect
 * (recordAudit), so it exists if and only if the effect committed; a refused attempt, which
 * changes nothing, is a row of its own (recordAuditAlone). The table is append-only
 * (migration 20261203010000: a trigger, and the app role may only INSERT and SELECT).
 *
 * Plumbing every context shares (the API's routes, the orders context for a compensate sent
 * straight to Temporal, the dead-letter replay), so it lives in services/platform and knows no
 * context: an API caller is described structurally (PrincipalLike), which the access context's
 * Principal satisfies.
 *
 * Not the audit *timeline* (services/audit/): that is the Kafka projection of domain events.
 */
import { runStatement, type Db } from '../../../lib/db';
import { sql, type SqlFragment, type Tx } from '../../../lib/sql';

/** Every action the log records: `<subject>.<verb>`, stable names (they are queried by). */
export const AUDIT_ACTIONS = {
  /** Manual compensation of a CONFIRMED order (refund and restock). */
  orderCompensate: 'order.compensate',
  /** A compensate that retries a NEEDS_ATTENTION saga. */
  orderResume: 'order.resume',
  /** A cancel asked by an operator (a caller acting for any customer). */
  orderCancel: 'order.cancel',
  /** The saga's workflow cancelled through Temporal (Web UI, CLI): CONFIRMED, it closes the window; before, it undoes the order. */
  orderWorkflowCancel: 'order.workflow_cancel',
  deadLetterReplay: 'dead_letter.replay',
  accountDeposit: 'account.deposit',
  productCreate: 'product.create',
  /** An existing product's name, price or stock changed (stock added). */
  productRestock: 'product.restock',
  apiKeyCreate: 'api_key.create',
  apiKeyGrant: 'api_key.grant',
  apiKeyRevoke: 'api_key.revoke',
  reconciliationRun: 'reconciliation.run',
  consoleSignIn: 'console.sign_in',
  consoleSignOut: 'console.sign_out',
} as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[keyof typeof AUDIT_ACTIONS];
export const AUDIT_ACTION_NAMES: readonly AuditAction[] = Object.values(AUDIT_ACTIONS);

/**
 * api_key, token (an OAuth2 client), person (console sign-in), temporal (a client of Temporal
 * itself: tctl, the temporal CLI) or cli (an operator script on the database: `npm run dlq`).
 */
export type ActorKind = 'api_key' | 'token' | 'person' | 'temporal' | 'cli';
export const ACTOR_KINDS: readonly ActorKind[] = ['api_key', 'token', 'person', 'temporal', 'cli'];
export type AuditOutcome = 'done' | 'refused' | 'failed';
export const AUDIT_OUTCOMES: readonly AuditOutcome[] = ['done', 'refused', 'failed'];

export interface Actor {
  kind: ActorKind;
  /** The key's id; `<issuer>#<client id>` for a token; the person's subject; the Temporal client identity; `user@host` for a cli. */
  id: string;
  name: string;
}

/** What actorOf needs of an API caller (services/access/api-keys.ts Principal has it). */
export interface PrincipalLike {
  apiKeyId: string;
  name: string;
  token?: { issuer: string; clientId: string; subject: string };
  person?: { issuer: string; subject: string };
}

/** The actor of an API call or console action: the person, the OAuth2 client its access token names, or its key. */
export function actorOf(principal: PrincipalLike): Actor {
  // A person signed in with OIDC is named by the issuer's subject, not by their principal row.
  if (principal.person) return personActor({ subject: principal.person.subject, name: principal.name });
  if (principal.token) {
    const { issuer, clientId } = principal.token;
    return { kind: 'token', id: `${issuer}#${clientId}`, name: principal.name };
  }
  return { kind: 'api_key', id: principal.apiKeyId, name: principal.name };
}

/** A person signed in to the console: the issuer's subject and their display name. */
export function personActor(person: { subject: string; name: string }): Actor {
  return { kind: 'person', id: person.subject, name: person.name };
}

/** A client of Temporal itself (tctl, the temporal CLI, the Web UI): the identity its request carried. */
export function temporalActor(identity: string): Actor {
  const id = identity.trim() || '(no identity)';
  return { kind: 'temporal', id, name: id };
}

/** Who acts, and through which request: what a command is told so it can record its own rows. */
export interface AuditBy {
  actor: Actor;
  requestId: string | null;
}

export interface AuditEntry {
  actor: Actor;
  action: AuditAction;
  subject: { kind: string; id: string };
  reason?: string | null;
  /** The API request's X-Request-Id. */
  requestId?: string | null;
  outcome: AuditOutcome;
  /** Facts of the action worth keeping (amounts, statuses, counts); never a secret. */
  detail?: Record<string, unknown>;
}

export interface AuditRow {
  id: string;
  occurredAt: string;
  actor: Actor;
  action: string;
  subject: { kind: string; id: string };
  reason: string | null;
  requestId: string | null;
  outcome: AuditOutcome;
  detail: Record<string, unknown>;
}

/**
 * The INSERT of one entry, to run in a statement of the caller's (a CTE of a one-statement
 * change, services/orders/transitions.ts) with `WHERE <cond>` appended by `when`.
 */
export function auditInsert(entry: AuditEntry, when: SqlFragment = sql`TRUE`): SqlFragment {
  return sql`
    INSERT INTO operator_audit_log (actor_kind, actor_id, actor_name, action, subject_kind, subject_id, reason, request_id, outcome, detail)
    SELECT ${entry.actor.kind}::text, ${entry.actor.id}::text, ${entry.actor.name}::text, ${entry.action}::text,
           ${entry.subject.kind}::text, ${entry.subject.id}::text, ${entry.reason ?? null}::text, ${entry.requestId ?? null}::text,
           ${entry.outcome}::text, ${JSON.stringify(entry.detail ?? {})}::jsonb
    WHERE ${when}
    RETURNING id::text, occurred_at`;
}

/** Records an entry in the caller's transaction: the row commits with the effect or not at all. */
export async function recordAudit(tx: Tx, entry: AuditEntry): Promise<{ id: string }> {
  const { rows } = await tx.query<{ id: string }>(auditInsert(entry));
  return { id: rows[0]!.id };
}

/** Records an entry on its own: an attempt that was refused or failed, so nothing else was written. */
export async function recordAuditAlone(db: Db, entry: AuditEntry): Promise<{ id: string }> {
  const rows = await runStatement<{ id: string }>(db, auditInsert(entry));
  return { id: rows[0]!.id };
}

export interface AuditFilters {
  action?: string;
  /** An actor id (key id, token client, person subject or Temporal identity). */
  actor?: string;
  /** A subject id (order id, sku, key id, ...), of any kind. */
  subject?: string;
  outcome?: AuditOutcome;
  /** From this time on (inclusive). */
  from?: Date;
  /** Before this time (exclusive). */
  to?: Date;
}

/** A keyset page: rows older than the cursor (a row id), newest first. */
export interface AuditPage {
  limit: number;
  /** The id of the last row of the previous page; absent for the first page. */
  before?: bigint;
}

interface Row {
  id: string;
  occurred_at: Date;
  actor_kind: ActorKind;
  actor_id: string;
  actor_name: string;
  action: string;
  subject_kind: string;
  subject_id: string;
  reason: string | null;
  request_id: string | null;
  outcome: AuditOutcome;
  detail: Record<string, unknown>;
}

const toRow = (r: Row): AuditRow => ({
  id: r.id,
  occurredAt: r.occurred_at.toISOString(),
  actor: { kind: r.actor_kind, id: r.actor_id, name: r.actor_name },
  action: r.action,
  subject: { kind: r.subject_kind, id: r.subject_id },
  reason: r.reason,
  requestId: r.request_id,
  outcome: r.outcome,
  detail: r.detail,
});

/**
 * Rows matching every filter given, newest first, one keyset page (`next`: the cursor of the
 * following page, null on the last). Ids grow with time, so a page never shifts when rows are
 * added meanwhile, unlike an offset.
 */
export async function listAudit(db: Db, filters: AuditFilters, page: AuditPage): Promise<{ items: AuditRow[]; next: bigint | null }> {
  const rows = await runStatement<Row & Record<string, unknown>>(
    db,
    sql`SELECT id::text, occurred_at, actor_kind, actor_id, actor_name, action, subject_kind, subject_id, reason, request_id, outcome, detail
          FROM operator_audit_log
         WHERE (${filters.action ?? null}::text IS NULL OR action = ${filters.action ?? null}::text)
           AND (${filters.actor ?? null}::text IS NULL OR actor_id = ${filters.actor ?? null}::text)
           AND (${filters.subject ?? null}::text IS NULL OR subject_id = ${filters.subject ?? null}::text)
           AND (${filters.outcome ?? null}::text IS NULL OR outcome = ${filters.outcome ?? null}::text)
           AND (${filters.from ?? null}::timestamptz IS NULL OR occurred_at >= ${filters.from ?? null}::timestamptz)
           AND (${filters.to ?? null}::timestamptz IS NULL OR occurred_at < ${filters.to ?? null}::timestamptz)
           AND (${page.before ?? null}::bigint IS NULL OR id < ${page.before ?? null}::bigint)
         -- The table's bigint, not the selected text alias (as text, "9" sorts after "13").
         ORDER BY operator_audit_log.id DESC
         LIMIT ${page.limit + 1}::int`,
  );
  const items = rows.slice(0, page.limit).map(toRow);
  return { items, next: rows.length > page.limit ? BigInt(items.at(-1)!.id) : null };
}
