/**
 * When the rate limiter's shared store (PostgreSQL) fails, limits fall back to this
 * instance's memory: still enforced, logged and counted, never an error to the caller.
 */
import { Registry } from 'prom-client';
import { RateLimits } from '../../api/rate-limit';
import { loadConfig } from '../../lib/config';
import { closeDb, createDb } from '../../lib/db';
import { createLogger } from '../../lib/logger';
import { metricValue } from '../support/processes';

test('when the store is unreachable, then the in-memory fallback still limits, and the failure is logged and counted', async () => {
  const cfg = loadConfig({ RATE_LIMIT_CLIENT: '2', RATE_LIMIT_WINDOW_S: '60' });
  // A real failure: nothing listens on port 1.
  const db = createDb('postgresql://order_saga:order_saga@127.0.0.1:1/nowhere', { poolSize: 1, connectTimeoutMs: 500 });
  const lines: string[] = [];
  const registry = new Registry();
  const limits = new RateLimits(db, cfg, createLogger('rl-test', 'warn', { write: (l: string) => void lines.push(l) }), registry);
  try {
    const verdicts = [];
    for (let i = 0; i < 3; i++) verdicts.push((await limits.consume('client', 'key-1')).allowed);
    expect(verdicts).toEqual([true, true, false]);
    expect(metricValue(await registry.metrics(), 'rate_limiter_store_errors_total', { limit: 'client' })).toBe(3);
    expect(lines.some((l) => l.includes('rate-limit store failed'))).toBe(true);
  } finally {
    await closeDb(db);
  }
});
