/** /orders: place, read, cancel and follow orders. Client keys act on their own orders. */
import type { Response } from 'express';
import { getAnomalies, getTimeline } from '../../services/audit/timeline';
import { requestCancel } from '../../services/orders/commands';
import { catalogRead, checkOrderShape, placeOrder, priceFrom, type CatalogRow, type PlacedOrder } from '../../services/orders/place-order';
import { findOrderView } from '../../services/orders/queries';
import type { ApiDeps } from '../deps';
import { uuidParam } from '../http';
import { idempotent, type IdempotentReply } from '../idempotency';
import { operation } from '../operation';
import { Problem, problems } from '../problem';
import { CancelAccepted, OrderAccepted, OrderView, PlaceOrderBody, ReasonBody, TimelineView } from '../schemas';
import { COMMON_ERRORS, DomainError } from '../../lib/errors';
import { mayActFor, type Principal } from '../../services/access/api-keys';
import { can } from '../../services/access/permissions';
import { AUDIT_ACTIONS, recordAuditAlone, type AuditOutcome } from '../../services/platform/audit-log/audit-log';
import { auditBy } from '../audit';
import { INVENTORY_ERRORS } from '../../services/inventory/contract';
import { ORDER_ERRORS } from '../../services/orders/contract';
import { isRefusal } from '../../services/orders/admission';
import { principalOf } from '../auth';
import { visibleTo } from '../client-view';

/**
 * The order as its caller may see it: an order of a customer the key is not granted does not
 * exist for it (the same 404 as a missing one). Unredacted: callers answer with visibleTo
 * (api/client-view.ts), the one redaction rule.
 */
async function visibleOrder(deps: ApiDeps, res: Response, orderId: string) {
  const found = await findOrderView(deps.db, orderId);
  const principal = principalOf(res);
  if (!found || !mayActFor(principal, found.view.customerId)) throw problems.notFound(`no order "${orderId}"`);
  return found.view;
}

/**
 * A cancel by an operator (a caller acting for any customer, not a tenant for its own) is an
 * audit row: the saga's decision (an update: accepted, refused by its validator) or the
 * failure. The decision is the saga's, so the row follows it in a statement of its own.
 */
async function auditedIfOperator<T>(
  deps: ApiDeps,
  res: Response,
  principal: Principal,
  order: { orderId: string; status: string },
  reason: string,
  cancel: () => Promise<T>,
): Promise<T> {
  if (!can(principal, 'customers:any')) return cancel();
  const audit = (outcome: AuditOutcome, detail: Record<string, unknown>) =>
    recordAuditAlone(deps.db, {
      ...auditBy(res, principal),
      action: AUDIT_ACTIONS.orderCancel,
      subject: { kind: 'order', id: order.orderId },
      reason,
      outcome,
      detail: { orderStatus: order.status, ...detail },
    });
  let result: T;
  try {
    result = await cancel();
  } catch (err) {
    const refused = DomainError.is(err, ORDER_ERRORS.ORDER_NOT_CANCELLABLE);
    await audit(refused ? 'refused' : 'failed', { error: err instanceof DomainError ? err.code : 'error' }).catch(() => undefined);
    throw err;
  }
  await audit('done', { via: 'update' });
  return result;
}

export const ORDER_OPERATIONS = [
  operation({
    method: 'post',
    path: '/orders',
    summary: 'Place an order (starts its saga)',
    access: 'client',
    permission: 'orders:write',
    idempotencyKey: true,
    request: PlaceOrderBody,
    responses: { 202: OrderAccepted },
    headers: { 202: { Location: 'the order: GET it to follow the saga' } },
    problems: [
      COMMON_ERRORS.NOT_FOUND,
      INVENTORY_ERRORS.UNKNOWN_SKU,
      COMMON_ERRORS.CURRENCY_MISMATCH,
      ORDER_ERRORS.DUPLICATE_SKU,
      ORDER_ERRORS.TOTAL_TOO_LARGE,
      ORDER_ERRORS.OVERLOADED,
    ],
    async handle({ req, res, deps, principal, body }) {
      // Not granted and not existing are the same answer: nothing about other customers leaks.
      if (!mayActFor(principal, body.customerId)) throw problems.notFound(`no customer "${body.customerId}"`);
      // Before anything is read or written (the idempotency key included: a refusal is not
      // stored, so a retry with the same key is a new attempt, not a replay of the 503).
      const admitted = await deps.admission.admit();
      if (isRefusal(admitted)) {
        throw new Problem(
          ORDER_ERRORS.OVERLOADED,
          `order refused, nothing written: ${admitted.detail}; retry after ${admitted.retryAfterS} s`,
          {},
          {
            'Retry-After': String(admitted.retryAfterS),
          },
        );
      }
      try {
        const cmd = { apiKeyId: principal.apiKeyId, customerId: body.customerId, items: body.items };
        checkOrderShape(cmd);
        // The pricing read rides in the idempotency lease's statement: one round trip for both.
        const read = catalogRead(cmd);
        await idempotent(
          deps.db,
          req,
          res,
          principal,
          body,
          async ({ completion, alongside }) => {
            // A refused pricing throws here: the lease is given back, nothing is stored.
            const priced = priceFrom(cmd, alongside as unknown as CatalogRow);
            const replyOf = (o: PlacedOrder): IdempotentReply => ({
              status: 202,
              body: { orderId: o.id, status: o.status, workflowId: o.workflowId },
              headers: { Location: `/orders/${o.id}` },
            });
            const placeDeps = { ...deps, onStartExhausted: () => deps.admission.temporalExhausted() };
            // The stored reply rides in the statement that writes the order (same transaction, one round trip).
            const placed = await placeOrder(placeDeps, cmd, priced, { inStatement: (o) => completion(replyOf(o)) });
            return replyOf(placed);
          },
          read,
        );
      } finally {
        admitted.done();
      }
    },
  }),
  operation({
    method: 'get',
    path: '/orders/:id',
    summary: 'An order, its lines and saga steps',
    access: 'client',
    permission: 'orders:read',
    responses: { 200: OrderView },
    async handle({ req, res, deps }) {
      const order = await visibleOrder(deps, res, uuidParam(req, 'id', 'order'));
      return { status: 200, body: visibleTo(principalOf(res), order) };
    },
  }),
  operation({
    method: 'get',
    path: '/orders/:id/timeline',
    summary: "The order's events as the audit consumer saw them on Kafka, and any sequence anomalies",
    access: 'client',
    permission: 'orders:read',
    responses: { 200: TimelineView },
    async handle({ req, res, deps }) {
      const orderId = uuidParam(req, 'id', 'order');
      await visibleOrder(deps, res, orderId);
      const [entries, anomalies] = await Promise.all([getTimeline(deps.db, orderId), getAnomalies(deps.db, orderId)]);
      return { status: 200, body: visibleTo(principalOf(res), { orderId, entries, anomalies }) };
    },
  }),
  operation({
    method: 'post',
    path: '/orders/:id/cancel',
    summary: 'Ask the saga to cancel the order (before confirmation)',
    access: 'client',
    permission: 'orders:write',
    request: ReasonBody,
    responses: { 202: CancelAccepted },
    headers: { 202: { Location: 'the order: GET it to follow the compensation' } },
    problems: [ORDER_ERRORS.ORDER_NOT_CANCELLABLE, ORDER_ERRORS.SAGA_UNAVAILABLE],
    async handle({ req, res, deps, principal, body }) {
      const order = await visibleOrder(deps, res, uuidParam(req, 'id', 'order'));
      const accepted = await auditedIfOperator(deps, res, principal, order, body.reason, () => requestCancel(deps, order, body.reason));
      deps.log.info({ orderId: order.orderId, reason: body.reason }, 'cancel requested');
      return { status: 202, body: accepted, headers: { Location: `/orders/${order.orderId}` } };
    },
  }),
];
