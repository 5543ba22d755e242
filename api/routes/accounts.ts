/** /accounts/:customerId: balance and ledger entries (newest first). */
import { hasOrderedFor } from '../../services/orders/queries';
import { findAccountView } from '../../services/payments/accounts';
import { pathParam } from '../http';
import { operation } from '../operation';
import { problems } from '../problem';
import { AccountView } from '../schemas';

export const ACCOUNT_OPERATIONS = [
  operation({
    method: 'get',
    path: '/accounts/:customerId',
    summary: 'A customer balance and ledger entries',
    access: 'client',
    responses: { 200: AccountView },
    async handle({ req, deps, principal }) {
      const customerId = pathParam(req, 'customerId');
      // A client sees the accounts of customers it has placed orders for; an admin sees all.
      const visible = principal.role === 'admin' || (await hasOrderedFor(deps.db, principal.apiKeyId, customerId));
      const view = visible ? await findAccountView(deps.db, customerId) : null;
      if (!view) throw problems.notFound(`no account "${customerId}"`);
      return { status: 200, body: view };
    },
  }),
];
