/** The text report of a run, as `npm run reconcile` prints it. */
import { CHECK_NAMES, type FindingView, type RunView } from './contract';

function duration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes} min ${Math.floor((ms % 60_000) / 1000)} s`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours} h ${minutes % 60} min` : `${Math.floor(hours / 24)} days`;
}

/** The why of a finding in one line: its reasons when the check gives some, else its details. */
export function describeFinding(f: FindingView): string {
  const details = (f.details ?? {}) as Record<string, unknown>;
  if (Array.isArray(details.reasons) && details.reasons.length > 0) return details.reasons.join('; ');
  const text = JSON.stringify(details);
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

function findingLine(f: FindingView): string {
  const since = f.status === 'open' ? `open since ${f.raisedAt}` : `suspect since ${f.firstSeenAt}`;
  return `  ${f.check.padEnd(28)} ${f.fingerprint}\n      ${since}, seen in ${f.occurrences} run(s): ${describeFinding(f)}`;
}

export function formatReport(run: RunView, findings: FindingView[], totals: { open: number; suspects: number }): string {
  const lines: string[] = [];
  const scope = run.scope ? ` scope: ${run.scope.orderIds?.length ?? 0} order(s)` : '';
  lines.push(
    `reconciliation run #${run.id}  ${run.mode}  ${run.trigger}  ${run.status}` +
      `${run.durationMs !== null ? `  ${duration(run.durationMs)}` : ''}  ${run.subjectsExamined} subjects examined${scope}`,
  );
  if (run.error && !run.summary?.errors) lines.push(`error: ${run.error}`);
  for (const [check, message] of Object.entries(run.summary?.errors ?? {})) lines.push(`could not run ${check}: ${message}`);
  const checks = run.summary?.checks;
  if (checks) {
    lines.push('', `${'check'.padEnd(30)}${'open'.padStart(6)}${'suspect'.padStart(9)}${'raised'.padStart(8)}${'resolved'.padStart(10)}`);
    for (const name of CHECK_NAMES) {
      const c = checks[name];
      if (!c) continue;
      const flood = c.flooded ? '  (flood: one meta-finding)' : '';
      lines.push(
        `${name.padEnd(30)}${String(c.open).padStart(6)}${String(c.suspects).padStart(9)}${String(c.raised).padStart(8)}${String(c.resolved).padStart(10)}${flood}`,
      );
    }
  }
  const open = findings.filter((f) => f.status === 'open');
  const suspects = findings.filter((f) => f.status === 'suspect');
  lines.push(
    '',
    totals.open === 0
      ? 'no open findings'
      : `${totals.open} open finding(s)${open.length < totals.open ? `, the newest ${open.length}` : ''}:`,
  );
  open.forEach((f) => lines.push(findingLine(f)));
  if (totals.suspects > 0) {
    lines.push('', `${totals.suspects} suspect(s), inside their grace window (raised if they persist):`);
    suspects.forEach((f) => lines.push(findingLine(f)));
  }
  const attention = run.summary?.needsAttention;
  if (attention && attention.count > 0) {
    lines.push('', `${attention.count} order(s) in NEEDS_ATTENTION (retry with POST /admin/orders/{id}/compensate):`);
    for (const o of attention.orders)
      lines.push(`  order:${o.orderId}  for ${duration(o.ageMs)}${o.failureReason ? `  (${o.failureReason})` : ''}`);
  }
  return lines.join('\n');
}
