/**
 * Order status transitions: record a saga step and the order's status, with the outbox
 * event of a status change, atomically. Idempotent by (order, transition key). Run by the
 * saga as local activities (activities/orders.ts).
 */
import { runStatement, type Db } from '../../lib/db';
import { DomainError, type ErrorKind } from '../../lib/errors';
import { prepared, sql } from '../../lib/sql';
import { AUDIT_ACTIONS, auditInsert, recordAuditAlone, temporalActor, type AuditEntry } from '../platform/audit-log/audit-log';
import { outboxAppend } from '../platform/outbox/outbox';
import {
  ORDER_AGGREGATE,
  ORDER_ERRORS,
  ORDER_EVENTS,
  type CompensateRequest,
  type OrderEventType,
  type OrderStatus,
  type TransitionInput,
} from './contract';

/** The event a change to each status publishes. */
const STATUS_EVENTS: Record<OrderStatus, OrderEventType> = {
  PENDING: ORDER_EVENTS.OrderStatusChanged,
  INVENTORY_RESERVED: ORDER_EVENTS.OrderStatusChanged,
  PAYMENT_CAPTURED: ORDER_EVENTS.OrderStatusChanged,
  CONFIRMED: ORDER_EVENTS.OrderConfirmed,
  REJECTED: ORDER_EVENTS.OrderRejected,
  COMPENSATING: ORDER_EVENTS.CompensationStarted,
  COMPENSATED: ORDER_EVENTS.OrderCompensated,
  NEEDS_ATTENTION: ORDER_EVENTS.OrderNeedsAttention,
};

/** A status change that transitionOrder made (not a replayed or unchanged one). */
export interface AppliedTransition {
  orderId: string;
  from: OrderStatus;
  to: OrderStatus;
  step: string;
  /** The order's failure reason after the change, if any. */
  failureReason: string | null;
  /** When the order was created (the saga's start, for its duration). */
  createdAt: Date;
  /** The outbox event that records the change. */
  eventId: string;
}

/** Where a `compensate` signal came from, as the workflow's history records it. */
export interface SignalOrigin {
  /** The sender's identity (tctl, the temporal CLI, the Web UI, an SDK client): what the client said it is. */
  identity: string;
  runId: string;
  /** The WorkflowExecutionSignaled event's id in that run. */
  eventId: string;
}

export interface TransitionDeps {
  db: Db;
  /**
   * Finds the run's `seq`-th `compensate` signal in its history (the worker's Temporal
   * connection, activities/orders.ts). Without it a signal the API did not record is audited
   * with the identity unknown.
   */
  signalOrigin?: (seq: number) => Promise<SignalOrigin | null>;
  /** Finds the run's cancel request in its history (WorkflowExecutionCancelRequested: its identity and cause). */
  cancelOrigin?: () => Promise<(SignalOrigin & { cause: string }) | null>;
  /** Called once per status change, after its transaction committed (metrics and logs). */
  onTransition?: (t: AppliedTransition) => void;
}

/** SQLSTATEs raised by the orders_guard_compensation trigger (migration 20261201000400). */
const GUARD_ERRORS: Record<string, ErrorKind> = {
  OS001: ORDER_ERRORS.COMPENSATION_WINDOW_CLOSED,
  OS002: ORDER_ERRORS.COMPENSATION_INCOMPLETE,
};

/** Runs a statement; the database's refusal of a compensation becomes the domain error it stands for. */
async function guarded<T>(orderId: string, statement: () => Promise<T>): Promise<T> {
  try {
    return await statement();
  } catch (err) {
    const kind = GUARD_ERRORS[(err as { code?: string }).code ?? ''];
    if (kind) throw new DomainError(kind, (err as Error).message, { details: { orderId }, cause: err });
    throw err;
  }
}

/** True when the API recorded this request (the signal names its audit row, and the row is the API's, for this order). */
async function recordedByApi(db: Db, orderId: string, request: CompensateRequest): Promise<boolean> {
  if (!request.auditId || !/^\d{1,18}$/.test(request.auditId)) return false;
  const rows = await runStatement(
    db,
    sql`SELECT 1 FROM operator_audit_log
         WHERE id = ${request.auditId}::bigint AND subject_kind = 'order' AND subject_id = ${orderId}::text
           AND action IN (${AUDIT_ACTIONS.orderCompensate}::text, ${AUDIT_ACTIONS.orderResume}::text)
           AND actor_kind <> 'temporal' AND outcome = 'done'`,
  );
  return rows.length === 1;
}

/**
 * The audit entry of what reached the saga without going through the API, with its sender from
 * the workflow history: a `compensate` signal (tctl, the temporal CLI), or a cancel of the
 * workflow (the Web UI's Request Cancellation, `temporal workflow cancel`). Null when there is
 * none, or when the API recorded the request already.
 */
async function temporalAudit(deps: TransitionDeps, input: TransitionInput): Promise<{ entry: AuditEntry; key: string } | null> {
  const subject = { kind: 'order', id: input.orderId };
  const fallbackKey = `${input.orderId}:${input.transitionKey}`;
  if (input.workflowCancelled) {
    const origin = await deps.cancelOrigin?.().catch(() => null);
    const key = origin ? `${origin.runId}:${origin.eventId}` : fallbackKey;
    const closesWindow = input.closeCompensationWindow === true;
    return {
      key,
      entry: {
        actor: temporalActor(origin?.identity ?? ''),
        action: AUDIT_ACTIONS.orderWorkflowCancel,
        subject,
        reason: origin?.cause || null,
        outcome: 'done',
        detail: {
          via: 'temporal-cancel',
          signal: key,
          effect: closesWindow ? 'compensation window closed, nothing refunded' : 'order undone',
        },
      },
    };
  }
  const request = input.requestedBy;
  if (!request || (await recordedByApi(deps.db, input.orderId, request))) return null;
  const origin = await deps.signalOrigin?.(request.seq).catch(() => null);
  const key = origin ? `${origin.runId}:${origin.eventId}` : fallbackKey;
  return {
    key,
    entry: {
      actor: temporalActor(origin?.identity ?? ''),
      action: request.resumes ? AUDIT_ACTIONS.orderResume : AUDIT_ACTIONS.orderCompensate,
      subject,
      reason: request.reason,
      outcome: 'done',
      detail: { via: 'temporal-signal', signal: key, ...(request.auditId ? { claimedAuditId: request.auditId } : {}) },
    },
  };
}

export function createTransitions(deps: TransitionDeps) {
  const { db, onTransition } = deps;
  return {
    /**
     * One SQL statement, hence atomic without an interactive transaction: lock the order,
     * record the step (or find it recorded: a retry), and on a status change update the
     * order and append its outbox event (the outbox writer's CTEs, services/platform/outbox).
     */
    async transition(input: TransitionInput): Promise<{ applied: boolean }> {
      const { orderId, transitionKey, step, stepStatus, orderStatus } = input;
      const setReason = input.failureReason !== undefined;
      const reason = input.failureReason ?? null;
      const detail = input.detail ?? null;
      const closesAt = input.compensationWindowClosesAt ?? null;
      const closeWindow = input.closeCompensationWindow === true;
      const audit = await temporalAudit(deps, input);
      // Once per signal event (a parked write's retry and the compensation after it act on the same one), and only with the change.
      const auditCte = audit
        ? sql`, audited AS (${auditInsert(
            audit.entry,
            sql`EXISTS (SELECT 1 FROM rec) AND NOT EXISTS (
                  SELECT 1 FROM operator_audit_log WHERE subject_id = ${orderId}::text AND detail->>'signal' = ${audit.key}::text)`,
          )})`
        : sql``;
      const transitionStatement = () =>
        runStatement<{
          from_status: string | null;
          created_at: Date | null;
          recorded: boolean;
          failure_reason: string | null;
          event_id: string | null;
        }>(
          db,
          prepared(sql`
        WITH prev AS (
          SELECT status, failure_reason, created_at FROM orders WHERE id = ${orderId}::uuid FOR UPDATE
        ), rec AS (
          INSERT INTO order_status_history (order_id, transition_key, step, step_status, order_status, detail)
          SELECT ${orderId}::uuid, ${transitionKey}::text, ${step}::text, ${stepStatus}::text, ${orderStatus}::text, ${detail}::text FROM prev
          ON CONFLICT (order_id, transition_key) DO NOTHING
          RETURNING 1
        ), upd AS (
          UPDATE orders SET status = ${orderStatus}::text,
                 failure_reason = CASE WHEN ${setReason}::boolean THEN ${reason}::text ELSE orders.failure_reason END,
                 compensation_window_closes_at = COALESCE(orders.compensation_window_closes_at, ${closesAt}::timestamptz),
                 compensation_window_closed_at = CASE WHEN ${closeWindow}::boolean
                   THEN COALESCE(orders.compensation_window_closed_at, now()) ELSE orders.compensation_window_closed_at END,
                 updated_at = now()
          WHERE id = ${orderId}::uuid AND EXISTS (SELECT 1 FROM rec)
            AND ((SELECT status FROM prev) IS DISTINCT FROM ${orderStatus}::text OR ${closeWindow}::boolean)
          RETURNING failure_reason
        ), ${outboxAppend(sql`
          SELECT ${ORDER_AGGREGATE}::text AS aggregate_type, ${orderId}::text AS aggregate_id, 1 AS ord,
                 ${STATUS_EVENTS[orderStatus]}::text AS type, NULL::int AS schema_version,
                 jsonb_build_object('orderId', ${orderId}::text, 'from', (SELECT status FROM prev), 'to', ${orderStatus}::text,
                                    'step', ${step}::text, 'failureReason', ${reason}::text, 'detail', ${detail}::text) AS payload
          FROM upd WHERE (SELECT status FROM prev) IS DISTINCT FROM ${orderStatus}::text`)}${auditCte}
        SELECT (SELECT status FROM prev) AS from_status, (SELECT created_at FROM prev) AS created_at,
               EXISTS (SELECT 1 FROM rec) AS recorded, (SELECT failure_reason FROM upd) AS failure_reason,
               (SELECT event_id::text FROM outbox_written) AS event_id`),
        );
      const rows = await guarded(orderId, async () => {
        try {
          return await transitionStatement();
        } catch (err) {
          // The database refused the compensation (its window closed): the attempt is kept as refused.
          if (audit && (err as { code?: string }).code === 'OS001') {
            await recordAuditAlone(db, {
              ...audit.entry,
              outcome: 'refused',
              detail: { ...audit.entry.detail, code: 'COMPENSATION_WINDOW_CLOSED' },
            }).catch(() => undefined);
          }
          throw err;
        }
      });
      const row = rows[0]!;
      if (row.from_status === null) throw new Error(`order ${orderId} does not exist`);
      if (!row.recorded) return { applied: false };
      if (row.event_id) {
        onTransition?.({
          orderId,
          from: row.from_status as OrderStatus,
          to: orderStatus,
          step,
          failureReason: row.failure_reason,
          createdAt: row.created_at!,
          eventId: row.event_id,
        });
      }
      return { applied: true };
    },
  };
}
