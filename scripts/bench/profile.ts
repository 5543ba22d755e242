/**
 * Where one benchmark phase's CPU went, inside each process (`npm run bench -- --profile DIR`):
 *
 * - this process's JavaScript (API, workers' activities and workflow code, client): V8's
 *   sampling profiler through node:inspector, the same profile `node --cpu-prof` writes (the
 *   .cpuprofile opens in Chrome DevTools), summed by package or project folder;
 * - this process by thread, from /proc: the JavaScript thread next to the Temporal SDK's Rust
 *   core threads and V8's helpers, which a JavaScript profile cannot see;
 * - the Temporal server (either mode): `perf record` of its process, summed by Go package.
 *   perf rather than pprof because the dev server (`temporal server start-dev`) has no pprof
 *   endpoint, and one tool for both modes keeps their profiles comparable.
 *
 * Prints nothing itself; the bench prints the summaries.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const CLOCK_TICKS = 100; // USER_HZ

/** A share of a process's sampled CPU. */
export interface Share {
  name: string;
  percent: number;
}

export interface ProcessProfile {
  process: string;
  /** What was measured and how. */
  source: string;
  /** Where the file behind it was written. */
  file?: string;
  byComponent: Share[];
  topFunctions: Share[];
  /** Why there is no profile, when there is none. */
  unavailable?: string;
}

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  samples?: number[];
}

/** The component a JavaScript frame belongs to: an npm package, a project folder, or V8 itself. */
export function jsComponent(url: string, functionName: string): string {
  if (!url) {
    if (functionName === '(garbage collector)') return 'v8: garbage collector';
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(program)') return 'v8: compiler and runtime';
    return `native: ${functionName || 'anonymous'}`;
  }
  const file = url.replace(/^file:\/\//, '');
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = file.slice(nm + '/node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (file.startsWith('node:')) return `node: ${file.slice(5).split('/').slice(0, 2).join('/')}`;
  if (/workflow-bundle|webpack/.test(file)) return 'workflow code (bundle, in the workflow sandbox)';
  const rel = path.relative(ROOT, file);
  if (!rel.startsWith('..')) return rel.split(path.sep).slice(0, 2).join('/');
  return file;
}

function shares(totals: Map<string, number>, sum: number, limit: number): Share[] {
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, n]) => ({ name, percent: (100 * n) / sum }));
}

/** Self time by component and by function, from a V8 CPU profile, idle time left out. */
export function summariseCpuProfile(profile: CpuProfile, limit = 12): Pick<ProcessProfile, 'byComponent' | 'topFunctions'> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const hits = new Map<number, number>();
  if (profile.samples?.length) for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  else for (const n of profile.nodes) hits.set(n.id, n.hitCount ?? 0);
  const components = new Map<string, number>();
  const functions = new Map<string, number>();
  let sum = 0;
  for (const [id, n] of hits) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const component = jsComponent(url, functionName);
    if (component === '(idle)') continue;
    sum += n;
    components.set(component, (components.get(component) ?? 0) + n);
    const where = url ? `${path.basename(url)}:${lineNumber + 1}` : '';
    const fn = `${functionName || '(anonymous)'} ${where} [${component}]`.replace(/ +/g, ' ');
    functions.set(fn, (functions.get(fn) ?? 0) + n);
  }
  return { byComponent: shares(components, sum, limit), topFunctions: shares(functions, sum, limit) };
}

/** Starts V8's sampling profiler on this process; stop() writes the .cpuprofile and summarises it. */
export async function profileThisProcess(dir: string, name: string): Promise<{ stop(): Promise<ProcessProfile> }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 1000 }); // µs
  await session.post('Profiler.start');
  return {
    async stop() {
      const { profile } = (await session.post('Profiler.stop')) as { profile: CpuProfile };
      session.disconnect();
      const file = path.join(dir, `${name}.cpuprofile`);
      fs.writeFileSync(file, JSON.stringify(profile));
      return { process: 'api+workers (JavaScript thread)', source: 'V8 sampling profiler, 1 ms', file, ...summariseCpuProfile(profile) };
    },
  };
}

/** What the threads of a Node process running Temporal workers are (by their kernel names, digits cut). */
const THREAD_NAMES: Record<string, string> = {
  node: 'V8 helper threads (concurrent GC, compiler)',
  'tokio-runtime-w': 'Temporal SDK core (Rust, tokio)',
  'libuv-worker': 'libuv thread pool',
  'workflow-proces': 'Temporal SDK workflow thread',
};

/** CPU seconds of each thread of a process, by thread name (Rust core threads, V8 helpers, libuv). */
function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const raw = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const close = raw.lastIndexOf(')');
      const comm = raw.slice(raw.indexOf('(') + 1, close).replace(/[-\d]+$/, '') || 'thread';
      const f = raw.slice(close + 2).split(' ');
      const name = tid === String(pid) ? 'JavaScript thread (main)' : (THREAD_NAMES[comm] ?? comm);
      out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / CLOCK_TICKS);
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** Starts counting this process's CPU by thread; stop() gives each thread group's share. */
export function profileThreads(pid = process.pid): { stop(): ProcessProfile } {
  const before = threadCpu(pid);
  return {
    stop() {
      const after = threadCpu(pid);
      const used = new Map([...after].map(([k, s]) => [k, Math.max(0, s - (before.get(k) ?? 0))] as const));
      const sum = [...used.values()].reduce((a, b) => a + b, 0) || 1;
      return {
        process: 'api+workers (by thread)',
        source: '/proc/<pid>/task/*/stat',
        byComponent: shares(used, sum, 12),
        topFunctions: [],
      };
    },
  };
}

/** The Go package of a symbol (`go.temporal.io/server/service/history.(*x).y` -> `.../service/history`). */
export function goPackage(symbol: string): string {
  if (
    /^runtime\.\w*(gc|GC|mark|Mark|scan|Scan|sweep|Sweep|scavenge|heap|Heap|greyobject|findObject|wbBuf|malloc|newobject|Span|span|memclr)/.test(
      symbol,
    )
  ) {
    return 'go runtime: gc and allocation';
  }
  if (/^runtime\.|^runtime\/internal|^internal\/runtime/.test(symbol)) return 'go runtime: scheduler and other';
  if (/^syscall\.|^internal\/poll|^net\./.test(symbol)) return 'go: net and syscalls';
  const slash = symbol.lastIndexOf('/');
  const dot = symbol.indexOf('.', slash + 1);
  const pkg = dot > 0 ? symbol.slice(0, dot) : symbol;
  return pkg
    .replace(/^go\.temporal\.io\/server\//, 'temporal/')
    .replace(/^google\.golang\.org\//, '')
    .replace(/^github\.com\//, '');
}

function perfAvailable(): string | undefined {
  const r = spawnSync('perf', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : 'perf is not installed (apt-get install linux-perf)';
}

/** `perf record` of another process (the Temporal server); stop() summarises it by Go package. */
export function profileProcess(pid: number | undefined, dir: string, name: string, label: string): { stop(): Promise<ProcessProfile> } {
  const missing = pid === undefined ? 'process not found' : perfAvailable();
  const file = path.join(dir, `${name}.perf.data`);
  let child: ChildProcess | undefined;
  if (!missing) {
    child = spawn('perf', ['record', '-e', 'cpu-clock', '-F', '499', '-p', String(pid), '-o', file], { stdio: 'ignore' });
  }
  return {
    async stop() {
      const none: ProcessProfile = { process: label, source: 'perf record -e cpu-clock', byComponent: [], topFunctions: [] };
      if (missing || !child) return { ...none, unavailable: missing };
      await new Promise<void>((resolve) => {
        child!.once('exit', () => resolve());
        child!.kill('SIGINT');
      });
      const report = spawnSync('perf', ['report', '-i', file, '--stdio', '--no-children', '--sort', 'sym', '--percent-limit', '0.01'], {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      });
      const rows = [...report.stdout.matchAll(/^\s+([\d.]+)%\s+\[(.)\]\s+(.+?)\s*$/gm)].map((m) => ({
        percent: Number(m[1]),
        kernel: m[2] === 'k',
        symbol: m[3]!,
      }));
      if (rows.length === 0)
        return { ...none, file, unavailable: `perf recorded no samples (${report.stderr.trim().split('\n')[0] ?? ''})` };
      const packages = new Map<string, number>();
      const functions = new Map<string, number>();
      for (const r of rows) {
        const pkg = r.kernel ? 'kernel (syscalls, network, scheduling)' : goPackage(r.symbol);
        packages.set(pkg, (packages.get(pkg) ?? 0) + r.percent);
        functions.set(`${r.symbol} [${pkg}]`, (functions.get(`${r.symbol} [${pkg}]`) ?? 0) + r.percent);
      }
      const sum = rows.reduce((a, r) => a + r.percent, 0);
      return { ...none, file, byComponent: shares(packages, sum, 12), topFunctions: shares(functions, sum, 12) };
    },
  };
}

function msPerItem(p: ProcessProfile, all: ProcessProfile[], cpuMs: Record<string, number>): number | undefined {
  if (p.process.startsWith('api+workers (JavaScript')) {
    const main = all.find((q) => q.process === 'api+workers (by thread)')?.byComponent.find((s) => s.name.startsWith('JavaScript thread'));
    return main && cpuMs['api+workers'] !== undefined ? (cpuMs['api+workers'] * main.percent) / 100 : undefined;
  }
  const group = Object.keys(cpuMs).find((g) => p.process.startsWith(g));
  return group ? cpuMs[group] : undefined;
}

/**
 * The two bursts' profiles side by side, process by process: CPU ms per item (bare workflow,
 * saga order) of each component, what the saga adds, and the saga's hottest functions.
 */
export function formatProfiles(
  profiles: { bare: ProcessProfile[]; saga: ProcessProfile[] },
  cpuMs: { bare: Record<string, number>; saga: Record<string, number> },
): string {
  const out: string[] = ['where the CPU goes, CPU ms per bare workflow / per saga order (profiles of the two bursts):'];
  profiles.saga.forEach((saga, k) => {
    const bare = profiles.bare[k];
    const sagaMs = msPerItem(saga, profiles.saga, cpuMs.saga);
    const bareMs = bare ? msPerItem(bare, profiles.bare, cpuMs.bare) : undefined;
    out.push(
      `${saga.process}: ${bareMs?.toFixed(1) ?? '?'} / ${sagaMs?.toFixed(1) ?? '?'} ms (${saga.source}${saga.file ? `; ${saga.file}` : ''})`,
    );
    if (saga.unavailable) {
      out.push(`  no profile: ${saga.unavailable}`);
      return;
    }
    const at = (list: Share[] | undefined, ms: number | undefined, name: string) =>
      ms === undefined ? NaN : ((list?.find((s) => s.name === name)?.percent ?? 0) * ms) / 100;
    const names = [...new Set([...saga.byComponent, ...(bare?.byComponent ?? [])].map((s) => s.name))];
    const rows = names
      .map((name) => ({ name, b: at(bare?.byComponent, bareMs, name), s: at(saga.byComponent, sagaMs, name) }))
      .sort((x, y) => y.s - x.s);
    for (const r of rows) {
      const delta = r.s - r.b;
      out.push(
        `  ${r.b.toFixed(1).padStart(6)} ${r.s.toFixed(1).padStart(6)}  ${(delta >= 0 ? '+' : '') + delta.toFixed(1)}`.padEnd(30) + r.name,
      );
    }
    if (saga.topFunctions.length) {
      out.push('  saga burst, hottest functions (self time):');
      for (const s of saga.topFunctions.slice(0, 8)) out.push(`    ${s.percent.toFixed(1).padStart(5)}%  ${s.name}`);
    }
  });
  return out.join('\n');
}
