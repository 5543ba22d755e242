import { h } from 'preact';
import { formatMoney } from '../../api/console/format';
import { renderPage } from '../../api/console/layout';
import { Orders } from '../../api/console/pages/orders';
import { FrontDoor, Overview, type OverviewData } from '../../api/console/pages/overview';
import { render } from 'preact-render-to-string';
import { CONSOLE_CSP } from '../../api/console/session';
import { ORDER_STATUSES } from '../../services/orders/contract';
import { SEARCHED_STATUSES, temporalUiLinks } from '../../api/console/temporal-ui';

test('amounts in integer minor units are written exactly in their currency', () => {
  expect(formatMoney(2500, 'EUR')).toBe('€25.00');
  expect(formatMoney(-2500, 'EUR')).toBe('-€25.00');
  expect(formatMoney(5, 'EUR')).toBe('€0.05');
  expect(formatMoney(1200, 'JPY')).toBe('¥1,200');
  expect(formatMoney(1234567, 'KWD').replace(/\s/g, ' ')).toBe('KWD 1,234.567'); // Intl puts a no-break space after the code
  expect(formatMoney(123456789012345678n, 'USD')).toBe('$1,234,567,890,123,456.78');
});

test('every value reaches the page escaped; the page has no inline script or style', () => {
  const evil = '<script>alert(1)</script>"><img src=x onerror=alert(2)>';
  const item = {
    orderId: evil,
    customerId: evil,
    status: 'PENDING' as const,
    failureReason: evil,
    currency: 'EUR',
    totalMinor: 1,
    createdAt: new Date(0).toISOString(),
    updatedAt: new Date(0).toISOString(),
  };
  const html = renderPage({
    title: evil,
    viewer: { name: evil, apiKeyId: 'k', csrf: evil, may: () => true },
    children: h(Orders, { query: { id: evil, customer: evil, status: '', from: '', to: '' }, items: [item], nextHref: null, error: evil }),
  });
  expect(html).not.toContain('<script');
  expect(html).not.toContain('<img');
  expect(html).toContain('&lt;script>');
  expect(html).not.toMatch(/\sstyle=/);
  expect(html).not.toMatch(/\son[a-z]+=["']/);
  expect(CONSOLE_CSP).not.toContain('unsafe-inline');
  expect(CONSOLE_CSP).toContain("frame-ancestors 'none'");
});

test("the overview's front door line says the bound, what is in flight and what was refused, and when Temporal shut it", () => {
  const text = (door: Parameters<typeof FrontDoor>[0]['door']) => render(h(FrontDoor, { door })).replace(/<[^>]+>/g, '');
  expect(text({ maxInFlight: 20, adaptive: null, inFlight: 4, refused: { in_flight: 0, temporal_exhausted: 0 }, closedUntil: null })).toBe(
    '4 of at most 20 sagas in flight; no order refused since start',
  );
  const adaptive = { throughputPerS: 15.04, targetMs: 3000, floor: 20, cap: 200 };
  expect(text({ maxInFlight: 46, adaptive, inFlight: 30, refused: { in_flight: 0, temporal_exhausted: 0 }, closedUntil: null })).toBe(
    '30 of at most 46 sagas in flight (adaptive: 15.0 sagas/s measured x 3 s, within 20..200); no order refused since start',
  );
  expect(
    text({
      maxInFlight: 20,
      adaptive: { ...adaptive, throughputPerS: null },
      inFlight: 0,
      refused: { in_flight: 0, temporal_exhausted: 0 },
      closedUntil: null,
    }),
  ).toBe('0 of at most 20 sagas in flight (adaptive: no throughput measured yet, within 20..200); no order refused since start');
  expect(
    text({ maxInFlight: 0, adaptive: null, inFlight: 7, refused: { in_flight: 2, temporal_exhausted: 1 }, closedUntil: new Date(0) }),
  ).toBe(
    '7 sagas in flight, no bound; 3 refused since start with 503 (2 at the bound, 1 while Temporal was exhausted); closed until 1970-01-01 00:00:00 UTC (Temporal ResourceExhausted)',
  );
});

test("the Temporal UI's workflow list is linked per OrderStatus the search attribute takes, filtered by its query parameter", () => {
  const ui = temporalUiLinks('http://127.0.0.1:8233', 'orders ns');
  expect(ui.withStatus('CONFIRMED')).toBe('http://127.0.0.1:8233/namespaces/orders%20ns/workflows?query=OrderStatus%3D%22CONFIRMED%22');
  // Through the transient statuses the attribute stays PENDING.
  expect(ui.withStatus('PAYMENT_CAPTURED')).toBe(ui.withStatus('PENDING'));
  expect(ui.workflow('order-1')).toBe('http://127.0.0.1:8233/namespaces/orders%20ns/workflows/order-1');
  expect(SEARCHED_STATUSES).not.toContain('INVENTORY_RESERVED');

  const counts = Object.fromEntries(ORDER_STATUSES.map((s) => [s, 0])) as OverviewData['counts'];
  const data: OverviewData = {
    counts,
    needsAttention: [],
    oldestInFlight: null,
    openFindings: 0,
    pendingDeadLetters: 0,
    relay: { pending: 0, oldestAgeSeconds: 0 },
    lag: { groups: [] } as unknown as OverviewData['lag'],
    admission: { maxInFlight: 20, adaptive: null, inFlight: 0, refused: { in_flight: 0, temporal_exhausted: 0 }, closedUntil: null },
    temporalLists: Object.fromEntries(SEARCHED_STATUSES.map((s) => [s, ui.withStatus(s)])),
  };
  const html = renderPage({
    title: 'Overview',
    viewer: { name: 'n', apiKeyId: 'k', csrf: 'c', may: () => true },
    children: h(Overview, { data, viewer: { name: 'n', apiKeyId: 'k', csrf: 'c', may: () => true } }),
  });
  for (const s of SEARCHED_STATUSES) expect(html).toContain(`href="${ui.withStatus(s).replace(/&/g, '&amp;')}"`);
});
