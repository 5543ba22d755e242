/**
 * When the rate limiter's shared store (PostgreSQL) fails, limits fall back to this
 * instance's memory: still enforced, logged and counted, never an error to the caller. A
 * flood of failed authentications stays cheap: past the limit it is refused from memory, and
 * a key that cannot be one is refused before the database.
 */
import crypto from 'node:crypto';
import { Registry } from 'prom-client';
import { RateLimits } from '../../api/rate-limit';
import { loadConfig } from '../../lib/config';
import { closeDb, createDb } from '../../lib/db';
import { createLogger } from '../../lib/logger';
import { authenticate } from '../../services/access/api-keys';
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

const nowhere = () => createDb('postgresql://order_saga:order_saga@127.0.0.1:1/nowhere', { poolSize: 1, connectTimeoutMs: 500 });

test('once an address is past its failure limit, this instance refuses it from memory: no store round trip per request', async () => {
  const cfg = loadConfig({
    ...process.env,
    RATE_LIMIT_AUTH_FAILURES: '2',
    RATE_LIMIT_KEY_PREFIX: `test-${crypto.randomUUID().slice(0, 8)}`,
  });
  const db = createDb(cfg.database.url, { poolSize: 1 });
  const registry = new Registry();
  const limits = new RateLimits(db, cfg, createLogger('rl-test', 'silent'), registry);
  const verdicts = [];
  for (let i = 0; i < 3; i++) verdicts.push((await limits.consume('auth-failures', '203.0.113.1')).allowed);
  expect(verdicts).toEqual([true, true, false]);
  await closeDb(db); // from here on, any store round trip would fail (and be counted)
  const later = await limits.consume('auth-failures', '203.0.113.1');
  expect({ allowed: later.allowed, waits: later.resetS > 0 }).toEqual({ allowed: false, waits: true });
  expect(metricValue(await registry.metrics(), 'rate_limiter_store_errors_total')).toBe(0);
});

test('a key that is neither osk_... nor as long as ADMIN_API_KEY must be is refused without a database lookup', async () => {
  const db = nowhere();
  try {
    await expect(authenticate(db, 'x'.repeat(31))).resolves.toBeNull();
    await expect(authenticate(db, 'Basic-looking-but-short')).resolves.toBeNull();
    // A key that could be valid does go to the database (here: unreachable), so the above is no accident.
    await expect(authenticate(db, 'x'.repeat(32))).rejects.toThrow();
  } finally {
    await closeDb(db);
  }
});
