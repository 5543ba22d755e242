import { h } from 'preact';
import { formatMoney } from '../../api/console/format';
import { renderPage } from '../../api/console/layout';
import { Orders } from '../../api/console/pages/orders';
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
