/**
 * The layer rules of .dependency-cruiser.cjs can fail (that they hold for the code is
 * `npm run lint:deps`, a step of `npm test` before jest, not repeated here): over a small
 * fixture tree (test/fixtures/layers) with an import cycle, a services -> activities import, a
 * context reaching into another's insides and the platform importing a context, they report
 * each. The access rule of eslint.config.mjs (no Prisma writes outside tests) fails on its
 * fixture (test/fixtures/lint), line by line, and leaves reads alone.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const DEPCRUISE = path.join(ROOT, 'node_modules/.bin/depcruise');
const ESLINT = path.join(ROOT, 'node_modules/.bin/eslint');

function violations(cwd: string, dirs: string[]): string[] {
  const r = spawnSync(DEPCRUISE, ['--config', path.join(ROOT, '.dependency-cruiser.cjs'), '--output-type', 'json', ...dirs], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (!r.stdout) throw new Error(`depcruise printed nothing: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { summary: { violations: { rule: { name: string }; from: string; to: string }[] } };
  return out.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();
}

let fixtureFound: string[] | undefined;
/** The fixture tree's violations: one depcruise run for the tests below. */
function fixtureViolations(): string[] {
  fixtureFound ??= violations(path.join(__dirname, '../fixtures/layers'), ['lib', 'services', 'activities']);
  return fixtureFound;
}

test('an import cycle and a services -> activities import are reported', () => {
  const found = fixtureViolations();
  expect(found).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^no-circular: lib\/(a|b)\.ts -> lib\/(a|b)\.ts$/),
      'services-know-no-adapters: services/orders/uses-activity.ts -> activities/adapter.ts',
    ]),
  );
}, 60_000);

test("a context importing another context's insides, and the platform importing a context, are reported; a contract import is not", () => {
  const found = fixtureViolations();
  expect(found).toEqual(
    expect.arrayContaining([
      'contexts-meet-at-contracts: services/payments/peeks-into-orders.ts -> services/orders/internal.ts',
      'platform-knows-no-context: services/platform/outbox/knows-orders.ts -> services/orders/contract.ts',
    ]),
  );
  expect(found).not.toContain('contexts-meet-at-contracts: services/payments/peeks-into-orders.ts -> services/orders/contract.ts');
}, 60_000);

test('a Prisma write outside tests fails eslint, each kind on its line; reads and a Map delete do not', () => {
  // The CLI, as `npm run lint` runs it (jest's module sandbox cannot load the flat config itself).
  const r = spawnSync(ESLINT, ['--no-ignore', '--format', 'json', 'test/fixtures/lint/prisma-write.ts'], { cwd: ROOT, encoding: 'utf8' });
  if (!r.stdout) throw new Error(`eslint printed nothing: ${r.stderr}`);
  const [result] = JSON.parse(r.stdout) as { messages: { ruleId: string; line: number; message: string }[] }[];
  const found = result!.messages.map((m) => `${m.ruleId}:${m.line}:${/`([^`]+)`/.exec(m.message)?.[1]}`);
  expect(found).toEqual([
    'access/no-prisma-writes:5:deleteMany',
    'access/no-prisma-writes:6:update',
    'access/no-prisma-writes:7:$executeRaw',
  ]);
}, 120_000);
