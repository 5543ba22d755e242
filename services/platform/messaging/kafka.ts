/** kafkajs clients of this project: one place for timeouts, retries and logging. */
import { Kafka, logLevel, Partitioners, type KafkaConfig, type LogEntry, type Producer, type SASLOptions } from 'kafkajs';
import type { Config, KafkaSettings } from '../../../lib/config';
import type { Logger } from '../../../lib/logger';

// kafkajs warns about this on every idempotent producer with bounded retries. Bounded retries
// are deliberate here: a failed send is retried by our own loop with a fresh producer (new
// producer id, fresh sequence numbers), which is what keeps the idempotence guarantee honest.
const EXPECTED_WARNINGS = ['Limiting retries for the idempotent producer'];

function logCreator(log: Logger) {
  return () =>
    ({ level, log: entry }: LogEntry) => {
      const { message, ...fields } = entry;
      if (EXPECTED_WARNINGS.some((w) => message.startsWith(w))) return;
      const obj = { kafkajs: fields };
      if (level === logLevel.ERROR) log.error(obj, message);
      else if (level === logLevel.WARN) log.warn(obj, message);
      else if (level === logLevel.INFO) log.debug(obj, message);
    };
}

/**
 * Brokers, TLS and SASL of every kafkajs client (KAFKA_SSL, KAFKA_SSL_CA, KAFKA_SASL_*): the
 * one place a client learns how to reach and authenticate to the brokers.
 */
export function kafkaConnection(kafka: Pick<KafkaSettings, 'brokers' | 'ssl' | 'sasl'>): Pick<KafkaConfig, 'brokers' | 'ssl' | 'sasl'> {
  return {
    brokers: kafka.brokers,
    ...(kafka.ssl ? { ssl: kafka.ssl.ca ? { ca: [kafka.ssl.ca] } : true } : {}),
    ...(kafka.sasl ? { sasl: { ...kafka.sasl } as SASLOptions } : {}),
  };
}

export function createKafka(cfg: Config, clientSuffix: string, log: Logger): Kafka {
  return new Kafka({
    clientId: `${cfg.kafka.clientId}-${clientSuffix}`,
    ...kafkaConnection(cfg.kafka),
    connectionTimeout: 3000,
    requestTimeout: 30_000,
    // Bounded: callers own the outer retry loop, and must get control back while the broker is
    // down (to back off, to notice a shutdown, to rebuild a producer).
    retry: { initialRetryTime: 200, maxRetryTime: 3000, retries: 6 },
    logLevel: logLevel.INFO,
    logCreator: logCreator(log.child({ component: 'kafkajs' })),
  });
}

/**
 * The producer of every event and dead letter: idempotent (the broker drops a retried batch
 * it already has), acks from all in-sync replicas (set per send), at most one request in
 * flight. kafkajs already serialises an idempotent producer's produce requests per broker;
 * maxInFlightRequests: 1 makes the ordering guarantee independent of that internal detail,
 * so a retried batch can never overtake the one behind it.
 */
export function createIdempotentProducer(kafka: Kafka): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // murmur2 on the key, as Kafka's Java clients: any producer of an order's events picks the same partition.
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { initialRetryTime: 200, maxRetryTime: 3000, retries: 6 },
  });
}

/** acks: -1 = every in-sync replica has the batch before the broker answers. */
export const ACKS_ALL = -1;
