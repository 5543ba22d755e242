/**
 * People sign in to the console with OIDC in a real browser (Debian's chromium through
 * playwright-core): "Sign in with <issuer>" on the console's sign-in page, the real
 * authorization server's login form (an oidc-provider of this file's own, seeded with a
 * console client for this file's API port), back to the console with a session holding the
 * person's roles. The operator compensates an order (and has no key management); the auditor
 * reads the audit log, where the compensation names the operator, and has no action buttons.
 * The real app: the API process's express app with the saga's workers, database, Temporal, Kafka.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { IdentityProvider } from '../../scripts/stack/identity';
import { CONSOLE_CLIENT_ID, CONSOLE_CLIENT_SECRET, consoleClientFor, IDENTITY_SEED } from '../../scripts/stack/identity-seed';
import { waitUntil } from '../../scripts/stack/proc';
import { listAudit } from '../../services/platform/audit-log/audit-log';
import { testConfig } from '../setup/test-config';
import { LIMITS_OFF, startApiEnv, type ApiEnv } from '../support/api-env';
import { createCustomer, createProduct, placeOrder, waitForStatus } from '../support/fixtures';
import { freePort } from '../support/processes';

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

let env: ApiEnv;
let idp: IdentityProvider;
let browser: Browser;
let dir: string;

beforeAll(async () => {
  const apiPort = await freePort();
  const apiBase = `http://127.0.0.1:${apiPort}`;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-oidc-'));
  idp = new IdentityProvider(testConfig(), {
    dir,
    port: await freePort(),
    seed: { ...IDENTITY_SEED, consoleClients: [consoleClientFor(apiBase)] },
  });
  await idp.start();
  [env, browser] = await Promise.all([
    startApiEnv({
      ...LIMITS_OFF,
      API_PORT: String(apiPort),
      IDENTITY_ISSUER: idp.issuer,
      IDENTITY_CONSOLE_CLIENT_ID: CONSOLE_CLIENT_ID,
      IDENTITY_CONSOLE_CLIENT_SECRET: CONSOLE_CLIENT_SECRET,
      IDENTITY_CONSOLE_REDIRECT_URI: `${apiBase}/console/auth/callback`,
    }),
    chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS }),
    waitUntil(() => idp.health(), { timeoutMs: 60_000, what: 'the console sign-in provider' }),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await env?.stop();
  await idp?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const password = (username: string) => IDENTITY_SEED.users.find((u) => u.username === username)!.password;

/** A browser of its own, signed in as `username` through the issuer's login form; lands on the console. */
async function signInAs(username: string): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ baseURL: env.baseUrl });
  const page = await ctx.newPage();
  await page.goto('/console/sign-in');
  await Promise.all([
    page.waitForURL(`${idp.issuer}/interaction/**`),
    page.getByRole('link', { name: `Sign in with ${idp.issuer}` }).click(),
  ]);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password(username));
  await page.getByRole('button', { name: 'Sign in' }).click();
  // The callback's page moves on to the console by itself (a same-site navigation: the session cookie is Strict).
  await page.waitForURL((u) => u.pathname === '/console', { timeout: 30_000 });
  await page.waitForLoadState();
  return { ctx, page };
}

async function confirmedOrder() {
  const sku = await createProduct(env.db, { stock: 5, priceMinor: 1250 });
  const customer = await createCustomer(env.db, { balanceMinor: 10_000 });
  const order = await placeOrder(env, customer, [{ sku, quantity: 2 }]);
  await waitForStatus(env.db, order.id, 'CONFIRMED');
  return order;
}

test('the operator signs in with OIDC, compensates an order, cannot manage keys, and the audit row names her', async () => {
  const order = await confirmedOrder();
  const { ctx, page } = await signInAs('olivia');
  expect(await page.locator('body').innerText()).toContain('Olivia Operator');
  expect(await page.getByRole('link', { name: 'API keys' }).count()).toBe(0);
  expect((await page.goto('/console/api-keys'))!.status()).toBe(403);

  await page.goto(`/console/orders/${order.id}`);
  await Promise.all([page.waitForURL('**/compensate'), page.getByRole('link', { name: /Compensate/ }).click()]);
  await page.getByLabel(/Reason/).fill('customer called, signed in as herself');
  await Promise.all([page.waitForEvent('framenavigated'), page.getByRole('button', { name: 'Yes, compensate' }).click()]);
  await page.waitForLoadState();
  expect(await page.getByRole('status').innerText()).toContain('accepted');
  await waitForStatus(env.db, order.id, 'COMPENSATED');

  const rows = await listAudit(env.db, { action: 'order.compensate', subject: order.id }, { limit: 5 });
  expect(rows.items.map((r) => ({ actor: r.actor, outcome: r.outcome, reason: r.reason }))).toEqual([
    {
      actor: { kind: 'person', id: 'olivia.operator', name: 'Olivia Operator' },
      outcome: 'done',
      reason: 'customer called, signed in as herself',
    },
  ]);
  const signIns = await listAudit(env.db, { action: 'console.sign_in', actor: 'olivia.operator' }, { limit: 5 });
  expect(signIns.items[0]).toMatchObject({ actor: { kind: 'person' }, outcome: 'done', detail: { roles: ['operator'] } });
  await ctx.close();
});

test('the auditor signs in with OIDC, reads the audit log (the operator named), and has no action buttons', async () => {
  const order = await confirmedOrder();
  const { ctx, page } = await signInAs('avery');
  await page.goto('/console/audit-log?action=order.compensate');
  const log = await page.locator('main').innerText();
  expect(log).toMatch(/Olivia Operator \(person\)\s+order\.compensate/);

  await page.goto(`/console/orders/${order.id}`);
  const main = page.locator('main');
  expect(await main.getByRole('link', { name: /Compensate|Resume|Replay|Run/ }).count()).toBe(0);
  expect(await main.getByRole('button').count()).toBe(0);
  expect((await page.goto(`/console/orders/${order.id}/compensate`))!.status()).toBe(403);
  const refused = await page.request.post(`/console/orders/${order.id}/compensate`, { form: { reason: 'auditors cannot' } });
  expect(refused.status()).toBe(403);
  await ctx.close();
});

test('a person without a console role is refused at the callback and gets no session', async () => {
  const ctx = await browser.newContext({ baseURL: env.baseUrl });
  const page = await ctx.newPage();
  await page.goto('/console/sign-in');
  await Promise.all([page.waitForURL(`${idp.issuer}/interaction/**`), page.getByRole('link', { name: /Sign in with/ }).click()]);
  await page.getByLabel('Username').fill('nora');
  await page.getByLabel('Password').fill(password('nora'));
  const [answer] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/console/auth/callback'),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]);
  expect(answer.status()).toBe(401);
  await page.waitForLoadState();
  expect(await page.getByRole('alert').innerText()).toContain('holds no console role');
  expect((await ctx.cookies()).map((c) => c.name)).not.toContain('console_session');
  await ctx.close();
});
