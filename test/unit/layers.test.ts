/**
 * The layer rules of .dependency-cruiser.cjs hold for the code, and can fail: over a small
 * fixture tree with an import cycle and a services -> activities import, they report both.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const DEPCRUISE = path.join(ROOT, 'node_modules/.bin/depcruise');

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

test('the code keeps every layer rule: no cycle, no upward import', () => {
  expect(violations(ROOT, ['lib', 'services', 'activities', 'api', 'app', 'workflows', 'scripts', 'test'])).toEqual([]);
}, 60_000);

test('an import cycle and a services -> activities import are reported', () => {
  const found = violations(path.join(__dirname, '../fixtures/layers'), ['lib', 'services', 'activities']);
  expect(found).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^no-circular: lib\/(a|b)\.ts -> lib\/(a|b)\.ts$/),
      'services-know-no-adapters: services/orders/uses-activity.ts -> activities/adapter.ts',
    ]),
  );
}, 60_000);
