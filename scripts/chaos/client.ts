/**
 * The chaos run's HTTP client and its own log. Every request that changes something carries
 * an Idempotency-Key (orders) or is safe to repeat (signals), so the client retries through
 * crashes, outages and its own timeouts, against either API instance, until it gets an
 * answer. The checker trusts this log, not the system, for what was accepted.
 */
import type { Rng } from './prng';

const RETRY_DEADLINE_MS = 180_000;
const DEFAULT_TIMEOUT_MS = 15_000;

export interface Answer {
  status: number;
  body: unknown;
  replayed: boolean;
}

export interface Attempt {
  api: string;
  ms: number;
  answer?: Answer;
  error?: string;
}

/** One logical request and everything that happened to it. */
export interface LoggedRequest {
  method: string;
  path: string;
  idempotencyKey?: string;
  attempts: Attempt[];
  final?: Answer;
}

export interface SendOptions {
  admin?: boolean;
  idempotencyKey?: string;
  /** Timeout of the first attempt only (a client that gives up early, then retries). */
  firstTimeoutMs?: number;
}

/** 5xx, 429 and an in-flight duplicate (409 with Retry-After) are answers to retry, not results. */
function retryable(status: number, body: unknown): boolean {
  if (status >= 500 || status === 429) return true;
  return status === 409 && typeof body === 'object' && body !== null && String((body as { type?: string }).type).includes('in-flight');
}

export class ChaosClient {
  readonly log: LoggedRequest[] = [];
  private turn = 0;

  constructor(
    private readonly apis: string[],
    private readonly keys: { client: string; admin: string },
    private readonly rng: Rng,
  ) {}

  async send(method: string, path: string, body: unknown, opts: SendOptions = {}): Promise<Answer> {
    const entry: LoggedRequest = { method, path, idempotencyKey: opts.idempotencyKey, attempts: [] };
    this.log.push(entry);
    const deadline = Date.now() + RETRY_DEADLINE_MS;
    for (let n = 0; ; n += 1) {
      const api = this.apis[this.turn++ % this.apis.length]!;
      const timeoutMs = n === 0 && opts.firstTimeoutMs ? opts.firstTimeoutMs : DEFAULT_TIMEOUT_MS;
      const started = Date.now();
      const attempt: Attempt = { api, ms: 0 };
      entry.attempts.push(attempt);
      try {
        const answer = await this.once(api, method, path, body, opts, timeoutMs);
        attempt.answer = answer;
        if (!retryable(answer.status, answer.body)) {
          entry.final = answer;
          return answer;
        }
      } catch (err) {
        attempt.error = (err as Error).name === 'TimeoutError' ? 'client timeout' : (err as Error).message;
      } finally {
        attempt.ms = Date.now() - started;
      }
      if (Date.now() > deadline) throw new Error(`${method} ${path}: no answer after ${entry.attempts.length} attempts`);
      await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** Math.min(n, 5), 2000) * (0.5 + this.rng.next())));
    }
  }

  private async once(api: string, method: string, path: string, body: unknown, opts: SendOptions, timeoutMs: number): Promise<Answer> {
    const headers: Record<string, string> = { Authorization: `Bearer ${opts.admin ? this.keys.admin : this.keys.client}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (opts.idempotencyKey) headers['Idempotency-Key'] = opts.idempotencyKey;
    const res = await fetch(api + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed, replayed: res.headers.get('idempotent-replayed') === 'true' };
  }
}
