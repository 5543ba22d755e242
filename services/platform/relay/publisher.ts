/**
 * Sends a claimed batch to Kafka in one request: kafkajs groups the messages by partition
 * (key = aggregate id) keeping their order, and the call resolves only when the broker has
 * every partition's batch from all in-sync replicas.
 */
import type { Kafka, Producer } from 'kafkajs';
import { ACKS_ALL, createIdempotentProducer } from '../messaging/kafka';
import { toMessage, withTraceparent, type OutboxRow } from '../messaging/envelope';
import { orderForPublish } from './ordering';

export class Publisher {
  private producer: Producer | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
  ) {}

  private async connected(): Promise<Producer> {
    if (this.producer) return this.producer;
    const producer = createIdempotentProducer(this.kafka);
    await producer.connect();
    this.producer = producer;
    return producer;
  }

  /**
   * Rejects if any message may not be on the broker. A failed producer is thrown away: after
   * an unknown outcome its sequence numbers may disagree with the broker's, and a new one
   * (new producer id) starts clean. The price is that the retried batch may duplicate what
   * did land; consumers deduplicate by event id. `traceparentOf`: each message's trace
   * context header (default: the row's).
   */
  async publish(rows: OutboxRow[], traceparentOf?: (row: OutboxRow) => string | null): Promise<void> {
    if (rows.length === 0) return;
    try {
      const producer = await this.connected();
      const messages = orderForPublish(rows).map((row) =>
        traceparentOf ? withTraceparent(toMessage(row), traceparentOf(row)) : toMessage(row),
      );
      await producer.send({ topic: this.topic, acks: ACKS_ALL, messages });
    } catch (err) {
      await this.reset();
      throw err;
    }
  }

  private async reset(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    await producer?.disconnect().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.reset();
  }
}
