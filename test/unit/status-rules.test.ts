/**
 * What each order status allows of its reservation and payment is declared once (STATUS_ALLOWS,
 * services/orders/contract.ts); the guard trigger's migration, the reconciler's SQL and the docs
 * are built from it. These fail when one of the generated files was not regenerated.
 */
import fs from 'node:fs';
import path from 'node:path';
import { guardMigration } from '../../scripts/status-rules';
import { ORDER_STATUSES, STATUS_ALLOWS } from '../../services/orders/contract';
import { statusRulesMarkdown } from '../../services/orders/status-rules';
import { ORDER_PAYMENT_LEDGER_SQL } from '../../services/reconciliation/checks/orders';
import { RESERVATION_STATUS_SQL } from '../../services/reconciliation/checks/inventory';

const ROOT = path.resolve(__dirname, '../..');
const MIGRATIONS = path.join(ROOT, 'prisma', 'migrations');

/** The migrations that (re)define the guard trigger's function, oldest first. */
function guardMigrations(): string[] {
  return fs
    .readdirSync(MIGRATIONS)
    .filter((d) => fs.existsSync(path.join(MIGRATIONS, d, 'migration.sql')))
    .sort()
    .filter((d) => /FUNCTION "orders_guard_compensation"\(\)/.test(fs.readFileSync(path.join(MIGRATIONS, d, 'migration.sql'), 'utf8')));
}

describe('order status rules, declared once', () => {
  test('the newest migration of the guard trigger is what STATUS_ALLOWS generates (npx tsx scripts/status-rules.ts <migration>)', () => {
    const newest = guardMigrations().at(-1)!;
    expect(fs.readFileSync(path.join(MIGRATIONS, newest, 'migration.sql'), 'utf8')).toBe(guardMigration());
  });

  test('docs/order-status-rules.md is what STATUS_ALLOWS generates (npx tsx scripts/status-rules.ts)', () => {
    expect(fs.readFileSync(path.join(ROOT, 'docs', 'order-status-rules.md'), 'utf8')).toBe(statusRulesMarkdown());
  });

  test.each(ORDER_STATUSES)("the reconciler's checks allow of a %s order what the declaration does", (status) => {
    // The check's `allowed` list: the VALUES right after `WITH allowed(...) AS (`.
    const values = (sql: string) => /WITH allowed\([a-z, ]+\) AS \(\s*(VALUES [^\n]*)/.exec(sql)?.[1] ?? '';
    const rows = (sql: string) => [...values(sql).matchAll(new RegExp(`\\('${status}', (NULL|'[A-Z_*]+')\\)`, 'g'))].map((m) => m[1]);
    const expected = (allowed: readonly (string | null)[] | '*') =>
      (allowed === '*' ? ['*'] : allowed).map((s) => (s === null ? 'NULL' : `'${s}'`));
    expect(rows(RESERVATION_STATUS_SQL)).toEqual(expected(STATUS_ALLOWS[status].reservation));
    expect(rows(ORDER_PAYMENT_LEDGER_SQL)).toEqual(expected(STATUS_ALLOWS[status].payment));
  });
});
