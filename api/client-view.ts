/**
 * The one redaction rule for what a client key sees (orders, their steps, their timeline,
 * problems): outcomes, not internals. Free text written by drivers and services (`detail`,
 * `message`) becomes null and stock counts (`available`, `reserved`, `committed`) are left out,
 * at any depth. Admin keys see everything.
 */
import type { Principal } from '../services/access/api-keys';

/** Text from drivers and services: may quote internal state (a stock count, a driver's error). */
const HIDDEN_TEXT = new Set(['detail', 'message']);
/** Stock counts: another customer's demand shows in them. */
const HIDDEN_COUNTS = new Set(['available', 'reserved', 'committed']);

/** The value with every internal member redacted (a deep copy; the input is not changed). */
export function redactForClient<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => redactForClient(v)) as T;
  if (!value || typeof value !== 'object' || value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (HIDDEN_COUNTS.has(k)) continue;
    out[k] = HIDDEN_TEXT.has(k) && v !== null ? null : redactForClient(v);
  }
  return out as T;
}

/** What this caller may see of a view: all of it for an admin, the redacted view for a client. */
export function visibleTo<T>(principal: Principal, view: T): T {
  return principal.role === 'admin' ? view : redactForClient(view);
}
