/**
 * Backpressure at the front door: a bound on sagas in flight. Past it, or while Temporal refuses
 * workflow starts (ResourceExhausted), POST /orders is refused before it writes anything, so a
 * backlog never queues in Temporal without bound; orders already accepted finish.
 *
 * In flight = orders in a status a saga moves through (IN_FLIGHT_STATUSES), counted in
 * PostgreSQL, where every API instance sees the same rows. Derived from the order rows rather
 * than kept in a counter row: a counter updated in each status change's transaction would be one
 * hot row locked by every transition of every order (serialising the sagas), and would drift as
 * soon as one path forgot it; the count cannot drift, and a crash between two steps leaves the
 * order's status, hence the count, exactly as committed. It is one index range scan over
 * orders(status, created_at) (the in-flight rows only, about as many as the bound), run at most
 * every `cacheMs` per process; in between, a process adds the orders it admitted since.
 * Resting statuses do not count: a CONFIRMED order waiting out its compensation window is a
 * timer in Temporal, not load, and NEEDS_ATTENTION waits for an operator. An order in flight
 * for longer than the reconciler's stuck horizon is saga.stuck's, not load.
 *
 * The bound follows the measured throughput (with `targetMs` set): by Little's law, N sagas in
 * flight at a throughput of X per second wait about N / X seconds each, so a bound of X x
 * `targetMs` keeps an accepted order's wait near `targetMs` whatever the machine does, and lets a
 * fast machine keep more sagas in flight than a slow one (a fixed bound is either too low for the
 * first or too high for the second). X is measured in the database, so several API instances
 * agree on it: sagas that left flight between two counts = in flight at the first + orders
 * created since - in flight now. The bound never falls under `minInFlight` (a quiet system's
 * throughput says nothing about its capacity) nor rises over `maxInFlight`.
 */
import type { Registry } from 'prom-client';
import { runStatement, type Db } from '../../lib/db';
import { counter, gauge } from '../../lib/metrics';
import { sql } from '../../lib/sql';
import { ORDER_STATUSES, type OrderStatus } from './contract';

/** Statuses of a saga at work: every one but those where an order rests (CONFIRMED, NEEDS_ATTENTION) or ends. */
export const IN_FLIGHT_STATUSES: readonly OrderStatus[] = ['PENDING', 'INVENTORY_RESERVED', 'PAYMENT_CAPTURED', 'COMPENSATING'];

/** gRPC status RESOURCE_EXHAUSTED: Temporal's frontend or history is over a limit. */
export const GRPC_RESOURCE_EXHAUSTED = 8;

export interface AdmissionSettings {
  /** Sagas in flight at most (the fixed bound, or the adaptive bound's cap); 0: no bound. */
  maxInFlight: number;
  /** The adaptive bound's floor: below it an order is never refused for being one too many. */
  minInFlight: number;
  /** The wait the adaptive bound aims at (ms): measured throughput x this; 0: the bound is maxInFlight. */
  targetMs: number;
  /** How long a count is reused (ms). */
  cacheMs: number;
  /** Retry-After of a refusal, and how long a Temporal ResourceExhausted closes the door (s). */
  retryAfterS: number;
  /** Orders created longer ago than this are stuck, not in flight (ms). */
  horizonMs: number;
}

export type RefusalReason = 'in_flight' | 'temporal_exhausted';

export interface Refusal {
  reason: RefusalReason;
  retryAfterS: number;
  detail: string;
}

/** One admitted request: `done()` once it has committed its order or failed. */
export interface Ticket {
  done(): void;
}

/** One count: sagas in flight, the database's clock, and the orders created since a time asked for. */
export interface InFlightCount {
  n: number;
  /** The database's now() (ms since the epoch): what the next count's `since` is. */
  at: number;
  /** Orders created after `since` (any status); 0 when no `since` was given. */
  arrivedSince: number;
}

/**
 * Sagas in flight now, from the order rows (one index range scan over orders(status,
 * created_at)); with `since` (ms, a previous count's `at`), also the orders created after it,
 * one range scan per status over the same index.
 */
export async function countInFlight(db: Db, horizonMs: number, since: number | null = null): Promise<InFlightCount> {
  const [row] = await runStatement<{ n: number; at: number; arrived: number }>(
    db,
    sql`SELECT (SELECT count(*) FROM orders
                 WHERE status = ANY(${IN_FLIGHT_STATUSES}::text[])
                   AND created_at > now() - make_interval(secs => ${horizonMs / 1000}::double precision))::int AS n,
               (extract(epoch FROM now()) * 1000)::float8 AS at,
               CASE WHEN ${since}::float8 IS NULL THEN 0 ELSE
                 (SELECT count(*) FROM orders
                   WHERE status = ANY(${ORDER_STATUSES}::text[]) AND created_at > to_timestamp(${since}::float8 / 1000))
               END::int AS arrived`,
  );
  return { n: row!.n, at: row!.at, arrivedSince: row!.arrived };
}

/** Throughput is measured over at least this span, and smoothed over the spans before it. */
export const THROUGHPUT_WINDOW_MS = 2000;
const SMOOTHING = 0.5;

/**
 * Sagas leaving flight per second, from successive counts: over each span of at least
 * THROUGHPUT_WINDOW_MS, (in flight at its start + orders created during it - in flight at its
 * end) / its length, smoothed exponentially. Null until one span has been measured.
 */
export class Throughput {
  private start: { at: number; n: number } | null = null;
  private perS: number | null = null;

  /** The `since` the next count must ask for. */
  get since(): number | null {
    return this.start?.at ?? null;
  }

  get perSecond(): number | null {
    return this.perS;
  }

  add(count: InFlightCount): void {
    const start = this.start;
    if (!start || count.at < start.at) {
      this.start = { at: count.at, n: count.n };
      return;
    }
    const spanMs = count.at - start.at;
    if (spanMs < THROUGHPUT_WINDOW_MS) return;
    const left = Math.max(0, start.n + count.arrivedSince - count.n);
    const sample = left / (spanMs / 1000);
    this.perS = this.perS === null ? sample : SMOOTHING * sample + (1 - SMOOTHING) * this.perS;
    this.start = { at: count.at, n: count.n };
  }
}

/** True when `err` or one of its causes is a gRPC RESOURCE_EXHAUSTED (how the Temporal client reports it). */
export function isResourceExhausted(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth += 1) {
    if ((e as { code?: unknown }).code === GRPC_RESOURCE_EXHAUSTED) return true;
  }
  return false;
}

export function admissionMetrics(registry: Registry) {
  return {
    bound: gauge(
      registry,
      'orders_in_flight_max',
      'The bound on sagas in flight now: measured throughput x ORDERS_IN_FLIGHT_TARGET_MS within ORDERS_MIN_IN_FLIGHT..ORDERS_MAX_IN_FLIGHT, or ORDERS_MAX_IN_FLIGHT (0: none).',
    ),
    throughput: gauge(
      registry,
      'orders_leaving_flight_per_second',
      'Sagas leaving flight per second, as this API process last measured them.',
    ),
    inFlight: gauge(registry, 'orders_in_flight', 'Sagas in flight as this API process last counted them, plus those it admitted since.'),
    refused: counter(registry, 'orders_refused_total', 'POST /orders refused with 503 OVERLOADED before writing anything, by reason.', [
      'reason',
    ]),
  };
}

type Metrics = ReturnType<typeof admissionMetrics>;

const NOT_COUNTED = { value: 0, at: -Infinity, admittedBefore: 0 };

/** What one process's door says about itself (the console's overview shows it). */
export interface AdmissionSnapshot {
  /** The bound now (0: none). */
  maxInFlight: number;
  /** With an adaptive bound: what it follows and between which limits (null: the bound is fixed). */
  adaptive: { throughputPerS: number | null; targetMs: number; floor: number; cap: number } | null;
  /** Sagas in flight as this process estimates them (the last count plus its own admissions since). */
  inFlight: number;
  /** Orders this process refused since it started, by reason. */
  refused: Record<RefusalReason, number>;
  /** While Temporal's ResourceExhausted keeps the door shut: until when. */
  closedUntil: Date | null;
}

/** One process's door. Several API instances each have one; the database's count is what they share. */
export class Admission {
  /** The last count, when it was asked, and how many admissions it may not include. */
  private base = NOT_COUNTED;
  private refreshing: Promise<void> | undefined;
  /** Admissions so far (monotonic) and those not yet done. */
  private admitted = 0;
  private inProgress = 0;
  private exhaustedUntil = 0;
  private readonly throughput = new Throughput();
  private readonly refusals: Record<RefusalReason, number> = { in_flight: 0, temporal_exhausted: 0 };

  constructor(
    private readonly settings: AdmissionSettings,
    private readonly count: (since: number | null) => Promise<InFlightCount>,
    private readonly metrics?: Metrics,
    private readonly now: () => number = Date.now,
  ) {
    metrics?.bound.set(this.bound());
  }

  /** The bound now: fixed (maxInFlight), or the measured throughput x targetMs within its floor and cap; 0: none. */
  bound(): number {
    const { maxInFlight, minInFlight, targetMs } = this.settings;
    if (targetMs <= 0) return maxInFlight;
    const perS = this.throughput.perSecond;
    const followed = perS === null ? minInFlight : Math.max(minInFlight, Math.ceil((perS * targetMs) / 1000));
    return maxInFlight > 0 ? Math.min(maxInFlight, followed) : followed;
  }

  /** Admits one order (a ticket) or says why not. Never throws: a failed count keeps the last one. */
  async admit(): Promise<Ticket | Refusal> {
    if (this.now() < this.exhaustedUntil) {
      return this.refuse('temporal_exhausted', 'Temporal is refusing workflow starts (ResourceExhausted)');
    }
    if (this.bounded()) {
      await this.fresh();
      const inFlight = this.estimate();
      const bound = this.bound();
      if (inFlight >= bound) return this.refuse('in_flight', `${inFlight} orders are in flight, the bound is ${bound}${this.boundWhy()}`);
    }
    this.admitted += 1;
    this.inProgress += 1;
    this.metrics?.inFlight.set(this.estimate());
    let open = true;
    return {
      done: () => {
        if (open) this.inProgress -= 1;
        open = false;
      },
    };
  }

  /** Temporal refused a start for exhaustion: refuse every order for Retry-After seconds. */
  temporalExhausted(): void {
    this.exhaustedUntil = Math.max(this.exhaustedUntil, this.now() + this.settings.retryAfterS * 1000);
  }

  /** In flight: the last count, plus admissions it may not have seen (in progress when it was asked, or since). */
  estimate(): number {
    return this.base.value + (this.admitted - this.base.admittedBefore);
  }

  /** The bound, the estimate and the refusals so far. */
  snapshot(): AdmissionSnapshot {
    const { maxInFlight, minInFlight, targetMs } = this.settings;
    return {
      maxInFlight: this.bound(),
      adaptive: targetMs > 0 ? { throughputPerS: this.throughput.perSecond, targetMs, floor: minInFlight, cap: maxInFlight } : null,
      inFlight: this.estimate(),
      refused: { ...this.refusals },
      closedUntil: this.now() < this.exhaustedUntil ? new Date(this.exhaustedUntil) : null,
    };
  }

  private bounded(): boolean {
    return this.settings.maxInFlight > 0 || this.settings.targetMs > 0;
  }

  /** How an adaptive bound came about, for a refusal's detail. */
  private boundWhy(): string {
    const { targetMs, minInFlight } = this.settings;
    if (targetMs <= 0) return '';
    const perS = this.throughput.perSecond;
    return perS === null
      ? ` (the floor, ${minInFlight}: no throughput measured yet)`
      : ` (${perS.toFixed(1)} sagas/s measured x ${targetMs} ms, at least ${minInFlight})`;
  }

  private refuse(reason: RefusalReason, detail: string): Refusal {
    this.refusals[reason] += 1;
    this.metrics?.refused.inc({ reason });
    return { reason, retryAfterS: this.settings.retryAfterS, detail };
  }

  /** Counts again if the last count is older than cacheMs (one count at a time; others wait for it). */
  private async fresh(): Promise<void> {
    if (this.now() - this.base.at < this.settings.cacheMs) return;
    this.refreshing ??= this.refresh().finally(() => (this.refreshing = undefined));
    await this.refreshing;
  }

  private async refresh(): Promise<void> {
    const at = this.now();
    // Admissions done by now are in the count if they committed (and need no counting if they did not).
    const admittedBefore = this.admitted - this.inProgress;
    try {
      const counted = await this.count(this.throughput.since);
      this.throughput.add(counted);
      this.base = { value: counted.n, at, admittedBefore };
      this.metrics?.inFlight.set(this.estimate());
      this.metrics?.bound.set(this.bound());
      if (this.throughput.perSecond !== null) this.metrics?.throughput.set(this.throughput.perSecond);
    } catch {
      // The database blinked: keep the last count (the placement itself answers DATABASE_BUSY if it is down).
      this.base = { ...this.base, at };
    }
  }
}

/** A refusal or a ticket. */
export function isRefusal(x: Ticket | Refusal): x is Refusal {
  return 'reason' in x;
}
