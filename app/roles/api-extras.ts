/** Routes served by the Kafka backbone's services (order timeline, dead letters). */
import type { Express, RequestHandler } from 'express';
import type { Kafka } from 'kafkajs';
import type { Config } from '../../lib/config';
import type { Db } from '../../lib/db';
import type { Logger } from '../../lib/logger';

export function mountBackboneRoutes(
  _app: Express,
  _guards: { authn: RequestHandler; admin: RequestHandler },
  _deps: { cfg: Config; db: Db; log: Logger; kafka: Kafka },
): void {
  // Filled in with the relay/consumer work (issue 4): GET /orders/:id/timeline, /admin/dlq.
}
