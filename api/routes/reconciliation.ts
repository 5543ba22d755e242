/** /admin/reconciliation: start a run, read a run, list findings. Admin keys only. */
import express, { Router } from 'express';
import { CHECK_NAMES } from '../../services/reconciliation/contract';
import { getRun, listFindings, requestRun } from '../../services/reconciliation/queries';
import { principalOf } from '../auth';
import type { ApiDeps } from '../app';
import { parseBody, requireJson } from '../http';
import { idempotencyKeyOf, idempotent } from '../idempotency';
import { problems } from '../problem';
import { FindingsQuery, ReconciliationRunBody } from '../schemas';

export function reconciliationRouter({ db, log }: ApiDeps): Router {
  const router = Router();
  const json = express.json({ limit: '64kb' });

  // The active reconciler (app role `reconciler`) picks the request up at once (NOTIFY).
  router.post('/runs', requireJson, json, async (req, res) => {
    const principal = principalOf(res);
    idempotencyKeyOf(req);
    const body = parseBody(ReconciliationRunBody, req.body);
    await idempotent(db, req, res, principal, body, async ({ commit }) =>
      db.$transaction(async (tx) => {
        const run = await requestRun(tx, { mode: body.mode === 'incremental' ? 'INCREMENTAL' : 'FULL', scope: body.orderIds ? { orderIds: body.orderIds } : null });
        const reply = { status: 202, body: run, headers: { Location: `/admin/reconciliation/runs/${run.id}` } };
        await commit(tx, reply);
        log.info({ runId: run.id, mode: run.mode, by: principal.apiKeyId }, 'reconciliation run requested');
        return reply;
      }),
    );
  });

  router.get('/runs/:id', async (req, res) => {
    const run = await getRun(db, req.params.id!);
    if (!run) throw problems.notFound(`no reconciliation run "${req.params.id}"`);
    res.json(run);
  });

  router.get('/findings', async (req, res) => {
    const query = parseBody(FindingsQuery, { ...req.query });
    if (query.check && !(CHECK_NAMES as string[]).includes(query.check)) {
      throw problems.validation(`check: no check "${query.check}"`, [{ pointer: '/check', detail: `one of ${CHECK_NAMES.join(', ')}` }]);
    }
    const page = await listFindings(db, { status: query.status, check: query.check, limit: query.limit, offset: query.offset });
    res.json({ total: page.total, limit: query.limit, offset: query.offset, items: page.items });
  });

  return router;
}
