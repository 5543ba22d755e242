/**
 * The outbox relay: moves committed outbox rows to Kafka, at least once, in per-aggregate
 * order, with a commit-to-publish lag of milliseconds. One loop per relay process:
 *
 *   claim the oldest pending rows of the shards this relay holds (see shards.ts)
 *   -> send them in one producer call, acks from all in-sync replicas
 *   -> mark them published in one UPDATE (overlapping the next batch)
 *
 * A crash between send and mark leaves the rows pending; they are sent again (consumers
 * deduplicate by event id). Sends never overlap, so a failed batch is retried, in order,
 * before anything behind it. The loop sleeps only when there is nothing to do, until a
 * NOTIFY from the outbox trigger or the poll interval, whichever comes first.
 */
import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import { runCount, type Db } from '../../../lib/db';
import { noFaults, type Faults } from '../../../lib/faults';
import { traceIdOf, type Logger } from '../../../lib/logger';
import { sql } from '../../../lib/sql';
import { tracingEnabled } from '../../../lib/tracing';
import type { OutboxRow } from '../messaging/envelope';
import { backoffMs } from '../../../lib/retry';
import { RunLoop } from '../../../lib/run-loop';
import { PublishSpans } from '../messaging/tracing';
import type { RelaySettings } from '../../../lib/config';
import { OutboxListener } from './listener';
import { relayMetrics, type RelayMetrics } from './metrics';
import { Publisher } from './publisher';
import { pruneOutbox } from './retention';
import { ShardSession } from './shards';

export interface RelayDeps {
  db: Db;
  /** Connection string for the relay's own pg connections (shard session, LISTEN). */
  databaseUrl: string;
  kafka: Kafka;
  topic: string;
  settings: RelaySettings;
  log: Logger;
  registry: Registry;
  faults?: Faults;
  /**
   * What each 'event published' log line names of the row's aggregate (the process passes the
   * orders context's fields, so one grep finds an order's story); default: its type and id.
   */
  logFields?: (row: OutboxRow) => Record<string, unknown>;
}

const aggregateFields = (r: OutboxRow) => ({ aggregateType: r.aggregateType, aggregateId: r.aggregateId });

export class Relay {
  private readonly loop: RunLoop;
  private readonly publisher: Publisher;
  private readonly listener: OutboxListener;
  private readonly metrics: RelayMetrics;
  private readonly faults: Faults;
  private session: ShardSession | undefined;
  private marking: { ids: string[]; done: Promise<void> } = { ids: [], done: Promise.resolve() };
  private nextRebalanceAt = 0;
  private pruneTimer: NodeJS.Timeout | undefined;
  private pruning: Promise<unknown> = Promise.resolve();
  private pruneRunning = false;

  constructor(private readonly deps: RelayDeps) {
    this.publisher = new Publisher(deps.kafka, deps.topic);
    this.listener = new OutboxListener(deps.databaseUrl, () => this.loop.wake(), deps.log);
    this.metrics = relayMetrics(deps.registry, deps.db);
    this.faults = deps.faults ?? noFaults;
    this.loop = new RunLoop({
      round: async () => (await this.step()) > 0,
      idleMs: () => {
        // A NOTIFY, the poll interval or the next rebalance, whichever is first.
        const untilRebalance = Math.max(0, this.nextRebalanceAt - Date.now());
        return Math.min(this.deps.settings.pollIntervalMs, untilRebalance || this.deps.settings.pollIntervalMs);
      },
      failed: async (err, failures) => {
        this.deps.log.warn({ err, failures }, 'relay step failed; rows stay pending and will be retried');
        if (this.session && !this.session.alive) await this.dropSession();
      },
      backoffMs: (failures) => backoffMs(failures, { baseMs: 100, maxMs: this.deps.settings.maxBackoffMs }),
    });
  }

  start(): void {
    this.listener.start();
    this.loop.start();
    if (this.deps.settings.retentionMs > 0) {
      this.pruneTimer = setInterval(() => this.prune(), this.deps.settings.pruneIntervalMs);
    }
  }

  /** Finishes the batch in flight, then releases the shards (so peers take them at once). */
  async stop(): Promise<void> {
    clearInterval(this.pruneTimer);
    await this.loop.stop();
    await this.marking.done;
    await this.pruning;
    await this.session?.close();
    await this.listener.stop();
    await this.publisher.close();
  }

  /** The shards this relay holds now (for tests and logs). */
  get shards(): number[] {
    return this.session?.shards ?? [];
  }

  /**
   * One claim-publish round; returns how many rows it published. The mark of a batch runs on
   * the pool while the next batch is claimed and sent (it needs no shard lock: a row the broker
   * acknowledged is published, whoever owns its shard now); the claim skips rows whose mark is
   * still running. At most one mark is outstanding.
   */
  private async step(): Promise<number> {
    const session = await this.ensureSession();
    await this.maybeRebalance(session);
    const rows = await session.claim(this.deps.settings.batchSize, this.marking.ids);
    if (rows.length === 0) {
      await this.marking.done;
      return 0;
    }
    await this.publish(rows);
    for (const aggregateId of new Set(rows.map((r) => r.aggregateId))) await this.faults.hit('relay.afterPublish', aggregateId);
    await this.marking.done;
    this.marking = this.mark(rows.map((r) => r.id));
    return rows.length;
  }

  /** Marks rows published; only ever called after the broker acknowledged all of them. */
  private mark(ids: string[]): { ids: string[]; done: Promise<void> } {
    const done = runCount(
      this.deps.db,
      sql`UPDATE outbox_events SET published_at = now() WHERE id = ANY(${ids}::text[]::bigint[]) AND published_at IS NULL`,
    ).then(
      () => undefined,
      // Left pending, the rows are claimed and sent again: duplicates, which consumers drop.
      (err: unknown) => this.deps.log.warn({ err, rows: ids.length }, 'marking rows published failed; they will be published again'),
    );
    return { ids, done };
  }

  private async publish(rows: OutboxRow[]): Promise<void> {
    const started = Date.now();
    const spans = tracingEnabled() ? new PublishSpans(rows, this.deps.topic) : undefined;
    try {
      await this.publisher.publish(rows, spans?.traceparentOf);
    } catch (err) {
      this.metrics.failures.inc();
      spans?.end(err);
      throw err;
    }
    spans?.end();
    const acked = Date.now();
    this.metrics.batchDuration.observe((acked - started) / 1000);
    this.metrics.published.inc(rows.length);
    for (const r of rows) this.metrics.lag.observe(Math.max(0, acked - r.occurredAt.getTime()) / 1000);
    this.logPublished(rows, acked);
  }

  /** One line per event: an order's log story includes when each of its events left. */
  private logPublished(rows: OutboxRow[], acked: number): void {
    const { log, logFields = aggregateFields } = this.deps;
    if (!log.isLevelEnabled('info')) return;
    for (const r of rows) {
      log.info(
        {
          ...logFields(r),
          eventId: r.eventId,
          type: r.type,
          sequence: r.sequence,
          traceId: traceIdOf(r.traceparent),
          lagMs: Math.max(0, acked - r.occurredAt.getTime()),
        },
        'event published',
      );
    }
  }

  private async ensureSession(): Promise<ShardSession> {
    if (this.session?.alive) return this.session;
    await this.dropSession();
    this.session = await ShardSession.open(this.deps.databaseUrl);
    this.nextRebalanceAt = 0;
    return this.session;
  }

  private async dropSession(): Promise<void> {
    const lost = this.session;
    this.session = undefined;
    this.metrics.shardsOwned.set(0);
    await lost?.close();
  }

  private async maybeRebalance(session: ShardSession): Promise<void> {
    if (Date.now() < this.nextRebalanceAt) return;
    // A shard is given back only once its published rows are marked; else its next owner
    // would find them pending and publish them again.
    await this.marking.done;
    const { acquired, released } = await session.rebalance();
    this.nextRebalanceAt = Date.now() + this.deps.settings.rebalanceIntervalMs;
    this.metrics.shardsOwned.set(session.shards.length);
    if (acquired.length || released.length) {
      this.deps.log.info({ acquired, released, owned: session.shards.length }, 'relay shards rebalanced');
    }
  }

  private prune(): void {
    if (this.pruneRunning) return; // a slow round is not stacked up behind itself
    this.pruneRunning = true;
    this.pruning = pruneOutbox(this.deps.db, this.deps.settings.retentionMs, () => this.loop.stopping)
      .then(
        (n) => {
          this.metrics.pruned.inc(n);
          if (n > 0) this.deps.log.info({ deleted: n }, 'pruned published outbox rows');
        },
        (err: unknown) => this.deps.log.warn({ err }, 'outbox retention failed; will retry'),
      )
      .finally(() => (this.pruneRunning = false));
  }
}
