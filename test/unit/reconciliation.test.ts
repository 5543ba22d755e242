import { ConfigError, loadConfig } from '../../lib/config';
import { CHECK_TABLE } from '../../services/reconciliation/checks';
import { CHECK_NAMES, type FindingView, type RunView } from '../../services/reconciliation/contract';
import { formatReport } from '../../services/reconciliation/report';
import { normalizeScope } from '../../services/reconciliation/runner';
import { searchAttributeAgrees } from '../../services/orders/search-attributes';

describe('the reconciliation contract', () => {
  test('every check is implemented once (docs/reconciliation.md describes them)', () => {
    expect(Object.keys(CHECK_TABLE).sort()).toEqual([...CHECK_NAMES].sort());
  });
});

describe('run scopes', () => {
  test('order ids are normalised to lower case and deduplicated; anything else is refused', () => {
    const id = '3F1C2E4A-0B6D-4C8E-9F00-1234567890AB';
    expect(normalizeScope({ orderIds: [id, id.toLowerCase()] })).toEqual({ orderIds: [id.toLowerCase()], accountIds: [], skus: [] });
    expect(() => normalizeScope({ orderIds: ['order-1'] })).toThrow('not order ids');
    expect(normalizeScope(null)).toBeNull();
  });
});

describe('reconciler settings', () => {
  test('by default the reconciler reads the app database as the read-only role, every minute', () => {
    const cfg = loadConfig({ DATABASE_URL: 'postgresql://app:secret@db.internal:5432/shop' });
    expect(cfg.reconciler.database).toMatchObject({ host: 'db.internal', port: 5432, database: 'shop', user: 'order_saga_reconciler' });
    expect(cfg.reconciler).toMatchObject({ intervalMs: 60_000, batchSize: 1000, graceMs: 30_000, floodCap: 100, fullPassEvery: 60 });
  });
  test.each([
    ['RECONCILE_INTERVAL_MS', '10'],
    ['RECONCILE_BATCH_SIZE', 'many'],
    ['RECONCILER_DATABASE_URL', 'mysql://x@y/z'],
  ])('when %s=%j, then a ConfigError names the variable', (variable, value) => {
    expect(() => loadConfig({ [variable]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [variable]: value })).toThrow(variable);
  });
});

describe('the report', () => {
  const run: RunView = {
    id: '12',
    trigger: 'CLI',
    mode: 'FULL',
    status: 'SUCCEEDED',
    scope: null,
    requestedAt: '2026-12-01T10:00:00.000Z',
    startedAt: '2026-12-01T10:00:00.000Z',
    finishedAt: '2026-12-01T10:00:01.420Z',
    durationMs: 1420,
    subjectsExamined: 1204,
    failing: 1,
    raised: 0,
    resolved: 0,
    openFindings: 1,
    summary: {
      checks: Object.fromEntries(
        CHECK_NAMES.map((c) => [
          c,
          { failing: 0, raised: 0, resolved: 0, open: c === 'order.payment_ledger' ? 1 : 0, suspects: 0, flooded: false, durationMs: 1 },
        ]),
      ) as never,
      needsAttention: { count: 1, orders: [{ orderId: 'o-1', failureReason: 'INSUFFICIENT_FUNDS', ageMs: 3 * 3600_000 + 12 * 60_000 }] },
    },
    error: null,
  };
  const finding: FindingView = {
    id: '1',
    check: 'order.payment_ledger',
    fingerprint: 'order:o-2',
    subjectType: 'order',
    subjectId: 'o-2',
    status: 'open',
    details: { reasons: ['no charge in the ledger', 'the payment is missing, not CAPTURED'] },
    firstSeenAt: '2026-12-01T09:00:00.000Z',
    lastSeenAt: '2026-12-01T10:00:00.000Z',
    raisedAt: '2026-12-01T09:01:00.000Z',
    resolvedAt: null,
    occurrences: 7,
  };

  test('shows the run, a row per check, each open finding with its reasons, and the orders waiting for an operator', () => {
    const text = formatReport(run, [finding], { open: 1, suspects: 0 });
    expect(text).toContain('reconciliation run #12  FULL  CLI  SUCCEEDED  1.42 s  1204 subjects examined');
    expect(text).toMatch(/^order\.payment_ledger\s+1\s+0\s+0\s+0$/m);
    expect(text).toContain('order:o-2');
    expect(text).toContain('seen in 7 run(s): no charge in the ledger; the payment is missing, not CAPTURED');
    expect(text).toContain('order:o-1  for 3 h 12 min  (INSUFFICIENT_FUNDS)');
  });

  test('says so when there is nothing open', () => {
    expect(formatReport({ ...run, summary: null }, [], { open: 0, suspects: 0 })).toContain('no open findings');
  });
});

describe('saga.search_attribute: when OrderStatus agrees with the database', () => {
  test('equal always agrees; PENDING agrees through the transient statuses, where the saga does not write it', () => {
    expect(searchAttributeAgrees('CONFIRMED', 'CONFIRMED')).toBe(true);
    expect(searchAttributeAgrees('INVENTORY_RESERVED', 'INVENTORY_RESERVED')).toBe(true);
    expect(searchAttributeAgrees('INVENTORY_RESERVED', 'PENDING')).toBe(true);
    expect(searchAttributeAgrees('PAYMENT_CAPTURED', 'PENDING')).toBe(true);
  });
  test('PENDING for a status where the saga rests or turns is stale, and any other difference is stale', () => {
    expect(searchAttributeAgrees('CONFIRMED', 'PENDING')).toBe(false);
    expect(searchAttributeAgrees('COMPENSATING', 'PENDING')).toBe(false);
    expect(searchAttributeAgrees('PAYMENT_CAPTURED', 'INVENTORY_RESERVED')).toBe(false);
    expect(searchAttributeAgrees('NEEDS_ATTENTION', null)).toBe(false);
  });
});
