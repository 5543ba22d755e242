/**
 * The static checks `npm test` runs before jest (`npm run checks`): typecheck, lint, lint:deps
 * and format:check, two at a time (the machine has two cores; each check is one busy process),
 * longest first. Each check's output is printed when it ends; the exit code is 1 if any failed.
 */
import { spawn } from 'node:child_process';

const CHECKS = ['lint', 'typecheck', 'format:check', 'lint:deps'];
const PARALLEL = 2;

interface Outcome {
  name: string;
  code: number | null;
  seconds: number;
  output: string;
}

function runCheck(name: string): Promise<Outcome> {
  const started = Date.now();
  const child = spawn('npm', ['run', '-s', name], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((resolve) => {
    child.on('close', (code) => resolve({ name, code, seconds: (Date.now() - started) / 1000, output }));
  });
}

async function main(): Promise<void> {
  const queue = [...CHECKS];
  const outcomes: Outcome[] = [];
  const lane = async () => {
    for (let name = queue.shift(); name; name = queue.shift()) {
      const o = await runCheck(name);
      outcomes.push(o);
      const verdict = o.code === 0 ? 'ok' : `FAILED (exit ${o.code})`;
      process.stdout.write(`[checks] ${o.name}: ${verdict} in ${o.seconds.toFixed(1)} s\n`);
      if (o.code !== 0 || o.output.trim()) process.stdout.write(o.output.endsWith('\n') ? o.output : `${o.output}\n`);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, lane));
  process.exitCode = outcomes.every((o) => o.code === 0) ? 0 : 1;
}

void main();
