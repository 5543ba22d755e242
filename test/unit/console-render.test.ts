import { h } from 'preact';
import { formatMoney } from '../../api/console/format';
import { renderPage } from '../../api/console/layout';
import { Orders } from '../../api/console/pages/orders';
import { FrontDoor } from '../../api/console/pages/overview';
import { render } from 'preact-render-to-string';
import { CONSOLE_CSP } from '../../api/console/session';

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
  expect(text({ maxInFlight: 20, inFlight: 4, refused: { in_flight: 0, temporal_exhausted: 0 }, closedUntil: null })).toBe(
    '4 of at most 20 sagas in flight; no order refused since start',
  );
  expect(text({ maxInFlight: 0, inFlight: 7, refused: { in_flight: 2, temporal_exhausted: 1 }, closedUntil: new Date(0) })).toBe(
    '7 sagas in flight, no bound; 3 refused since start with 503 (2 at the bound, 1 while Temporal was exhausted); closed until 1970-01-01 00:00:00 UTC (Temporal ResourceExhausted)',
  );
});
