/**
 * Commands on a placed order: a customer's cancel and an operator's manual compensation.
 * A cancel is the saga's `requestCancel` update, so the caller's answer is the saga's own
 * decision (its validator refuses once the order is CONFIRMED or compensating). A compensation
 * is a signal (signal-with-start, so a lost start cannot lose it), refused up front once the
 * order's compensation window has closed in the database.
 */
import {
  isGrpcDeadlineError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Config } from '../../lib/config';
import type { Db } from '../../lib/db';
import { DomainError } from '../../lib/errors';
import { AUDIT_ACTIONS, recordAuditAlone, type AuditBy, type AuditOutcome } from '../platform/audit-log/audit-log';
import {
  NOT_CANCELLABLE,
  ORDER_ERRORS,
  orderWorkflowId,
  SIGNALS,
  UPDATES,
  type CancelDecision,
  type CompensateSignal,
  type OrderStatus,
} from './contract';
import { loadStartableOrder, SagaClosedError, signalSaga, startSaga } from './saga-starter';

/** How long a cancel waits for the saga's decision before answering 503 (nothing changed then). */
export const CANCEL_DECISION_TIMEOUT_MS = 10_000;

export interface CommandDeps {
  db: Db;
  cfg: Config;
  temporal: Client;
}

export interface Accepted {
  orderId: string;
  status: OrderStatus;
  accepted: true;
}

/** Asks the saga to cancel an order that is not yet confirmed; answers with the saga's decision. */
export async function requestCancel(deps: CommandDeps, order: { orderId: string; status: OrderStatus }, reason: string): Promise<Accepted> {
  const { orderId, status } = order;
  if (NOT_CANCELLABLE.includes(status)) {
    throw new DomainError(ORDER_ERRORS.ORDER_NOT_CANCELLABLE, `order ${orderId} is ${status}`, { details: { orderStatus: status } });
  }
  let decision: CancelDecision;
  try {
    decision = await askSagaToCancel(deps, orderId, reason);
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
      // The saga's validator refused: its message says why (CONFIRMED, compensating).
      const details = (err.cause.details?.[0] ?? {}) as Record<string, unknown>;
      throw new DomainError(ORDER_ERRORS.ORDER_NOT_CANCELLABLE, err.cause.message, { details, cause: err });
    }
    if (err instanceof WorkflowNotFoundError || err instanceof SagaClosedError) {
      throw new DomainError(ORDER_ERRORS.ORDER_NOT_CANCELLABLE, `the saga of order ${orderId} has finished`, { cause: err });
    }
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isGrpcDeadlineError(err)) {
      throw new DomainError(
        ORDER_ERRORS.SAGA_UNAVAILABLE,
        `the saga of order ${orderId} did not answer the cancel in time; nothing changed`,
        {
          cause: err,
        },
      );
    }
    throw err;
  }
  return { orderId, status: decision.status, accepted: true };
}

/** The `requestCancel` update; if the saga's start was lost, starts it first (its validator then decides). */
async function askSagaToCancel(deps: CommandDeps, orderId: string, reason: string): Promise<CancelDecision> {
  const update = () =>
    deps.temporal.withDeadline(Date.now() + CANCEL_DECISION_TIMEOUT_MS, () =>
      deps.temporal.workflow.getHandle(orderWorkflowId(orderId)).executeUpdate<CancelDecision, [{ reason: string }]>(UPDATES.cancel, {
        args: [{ reason }],
      }),
    );
  try {
    return await update();
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    const order = await loadStartableOrder(deps.db, orderId);
    if (!order) throw err;
    // Started now, or by the sweeper meanwhile; a run that has finished stays finished (not found again).
    await startSaga(deps.temporal, deps.cfg, order);
    return update();
  }
}

/**
 * Asks the saga to refund and restock a CONFIRMED order (`order.compensate`), or to retry a
 * NEEDS_ATTENTION one (`order.resume`). The audit log gets one row per attempt: refused when a
 * rule says no; otherwise the request, committed before the signal is sent (its id travels in
 * the signal, so the saga knows the API recorded it and does not record it again as a signal
 * from a Temporal client), followed by a second row if the signal did not go through.
 */
export async function requestCompensation(deps: CommandDeps, orderId: string, reason: string, by?: AuditBy): Promise<Accepted> {
  const order = await deps.db.order.findUnique({
    where: { id: orderId },
    select: { status: true, compensationWindowClosesAt: true, compensationWindowClosedAt: true },
  });
  if (!order) throw new DomainError('NOT_FOUND', `no order "${orderId}"`);
  const status = order.status as OrderStatus;
  const action = status === 'NEEDS_ATTENTION' ? AUDIT_ACTIONS.orderResume : AUDIT_ACTIONS.orderCompensate;
  const audit = (outcome: AuditOutcome, detail: Record<string, unknown>) =>
    by
      ? recordAuditAlone(deps.db, { ...by, action, subject: { kind: 'order', id: orderId }, reason, outcome, detail })
      : Promise.resolve(undefined);
  const refusal = compensationRefusal(orderId, status, order);
  if (refusal) {
    await audit('refused', { code: refusal.code, ...refusal.details });
    throw refusal;
  }
  const accepted = await audit('done', { orderStatus: status, via: 'signal' });
  try {
    await signalSaga(deps.temporal, deps.cfg, deps.db, orderId, SIGNALS.compensate, {
      reason,
      ...(accepted ? { auditId: accepted.id } : {}),
    } satisfies CompensateSignal);
  } catch (err) {
    const closed = err instanceof SagaClosedError;
    await audit(closed ? 'refused' : 'failed', {
      auditId: accepted?.id,
      error: closed ? ORDER_ERRORS.COMPENSATION_WINDOW_CLOSED.code : err instanceof Error ? err.name : 'error',
    }).catch(() => undefined);
    if (closed) {
      throw new DomainError(ORDER_ERRORS.COMPENSATION_WINDOW_CLOSED, `${err.message}; its compensation window is over`, { cause: err });
    }
    throw err;
  }
  return { orderId, status, accepted: true };
}

/** Why the API refuses a manual compensation up front, or null. */
function compensationRefusal(
  orderId: string,
  status: OrderStatus,
  order: { compensationWindowClosesAt: Date | null; compensationWindowClosedAt: Date | null },
): DomainError | null {
  if (status !== 'CONFIRMED' && status !== 'NEEDS_ATTENTION') {
    const why = `order ${orderId} is ${status}; only CONFIRMED or NEEDS_ATTENTION orders take manual compensation`;
    return new DomainError(ORDER_ERRORS.ORDER_NOT_COMPENSABLE, why, { details: { orderStatus: status } });
  }
  if (status !== 'CONFIRMED') return null;
  // The window is a fact of the order (the database refuses COMPENSATING after it too).
  const { compensationWindowClosesAt: closesAt, compensationWindowClosedAt: closedAt } = order;
  const closed = closedAt ?? (closesAt && closesAt.getTime() <= Date.now() ? closesAt : null);
  if (!closed) return null;
  return new DomainError(
    ORDER_ERRORS.COMPENSATION_WINDOW_CLOSED,
    `order ${orderId}: its compensation window closed at ${closed.toISOString()}`,
    {
      details: { orderStatus: status, compensationWindowClosedAt: closed.toISOString() },
    },
  );
}
