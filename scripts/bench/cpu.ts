/**
 * CPU time by process, read from /proc (Linux): where a benchmark phase's CPU went. Groups of
 * processes are found by name, so PostgreSQL's backends (one process per connection, coming
 * and going) are counted together.
 */
import fs from 'node:fs';

const CLOCK_TICKS = 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s

interface ProcStat {
  comm: string;
  cpuSeconds: number;
}

function stat(pid: number): ProcStat | undefined {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = raw.lastIndexOf(')');
    const fields = raw.slice(close + 2).split(' ');
    return { comm: raw.slice(raw.indexOf('(') + 1, close), cpuSeconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS };
  } catch {
    return undefined; // gone
  }
}

function cmdline(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/** A named group of processes: by exact pids, or every process whose name (comm) matches. */
export interface ProcessGroup {
  name: string;
  pids?: number[];
  comm?: string;
}

function pidsOf(group: ProcessGroup): number[] {
  if (group.pids) return group.pids;
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => stat(pid)?.comm === group.comm);
}

/** CPU seconds so far of every process in each group, per pid. */
export type CpuSnapshot = Map<string, Map<number, number>>;

export function cpuSnapshot(groups: ProcessGroup[]): CpuSnapshot {
  return new Map(
    groups.map((g) => [g.name, new Map(pidsOf(g).flatMap((pid) => (stat(pid) ? [[pid, stat(pid)!.cpuSeconds] as const] : [])))]),
  );
}

/**
 * CPU seconds each group used between two snapshots. A process that started in between
 * counts whole; one that ended in between is lost (its last share is not readable).
 */
export function cpuBetween(before: CpuSnapshot, after: CpuSnapshot): Map<string, number> {
  return new Map(
    [...after].map(([name, pids]) => {
      let total = 0;
      for (const [pid, seconds] of pids) total += seconds - (before.get(name)?.get(pid) ?? 0);
      return [name, total];
    }),
  );
}

/** The dev server listening on the given frontend port (`temporal server start-dev --port N`), if it runs here. */
export function devServerPid(port: number): number | undefined {
  return pidsOf({ name: 'temporal', comm: 'temporal' }).find((pid) => {
    const args = cmdline(pid);
    const i = args.indexOf('--port');
    return args.includes('start-dev') && args[i + 1] === String(port);
  });
}
