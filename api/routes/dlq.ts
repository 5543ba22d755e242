/** /admin/dlq: dead letters of every consumer group, and replay of one to its source topic. */
import { getDeadLetter, listDeadLetters, replayDeadLetter } from '../../services/platform/dlq/dead-letters';
import { AUDIT_ACTIONS, recordAudit } from '../../services/platform/audit-log/audit-log';
import { auditBy } from '../audit';
import { parseBody, pathParam } from '../http';
import { operation } from '../operation';
import { API_PROBLEMS, problems } from '../problem';
import { DeadLetter, DeadLetterPage, Paging } from '../schemas';

const ID = /^\d{1,19}$/;

export const DLQ_OPERATIONS = [
  operation({
    method: 'get',
    path: '/admin/dlq',
    summary: 'Dead letters, newest first (?limit=&offset=)',
    access: 'admin',
    permission: 'dlq:read',
    responses: { 200: DeadLetterPage },
    problems: [API_PROBLEMS.VALIDATION_ERROR],
    async handle({ req, deps }) {
      const { limit, offset } = parseBody(Paging, { ...req.query });
      const page = await listDeadLetters(deps.db, { limit, offset });
      return { status: 200, body: { total: page.total, limit, offset, items: page.items } };
    },
  }),
  operation({
    method: 'get',
    path: '/admin/dlq/:id',
    summary: 'One dead letter with its error details',
    access: 'admin',
    permission: 'dlq:read',
    responses: { 200: DeadLetter },
    async handle({ req, deps }) {
      const found = ID.test(pathParam(req, 'id')) ? await getDeadLetter(deps.db, pathParam(req, 'id')) : null;
      if (!found) throw problems.notFound(`no dead letter "${req.params.id}"`);
      return { status: 200, body: found };
    },
  }),
  operation({
    method: 'post',
    path: '/admin/dlq/:id/replay',
    summary: 'Send a dead letter back to its source topic (consumers apply it at most once)',
    access: 'admin',
    permission: 'dlq:replay',
    responses: { 202: DeadLetter },
    // Idempotent by design: the replayed message keeps its event id, so consumers apply it once.
    async handle({ req, res, deps, principal }) {
      if (!ID.test(pathParam(req, 'id'))) throw problems.notFound(`no dead letter "${req.params.id}"`);
      const replayed = await replayDeadLetter(deps.db, deps.kafka, pathParam(req, 'id'), (tx, letter) =>
        recordAudit(tx, {
          ...auditBy(res, principal),
          action: AUDIT_ACTIONS.deadLetterReplay,
          subject: { kind: 'dead_letter', id: letter.id },
          outcome: 'done',
          detail: { eventId: letter.eventId, sourceTopic: letter.sourceTopic },
        }).then(() => undefined),
      );
      const { id, eventId, sourceTopic } = replayed;
      deps.log.info({ deadLetterId: id, eventId, sourceTopic, by: principal.apiKeyId }, 'dead letter replayed');
      return { status: 202, body: replayed };
    },
  }),
];
