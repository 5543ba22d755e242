/** The consumer roles: one process, one consumer group per service, on the consumer framework. */
import { createAuditHandler } from '../../services/audit/projector';
import { EventConsumer, type DecodedEvent, type EventHandler } from '../../services/platform/messaging/consumer';
import { createKafka } from '../../services/platform/messaging/kafka';
import { createNotificationsHandler } from '../../services/notifications/consumer';
import type { RoleContext, Running } from '../role';

export type ConsumerName = 'audit' | 'notifications';

function handlerFor(name: ConsumerName, ctx: RoleContext): EventHandler<DecodedEvent> {
  return name === 'audit' ? createAuditHandler(ctx.registry) : createNotificationsHandler();
}

export async function startConsumer(name: ConsumerName, ctx: RoleContext): Promise<Running> {
  const { cfg, db, log, registry, faults } = ctx;
  const settings = cfg.consumers;
  const consumer = new EventConsumer({
    kafka: createKafka(cfg, `consumer-${name}`, log),
    db,
    handler: handlerFor(name, ctx),
    topic: cfg.kafka.eventsTopic,
    dlqTopic: cfg.kafka.dlqTopic,
    settings,
    log,
    registry,
    faults,
  });
  await consumer.start();
  log.info({ group: consumer.group, topic: cfg.kafka.eventsTopic, dlqTopic: cfg.kafka.dlqTopic, ...settings }, 'consumer running');
  return { stop: () => consumer.stop() };
}
