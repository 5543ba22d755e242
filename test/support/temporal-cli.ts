/** The pinned temporal CLI the stack built, against the configured server: what an operator runs. */
import { spawnSync } from 'node:child_process';
import type { Config } from '../../lib/config';
import { loadStackConfig } from '../../scripts/stack/config';
import { run } from '../../scripts/stack/proc';
import { cliEnv, goToolPath } from '../../scripts/stack/temporal';

/** Runs `temporal ARGS`; its stdout, or an error with its output if it exits non-zero. */
export function temporalCli(cfg: Config, args: string[]): string {
  const r = spawnSync(goToolPath(loadStackConfig(), 'temporal'), args, { env: cliEnv(cfg), encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`temporal ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/**
 * The same without blocking the event loop: needed for a query or an update, which this
 * process's own workers must answer while the CLI waits.
 */
export async function temporalCliAsync(cfg: Config, args: string[]): Promise<string> {
  const { stdout } = await run(goToolPath(loadStackConfig(), 'temporal'), args, { env: cliEnv(cfg), timeout: 30_000 });
  return stdout;
}
