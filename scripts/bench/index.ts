/**
 * `npm run bench` (not a test): the saga benchmark on each Temporal persistence mode and the
 * relay benchmark, printed as one table of figures against issue 22's targets, each next to
 * the baseline measured in the same run. It prints and asserts nothing; a missed target says
 * "missed".
 *
 *   npm run bench -- [--modes sqlite,postgres] [--orders 200] [--concurrency 64]
 *                    [--rates 10,20,40] [--seconds 10] [--sweep-start 2] [--sweep-steps 5]
 *                    [--overload-rate N] [--overload-seconds S] [--sustained [minutes]] [--sustained-rate 50]
 *                    [--events 20000] [--relay-rate 5000] [--relay-seconds 10] [--profile DIR]
 *                    [--only bare,saga,latency,sweep,overload,sustained,relay]
 *                    [--tracing]   (CPU per order with tracing off / sampled 1.0 / 0.1: tracing.ts)
 *
 * The mode the stack runs uses the stack's Temporal; the other one gets a side Temporal on
 * ports of its own (scripts/stack/side-temporal.ts), stopped at the end. The relay runs once:
 * it does not touch Temporal.
 */
import os from 'node:os';
import { exitOnConfigError } from '../../lib/config';
import { loadStackConfig, type StackConfig } from '../stack/config';
import { startSideTemporal } from '../stack/side-temporal';
import { ANSWERS, type Answer } from './load';
import { formatProfiles } from './profile';
import { formatServerRequests } from './server-requests';
import { runRelayBench, type RelayBenchResult } from './relay';
import { formatTracingCost, runTracingCost } from './tracing';
import { numberArg, runSagaBench, sagaOptionsFromArgv, type PhaseResult, type SagaBenchResult } from './saga';

type Mode = StackConfig['stack']['temporal']['persistence'];

function arg(name: string, fallback: number): number {
  const v = numberArg(process.argv, name, fallback);
  if (!(v > 0)) throw new Error(`--${name} needs a positive number`);
  return v;
}

function modesArg(argv: string[]): Mode[] {
  const i = argv.indexOf('--modes');
  const modes = (i >= 0 ? argv[i + 1]! : 'sqlite,postgres').split(',');
  for (const m of modes) if (m !== 'sqlite' && m !== 'postgres') throw new Error(`--modes: "${m}" is not sqlite or postgres`);
  return modes as Mode[];
}

/**
 * The targets, on this machine with every server co-located: issue 22's (the saga against the
 * bare workflow of its shape, the p99 at 0.8x the saga's own burst capacity, overload) and the
 * relay's. `ordersPerSecond` stays for the sustained row only (50/s is not a target here).
 */
export const TARGETS = {
  ordersPerSecond: 50,
  sagaVsBare: 0.9,
  cpuVsBare: 1.1,
  p99Ms: 1000,
  /** The p99 target holds at this share of the saga's burst capacity. */
  p99AtCapacity: 0.8,
  relayVsRaw: 0.75,
  lagP99Ms: 100,
  lagAtRate: 5000,
  /** Issue 22: under 3x overload with the bound on, the accepted orders' p99 submit-to-CONFIRMED. */
  overloadP99Ms: 5000,
} as const;

export interface BenchRow {
  mode: string;
  figure: string;
  measured: string;
  baseline: string;
  ratio: string;
  target: string;
  verdict: string;
}

const met = (ok: boolean) => (ok ? 'met' : 'missed');
const n0 = (x: number) => x.toFixed(0);
const n1 = (x: number) => x.toFixed(1);

const ANSWER_LABELS: Record<Answer, string> = {
  accepted: '202',
  rateLimited: '429',
  unavailableRetryAfter: '503+Retry-After',
  unavailableNoRetryAfter: '503 no Retry-After',
  otherClientError: 'other 4xx',
  serverError: '5xx (defect)',
  networkError: 'network/timeout',
};

/** "202 180, 503+Retry-After 20": the answer classes that occurred. */
export function answersText(answers: Record<Answer, number>): string {
  const parts = ANSWERS.filter((a) => answers[a] > 0).map((a) => `${ANSWER_LABELS[a]} ${answers[a]}`);
  return parts.length ? parts.join(', ') : 'none';
}

/** Orders committed although their answer was not a 202 (lost to a timeout after the commit). */
function unanswered(p: PhaseResult): string {
  const n = p.committed - p.answers.accepted;
  return n > 0 ? `; ${n} committed unanswered` : '';
}

function notAccepted(p: PhaseResult): string {
  const n = p.offered - p.answers.accepted;
  const unsettled = p.outcomes.unsettled ?? 0;
  return [n ? `; ${n} not accepted (${answersText(p.answers)})` : '', unanswered(p), unsettled ? `; ${unsettled} not final` : ''].join('');
}

function latencyRow(mode: string, p: PhaseResult): BenchRow {
  const l = p.latency;
  return {
    mode,
    figure: `submit-to-CONFIRMED at ${p.rate} orders/s for ${p.seconds} s, p99 ms`,
    measured: n0(l.p99),
    baseline: `p50 ${n0(l.p50)}, p95 ${n0(l.p95)}, max ${n0(l.max)}${notAccepted(p)}`,
    ratio: '',
    target: '',
    verdict: '',
  };
}

/** Met when p99 stayed within the limit at a rate of at least 0.8x the burst capacity (a sweep point under it). */
function sweepRow(mode: string, s: NonNullable<SagaBenchResult['sweep']>, sagaRate: number): BenchRow {
  const due = TARGETS.p99AtCapacity * sagaRate;
  const measured = s.over
    ? `${s.under ? `${s.under.rate}/s under` : 'none under'}, ${s.over.rate}/s over`
    : `not crossed up to ${s.under?.rate ?? '?'}/s`;
  return {
    mode,
    figure: `rate at which p99 crosses ${s.limitMs} ms (sweep)`,
    measured,
    baseline: s.points.map((p) => `${p.rate}/s ${n0(p.p99)}`).join(', '),
    ratio: '',
    target: `p99 <= ${TARGETS.p99Ms} ms at ${TARGETS.p99AtCapacity}x the burst (${n1(due)}/s)`,
    verdict: Number.isNaN(sagaRate) ? 'n/a' : met(s.points.some((p) => p.rate >= due && p.p99 <= s.limitMs)),
  };
}

function overloadRow(mode: string, o: NonNullable<SagaBenchResult['overload']>, bound: number | undefined): BenchRow {
  const accepted = o.answers.accepted;
  const unsettled = o.outcomes.unsettled ?? 0;
  const final = accepted - unsettled;
  const shaped = accepted + o.answers.unavailableRetryAfter === o.offered;
  const refusedCharged = o.chargedNotAccepted;
  return {
    mode,
    figure: `overload: ${o.rate} orders/s offered for ${o.seconds} s (open loop), bound ${bound === undefined ? '?' : bound || 'off'}`,
    measured: `${accepted}/${o.offered} accepted, p99 ${n0(o.latency.p99)} ms`,
    baseline: `${answersText(o.answers)}; p50 ${n0(o.latency.p50)}, max ${n0(o.latency.max)}; ${final}/${accepted} accepted final (${o.sweeperStarted} by the sweeper) ${n0(o.drainS)} s after${unanswered(o)}; ${refusedCharged} refused charged`,
    ratio: '',
    target: `202 or 503+Retry-After only; accepted p99 <= ${TARGETS.overloadP99Ms} ms; every accepted final; none refused charged`,
    verdict: [
      o.answers.serverError ? `missed: ${o.answers.serverError} x 5xx (DEFECT)` : met(shaped),
      met(o.latency.p99 <= TARGETS.overloadP99Ms),
      met(unsettled === 0),
      met(refusedCharged === 0),
    ].join('; '),
  };
}

function sustainedRow(mode: string, s: NonNullable<SagaBenchResult['sustained']>): BenchRow {
  return {
    mode,
    figure: `sustained ${s.rate} orders/s offered for ${s.minutes} min, CONFIRMED/s`,
    measured: n1(s.confirmedPerS),
    baseline: `p50 ${n0(s.latency.p50)}, p99 ${n0(s.latency.p99)} ms; backlog at end ${s.backlog}; ${answersText(s.answers)}`,
    ratio: '',
    target: `>= ${TARGETS.ordersPerSecond}/s`,
    verdict: met(s.confirmedPerS >= TARGETS.ordersPerSecond),
  };
}

/** One mode's rows (those of the parts it ran). */
export function sagaRows(saga: SagaBenchResult): BenchRow[] {
  const sagaRatio = saga.sagaRate / saga.bareRate;
  const total = (ms: Record<string, number> | undefined) => (ms ? Object.values(ms).reduce((a, b) => a + b, 0) : NaN);
  const [sagaCpu, bareCpu] = [total(saga.cpuMs?.saga), total(saga.cpuMs?.bare)];
  const cpuRatio = sagaCpu / bareCpu;
  const mode = saga.mode;
  const ran = (x: number) => !Number.isNaN(x);
  const c = saga.dbCounts?.saga;
  return [
    ...(ran(saga.bareRate)
      ? [
          {
            mode,
            figure: 'bare workflow (saga shape, no work), workflows/s (burst)',
            measured: n1(saga.bareRate),
            baseline: '',
            ratio: '',
            target: '',
            verdict: '',
          },
        ]
      : []),
    ...(ran(saga.sagaRate)
      ? [
          {
            mode,
            figure: 'saga: POST /orders -> CONFIRMED, orders/s (burst)',
            measured: n1(saga.sagaRate),
            baseline: ran(saga.bareRate) ? `bare workflow ${n1(saga.bareRate)}/s` : '',
            ratio: ran(sagaRatio) ? `${sagaRatio.toFixed(2)}x` : '',
            target: `>= ${TARGETS.sagaVsBare}x bare`,
            verdict: ran(sagaRatio) ? met(sagaRatio >= TARGETS.sagaVsBare) : 'n/a',
          },
        ]
      : []),
    ...(ran(cpuRatio)
      ? [
          {
            mode,
            figure: 'CPU ms per saga order / per bare workflow (burst, all processes)',
            measured: `${n1(sagaCpu)} / ${n1(bareCpu)}`,
            baseline: 'api+workers, Temporal and PostgreSQL (below)',
            ratio: `${cpuRatio.toFixed(2)}x`,
            target: `<= ${TARGETS.cpuVsBare}x bare`,
            verdict: met(cpuRatio <= TARGETS.cpuVsBare),
          },
        ]
      : []),
    ...(c
      ? [
          {
            mode,
            figure: 'PostgreSQL per saga order (burst): transactions / round trips',
            measured: `${n1(c.transactions)} / ${n1(c.roundTrips)}`,
            baseline: `counted at the client (scripts/bench/db-counts.ts); rollbacks ${n1(c.rollbacks)}; bare workflow 0`,
            ratio: '',
            target: '',
            verdict: '',
          },
        ]
      : []),
    ...saga.latency.map((p) => latencyRow(mode, p)),
    ...(saga.sweep ? [sweepRow(mode, saga.sweep, saga.sagaRate)] : []),
    ...(saga.overload ? [overloadRow(mode, saga.overload, saga.boundReached.overload)] : []),
    ...(saga.sustained ? [sustainedRow(mode, saga.sustained)] : []),
  ];
}

/** The relay's rows (once per run: the relay does not touch Temporal). */
export function relayRows(relay: RelayBenchResult): BenchRow[] {
  const relayRatio = relay.drain / relay.raw;
  const s = relay.steady;
  return [
    {
      mode: 'any',
      figure: `relay drain, events/s (batch ${relay.batchSize}, ${relay.partitions} partitions)`,
      measured: n0(relay.drain),
      baseline: `raw kafkajs ${n0(relay.raw)}/s`,
      ratio: `${relayRatio.toFixed(2)}x`,
      target: `>= ${TARGETS.relayVsRaw}x raw`,
      verdict: met(relayRatio >= TARGETS.relayVsRaw),
    },
    {
      mode: 'any',
      figure: `relay lag at ${n0(s.achieved)} events/s for ${s.seconds} s, p99 ms`,
      measured: n1(s.p99),
      baseline: `p50 ${n1(s.p50)}, max ${n1(s.max)}`,
      ratio: '',
      target: `<= ${TARGETS.lagP99Ms} ms at ${TARGETS.lagAtRate}/s`,
      verdict: s.achieved >= TARGETS.lagAtRate * 0.98 ? met(s.p99 <= TARGETS.lagP99Ms) : `n/a (reached ${n0(s.achieved)}/s)`,
    },
  ];
}

/** A Markdown table (so docs/benchmarks.md can keep it as printed). */
export function formatTable(rows: BenchRow[]): string {
  const head: BenchRow = {
    mode: 'mode',
    figure: 'figure',
    measured: 'measured',
    baseline: 'baseline / detail (same run)',
    ratio: 'ratio',
    target: 'target',
    verdict: '',
  };
  const cols = Object.keys(head) as (keyof BenchRow)[];
  const widths = cols.map((c) => Math.max(...[head, ...rows].map((r) => r[c].length)));
  const line = (r: BenchRow) => `| ${cols.map((c, i) => r[c].padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

function cpuLine(label: string, per: Record<string, number>): string {
  const total = Object.values(per).reduce((a, b) => a + b, 0);
  return `${label}: ${Object.entries(per)
    .map(([k, ms]) => `${k} ${n1(ms)}`)
    .join(', ')} (total ${n1(total)} ms)`;
}

/** Runs the saga bench against `mode`: the stack's Temporal if it is that mode, else a side one. */
async function benchMode(cfg: StackConfig, mode: Mode, opts: ReturnType<typeof sagaOptionsFromArgv>): Promise<SagaBenchResult> {
  if (cfg.stack.temporal.persistence === mode) return runSagaBench(opts);
  process.stderr.write(`[bench] starting a side Temporal (${mode} mode)\n`);
  const side = await startSideTemporal(cfg, mode, 'bench');
  try {
    return await runSagaBench({ ...opts, temporal: side.cfg });
  } finally {
    await side.stop();
  }
}

/** Loud lines for answers that are defects (a 5xx other than 503), so they are not lost in a cell. */
function defects(results: SagaBenchResult[]): string[] {
  return results.flatMap((r) =>
    [...r.latency, ...(r.overload ? [r.overload] : [])]
      .filter((p) => p.answers.serverError > 0)
      .map((p) => `DEFECT (${r.mode}, ${p.rate}/s): ${p.answers.serverError} answers 5xx other than 503; e.g. ${p.samples.join(' | ')}`),
  );
}

async function main(): Promise<void> {
  let cfg;
  try {
    cfg = loadStackConfig();
  } catch (err) {
    exitOnConfigError(err);
  }
  const opts = sagaOptionsFromArgv(process.argv);
  const onlyRelay = opts.only && [...opts.only].every((p) => p === 'relay');
  const results: SagaBenchResult[] = [];
  if (!onlyRelay) {
    for (const mode of modesArg(process.argv)) {
      const r = await benchMode(cfg, mode, opts);
      process.stderr.write(`[bench] ${mode} done: ${JSON.stringify({ ...r, profiles: undefined })}\n`);
      results.push(r);
    }
  }
  const relay =
    !opts.only || opts.only.has('relay')
      ? await runRelayBench(cfg, {
          events: arg('events', 20_000),
          rate: arg('relay-rate', TARGETS.lagAtRate),
          seconds: arg('relay-seconds', 10),
        })
      : undefined;
  // Tracing off vs sampled 1.0 and 0.1, each burst in a process of its own (tracing.ts).
  const tracingCost = process.argv.includes('--tracing') ? await runTracingCost(process.argv) : undefined;
  const cores = os.cpus().length;
  console.log(
    `\nnpm run bench: modes ${results.map((r) => r.mode).join(', ')}; ${cores} cores (${os.cpus()[0]?.model ?? 'cpu'}), every server on this machine; load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const rl = results[0]?.rateLimit;
  if (rl) {
    const raised = rl.points > rl.configured ? `, raised for the bench from ${rl.configured} (RATE_LIMIT_CLIENT)` : '';
    console.log(`bench API key: client limit ${rl.points} requests per ${rl.windowS} s${raised}`);
  }
  for (const r of results) {
    const reached = [
      r.boundReached.burst !== undefined ? `${r.boundReached.burst} after the burst` : '',
      r.boundReached.overload !== undefined ? `${r.boundReached.overload} at the end of the overload` : '',
    ].filter(Boolean);
    console.log(`${r.mode}: bound on sagas in flight: ${r.boundSetting}${reached.length ? `; reached ${reached.join(', ')}` : ''}`);
  }
  console.log(formatTable([...results.flatMap(sagaRows), ...(relay ? relayRows(relay) : [])]));
  for (const line of defects(results)) console.log(`\n!!! ${line}`);
  console.log(
    `\nCPU ms per item by process, during the bursts (api+workers is this process; postgres is every PostgreSQL process on the machine):`,
  );
  for (const r of results) {
    if (!Number.isNaN(r.bareRate)) console.log(`  ${r.mode.padEnd(8)} ${cpuLine('per bare workflow', r.cpuMs.bare)}`);
    if (!Number.isNaN(r.sagaRate)) console.log(`  ${r.mode.padEnd(8)} ${cpuLine('per saga order   ', r.cpuMs.saga)}`);
  }
  if (tracingCost) console.log(`\n${formatTracingCost(tracingCost)}`);
  for (const r of results) console.log(`\n${r.mode} mode: ${formatServerRequests(r.serverRequests)}`);
  for (const r of results) if (r.profiles) console.log(`\n${r.mode}:\n${formatProfiles(r.profiles, r.cpuMs)}`);
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
