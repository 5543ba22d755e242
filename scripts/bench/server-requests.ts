/**
 * The Temporal server's persistence requests, by operation, from its Prometheus endpoint: the
 * server's work per workflow as counts, which machine load does not move (CPU time does).
 * Counters `persistence_requests` and `visibility_persistence_requests`, summed over their
 * other labels.
 */

export type RequestCounts = Map<string, number>;

/** Parses Prometheus text: the two counters, summed by `operation` (prefixed `visibility:` for the second). */
export function parseRequestCounts(text: string): RequestCounts {
  const counts: RequestCounts = new Map();
  for (const m of text.matchAll(/^(visibility_)?persistence_requests\{([^}]*)\}\s+([0-9.e+]+)\s*$/gm)) {
    const operation = /operation="([^"]+)"/.exec(m[2]!)?.[1];
    if (!operation) continue;
    const key = `${m[1] ? 'visibility:' : ''}${operation}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(m[3]));
  }
  return counts;
}

/** The server's counts now; empty if its metrics endpoint does not answer. */
export async function requestCounts(metricsUrl: string): Promise<RequestCounts> {
  try {
    const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(5000) });
    return res.ok ? parseRequestCounts(await res.text()) : new Map();
  } catch {
    return new Map();
  }
}

/** Requests per item between two readings, by operation, largest first (operations under 0.05 per item left out). */
export function requestsPerItem(before: RequestCounts, after: RequestCounts, items: number): [string, number][] {
  return [...after]
    .map(([op, n]) => [op, (n - (before.get(op) ?? 0)) / items] as [string, number])
    .filter(([, per]) => per >= 0.05)
    .sort((a, b) => b[1] - a[1]);
}

/** One line per burst: the total and the operations, per bare workflow and per saga order. */
export function formatServerRequests(r: { bare: [string, number][]; saga: [string, number][] }): string {
  const line = (label: string, per: [string, number][]) => {
    const total = per.reduce((a, [, n]) => a + n, 0);
    return `${label}: ${total.toFixed(1)} (${per.map(([op, n]) => `${op} ${n.toFixed(1)}`).join(', ')})`;
  };
  return ['Temporal persistence requests', line('  per bare workflow', r.bare), line('  per saga order   ', r.saga)].join('\n  ');
}
