/** /accounts/:customerId: balance and ledger entries (newest first). */
import { Router } from 'express';
import { findAccountView } from '../../services/orders/queries';
import { principalOf } from '../auth';
import type { ApiDeps } from '../app';
import { problems } from '../problem';

export function accountsRouter({ db }: ApiDeps): Router {
  const router = Router();
  router.get('/:customerId', async (req, res) => {
    const customerId = req.params.customerId!;
    const principal = principalOf(res);
    // A client sees the accounts of customers it has placed orders for; an admin sees all.
    const visible =
      principal.role === 'admin' || (await db.order.findFirst({ where: { customerId, apiKeyId: principal.apiKeyId }, select: { id: true } }));
    const view = visible ? await findAccountView(db, customerId) : null;
    if (!view) throw problems.notFound(`no account "${customerId}"`);
    res.json(view);
  });
  return router;
}
