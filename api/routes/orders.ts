/** /orders: place, read, cancel and follow orders. */
import express, { Router } from 'express';
import { getAnomalies, getTimeline } from '../../services/audit/timeline';
import { NOT_CANCELLABLE, SIGNALS } from '../../services/orders/contract';
import { createOrder, OrderRejectedError, priceOrder } from '../../services/orders/place-order';
import { findOrderView } from '../../services/orders/queries';
import { markSagaStarted, SagaClosedError, signalSaga, startSaga } from '../../services/orders/saga-starter';
import { principalOf } from '../auth';
import type { ApiDeps } from '../app';
import { parseBody, requireJson, uuidParam } from '../http';
import { idempotencyKeyOf, idempotent, type IdempotentReply } from '../idempotency';
import { problems } from '../problem';
import { PlaceOrderBody, ReasonBody } from '../schemas';

export function ordersRouter(deps: ApiDeps): Router {
  const { db, cfg, temporal, log, faults } = deps;
  const router = Router();
  const json = express.json({ limit: '16kb' });

  /** The order as its owner sees it; another client's order does not exist for this caller. */
  async function visibleOrder(res: express.Response, orderId: string) {
    const found = await findOrderView(db, orderId);
    const principal = principalOf(res);
    if (!found || (principal.role !== 'admin' && found.apiKeyId !== principal.apiKeyId)) {
      throw problems.notFound(`no order "${orderId}"`);
    }
    return found.view;
  }

  router.post('/', requireJson, json, async (req, res) => {
    const principal = principalOf(res);
    idempotencyKeyOf(req);
    const body = parseBody(PlaceOrderBody, req.body);
    const cmd = { apiKeyId: principal.apiKeyId, customerId: body.customerId, items: body.items };
    const priced = await priceOrder(db, cmd).catch((err: unknown) => {
      if (!(err instanceof OrderRejectedError)) throw err;
      throw problems.unprocessable(err.code.toLowerCase().replace(/_/g, '-'), 'Order cannot be placed', err.message, {
        code: err.code,
        errors: err.field ? [{ pointer: err.field, detail: err.message }] : [],
      });
    });
    await idempotent(db, req, res, principal, body, async ({ commit }) => {
      let reply: IdempotentReply | undefined;
      const order = await createOrder(db, cmd, priced, async (tx, o) => {
        reply = { status: 202, body: { orderId: o.id, status: o.status, workflowId: o.workflowId }, headers: { Location: `/orders/${o.id}` } };
        await commit(tx, reply);
      });
      await faults.hit('api.order.afterCommit', order.id);
      try {
        await startSaga(temporal, cfg, order);
        await markSagaStarted(db, [order.id]);
      } catch (err) {
        // The order is committed: the sweeper starts its saga. The client still gets 202.
        log.warn({ err, orderId: order.id, workflowId: order.workflowId }, 'saga start deferred to the sweeper');
      }
      log.info({ orderId: order.id, workflowId: order.workflowId, customerId: order.customerId, totalMinor: order.totalMinor }, 'order accepted');
      return reply!;
    });
  });

  router.get('/:id', async (req, res) => {
    res.json(await visibleOrder(res, uuidParam(req, 'id', 'order')));
  });

  router.get('/:id/timeline', async (req, res) => {
    const orderId = uuidParam(req, 'id', 'order');
    await visibleOrder(res, orderId);
    const [entries, anomalies] = await Promise.all([getTimeline(db, orderId), getAnomalies(db, orderId)]);
    res.json({ orderId, entries, anomalies });
  });

  router.post('/:id/cancel', requireJson, json, async (req, res) => {
    const orderId = uuidParam(req, 'id', 'order');
    const { reason } = parseBody(ReasonBody, req.body);
    const order = await visibleOrder(res, orderId);
    if (NOT_CANCELLABLE.includes(order.status)) {
      throw problems.conflict('order-not-cancellable', 'Order can no longer be cancelled', `order ${orderId} is ${order.status}`, {
        orderStatus: order.status,
      });
    }
    await signalSaga(temporal, cfg, db, orderId, SIGNALS.cancel, { reason }).catch((err: unknown) => {
      if (err instanceof SagaClosedError) throw problems.conflict('order-not-cancellable', 'Order can no longer be cancelled', err.message);
      throw err;
    });
    log.info({ orderId, reason }, 'cancel requested');
    res.status(202).json({ orderId, status: order.status, accepted: true });
  });

  return router;
}
