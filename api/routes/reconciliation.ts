/** /admin/reconciliation: start a run, read a run, list findings. Admin keys only. */
import { CHECK_NAMES } from '../../services/reconciliation/contract';
import { getRun, listFindings, requestRun } from '../../services/reconciliation/queries';
import { AUDIT_ACTIONS, recordAudit } from '../../services/platform/audit-log/audit-log';
import { auditBy } from '../audit';
import { parseBody, pathParam } from '../http';
import { idempotentInTransaction } from '../idempotency';
import { operation } from '../operation';
import { API_PROBLEMS, problems } from '../problem';
import { FindingsQuery, ReconciliationFindingPage, ReconciliationRunBody, ReconciliationRunView } from '../schemas';

export const RECONCILIATION_OPERATIONS = [
  operation({
    method: 'post',
    path: '/admin/reconciliation/runs',
    summary: 'Request a reconciliation run (full or incremental, optionally limited to some orders); the active reconciler runs it',
    access: 'admin',
    permission: 'reconciliation:run',
    idempotencyKey: true,
    request: ReconciliationRunBody,
    responses: { 202: ReconciliationRunView },
    headers: { 202: { Location: 'the run: GET it to follow it' } },
    // The active reconciler (app role `reconciler`) picks the request up at once (NOTIFY).
    async handle({ req, res, deps, principal, body }) {
      await idempotentInTransaction(deps.db, req, res, principal, body, async (tx) => {
        const mode = body.mode === 'incremental' ? 'INCREMENTAL' : 'FULL';
        const run = await requestRun(tx, { mode, scope: body.orderIds ? { orderIds: body.orderIds } : null });
        await recordAudit(tx, {
          ...auditBy(res, principal),
          action: AUDIT_ACTIONS.reconciliationRun,
          subject: { kind: 'reconciliation_run', id: String(run.id) },
          outcome: 'done',
          detail: { mode: run.mode, orderIds: body.orderIds?.length ?? null },
        });
        deps.log.info({ runId: run.id, mode: run.mode, by: principal.apiKeyId }, 'reconciliation run requested');
        return { stored: { status: 202, body: run, headers: { Location: `/admin/reconciliation/runs/${run.id}` } } };
      });
    },
  }),
  operation({
    method: 'get',
    path: '/admin/reconciliation/runs/:id',
    summary: 'A reconciliation run: status, counts per check, duration',
    access: 'admin',
    permission: 'reconciliation:read',
    responses: { 200: ReconciliationRunView },
    async handle({ req, deps }) {
      const run = await getRun(deps.db, pathParam(req, 'id'));
      if (!run) throw problems.notFound(`no reconciliation run "${pathParam(req, 'id')}"`);
      return { status: 200, body: run };
    },
  }),
  operation({
    method: 'get',
    path: '/admin/reconciliation/findings',
    summary: 'Reconciliation findings, newest first (?status=open|suspect|resolved|all&check=&limit=&offset=)',
    access: 'admin',
    permission: 'reconciliation:read',
    responses: { 200: ReconciliationFindingPage },
    problems: [API_PROBLEMS.VALIDATION_ERROR],
    async handle({ req, deps }) {
      const query = parseBody(FindingsQuery, { ...req.query });
      if (query.check && !(CHECK_NAMES as string[]).includes(query.check)) {
        throw problems.validation(`check: no check "${query.check}"`, [{ pointer: '/check', detail: `one of ${CHECK_NAMES.join(', ')}` }]);
      }
      const page = await listFindings(deps.db, { status: query.status, check: query.check, limit: query.limit, offset: query.offset });
      return { status: 200, body: { total: page.total, limit: query.limit, offset: query.offset, items: page.items } };
    },
  }),
];
