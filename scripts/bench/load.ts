/**
 * Offered load for the saga benchmark: an open-loop arrival schedule, what the API answered
 * each offer, latency summaries, and the sweep for the rate at which p99 crosses a limit.
 * Pure except for `openLoop` (timers) and `offerOrder` (one HTTP request).
 */

/** What the API answered one offered order. A 5xx other than 503 is a defect. */
export type Answer =
  'accepted' | 'rateLimited' | 'unavailableRetryAfter' | 'unavailableNoRetryAfter' | 'otherClientError' | 'serverError' | 'networkError';

export const ANSWERS: readonly Answer[] = [
  'accepted',
  'rateLimited',
  'unavailableRetryAfter',
  'unavailableNoRetryAfter',
  'otherClientError',
  'serverError',
  'networkError',
];

export type AnswerCounts = Record<Answer, number>;

export function noAnswers(): AnswerCounts {
  return Object.fromEntries(ANSWERS.map((a) => [a, 0])) as AnswerCounts;
}

/** The answer class of an HTTP status (undefined: no answer at all, a network error or timeout). */
export function classifyAnswer(status: number | undefined, retryAfter: string | null): Answer {
  if (status === undefined) return 'networkError';
  if (status === 202) return 'accepted';
  if (status === 429) return 'rateLimited';
  if (status === 503) return retryAfter ? 'unavailableRetryAfter' : 'unavailableNoRetryAfter';
  if (status >= 500) return 'serverError';
  // A 2xx other than 202 or a 3xx is not what POST /orders promises either: count it with the 4xx.
  return 'otherClientError';
}

export interface Latency {
  /** Orders measured (CONFIRMED). */
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

export function latencySummary(ms: number[]): Latency {
  const sorted = [...ms].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? NaN,
  };
}

/**
 * Rates of the p99 sweep, ascending: from `start` up to `ceiling` in at most `steps` equal
 * whole-number steps (at least 1/s apart), so the sweep's length is bounded whatever the capacity.
 */
export function sweepRates(start: number, ceiling: number, steps: number): number[] {
  if (ceiling <= start) return [start];
  const step = Math.max(1, Math.ceil((ceiling - start) / (steps - 1)));
  const rates: number[] = [];
  for (let r = start; rates.length < steps && r <= ceiling + step - 1; r += step) rates.push(r);
  return rates;
}

export interface SweepPoint {
  rate: number;
  p99: number;
}

/** From an ascending sweep: the last rate whose p99 was within `limitMs` before the first one over it. */
export function crossing(points: SweepPoint[], limitMs: number): { under?: SweepPoint; over?: SweepPoint } {
  const i = points.findIndex((p) => !(p.p99 <= limitMs));
  if (i < 0) return { under: points.at(-1) };
  return { under: i > 0 ? points[i - 1] : undefined, over: points[i] };
}

/**
 * Offers `rate` per second for `seconds`: item i is sent at start + i/rate whatever happened
 * to the items before it (open loop: a slow answer does not slow the arrivals).
 */
export async function openLoop(rate: number, seconds: number, send: (i: number) => Promise<void>): Promise<void> {
  const total = Math.round(rate * seconds);
  const start = Date.now();
  await Promise.all(
    Array.from({ length: total }, async (_, i) => {
      const due = start + (i * 1000) / rate;
      await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
      await send(i);
    }),
  );
}

export interface Offered {
  answer: Answer;
  status?: number;
  orderId?: string;
  /** When it was sent (this machine's clock, ms). */
  sentAt: number;
  detail?: string;
  /** The Retry-After header, if any. */
  retryAfter?: string;
}

/** POSTs one order; never throws: a failure is an answer class. */
export async function offerOrder(url: string, headers: Record<string, string>, body: unknown, timeoutMs: number): Promise<Offered> {
  const sentAt = Date.now();
  try {
    const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
    const answer = classifyAnswer(res.status, res.headers.get('retry-after'));
    const text = await res.text();
    if (answer === 'accepted') return { answer, status: res.status, sentAt, orderId: (JSON.parse(text) as { orderId: string }).orderId };
    return { answer, status: res.status, sentAt, detail: text.slice(0, 300), retryAfter: res.headers.get('retry-after') ?? undefined };
  } catch (err) {
    const cause = (err as Error).cause as Error | undefined;
    return { answer: 'networkError', sentAt, detail: `${(err as Error).message}${cause?.message ? `: ${cause.message}` : ''}` };
  }
}
