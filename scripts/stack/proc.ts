/** Process plumbing for the local stack: commands, daemons, pid files, polling, log tails. */
import { spawn, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly result: RunResult,
  ) {
    super(`\`${command}\` exited with ${result.code}\n${lastLines(result.stderr || result.stdout, 30)}`);
    this.name = 'CommandError';
  }
}

/** Runs a command to completion, capturing its output. Throws CommandError unless allowFailure. */
export function run(cmd: string, args: string[], opts: SpawnOptions & { allowFailure?: boolean; echo?: boolean } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (opts.echo) process.stdout.write(d);
    });
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (opts.echo) process.stderr.write(d);
    });
    child.on('error', (err) => reject(new Error(`cannot run ${cmd}: ${err.message}`)));
    child.on('close', (code) => {
      const result = { code: code ?? 1, stdout, stderr };
      if (result.code !== 0 && !opts.allowFailure) reject(new CommandError([cmd, ...args].join(' '), result));
      else resolve(result);
    });
  });
}

/** True when `cmd` is found on PATH. */
export async function onPath(cmd: string): Promise<boolean> {
  const r = await run('sh', ['-c', `command -v ${cmd}`], { allowFailure: true });
  return r.code === 0;
}

export const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/** Installs Debian packages when running as root; otherwise explains what to install. */
export async function aptInstall(packages: string[], why: string): Promise<void> {
  if (!isRoot()) {
    throw new Error(`${why}: install the Debian packages ${packages.join(' ')} (needs root), then retry`);
  }
  log(`installing ${packages.join(' ')} from Debian (${why})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update', '-qq'], { env });
  await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { env });
}

/**
 * Starts a long-running process detached from this one, output appended to logFile, pid
 * written to pidFile. The process outlives the caller (that is the point of `stack up`).
 */
export function spawnDaemon(
  cmd: string,
  args: string[],
  opts: { logFile: string; pidFile: string; cwd?: string; env?: NodeJS.ProcessEnv },
): number {
  fs.mkdirSync(path.dirname(opts.logFile), { recursive: true });
  const out = fs.openSync(opts.logFile, 'a');
  fs.writeSync(out, `\n--- ${new Date().toISOString()} starting: ${cmd} ${args.join(' ')}\n`);
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  if (child.pid === undefined) throw new Error(`failed to start ${cmd}`);
  child.unref();
  fs.writeFileSync(opts.pidFile, `${child.pid}\n`);
  return child.pid;
}

export function readPid(pidFile: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim().split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The pid in `pidFile` if that process is alive AND is ours: its command line names `marker`
 * (the component's own directory or config file). A stale pid file whose number the kernel has
 * since given to another process must not count as a running server.
 */
export function ownedPid(pidFile: string, marker: string): number | undefined {
  const pid = readPid(pidFile);
  if (!isAlive(pid)) return undefined;
  return commandLine(pid!)?.includes(marker) ? pid : undefined;
}

/** The command line of a live process, its arguments joined by spaces; undefined when it is gone. */
export function commandLine(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return undefined;
  }
}

/** True when nothing listens on host:port (this process could bind it). */
export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped) still answers kill(0); treat it as dead.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.split(') ')[1]?.[0] !== 'Z';
  } catch {
    return true;
  }
}

/** SIGTERM, wait up to timeoutMs for the process to exit, then SIGKILL. */
export async function stopPid(pid: number | undefined, timeoutMs = 20_000): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid!, 'SIGTERM');
  } catch {
    return;
  }
  try {
    await waitUntil(async () => !isAlive(pid), { timeoutMs, what: `pid ${pid} to exit` });
  } catch {
    process.kill(pid!, 'SIGKILL');
    await waitUntil(async () => !isAlive(pid), { timeoutMs: 5_000, what: `pid ${pid} to die` });
  }
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitUntil<T>(
  check: () => Promise<T | undefined | null | false>,
  opts: { timeoutMs: number; intervalMs?: number; what: string; abort?: () => string | undefined },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    const aborted = opts.abort?.();
    if (aborted) throw new Error(`gave up waiting for ${opts.what}: ${aborted}`);
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}${cause}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
  }
}

export function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

export function tail(file: string, n = 40): string {
  try {
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, 'r');
    const len = Math.min(size, 256 * 1024);
    const buf = Buffer.alloc(len);
    fs.readSync(fd, buf, 0, len, size - len);
    fs.closeSync(fd);
    return lastLines(buf.toString('utf8'), n);
  } catch {
    return `(no log at ${file})`;
  }
}

export function log(message: string): void {
  process.stderr.write(`[stack] ${message}\n`);
}
