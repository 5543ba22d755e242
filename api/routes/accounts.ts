/** /accounts/:customerId: balance and ledger entries (newest first). */
import { mayActFor } from '../../services/access/api-keys';
import { findAccountView } from '../../services/payments/accounts';
import { parseBody, pathParam } from '../http';
import { operation } from '../operation';
import { API_PROBLEMS, problems } from '../problem';
import { AccountView, EntriesPaging } from '../schemas';

export const ACCOUNT_OPERATIONS = [
  operation({
    method: 'get',
    path: '/accounts/:customerId',
    summary: 'A customer balance and a page of ledger entries, newest first (?limit=&offset=)',
    access: 'client',
    permission: 'accounts:read',
    responses: { 200: AccountView },
    problems: [API_PROBLEMS.VALIDATION_ERROR],
    async handle({ req, deps, principal }) {
      const customerId = pathParam(req, 'customerId');
      const page = parseBody(EntriesPaging, { ...req.query });
      // A client sees the accounts of its granted customers; an admin sees all.
      const view = mayActFor(principal, customerId) ? await findAccountView(deps.db, customerId, page) : null;
      if (!view) throw problems.notFound(`no account "${customerId}"`);
      return { status: 200, body: view };
    },
  }),
];
