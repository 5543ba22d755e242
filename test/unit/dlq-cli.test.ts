/**
 * `npm run dlq` as a newcomer meets it: `--help` is an answer (usage, exit 0), not a usage
 * error; a command it does not know is one (exit 2). Neither needs a database.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

function dlq(args: string[]) {
  return spawnSync(path.join(ROOT, 'node_modules/.bin/tsx'), ['scripts/dlq.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
}

test('`npm run dlq -- --help` prints the usage and exits 0', () => {
  const r = dlq(['--help']);
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  expect(r.stdout).toMatch(/^usage: npm run dlq -- <command>/);
  for (const command of ['list', 'show <id>', 'replay <id>']) expect(r.stdout).toContain(command);
});

test('an unknown command is a usage error: the usage on stderr, exit 2', () => {
  const r = dlq(['explode']);
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/^usage:/);
});
