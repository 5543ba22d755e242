/**
 * Shard ownership: how several relays run at once without ever publishing an aggregate's
 * sequence n+1 before n.
 *
 * Why not SKIP LOCKED alone: relay A could hold seq 3 of an order while relay B, skipping it,
 * publishes seq 4. Why not one leader with standbys: only one relay would ever work. Instead,
 * aggregates hash into SHARD_COUNT shards; a relay publishes only rows of shards it holds a
 * session-level advisory lock on, so an aggregate's rows have exactly one publisher at a time.
 * The locks live on this session, which is also the connection that claims rows: if the
 * claim succeeds here, the session (and every lock it took) is still alive, so no other relay
 * holds the shard. A relay that dies or loses its connection loses its session, so its locks
 * free themselves and the others pick its shards up. (Should the session die while a batch
 * is being sent, the new owner may send the same rows too: duplicates, which consumers drop
 * by event id; never a reordering of first deliveries, since every send starts at the
 * aggregate's lowest pending sequence and carries its rows in sequence order.)
 *
 * Fair share: each relay counts the live relay sessions (by application_name in
 * pg_stat_activity) and aims for ceil(SHARD_COUNT / relays) shards, giving back extras and
 * trying to take free ones every rebalance interval.
 */
import { Client } from 'pg';
import type { OutboxRow } from '../messaging/envelope';

/**
 * Part of the protocol between relays, not a tuning knob: every relay that runs at the same
 * time must use the same value, so it is a constant. Changing it needs every relay stopped.
 */
export const SHARD_COUNT = 64;
/** The first key of the two-key advisory lock space, reserved for relay shards. */
const SHARD_LOCK_CLASS = 72_707_101;
export const RELAY_APPLICATION_NAME = 'order-saga-relay';

/** The shard of an aggregate, computed by the database so that every relay agrees. */
const SHARD_EXPR = `(hashtext(aggregate_id) & ${SHARD_COUNT - 1})`;

interface RawRow {
  id: string;
  event_id: string;
  type: string;
  aggregate_type: string;
  aggregate_id: string;
  sequence: number;
  schema_version: number;
  traceparent: string | null;
  payload: Record<string, unknown>;
  occurred_at: Date;
}

export class SessionLostError extends Error {
  override name = 'SessionLostError';
}

export class ShardSession {
  private readonly client: Client;
  private readonly owned = new Set<number>();
  private lost: Error | undefined;

  private constructor(url: string) {
    this.client = new Client({ connectionString: url, application_name: RELAY_APPLICATION_NAME, keepAlive: true });
    const onLost = (err?: Error) => {
      this.lost ??= err ?? new SessionLostError('relay session ended');
      this.owned.clear();
    };
    this.client.on('error', onLost);
    this.client.on('end', () => onLost());
  }

  static async open(url: string): Promise<ShardSession> {
    const session = new ShardSession(url);
    await session.client.connect();
    // A hung relay process would hold its shards forever; the server ends the session (and
    // frees the locks) after this long without a statement. The loop runs one every poll
    // interval, and a publish attempt is bounded well below this.
    await session.client.query("SET idle_session_timeout = '120s'").catch(() => undefined);
    await session.client.query("SET statement_timeout = '30s'");
    // The claim must walk the pending index in id order and stop at its limit. The planner
    // picks that only if its statistics know how many rows are pending; in a burst they do not
    // (the last ANALYZE saw few or none), and it reads every pending row and sorts them
    // instead: O(backlog) per claim, just when the backlog is large (EXPLAIN ANALYZE, 20,000
    // pending, stale statistics: 13 ms with the sort, 0.7 ms without). This session runs only
    // the claim and the shard statements, none of which needs a sort.
    await session.client.query('SET enable_sort = off');
    return session;
  }

  get alive(): boolean {
    return this.lost === undefined;
  }

  get shards(): number[] {
    return [...this.owned].sort((a, b) => a - b);
  }

  private async query<R extends object>(sql: string, params: unknown[] = []): Promise<R[]> {
    if (this.lost) throw new SessionLostError(`relay session lost: ${this.lost.message}`);
    return (await this.client.query<R>(sql, params)).rows;
  }

  /** Takes or gives back shards towards this relay's fair share; returns what changed. */
  async rebalance(): Promise<{ acquired: number[]; released: number[] }> {
    const [{ relays } = { relays: 1 }] = await this.query<{ relays: number }>(
      `SELECT count(*)::int AS relays FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`,
      [RELAY_APPLICATION_NAME],
    );
    const target = Math.ceil(SHARD_COUNT / Math.max(1, relays));
    if (this.owned.size > target) return { acquired: [], released: await this.release(this.shards.slice(target)) };
    if (this.owned.size === target) return { acquired: [], released: [] };
    const need = target - this.owned.size;
    const acquired = await this.tryAcquire(this.candidates());
    // Free shards are taken greedily in one statement; what exceeds the share goes back.
    const excess = await this.release(acquired.slice(need));
    return { acquired: acquired.filter((s) => !excess.includes(s)), released: [] };
  }

  /** Shards not held by this session, starting at a random one so that relays spread out. */
  private candidates(): number[] {
    const start = Math.floor(Math.random() * SHARD_COUNT);
    return Array.from({ length: SHARD_COUNT }, (_, i) => (start + i) % SHARD_COUNT).filter((s) => !this.owned.has(s));
  }

  private async tryAcquire(shards: number[]): Promise<number[]> {
    if (shards.length === 0) return [];
    // Every row is evaluated and returned, so we know exactly which locks we now hold.
    const rows = await this.query<{ shard: number; got: boolean }>(
      `SELECT s AS shard, pg_try_advisory_lock(${SHARD_LOCK_CLASS}, s) AS got FROM unnest($1::int[]) AS s`,
      [shards],
    );
    const got = rows.filter((r) => r.got).map((r) => r.shard);
    got.forEach((s) => this.owned.add(s));
    return got;
  }

  private async release(shards: number[]): Promise<number[]> {
    if (shards.length === 0) return [];
    await this.query(`SELECT pg_advisory_unlock(${SHARD_LOCK_CLASS}, s) FROM unnest($1::int[]) AS s`, [shards]);
    shards.forEach((s) => this.owned.delete(s));
    return shards;
  }

  /**
   * The oldest pending rows of the shards this session holds, in id order. Within one
   * aggregate, id order is sequence order: appendEvents allocates the sequence under a lock on
   * the aggregate's counter row and inserts before committing, so a later sequence is inserted
   * (and takes its id) only after the earlier one committed. Nothing else locks outbox rows,
   * so no pending row of an owned shard is ever skipped: if seq n+1 is in the batch, seq n is
   * in it too, or already published. `exclude`: rows published whose mark is still running.
   */
  async claim(limit: number, exclude: string[] = []): Promise<OutboxRow[]> {
    if (this.owned.size === 0) return [];
    const all = this.owned.size === SHARD_COUNT;
    const rows = await this.query<RawRow>(
      `SELECT id::text, event_id::text, type, aggregate_type, aggregate_id, sequence, schema_version, traceparent, payload, occurred_at
         FROM outbox_events
        WHERE published_at IS NULL AND ($2::boolean OR ${SHARD_EXPR} = ANY($3::int[]))
          AND outbox_events.id <> ALL($4::bigint[])
        ORDER BY outbox_events.id -- the bigint column: a bare "id" would sort the ::text output column
        LIMIT $1`,
      [limit, all, all ? [] : this.shards, exclude],
    );
    return rows.map((r) => ({
      id: r.id,
      eventId: r.event_id,
      type: r.type,
      aggregateType: r.aggregate_type,
      aggregateId: r.aggregate_id,
      sequence: r.sequence,
      schemaVersion: r.schema_version,
      traceparent: r.traceparent,
      payload: r.payload,
      occurredAt: r.occurred_at,
    }));
  }

  /** Ends the session, which releases every shard lock at once. */
  async close(): Promise<void> {
    this.owned.clear();
    this.lost ??= new SessionLostError('relay session closed');
    await this.client.end().catch(() => undefined);
  }
}
