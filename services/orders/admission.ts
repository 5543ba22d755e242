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
 */
import type { Registry } from 'prom-client';
import { runStatement, type Db } from '../../lib/db';
import { counter, gauge } from '../../lib/metrics';
import { sql } from '../../lib/sql';
import type { OrderStatus } from './contract';

/** Statuses of a saga at work: every one but those where an order rests (CONFIRMED, NEEDS_ATTENTION) or ends. */
export const IN_FLIGHT_STATUSES: readonly OrderStatus[] = ['PENDING', 'INVENTORY_RESERVED', 'PAYMENT_CAPTURED', 'COMPENSATING'];

/** gRPC status RESOURCE_EXHAUSTED: Temporal's frontend or history is over a limit. */
export const GRPC_RESOURCE_EXHAUSTED = 8;

export interface AdmissionSettings {
  /** Sagas in flight at most; 0: no bound. */
  maxInFlight: number;
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

/** Sagas in flight now, from the order rows (one index range scan over orders(status, created_at)). */
export async function countInFlight(db: Db, horizonMs: number): Promise<number> {
  const [row] = await runStatement<{ n: number }>(
    db,
    sql`SELECT count(*)::int AS n FROM orders
         WHERE status = ANY(${IN_FLIGHT_STATUSES}::text[])
           AND created_at > now() - make_interval(secs => ${horizonMs / 1000}::double precision)`,
  );
  return row!.n;
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
    bound: gauge(registry, 'orders_in_flight_max', 'The bound on sagas in flight (ORDERS_MAX_IN_FLIGHT; 0: none).'),
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
  /** The bound (0: none). */
  maxInFlight: number;
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
  private readonly refusals: Record<RefusalReason, number> = { in_flight: 0, temporal_exhausted: 0 };

  constructor(
    private readonly settings: AdmissionSettings,
    private readonly count: () => Promise<number>,
    private readonly metrics?: Metrics,
    private readonly now: () => number = Date.now,
  ) {
    metrics?.bound.set(settings.maxInFlight);
  }

  /** Admits one order (a ticket) or says why not. Never throws: a failed count keeps the last one. */
  async admit(): Promise<Ticket | Refusal> {
    const { maxInFlight } = this.settings;
    if (this.now() < this.exhaustedUntil) {
      return this.refuse('temporal_exhausted', 'Temporal is refusing workflow starts (ResourceExhausted)');
    }
    if (maxInFlight > 0) {
      await this.fresh();
      const inFlight = this.estimate();
      if (inFlight >= maxInFlight) return this.refuse('in_flight', `${inFlight} orders are in flight, the bound is ${maxInFlight}`);
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
    return {
      maxInFlight: this.settings.maxInFlight,
      inFlight: this.estimate(),
      refused: { ...this.refusals },
      closedUntil: this.now() < this.exhaustedUntil ? new Date(this.exhaustedUntil) : null,
    };
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
      this.base = { value: await this.count(), at, admittedBefore };
      this.metrics?.inFlight.set(this.estimate());
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
