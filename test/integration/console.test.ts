/**
 * The operator console in a real browser (Debian's chromium through playwright-core) against
 * the real app: the express app of the API process with the saga's three workers in this
 * process, the real database, Temporal and Kafka. One app and one browser for the file.
 * Every page visited is scanned with axe-core (no serious or critical violation). With
 * CONSOLE_SCREENSHOTS=1 the pages are saved to docs/console/*.png (the README's tour).
 */
import fs from 'node:fs';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { repoRoot } from '../../lib/config';
import { listAudit } from '../../services/platform/audit-log/audit-log';
import { recordDeadLetter } from '../../services/platform/messaging/dead-letter';
import { LIMITS_OFF, startApiEnv, type ApiEnv } from '../support/api-env';
import { balance, createCustomer, createProduct, outboxOf, placeOrder, waitForStatus } from '../support/fixtures';
import { eventually } from '../support/wait';

const SHOTS = process.env.CONSOLE_SCREENSHOTS === '1' ? path.join(repoRoot, 'docs', 'console') : null;
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

let env: ApiEnv;
let browser: Browser;
/** Signed in as the test's admin key for the whole file. */
let admin: BrowserContext;
let page: Page;

beforeAll(async () => {
  [env, browser] = await Promise.all([
    startApiEnv({ ...LIMITS_OFF, SAGA_COMPENSATION_MAX_ATTEMPTS: '2' }),
    chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS }),
  ]);
  admin = await browser.newContext({ baseURL: env.baseUrl, viewport: { width: 1280, height: 900 } });
  page = await admin.newPage();
  await signIn(page, env.keys.admin.key);
});

afterAll(async () => {
  await browser?.close();
  await env?.stop();
});

afterEach(() => env.faults.clear());

/** Clicks a form's submit button and waits for the page it leads to. */
async function clickAndLoad(button: Locator): Promise<void> {
  await Promise.all([button.page().waitForEvent('framenavigated'), button.click()]);
  await button.page().waitForLoadState();
}

async function signIn(p: Page, key: string): Promise<number> {
  await p.goto('/console/sign-in');
  await p.getByLabel('API key').fill(key);
  const [answer] = await Promise.all([
    p.waitForResponse((r) => r.url().endsWith('/console/sign-in') && r.request().method() === 'POST'),
    p.getByRole('button', { name: 'Sign in' }).click(),
  ]);
  await p.waitForLoadState();
  return answer.status();
}

/** No serious or critical accessibility violation on the page as it stands; saves its screenshot when asked. */
async function check(p: Page, shot?: string): Promise<void> {
  const results = await new AxeBuilder({ page: p }).analyze();
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`)).toEqual([]);
  if (SHOTS && shot) {
    fs.mkdirSync(SHOTS, { recursive: true });
    await p.screenshot({ path: path.join(SHOTS, `${shot}.png`), fullPage: true });
  }
}

async function confirmedOrder(stock = 5, priceMinor = 1250, quantity = 2) {
  const sku = await createProduct(env.db, { stock, priceMinor });
  const customer = await createCustomer(env.db, { balanceMinor: 10_000 });
  const order = await placeOrder(env, customer, [{ sku, quantity }]);
  await waitForStatus(env.db, order.id, 'CONFIRMED');
  return { sku, customer, order };
}

/** The body of an order page once `text` shows in it (the page is reloaded until then). */
async function orderPageShowing(orderId: string, text: string | RegExp): Promise<string> {
  return eventually(
    async () => {
      await page.goto(`/console/orders/${orderId}`);
      const body = await page.locator('main').innerText();
      return (typeof text === 'string' ? body.includes(text) : text.test(body)) ? body : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 500, what: `the order page to show ${String(text)}` },
  );
}

test('when a client key signs in, it is refused and gets no session', async () => {
  const ctx = await browser.newContext({ baseURL: env.baseUrl });
  const p = await ctx.newPage();
  expect(await signIn(p, env.keys.clientA.key)).toBe(403);
  expect(await p.getByRole('alert').innerText()).toContain('may not sign in');
  expect((await ctx.cookies()).map((c) => c.name)).not.toContain('console_session');
  const refused = await listAudit(env.db, { action: 'console.sign_in', actor: env.keys.clientA.id }, { limit: 5 });
  expect(refused.items.map((r) => r.outcome)).toEqual(['refused']);
  await p.goto('/console');
  expect(new URL(p.url()).pathname).toBe('/console/sign-in');
  await check(p, 'sign-in');
  await ctx.close();
});

test('when an operator searches by customer, the order page shows its saga steps, ledger, stock and events, in its currency', async () => {
  const { customer, order, sku } = await confirmedOrder();
  await page.goto('/console/orders');
  await page.getByLabel('Customer').fill(customer);
  await Promise.all([page.waitForURL(/customer=/), page.getByRole('button', { name: 'Search' }).click()]);
  expect(await page.locator('tbody tr').count()).toBe(1);
  await check(page, 'orders');
  await Promise.all([page.waitForURL(`**/console/orders/${order.id}`), page.getByRole('link', { name: order.id }).click()]);

  const body = await page.locator('main').innerText();
  expect(body).toContain('CONFIRMED');
  expect(body).toMatch(/reserveInventory.*chargePayment.*commitInventory/s);
  expect(body).toContain('€25.00'); // 2 × 1250 minor units, in EUR
  expect(body).toMatch(/CHARGE\s+\S+\s+-€25\.00/);
  expect(body).toContain(sku);
  expect(body).toContain('COMMITTED');
  expect(body).toContain('OrderConfirmed');
  expect(body).toMatch(/open until \d{4}-\d\d-\d\d/);
  expect(await page.getByRole('link', { name: 'Workflow in the Temporal UI' }).getAttribute('href')).toContain(`order-${order.id}`);
  const list = await page.getByRole('link', { name: 'every saga in CONFIRMED in the Temporal UI' }).getAttribute('href');
  expect(new URL(list!).searchParams.get('query')).toBe('OrderStatus="CONFIRMED"');
  await check(page, 'order');
});

test('when an operator compensates a confirmed order with a reason, the refund shows on its page', async () => {
  const { customer, order } = await confirmedOrder();
  await page.goto(`/console/orders/${order.id}`);
  await Promise.all([page.waitForURL('**/compensate'), page.getByRole('link', { name: /Compensate/ }).click()]);
  await check(page, 'compensate-confirm');
  // The reason is required: the browser refuses the empty field, and so does the server.
  await page.getByLabel(/Reason/).fill('customer returned the parcel');
  await clickAndLoad(page.getByRole('button', { name: 'Yes, compensate' }));
  expect(await page.getByRole('status').innerText()).toContain('accepted');
  await check(page, 'compensate-result');

  await waitForStatus(env.db, order.id, 'COMPENSATED');
  const body = await orderPageShowing(order.id, 'REFUND');
  expect(body).toMatch(/REFUND\s+\S+\s+€25\.00/);
  expect(body).toContain('MANUAL_COMPENSATION');
  expect(body).not.toContain('Compensate (refund and restock)');
  // The audit row, written with the request, names the signed-in key and the reason.
  expect(body).toMatch(/test-admin \(api_key\)\s+order\.compensate\s+order \S+\s+customer returned the parcel\s+done/);
  expect(await balance(env.db, customer)).toBe(10_000);
});

test('when a saga is parked in NEEDS_ATTENTION, it is in the overview queue and resume completes it', async () => {
  const { order, customer } = await confirmedOrder(2, 600, 1);
  env.faults.add({ point: 'payment.refund.beforeCommit', action: 'fail', orderId: order.id });
  expect(
    (await env.call('POST', `/admin/orders/${order.id}/compensate`, { key: env.keys.admin.key, body: { reason: 'park it' } })).status,
  ).toBe(202);
  await waitForStatus(env.db, order.id, 'NEEDS_ATTENTION');
  env.faults.clear();

  await page.goto('/console');
  const queue = page.locator('table', { has: page.getByRole('link', { name: order.id }) });
  expect(await queue.locator('tr', { hasText: order.id }).innerText()).toContain(customer);
  await check(page, 'overview');
  await Promise.all([
    page.waitForURL('**/resume'),
    queue
      .locator('tr', { hasText: order.id })
      .getByRole('link', { name: /Resume/ })
      .click(),
  ]);
  await page.getByLabel(/Reason/).fill('refund provider is back');
  await clickAndLoad(page.getByRole('button', { name: 'Yes, resume' }));
  expect(await page.getByRole('status').innerText()).toContain('retries its compensation');

  await waitForStatus(env.db, order.id, 'COMPENSATED');
  await page.goto('/console');
  expect(await page.getByRole('link', { name: order.id }).count()).toBe(0);
});

test('when an operator replays a dead letter, it leaves the list of those waiting', async () => {
  const { order } = await confirmedOrder();
  const [event] = await outboxOf(env.db, order.id);
  const group = `${env.cfg.consumers.groupPrefix}console-test-${order.id.slice(0, 8)}`;
  const now = new Date();
  const value = Buffer.from(JSON.stringify({ eventId: event!.eventId, type: event!.type, payload: event!.payload }));
  await recordDeadLetter(
    env.db,
    env.cfg.kafka.dlqTopic,
    group,
    {
      topic: env.cfg.kafka.eventsTopic,
      partition: 0,
      message: {
        key: Buffer.from(order.id),
        value,
        timestamp: String(now.getTime()),
        attributes: 0,
        offset: String(Date.now()),
        headers: {},
      },
    },
    {
      error: { errorClass: 'TestPoison', message: 'the handler refused it', retryable: false, unavailable: false },
      attempts: 1,
      firstFailureAt: now,
      lastFailureAt: now,
    },
  );
  await page.goto('/console/dead-letters');
  const row = page.locator('tr', { hasText: group });
  expect(await row.count()).toBe(1);
  await check(page, 'dead-letters');
  await Promise.all([page.waitForURL('**/replay'), row.getByRole('link', { name: /Replay/ }).click()]);
  await clickAndLoad(page.getByRole('button', { name: 'Yes, replay' }));
  expect(await page.getByRole('status').innerText()).toContain('Sent back to');
  await page.goto('/console/dead-letters');
  expect(await page.locator('tr', { hasText: group }).count()).toBe(0);
  await page.goto('/console/dead-letters?all=1');
  expect(await page.locator('tr', { hasText: group }).innerText()).toContain('1×');
});

test('when a POST comes from another site or without the session’s CSRF token, it is refused and changes nothing', async () => {
  const { order } = await confirmedOrder();
  const cookie = (await admin.cookies()).find((c) => c.name === 'console_session')!;
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/console' });
  const csrf = await (async () => {
    await page.goto(`/console/orders/${order.id}/compensate`);
    return page.locator('input[name=_csrf]').first().inputValue();
  })();
  const post = (headers: Record<string, string>, form: Record<string, string>) =>
    fetch(`${env.baseUrl}/console/orders/${order.id}/compensate`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: `console_session=${cookie.value}`, 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    });
  const reason = 'forged';
  expect((await post({ origin: 'https://evil.example' }, { _csrf: csrf, reason })).status).toBe(403);
  expect((await post({ 'sec-fetch-site': 'cross-site' }, { _csrf: csrf, reason })).status).toBe(403);
  expect((await post({ origin: env.baseUrl }, { reason })).status).toBe(403);
  expect((await post({ origin: env.baseUrl }, { _csrf: 'x'.repeat(csrf.length), reason })).status).toBe(403);
  // Without the cookie, the token alone is nothing.
  const anonymous = await fetch(`${env.baseUrl}/console/orders/${order.id}/compensate`, {
    method: 'POST',
    headers: { origin: env.baseUrl, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, reason }).toString(),
  });
  expect(anonymous.status).toBe(401);
  expect((await env.db.order.findUniqueOrThrow({ where: { id: order.id } })).status).toBe('CONFIRMED');
});

test('pages carry a CSP without inline script and refuse framing; a revoked key or an idle session ends the session', async () => {
  const res = await page.goto('/console');
  const csp = res!.headers()['content-security-policy'] ?? '';
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain('unsafe-inline');

  // A second admin, signed in, then revoked: the next request goes to the sign-in form.
  const key = (
    await env.call('POST', '/admin/api-keys', {
      key: env.keys.admin.key,
      body: { name: 'console-revoked', role: 'admin' },
      headers: { 'idempotency-key': `k-${Date.now()}` },
    })
  ).body;
  const ctx = await browser.newContext({ baseURL: env.baseUrl });
  const p = await ctx.newPage();
  expect(await signIn(p, key.key)).toBe(303);
  expect(new URL(p.url()).pathname).toBe('/console');
  expect((await env.call('DELETE', `/admin/api-keys/${key.id}`, { key: env.keys.admin.key })).status).toBe(204);
  await p.goto('/console/orders');
  expect(new URL(p.url()).pathname).toBe('/console/sign-in');
  await ctx.close();

  // Idle past CONSOLE_SESSION_IDLE_MS (its last request moved back in time): over.
  const idle = await browser.newContext({ baseURL: env.baseUrl });
  const q = await idle.newPage();
  await signIn(q, env.keys.admin.key);
  const token = (await idle.cookies()).find((c) => c.name === 'console_session')!.value;
  const id = (await import('node:crypto')).createHash('sha256').update(token).digest('hex');
  await env.db.$executeRawUnsafe(`UPDATE console_sessions SET last_seen_at = now() - interval '1 day' WHERE id = $1`, id);
  await q.goto('/console');
  expect(new URL(q.url()).pathname).toBe('/console/sign-in');
  await idle.close();
});

test('sign-in and sign-out are in the audit log, which the console lists and filters', async () => {
  const ctx = await browser.newContext({ baseURL: env.baseUrl });
  const p = await ctx.newPage();
  expect(await signIn(p, env.keys.admin.key)).toBe(303);
  await clickAndLoad(p.getByRole('button', { name: 'Sign out' }));
  expect(new URL(p.url()).pathname).toBe('/console/sign-in');
  await p.goto('/console');
  expect(new URL(p.url()).pathname).toBe('/console/sign-in');
  await ctx.close();
  const rows = await listAudit(env.db, { actor: env.keys.admin.id }, { limit: 50 });
  const actions = rows.items.map((r) => `${r.action} ${r.outcome}`);
  expect(actions.slice(0, 2)).toEqual(['console.sign_out done', 'console.sign_in done']);

  await page.goto(`/console/audit-log?action=console.sign_out&actor=${env.keys.admin.id}`);
  expect(await page.locator('tbody tr').count()).toBeGreaterThanOrEqual(1);
  expect(await page.locator('tbody tr').first().innerText()).toContain('console.sign_out');
  await page.goto('/console/audit-log');
  await check(page, 'audit-log');
});

test('findings, API keys (the secret shown once), /, and the API reference render and pass the scan', async () => {
  await page.goto('/console/findings?status=all');
  await check(page, 'findings');
  await page.goto('/console/api-keys');
  await page.getByLabel('Name').fill(`console-made-${Date.now()}`);
  await page.getByLabel(/Granted customers/).fill('alice, bob');
  await clickAndLoad(page.getByRole('button', { name: 'Create key' }));
  const secret = await page.locator('code.secret').innerText();
  expect(secret).toMatch(/^osk_[0-9a-f]{32}_/);
  await check(page, 'api-keys');
  await page.goto('/console/api-keys');
  expect(await page.locator('code.secret').count()).toBe(0);

  await page.goto('/');
  expect(await page.getByRole('link', { name: 'Operator console' }).getAttribute('href')).toBe('/console');
  await check(page);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/docs');
  await page.locator('.swagger-ui .info .title').waitFor({ timeout: 20_000 });
  expect(await page.locator('.swagger-ui .info .title').innerText()).toMatch(/order-saga/i);
  await page.locator('.opblock').first().waitFor();
  if (SHOTS) await page.screenshot({ path: path.join(SHOTS, 'api-reference.png') });
  expect(errors).toEqual([]);
});
