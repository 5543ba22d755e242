import { classifyAnswer, crossing, latencySummary, sweepRates } from '../../scripts/bench/load';

describe('classifyAnswer', () => {
  test.each([
    [202, null, 'accepted'],
    [429, '3', 'rateLimited'],
    [503, '1', 'unavailableRetryAfter'],
    [503, null, 'unavailableNoRetryAfter'],
    [500, null, 'serverError'],
    [502, '1', 'serverError'],
    [422, null, 'otherClientError'],
    [200, null, 'otherClientError'],
    [undefined, null, 'networkError'],
  ] as const)('status %p with Retry-After %p is %p', (status, retryAfter, expected) => {
    expect(classifyAnswer(status, retryAfter)).toBe(expected);
  });
});

describe('sweepRates', () => {
  test('when capacity is high, then at most `steps` rates reach the ceiling in whole steps', () => {
    expect(sweepRates(2, 12, 5)).toEqual([2, 5, 8, 11, 14]);
  });

  test('when the ceiling is close, then steps are 1/s apart and stop past it', () => {
    expect(sweepRates(2, 4, 5)).toEqual([2, 3, 4]);
  });

  test('when the ceiling is below the start, then only the start', () => {
    expect(sweepRates(2, 1, 5)).toEqual([2]);
  });
});

describe('crossing', () => {
  test('when p99 goes over the limit, then the last rate under and the first over', () => {
    const points = [
      { rate: 2, p99: 300 },
      { rate: 4, p99: 800 },
      { rate: 6, p99: 2500 },
    ];
    expect(crossing(points, 1000)).toEqual({ under: points[1], over: points[2] });
  });

  test('when the first rate is already over, then none under', () => {
    expect(crossing([{ rate: 2, p99: 1200 }], 1000)).toEqual({ under: undefined, over: { rate: 2, p99: 1200 } });
  });

  test('when no rate is over, then the highest rate is under and none over', () => {
    expect(crossing([{ rate: 2, p99: 10 }], 1000)).toEqual({ under: { rate: 2, p99: 10 } });
  });

  test('when a phase confirmed nothing (p99 NaN), then it counts as over', () => {
    expect(crossing([{ rate: 2, p99: NaN }], 1000).over?.rate).toBe(2);
  });
});

describe('latencySummary', () => {
  test('when 100 samples, then nearest-rank percentiles', () => {
    const ms = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(latencySummary(ms)).toEqual({ n: 100, p50: 50, p95: 95, p99: 99, max: 100 });
  });
});
