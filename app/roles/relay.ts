/** The relay role: the outbox relay, its own process; several may run at once (see services/platform/relay). */
import { ORDER_AGGREGATE, orderLogFields } from '../../services/orders/contract';
import { createKafka } from '../../services/platform/messaging/kafka';
import { Relay } from '../../services/platform/relay/relay';
import type { RoleContext, Running } from '../role';

export async function startRelay({ cfg, db, log, registry, faults }: RoleContext): Promise<Running> {
  const settings = cfg.relay;
  const relay = new Relay({
    db,
    databaseUrl: cfg.database.url,
    kafka: createKafka(cfg, 'relay', log),
    topic: cfg.kafka.eventsTopic,
    settings,
    log,
    registry,
    faults,
    logFields: (r) => (r.aggregateType === ORDER_AGGREGATE ? orderLogFields(r.aggregateId) : { aggregateId: r.aggregateId }),
  });
  relay.start();
  log.info({ topic: cfg.kafka.eventsTopic, ...settings }, 'relay running');
  return { stop: () => relay.stop() };
}
