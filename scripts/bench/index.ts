/**
 * `npm run bench` (not a test): the saga and relay benchmarks in one run, printed as one table
 * of figures against issue 14's targets, each next to the baseline measured in the same run.
 * It prints and asserts nothing; a missed target says "missed".
 *
 *   npm run bench -- [--orders 200] [--concurrency 64] [--rate 20] [--seconds 10]
 *                    [--events 20000] [--relay-rate 5000] [--relay-seconds 10]
 *
 * One Temporal mode per run, the one TEMPORAL_PERSISTENCE selects (docs/benchmarks.md runs both).
 */
import os from 'node:os';
import { exitOnConfigError } from '../../lib/config';
import { loadStackConfig } from '../stack/config';
import { runRelayBench, type RelayBenchResult } from './relay';
import { runSagaBench, type SagaBenchResult } from './saga';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}

/** The brief's targets (issue 14), on this machine with every server co-located. */
export const TARGETS = {
  ordersPerSecond: 50,
  sagaVsBare: 0.8,
  p99Ms: 1000,
  p99AtRate: 20,
  relayVsRaw: 0.75,
  lagP99Ms: 100,
  lagAtRate: 5000,
} as const;

export interface BenchRow {
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

/** The table's rows, from one run's figures. */
export function benchRows(saga: SagaBenchResult, relay: RelayBenchResult): BenchRow[] {
  const sagaRatio = saga.sagaRate / saga.bareRate;
  const relayRatio = relay.drain / relay.raw;
  const l = saga.latency;
  const s = relay.steady;
  return [
    {
      figure: 'saga: POST /orders -> CONFIRMED, orders/s (burst)',
      measured: n1(saga.sagaRate),
      baseline: `bare workflow ${n1(saga.bareRate)}/s`,
      ratio: `${sagaRatio.toFixed(2)}x`,
      target: `>= ${TARGETS.ordersPerSecond}/s sustained; >= ${TARGETS.sagaVsBare}x bare`,
      verdict: `${met(saga.sagaRate >= TARGETS.ordersPerSecond)}${saga.sagaRate >= TARGETS.ordersPerSecond ? ' (burst only)' : ''}; ${met(sagaRatio >= TARGETS.sagaVsBare)}`,
    },
    {
      figure: `submit-to-CONFIRMED at ${l.rate} orders/s for ${l.seconds} s, p99 ms`,
      measured: n0(l.p99),
      baseline: `p50 ${n0(l.p50)}, p95 ${n0(l.p95)}, max ${n0(l.max)}`,
      ratio: '',
      target: `<= ${TARGETS.p99Ms} ms at ${TARGETS.p99AtRate}/s`,
      verdict: l.rate === TARGETS.p99AtRate ? met(l.p99 <= TARGETS.p99Ms) : `n/a (ran at ${l.rate}/s)`,
    },
    {
      figure: `relay drain, events/s (batch ${relay.batchSize}, ${relay.partitions} partitions)`,
      measured: n0(relay.drain),
      baseline: `raw kafkajs ${n0(relay.raw)}/s`,
      ratio: `${relayRatio.toFixed(2)}x`,
      target: `>= ${TARGETS.relayVsRaw}x raw`,
      verdict: met(relayRatio >= TARGETS.relayVsRaw),
    },
    {
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
    figure: 'figure',
    measured: 'measured',
    baseline: 'baseline (same run)',
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

async function main(): Promise<void> {
  let cfg;
  try {
    cfg = loadStackConfig();
  } catch (err) {
    exitOnConfigError(err);
  }
  const saga = await runSagaBench({
    orders: arg('orders', 200),
    concurrency: arg('concurrency', 64),
    rate: arg('rate', TARGETS.p99AtRate),
    seconds: arg('seconds', 10),
  });
  process.stderr.write(`[bench] saga done: ${JSON.stringify(saga)}\n`);
  const relay = await runRelayBench(cfg, {
    events: arg('events', 20_000),
    rate: arg('relay-rate', TARGETS.lagAtRate),
    seconds: arg('relay-seconds', 10),
  });
  const cores = os.cpus().length;
  console.log(
    `\nnpm run bench: TEMPORAL_PERSISTENCE=${saga.mode}, ${cores} cores (${os.cpus()[0]?.model ?? 'cpu'}), every server on this machine`,
  );
  console.log(formatTable(benchRows(saga, relay)));
  console.log(`\nCPU ms by process (api+workers is this process; postgres is every PostgreSQL process on the machine):`);
  console.log(`  ${cpuLine('per bare workflow', saga.cpuMs.bare)}`);
  console.log(`  ${cpuLine('per saga order   ', saga.cpuMs.saga)}`);
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
