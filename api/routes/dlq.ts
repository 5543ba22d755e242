/** /admin/dlq: dead letters of every consumer group, and replay of one to its source topic. */
import { Router } from 'express';
import { DeadLetterNotFoundError, getDeadLetter, listDeadLetters, replayDeadLetter } from '../../services/dlq/dead-letters';
import { principalOf } from '../auth';
import type { ApiDeps } from '../app';
import { parseBody } from '../http';
import { problems } from '../problem';
import { Paging } from '../schemas';

export function dlqRouter({ db, kafka, log }: ApiDeps): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const { limit, offset } = parseBody(Paging, { ...req.query });
    const page = await listDeadLetters(db, { limit, offset });
    res.json({ total: page.total, limit, offset, items: page.items });
  });

  router.get('/:id', async (req, res) => {
    const found = /^\d{1,18}$/.test(req.params.id!) ? await getDeadLetter(db, req.params.id!) : null;
    if (!found) throw problems.notFound(`no dead letter "${req.params.id}"`);
    res.json(found);
  });

  // Idempotent by design: the replayed message keeps its event id, so consumers apply it once.
  router.post('/:id/replay', async (req, res) => {
    try {
      const replayed = await replayDeadLetter(db, kafka, req.params.id!);
      log.info({ deadLetterId: replayed.id, eventId: replayed.eventId, sourceTopic: replayed.sourceTopic, by: principalOf(res).apiKeyId }, 'dead letter replayed');
      res.status(202).json(replayed);
    } catch (err) {
      if (err instanceof DeadLetterNotFoundError) throw problems.notFound(`no dead letter "${req.params.id}"`);
      throw err;
    }
  });

  return router;
}
