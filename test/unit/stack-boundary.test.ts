/**
 * No app code imports the local stack: the rule `app-code-never-imports-the-local-stack` of
 * .dependency-cruiser.cjs (run over the code by `npm run lint:deps` and layers.test.ts) can
 * fail: over the fixture tree, an app -> scripts/stack import is reported.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

test('an app module importing scripts/stack/ fails the dependency rules', () => {
  const r = spawnSync(
    path.join(ROOT, 'node_modules/.bin/depcruise'),
    ['--config', path.join(ROOT, '.dependency-cruiser.cjs'), 'app', 'scripts'],
    {
      cwd: path.join(__dirname, '../fixtures/layers'),
      encoding: 'utf8',
    },
  );
  expect({ status: r.status, stdout: r.stdout }).toEqual({
    status: 1,
    stdout: expect.stringContaining('app-code-never-imports-the-local-stack: app/uses-stack.ts → scripts/stack/config.ts'),
  });
}, 60_000);
