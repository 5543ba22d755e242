/** /admin: catalog, accounts, manual compensation and API keys. Admin keys only. */
import { inTransaction } from '../../lib/db';
import { COMMON_ERRORS } from '../../lib/errors';
import { AUDIT_ACTIONS, recordAudit } from '../../services/platform/audit-log/audit-log';
import { auditBy } from '../audit';
import { createApiKey, findApiKey, listApiKeys, revokeApiKey, setGrants } from '../../services/access/api-keys';
import { CATALOG_ERRORS } from '../../services/catalog/contract';
import { findProductView, upsertProduct } from '../../services/catalog/products';
import { ORDER_ERRORS } from '../../services/orders/contract';
import { PAYMENT_ERRORS } from '../../services/payments/contract';
import { requestCompensation } from '../../services/orders/commands';
import { findAccountView, openAndDeposit } from '../../services/payments/accounts';
import { parseBody, pathParam, uuidParam } from '../http';
import { idempotencyKeyOf, idempotentInTransaction } from '../idempotency';
import { operation } from '../operation';
import { API_PROBLEMS, problems } from '../problem';
import {
  AccountBody,
  AccountView,
  ApiKeyBody,
  ApiKeyCreated,
  ApiKeyPage,
  ApiKeyView,
  CancelAccepted,
  EntriesPaging,
  GrantsBody,
  Paging,
  ProductBody,
  ProductView,
  ReasonBody,
} from '../schemas';

export const ADMIN_OPERATIONS = [
  operation({
    method: 'post',
    path: '/admin/products',
    summary: 'Create a product, or update its name/price and add stock',
    access: 'admin',
    permission: 'catalog:write',
    idempotencyKey: true,
    request: ProductBody,
    responses: { 200: ProductView, 201: ProductView },
    headers: { 200: { Location: 'the product' }, 201: { Location: 'the product' } },
    problems: [COMMON_ERRORS.CURRENCY_MISMATCH, CATALOG_ERRORS.STOCK_OUT_OF_RANGE],
    async handle({ req, res, deps, principal, body }) {
      await idempotentInTransaction(deps.db, req, res, principal, body, async (tx) => {
        const { created, product } = await upsertProduct(tx, body);
        await recordAudit(tx, {
          ...auditBy(res, principal),
          action: created ? AUDIT_ACTIONS.productCreate : AUDIT_ACTIONS.productRestock,
          subject: { kind: 'product', id: product.sku },
          outcome: 'done',
          detail: { addStock: body.addStock, unitPriceMinor: body.unitPriceMinor, currency: body.currency },
        });
        return {
          stored: {
            status: created ? 201 : 200,
            body: product,
            headers: { Location: `/admin/products/${encodeURIComponent(product.sku)}` },
          },
        };
      });
    },
  }),
  operation({
    method: 'get',
    path: '/admin/products/:sku',
    summary: 'A product and its stock',
    access: 'admin',
    permission: 'catalog:read',
    responses: { 200: ProductView },
    async handle({ req, deps }) {
      const view = await findProductView(deps.db, pathParam(req, 'sku'));
      if (!view) throw problems.notFound(`no product "${req.params.sku}"`);
      return { status: 200, body: view };
    },
  }),
  operation({
    method: 'post',
    path: '/admin/accounts',
    summary: 'Open a customer account, or deposit into it (a ledger transaction)',
    access: 'admin',
    permission: 'deposits:write',
    idempotencyKey: true,
    request: AccountBody,
    responses: { 200: AccountView, 201: AccountView },
    headers: { 200: { Location: 'the account' }, 201: { Location: 'the account' } },
    problems: [COMMON_ERRORS.CURRENCY_MISMATCH, PAYMENT_ERRORS.DEPOSIT_KEY_REUSED],
    async handle({ req, res, deps, principal, body }) {
      const key = idempotencyKeyOf(req);
      await idempotentInTransaction(deps.db, req, res, principal, body, async (tx) => {
        const { created, balanceMinor } = await openAndDeposit(tx, { ...body, idempotencyKey: `deposit:${principal.apiKeyId}:${key}` });
        await recordAudit(tx, {
          ...auditBy(res, principal),
          action: AUDIT_ACTIONS.accountDeposit,
          subject: { kind: 'account', id: body.customerId },
          outcome: 'done',
          detail: { depositMinor: body.depositMinor, currency: body.currency, opened: created, balanceMinor },
        });
        const headers = { Location: `/accounts/${encodeURIComponent(body.customerId)}` };
        return {
          stored: {
            status: created ? 201 : 200,
            body: { customerId: body.customerId, currency: body.currency, balanceMinor, entries: [] },
            headers,
          },
        };
      });
    },
  }),
  operation({
    method: 'get',
    path: '/admin/accounts/:customerId',
    summary: 'Any customer account',
    access: 'admin',
    permission: 'ledgers:read',
    responses: { 200: AccountView },
    problems: [API_PROBLEMS.VALIDATION_ERROR],
    async handle({ req, deps }) {
      const view = await findAccountView(deps.db, pathParam(req, 'customerId'), parseBody(EntriesPaging, { ...req.query }));
      if (!view) throw problems.notFound(`no account "${req.params.customerId}"`);
      return { status: 200, body: view };
    },
  }),
  operation({
    method: 'post',
    path: '/admin/orders/:id/compensate',
    summary: 'Manual compensation: refund and restock a CONFIRMED order, or retry a NEEDS_ATTENTION one',
    access: 'admin',
    permission: 'orders:compensate',
    request: ReasonBody,
    responses: { 202: CancelAccepted },
    problems: [ORDER_ERRORS.ORDER_NOT_COMPENSABLE, ORDER_ERRORS.COMPENSATION_WINDOW_CLOSED],
    async handle({ req, res, deps, principal, body }) {
      const orderId = uuidParam(req, 'id', 'order');
      const accepted = await requestCompensation(deps, orderId, body.reason, auditBy(res, principal));
      deps.log.info({ orderId, reason: body.reason, by: principal.apiKeyId }, 'manual compensation requested');
      return { status: 202, body: accepted };
    },
  }),
  operation({
    method: 'post',
    path: '/admin/api-keys',
    summary: 'Create an API key (the secret is shown once)',
    access: 'admin',
    permission: 'keys:manage',
    idempotencyKey: true,
    request: ApiKeyBody,
    responses: { 201: ApiKeyCreated },
    headers: { 201: { Location: 'the API key' } },
    async handle({ req, res, deps, principal, body }) {
      await idempotentInTransaction(deps.db, req, res, principal, body, async (tx) => {
        const customers = body.role === 'admin' ? [] : [...new Set(body.customers)].sort();
        const created = await createApiKey(tx, body.name, body.role, customers);
        await recordAudit(tx, {
          ...auditBy(res, principal),
          action: AUDIT_ACTIONS.apiKeyCreate,
          subject: { kind: 'api_key', id: created.id },
          outcome: 'done',
          detail: { name: body.name, role: body.role, customers },
        });
        const headers = { Location: `/admin/api-keys/${created.id}` };
        const shown = { id: created.id, name: body.name, role: body.role, customers };
        deps.log.info({ apiKeyId: created.id, role: body.role, by: principal.apiKeyId }, 'API key created');
        // The secret is shown once: a replay of this request answers with key: null.
        return {
          stored: { status: 201, body: { ...shown, key: null }, headers },
          firstAnswer: { status: 201, body: { ...shown, key: created.key }, headers },
        };
      });
    },
  }),
  operation({
    method: 'get',
    path: '/admin/api-keys',
    summary: 'API keys with their granted customers, newest first (?limit=&offset=; never a secret)',
    access: 'admin',
    permission: 'keys:manage',
    responses: { 200: ApiKeyPage },
    problems: [API_PROBLEMS.VALIDATION_ERROR],
    async handle({ req, deps }) {
      const page = parseBody(Paging, { ...req.query });
      return { status: 200, body: { ...page, items: await listApiKeys(deps.db, page) } };
    },
  }),
  operation({
    method: 'get',
    path: '/admin/api-keys/:id',
    summary: 'One API key with its granted customers',
    access: 'admin',
    permission: 'keys:manage',
    responses: { 200: ApiKeyView },
    async handle({ req, deps }) {
      const key = await findApiKey(deps.db, uuidParam(req, 'id', 'API key'));
      if (!key) throw problems.notFound(`no API key "${pathParam(req, 'id')}"`);
      return { status: 200, body: key };
    },
  }),
  operation({
    method: 'put',
    path: '/admin/api-keys/:id/customers',
    summary: "Replace a client key's granted customers (idempotent: the same body, the same grants)",
    access: 'admin',
    permission: 'keys:manage',
    request: GrantsBody,
    responses: { 200: ApiKeyView },
    async handle({ req, res, deps, principal, body }) {
      const id = uuidParam(req, 'id', 'API key');
      const customers = [...new Set(body.customers)].sort();
      const found = await inTransaction(deps.db, async (tx) => {
        if (!(await setGrants(tx, id, customers))) return false;
        await recordAudit(tx, {
          ...auditBy(res, principal),
          action: AUDIT_ACTIONS.apiKeyGrant,
          subject: { kind: 'api_key', id },
          outcome: 'done',
          detail: { customers },
        });
        return true;
      });
      if (!found) throw problems.notFound(`no API key "${id}"`);
      deps.log.info({ apiKeyId: id, customers: body.customers.length, by: principal.apiKeyId }, 'API key grants replaced');
      return { status: 200, body: await findApiKey(deps.db, id) };
    },
  }),
  operation({
    method: 'delete',
    path: '/admin/api-keys/:id',
    summary: 'Revoke an API key',
    access: 'admin',
    permission: 'keys:manage',
    responses: { 204: null },
    async handle({ req, res, deps, principal }) {
      const id = uuidParam(req, 'id', 'API key');
      const found = await inTransaction(deps.db, async (tx) => {
        if (!(await revokeApiKey(tx, id))) return false;
        await recordAudit(tx, {
          ...auditBy(res, principal),
          action: AUDIT_ACTIONS.apiKeyRevoke,
          subject: { kind: 'api_key', id },
          outcome: 'done',
        });
        return true;
      });
      if (!found) throw problems.notFound(`no API key "${id}"`);
      deps.log.info({ apiKeyId: id, by: principal.apiKeyId }, 'API key revoked');
      return { status: 204 };
    },
  }),
];
