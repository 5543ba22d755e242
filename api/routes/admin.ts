/** /admin: catalog, accounts, manual compensation and API keys. Admin keys only. */
import express, { Router } from 'express';
import { createApiKey, revokeApiKey } from '../../services/access/api-keys';
import { ProductCurrencyError, upsertProduct } from '../../services/catalog/products';
import { SIGNALS } from '../../services/orders/contract';
import { findAccountView, findProductView } from '../../services/orders/queries';
import { SagaClosedError, signalSaga } from '../../services/orders/saga-starter';
import { AccountCurrencyError, openAndDeposit } from '../../services/payments/ledger';
import { principalOf } from '../auth';
import type { ApiDeps } from '../app';
import { parseBody, requireJson, uuidParam } from '../http';
import { idempotent, idempotencyKeyOf } from '../idempotency';
import { problems } from '../problem';
import { AccountBody, ApiKeyBody, ProductBody, ReasonBody } from '../schemas';

export function adminRouter(deps: ApiDeps): Router {
  const { db, cfg, temporal, log } = deps;
  const router = Router();
  const json = express.json({ limit: '16kb' });

  router.post('/products', requireJson, json, async (req, res) => {
    const principal = principalOf(res);
    idempotencyKeyOf(req);
    const body = parseBody(ProductBody, req.body);
    await idempotent(db, req, res, principal, body, async ({ commit }) =>
      db
        .$transaction(async (tx) => {
          const { created } = await upsertProduct(tx, body);
          const view = await tx.product.findUniqueOrThrow({ where: { sku: body.sku } });
          const reply = {
            status: created ? 201 : 200,
            body: {
              sku: view.sku,
              name: view.name,
              unitPriceMinor: Number(view.unitPriceMinor),
              currency: view.currency,
              available: view.available,
              reserved: view.reserved,
              committed: view.committed,
            },
            headers: { Location: `/admin/products/${encodeURIComponent(view.sku)}` },
          };
          await commit(tx, reply);
          return reply;
        })
        .catch((err: unknown) => {
          if (err instanceof ProductCurrencyError) throw problems.unprocessable('currency-mismatch', 'Currency cannot change', err.message);
          throw err;
        }),
    );
  });

  router.get('/products/:sku', async (req, res) => {
    const view = await findProductView(db, req.params.sku!);
    if (!view) throw problems.notFound(`no product "${req.params.sku}"`);
    res.json(view);
  });

  router.post('/accounts', requireJson, json, async (req, res) => {
    const principal = principalOf(res);
    const key = idempotencyKeyOf(req);
    const body = parseBody(AccountBody, req.body);
    await idempotent(db, req, res, principal, body, async ({ commit }) => {
      try {
        return await db.$transaction(async (tx) => {
          const { created } = await openAndDeposit(tx, {
            customerId: body.customerId,
            currency: body.currency,
            depositMinor: body.depositMinor,
            idempotencyKey: `deposit:${principal.apiKeyId}:${key}`,
          });
          const account = await tx.account.findUniqueOrThrow({ where: { id: body.customerId } });
          const reply = {
            status: created ? 201 : 200,
            body: { customerId: account.id, currency: account.currency, balanceMinor: Number(account.balanceMinor), entries: [] },
            headers: { Location: `/accounts/${encodeURIComponent(account.id)}` },
          };
          await commit(tx, reply);
          return reply;
        });
      } catch (err) {
        if (err instanceof AccountCurrencyError) throw problems.unprocessable('currency-mismatch', 'Account currency differs', err.message);
        throw err;
      }
    });
  });

  router.post('/orders/:id/compensate', requireJson, json, async (req, res) => {
    const orderId = uuidParam(req, 'id', 'order');
    const { reason } = parseBody(ReasonBody, req.body);
    const order = await db.order.findUnique({ where: { id: orderId } });
    if (!order) throw problems.notFound(`no order "${orderId}"`);
    if (order.status !== 'CONFIRMED' && order.status !== 'NEEDS_ATTENTION') {
      throw problems.conflict('order-not-compensable', 'Order cannot be compensated now', `order ${orderId} is ${order.status}; only CONFIRMED or NEEDS_ATTENTION orders take manual compensation`, {
        orderStatus: order.status,
      });
    }
    await signalSaga(temporal, cfg, db, orderId, SIGNALS.compensate, { reason }).catch((err: unknown) => {
      if (err instanceof SagaClosedError) {
        throw problems.conflict('compensation-window-closed', 'Compensation window has closed', `${err.message}; its compensation window is over`);
      }
      throw err;
    });
    log.info({ orderId, reason, by: principalOf(res).apiKeyId }, 'manual compensation requested');
    res.status(202).json({ orderId, status: order.status, accepted: true });
  });

  router.post('/api-keys', requireJson, json, async (req, res) => {
    const principal = principalOf(res);
    idempotencyKeyOf(req);
    const body = parseBody(ApiKeyBody, req.body);
    await idempotent(db, req, res, principal, body, async ({ commit }) =>
      db.$transaction(async (tx) => {
        const created = await createApiKey(tx, body.name, body.role);
        const headers = { Location: `/admin/api-keys/${created.id}` };
        const shown = { id: created.id, name: body.name, role: body.role };
        // The secret is shown once: a replay of this request answers with key: null.
        await commit(tx, { status: 201, body: { ...shown, key: null }, headers });
        log.info({ apiKeyId: created.id, role: body.role, by: principal.apiKeyId }, 'API key created');
        return { status: 201, body: { ...shown, key: created.key }, headers };
      }),
    );
  });

  router.delete('/api-keys/:id', async (req, res) => {
    const id = uuidParam(req, 'id', 'API key');
    if (!(await revokeApiKey(db, id))) throw problems.notFound(`no API key "${id}"`);
    log.info({ apiKeyId: id, by: principalOf(res).apiKeyId }, 'API key revoked');
    res.status(204).end();
  });

  router.get('/accounts/:customerId', async (req, res) => {
    const view = await findAccountView(db, req.params.customerId!);
    if (!view) throw problems.notFound(`no account "${req.params.customerId}"`);
    res.json(view);
  });

  return router;
}
