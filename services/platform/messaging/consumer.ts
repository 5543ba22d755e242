/**
 * The consumer framework every service's consumer runs on. Per message:
 *
 *   decode -> in ONE transaction: insert (group, eventId) into processed_events, and only if
 *   that row is new, apply the effect -> commit -> (later) commit the Kafka offset
 *
 * So an effect happens exactly once however often Kafka delivers the message (redelivery
 * after a crash, a relay publishing twice, a replay), and an offset is committed only after
 * the effect, or the dead-lettering, is durable. For throughput, messages are applied in
 * chunks, one transaction per chunk; if anything in a chunk fails, it rolls back whole and
 * its messages are applied one by one, each with its own retries. Failures are classified (errors.ts):
 * transient ones are retried with exponential backoff and jitter, up to maxAttempts; then,
 * or at once for permanent ones, the message goes to the dead-letter topic. Either way the
 * partition moves on: a poison message holds it for at most the retry policy.
 *
 * One consumer group per service (prefix + handler name); the group id is also the
 * processed_events key, so two services never hide each other's events.
 */
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import { inTransaction, type Db } from '../../../lib/db';
import type { Tx } from '../../../lib/sql';
import { noFaults, type Faults } from '../../../lib/faults';
import { traceIdOf, type Logger } from '../../../lib/logger';
import { tracingEnabled } from '../../../lib/tracing';
import { recordDeadLetter, sendDeadLetter, type Failure, type SourceMessage } from './dead-letter';
import { context as otelContext, trace } from '@opentelemetry/api';
import { headerStrings, HEADERS } from './envelope';
import { classify } from './errors';
import { createIdempotentProducer } from './kafka';
import { consumerMetrics, type ConsumerMetrics } from './metrics';
import { backoffMs, sleep } from '../../../lib/retry';
import { endSpan, startProcessSpan } from './tracing';
import type { ConsumerSettings } from '../../../lib/config';

/** Where a message came from, for handlers that care. */
export interface MessageContext {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  headers: Record<string, string>;
  /** 1 on the first try. */
  attempt: number;
}

export type AfterCommit = () => void;

/** What every decoded event must expose to the framework. */
export interface DecodedEvent {
  eventId: string;
  aggregateId: string;
  type: string;
}

export interface EventHandler<E extends DecodedEvent> {
  /** The service's name; its consumer group is the settings' prefix + this. */
  readonly name: string;
  /** Reads the message; throws a NonRetryableError (e.g. ValidationError) if it cannot. */
  decode(value: Buffer | null, ctx: MessageContext): E;
  /**
   * Optional: the effect of several events at once, in one transaction, in the given order;
   * must be equivalent to `apply` on each in turn. The fast path uses it when present.
   */
  applyBatch?(tx: Tx, events: E[]): Promise<void | AfterCommit>;
  /**
   * The effect. Must use `tx` for every statement: it commits with the processed_events row.
   * May return a callback to run once the transaction committed (metrics, never effects).
   */
  apply(tx: Tx, event: E, ctx: MessageContext): Promise<void | AfterCommit>;
  /** Optional: what each log line about an event names (default: its aggregate id). */
  logFields?(event: E): Record<string, unknown>;
}

export interface ConsumerDeps<E extends DecodedEvent> {
  kafka: Kafka;
  db: Db;
  handler: EventHandler<E>;
  topic: string;
  dlqTopic: string;
  settings: ConsumerSettings;
  log: Logger;
  registry: Registry;
  faults?: Faults;
}

type Outcome = 'applied' | 'duplicate' | 'dead-lettered' | 'stopped';

/** Offsets are committed at the end of each batch, and every this many messages within one. */
const COMMIT_EVERY = 200;
/** Messages applied in one transaction on the fast path. */
const CHUNK = 100;
/** A chunk's transaction may take longer than one message's; it is still bounded server-side. */
const CHUNK_LIMITS = { deadlineMs: 60_000, statementTimeoutMs: 30_000, idleInTransactionTimeoutMs: 30_000 };

export class EventConsumer<E extends DecodedEvent> {
  readonly group: string;
  private readonly abort = new AbortController();
  private readonly metrics: ConsumerMetrics;
  private readonly faults: Faults;
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  private restarting: Promise<void> | undefined;
  private joinedOnce: Promise<void>;
  private markJoined: () => void = () => undefined;

  constructor(private readonly deps: ConsumerDeps<E>) {
    this.group = `${deps.settings.groupPrefix}${deps.handler.name}`;
    this.metrics = consumerMetrics(deps.registry);
    this.faults = deps.faults ?? noFaults;
    this.joinedOnce = new Promise((resolve) => (this.markJoined = resolve));
  }

  /** Connects and starts consuming; if Kafka is not reachable yet, keeps trying in the background. */
  async start(): Promise<void> {
    try {
      await this.launch();
    } catch (err) {
      this.deps.log.warn({ err, group: this.group }, 'consumer could not start; retrying in the background');
      this.scheduleRestart(1);
    }
  }

  /** Resolves once the consumer has joined its group (and so owns partitions), for tests. */
  joined(): Promise<void> {
    return this.joinedOnce;
  }

  /** Stops fetching, lets the message in flight finish (its retries are cut short), leaves the group. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.restarting?.catch(() => undefined);
    await this.consumer?.disconnect().catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
  }

  private async launch(): Promise<void> {
    const { kafka, settings, topic } = this.deps;
    await this.deadLetterProducer();
    const consumer = kafka.consumer({
      groupId: this.group,
      sessionTimeout: settings.sessionTimeoutMs,
      heartbeatInterval: settings.heartbeatIntervalMs,
      rebalanceTimeout: Math.max(settings.sessionTimeoutMs, 10_000),
      maxWaitTimeInMs: 500,
      allowAutoTopicCreation: false,
      retry: { initialRetryTime: 300, maxRetryTime: 5000, retries: 8, restartOnFailure: async () => true },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, () => this.markJoined());
    // kafkajs restarts itself after retriable crashes; after any other, we start afresh.
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.deps.log.error({ err: payload.error, group: this.group, restart: payload.restart }, 'consumer crashed');
      if (!payload.restart && consumer === this.consumer) this.scheduleRestart(1);
    });
    await consumer.connect();
    // A new group starts at the beginning of the topic: nothing published before it existed is skipped.
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: settings.partitionsConcurrently,
      eachBatch: (payload) => this.onBatch(payload),
    });
  }

  private async deadLetterProducer(): Promise<Producer> {
    if (this.producer) return this.producer;
    const producer = createIdempotentProducer(this.deps.kafka);
    await producer.connect();
    this.producer = producer;
    return producer;
  }

  private scheduleRestart(attempt: number): void {
    if (this.abort.signal.aborted || this.restarting) return;
    this.restarting = (async () => {
      for (let n = attempt; !this.abort.signal.aborted; n++) {
        await sleep(backoffMs(n, { baseMs: 500, maxMs: 10_000 }), this.abort.signal);
        if (this.abort.signal.aborted) return;
        await this.consumer?.disconnect().catch(() => undefined);
        try {
          await this.launch();
          this.deps.log.info({ group: this.group }, 'consumer restarted');
          return;
        } catch (err) {
          this.deps.log.warn({ err, group: this.group, attempt: n }, 'consumer restart failed');
        }
      }
    })().finally(() => (this.restarting = undefined));
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary } = payload;
    const { topic, partition } = batch;
    let done: string | undefined;
    let uncommitted = 0;
    const commit = async () => {
      if (done === undefined || uncommitted === 0) return;
      await commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset: done }] }] });
      uncommitted = 0;
    };
    const completed = (message: KafkaMessage) => {
      resolveOffset(message.offset);
      done = (BigInt(message.offset) + 1n).toString();
      uncommitted += 1;
    };
    const running = () => isRunning() && !isStale() && !this.abort.signal.aborted;
    try {
      for (let i = 0; i < batch.messages.length && running(); i += CHUNK) {
        const chunk = batch.messages.slice(i, i + CHUNK).map((message) => ({ topic, partition, message }));
        if (await this.applyChunk(chunk)) {
          chunk.forEach((m) => completed(m.message));
        } else {
          for (const source of chunk) {
            if (!running() || (await this.process(source, heartbeat)) === 'stopped') return;
            completed(source.message);
          }
        }
        if (uncommitted >= COMMIT_EVERY) await commit();
        await heartbeat();
      }
    } finally {
      // Whatever is durable is committed, even when the batch stops early or fails.
      await commit();
      const last = done ?? batch.firstOffset() ?? '0';
      this.metrics.lag.set(
        { group: this.group, topic, partition: String(partition) },
        Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(last))),
      );
    }
  }

  /**
   * The fast path: a chunk of messages in one transaction (one commit instead of one per
   * message), with the same insert-before-apply rule. If anything at all fails, the
   * transaction rolls back as a whole and the caller takes the slow path, message by message,
   * where the retry policy and dead-lettering apply. Returns whether the chunk was applied.
   */
  private async applyChunk(chunk: SourceMessage[]): Promise<boolean> {
    if (chunk.length < 2) return false;
    const stopTimer = this.metrics.duration.startTimer({ group: this.group });
    const startedAt = Date.now();
    try {
      const decoded = chunk.map((source) => {
        const ctx = this.context(source, 1);
        return { ctx, event: this.deps.handler.decode(source.message.value, ctx) };
      });
      const outcome = await inTransaction(this.deps.db, (tx) => this.applyFresh(tx, decoded), CHUNK_LIMITS);
      this.metrics.duplicates.inc({ group: this.group }, chunk.length - outcome.events.length);
      outcome.hooks.forEach((hook) => hook?.());
      const applied = new Set(outcome.events);
      for (const { ctx, event } of decoded) this.observe(ctx, event, applied.has(event) ? 'applied' : 'duplicate', startedAt);
      for (const event of outcome.events) this.metrics.processed.inc({ group: this.group, type: event.type });
      for (const event of outcome.events) await this.faults.hit('consumer.afterEffect', event.aggregateId);
      return true;
    } catch (err) {
      this.deps.log.debug({ err, group: this.group, messages: chunk.length }, 'chunk failed; applying its messages one by one');
      return false;
    } finally {
      stopTimer();
    }
  }

  /** Inside the chunk's transaction: records the events as processed and applies those that were new. */
  private async applyFresh(tx: Tx, decoded: { ctx: MessageContext; event: E }[]): Promise<{ events: E[]; hooks: (AfterCommit | void)[] }> {
    const fresh = await this.claimEvents(
      tx,
      decoded.map((d) => d.event.eventId),
    );
    // Not fresh: seen before, or earlier in this chunk. (PostgreSQL prints UUIDs in lower case.)
    const todo = decoded.filter(({ event }) => fresh.delete(event.eventId.toLowerCase()));
    for (const { event } of todo) await this.faults.hit('consumer.beforeEffect', event.aggregateId);
    const { handler } = this.deps;
    const hooks: (AfterCommit | void)[] = [];
    if (handler.applyBatch && todo.length > 0)
      hooks.push(
        await handler.applyBatch(
          tx,
          todo.map((d) => d.event),
        ),
      );
    else for (const { ctx, event } of todo) hooks.push(await handler.apply(tx, event, ctx));
    return { events: todo.map((d) => d.event), hooks };
  }

  /** Inserts the (group, event) rows; returns the event ids that were not there yet. */
  private async claimEvents(tx: Tx, eventIds: string[]): Promise<Set<string>> {
    const rows = await tx.rows<{ event_id: string }>`
      INSERT INTO processed_events (consumer_group, event_id)
      SELECT ${this.group}::text, e FROM unnest(${eventIds}::text[]::uuid[]) AS e
      ON CONFLICT DO NOTHING
      RETURNING event_id::text`;
    return new Set(rows.map((r) => r.event_id));
  }

  /**
   * Applies one message (with retries) or dead-letters it; resolves once either is durable.
   * 'stopped' means the consumer is shutting down mid-retry: the message is left uncommitted
   * for whoever consumes the partition next.
   */
  private async process(source: SourceMessage, heartbeat: () => Promise<void>): Promise<Outcome> {
    if (!tracingEnabled()) return this.processWithRetries(source, heartbeat);
    const ctx = this.context(source, 1);
    const span = startProcessSpan({ group: this.group, ...ctx, traceparent: ctx.headers[HEADERS.traceparent] });
    let outcome: Outcome | undefined;
    try {
      outcome = await otelContext.with(trace.setSpan(otelContext.active(), span), () => this.processWithRetries(source, heartbeat));
      return outcome;
    } finally {
      span.setAttribute('messaging.consumer.outcome', outcome ?? 'failed');
      endSpan(span, outcome === 'dead-lettered' ? new Error('dead-lettered') : undefined);
    }
  }

  private async processWithRetries(source: SourceMessage, heartbeat: () => Promise<void>): Promise<Outcome> {
    const stopTimer = this.metrics.duration.startTimer({ group: this.group });
    const { maxAttempts, retryBaseMs, retryMaxMs } = this.deps.settings;
    let firstFailureAt: Date | undefined;
    let attempts = 0;
    try {
      for (let tries = 1; ; tries++) {
        try {
          return await this.applyOnce(source, this.context(source, attempts + 1));
        } catch (err) {
          const error = classify(err);
          const now = new Date();
          // An unreachable database or broker is not the message's fault: it costs no attempt.
          if (!error.unavailable) attempts += 1;
          firstFailureAt ??= now;
          if (!error.retryable || attempts >= maxAttempts) {
            await this.deadLetter(source, { error, attempts, firstFailureAt, lastFailureAt: now }, err);
            return 'dead-lettered';
          }
          if (this.abort.signal.aborted) return 'stopped';
          this.metrics.retries.inc({ group: this.group, error_class: error.errorClass });
          const at = { group: this.group, partition: source.partition, offset: source.message.offset, attempts, tries };
          this.deps.log.warn({ err, ...at }, error.unavailable ? 'dependency unavailable; retrying' : 'message failed; retrying');
          await this.backoff(backoffMs(tries, { baseMs: retryBaseMs, maxMs: retryMaxMs }), heartbeat);
        }
      }
    } finally {
      stopTimer();
    }
  }

  private context(source: SourceMessage, attempt: number): MessageContext {
    const { message } = source;
    return {
      topic: source.topic,
      partition: source.partition,
      offset: message.offset,
      key: message.key ? message.key.toString('utf8') : null,
      headers: headerStrings(message.headers),
      attempt,
    };
  }

  private async applyOnce(source: SourceMessage, ctx: MessageContext): Promise<Outcome> {
    const event = this.deps.handler.decode(source.message.value, ctx);
    const applied = await inTransaction(this.deps.db, async (tx) => {
      const fresh = await tx.exec`
        INSERT INTO processed_events (consumer_group, event_id) VALUES (${this.group}::text, ${event.eventId}::uuid)
        ON CONFLICT DO NOTHING`;
      if (fresh === 0) return undefined;
      await this.faults.hit('consumer.beforeEffect', event.aggregateId);
      return (await this.deps.handler.apply(tx, event, ctx)) ?? (() => undefined);
    });
    if (!applied) {
      this.metrics.duplicates.inc({ group: this.group });
      this.observe(ctx, event, 'duplicate');
      return 'duplicate';
    }
    applied();
    this.observe(ctx, event, 'applied');
    this.metrics.processed.inc({ group: this.group, type: event.type });
    await this.faults.hit('consumer.afterEffect', event.aggregateId);
    return 'applied';
  }

  /**
   * One log line per event (an order's log story includes each consumer's handling); on the
   * fast path, with tracing on, also the message's process span (the slow path has its own).
   */
  private observe(ctx: MessageContext, event: E, outcome: 'applied' | 'duplicate', chunkStartedAt?: number): void {
    const traceparent = ctx.headers[HEADERS.traceparent];
    if (chunkStartedAt !== undefined && tracingEnabled()) {
      const span = startProcessSpan({ group: this.group, ...ctx, traceparent }, chunkStartedAt);
      span.setAttribute('messaging.consumer.outcome', outcome);
      endSpan(span);
    }
    const { log } = this.deps;
    const fields = {
      ...(this.deps.handler.logFields?.(event) ?? { aggregateId: event.aggregateId }),
      eventId: event.eventId,
      type: event.type,
      group: this.group,
      partition: ctx.partition,
      offset: ctx.offset,
      traceId: traceIdOf(traceparent),
    };
    if (outcome === 'applied') log.info(fields, 'event applied');
    else log.debug(fields, 'duplicate event skipped');
  }

  /** Waits out a retry delay in heartbeat-sized slices, so the group does not evict us meanwhile. */
  private async backoff(ms: number, heartbeat: () => Promise<void>): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && !this.abort.signal.aborted) {
      await sleep(Math.min(deadline - Date.now(), this.deps.settings.heartbeatIntervalMs), this.abort.signal);
      await heartbeat();
    }
  }

  private async deadLetter(source: SourceMessage, failure: Failure, err: unknown): Promise<void> {
    const { db, dlqTopic, log } = this.deps;
    // The table first: if we crash in between, the operator's list still shows the message
    // (a replay of one that later went through is a no-op), and the redelivery re-sends it.
    await recordDeadLetter(db, dlqTopic, this.group, source, failure);
    const producer = await this.deadLetterProducer();
    try {
      await sendDeadLetter(producer, dlqTopic, this.group, source, failure);
    } catch (sendErr) {
      // As in the relay: after an unknown outcome, a fresh producer (new id, new sequences).
      this.producer = undefined;
      await producer.disconnect().catch(() => undefined);
      throw sendErr;
    }
    this.metrics.deadLetters.inc({ group: this.group, error_class: failure.error.errorClass });
    log.error(
      {
        err,
        group: this.group,
        topic: source.topic,
        partition: source.partition,
        offset: source.message.offset,
        attempts: failure.attempts,
      },
      'message dead-lettered',
    );
  }
}
