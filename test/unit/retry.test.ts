import { backoffMs, sleep } from '../../lib/retry';

describe('backoffMs', () => {
  const policy = { baseMs: 100, maxMs: 1000 };

  test('doubles per attempt, with half of each delay random', () => {
    expect([1, 2, 3, 4].map((n) => backoffMs(n, policy, () => 0))).toEqual([50, 100, 200, 400]);
    expect([1, 2, 3, 4].map((n) => backoffMs(n, policy, () => 1))).toEqual([100, 200, 400, 800]);
  });

  test('never exceeds the cap, however many attempts', () => {
    expect(backoffMs(50, policy, () => 1)).toBe(1000);
    expect(backoffMs(50, policy, () => 0)).toBe(500);
  });

  test('spreads out consumers that failed together', () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffMs(3, policy)));
    expect(delays.size).toBeGreaterThan(10);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(200);
  });
});

describe('sleep', () => {
  test('returns at once when aborted', async () => {
    const abort = new AbortController();
    const started = Date.now();
    const slept = sleep(60_000, abort.signal);
    abort.abort();
    await slept;
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
