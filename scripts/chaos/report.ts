/** The table a chaos run prints: outcomes, faults, recoveries, the checker's verdicts, the seed. */
import type { ChaosResult } from './harness';

function table(title: string, head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [title, line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

const s = (ms: number | undefined) => (ms === undefined ? '-' : (ms / 1000).toFixed(1));

export function formatResult(r: ChaosResult): string {
  const out: string[] = [];
  const accepted = r.placed.filter((p) => p.orderId).length;
  out.push(
    `chaos run ${r.runId}  seed ${r.seed}  orders ${r.placed.length} (${accepted} accepted)  ${r.options.minutes} min workload  ` +
      `${r.options.instances ?? 2} instances per process  took ${s(r.durationMs)} s  quiescent after ${s(r.quiescenceMs)} s`,
  );

  const byScenario = new Map<string, number>();
  for (const p of r.placed) byScenario.set(p.scenario, (byScenario.get(p.scenario) ?? 0) + 1);
  out.push(table('\norders by outcome', ['outcome', 'orders'], Object.entries(r.outcomes).sort()));
  out.push(table('\norders by scenario', ['scenario', 'orders'], [...byScenario].sort()));

  const faults = new Map<string, number>();
  for (const f of r.faults) {
    const key =
      f.fault.kind === 'kill'
        ? `SIGKILL ${f.fault.role}`
        : `restart ${f.fault.server}${f.fault.server === 'postgres' ? ' (immediate)' : ''}`;
    const tag = f.skipped ? ' (skipped)' : f.error ? ' (FAILED)' : '';
    faults.set(key + tag, (faults.get(key + tag) ?? 0) + 1);
  }
  for (const [role, n] of Object.entries(r.unplannedExits)) faults.set(`exited by itself: ${role}`, n);
  out.push(table('\nfaults by kind and process type', ['fault', 'count'], [...faults].sort()));

  const restarts = r.faults.filter((f) => f.fault.kind === 'restart');
  out.push(
    table(
      '\nserver restarts (down = stop to answering; recovery = answering to the next order CONFIRMED)',
      ['server', 'at s', 'down s', 'recovery s', 'error'],
      restarts.map((f) => [f.fault.kind === 'restart' ? f.fault.server : '', s(f.atMs), s(f.downMs), s(f.recoveryMs), f.error ?? '']),
    ),
  );

  out.push(
    table(
      '\nchecks',
      ['check', 'scope', 'result', 'counts'],
      r.checks.map((c) => [
        c.name,
        c.scope,
        c.violations.length === 0 ? 'ok' : `FAIL (${c.violations.length})`,
        Object.entries(c.counts ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(' '),
      ]),
    ),
  );
  for (const c of r.checks) for (const v of c.violations) out.push(`  ${c.name}: ${v}`);
  out.push(`\n${r.ok ? 'PASS' : 'FAIL'}  seed ${r.seed}  (app process start retries: ${r.startFailures}; logs ${r.logDir})`);
  return out.join('\n');
}
