/**
 * A stack component counts as running only if the process in its pid file is alive and is
 * the component's own. CI once waited 180 s for a Prometheus that was not there: its stale pid
 * file held a number the kernel had given to another process.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ownedPid } from '../../scripts/stack/proc';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stack-pid-'));
const pidFile = path.join(dir, 'server.pid');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('a live pid whose command line names the component is ours', () => {
  fs.writeFileSync(pidFile, `${process.pid}\n`);
  const marker = fs.readFileSync(`/proc/${process.pid}/cmdline`, 'utf8').split('\0')[0]!;
  expect(ownedPid(pidFile, marker)).toBe(process.pid);
});

test('a live pid of another program (a reused number) is not', () => {
  fs.writeFileSync(pidFile, `${process.pid}\n`);
  expect(ownedPid(pidFile, path.join(dir, 'prometheus.yml'))).toBeUndefined();
});

test('a dead pid, a garbled file or no file is not', () => {
  fs.writeFileSync(pidFile, '999999999\n');
  expect(ownedPid(pidFile, 'x')).toBeUndefined();
  fs.writeFileSync(pidFile, 'not a pid\n');
  expect(ownedPid(pidFile, 'x')).toBeUndefined();
  expect(ownedPid(path.join(dir, 'missing.pid'), 'x')).toBeUndefined();
});
