/**
 * The CPU cost of tracing (`npm run bench -- --tracing`, or alone: `npx tsx scripts/bench/tracing.ts
 * [--orders 200] [--concurrency 64]`): the saga throughput burst (saga.ts, its other phases off)
 * three times, each in a process of its own, since tracing must start before express and http
 * load: tracing off, then exporting over OTLP to the stack's Jaeger with
 * OTEL_TRACES_SAMPLER=parentbased_traceidratio at OTEL_TRACES_SAMPLER_ARG 1.0 and 0.1. Figures:
 * CPU ms per order of each process group, and orders/s. Needs `npm run stack -- up --with-tracing`.
 * As in saga.ts the API and the workers run in one process; the workflow sandbox's spans are
 * not exported there (app roles pass their workflow sinks; the bench's workers do not).
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { loadStackConfig } from '../stack/config';
import { Jaeger } from '../stack/jaeger';
import { numberArg } from './saga';

export interface TracingCost {
  variant: string;
  ordersPerSecond: number;
  cpuMsPerOrder: Record<string, number>;
}

const VARIANTS: { variant: string; env: Record<string, string> }[] = [
  { variant: 'tracing off', env: { OTEL_TRACES_EXPORTER: 'none' } },
  {
    variant: 'sampling 1.0',
    env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.0' },
  },
  {
    variant: 'sampling 0.1',
    env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
  },
];

function runVariant(env: Record<string, string>, orders: number, concurrency: number): Promise<Omit<TracingCost, 'variant'>> {
  const child = fork(path.join(__dirname, 'traced-saga.ts'), ['--orders', String(orders), '--concurrency', String(concurrency)], {
    env: { ...process.env, ...env },
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.on('message', (m: Omit<TracingCost, 'variant'>) => resolve(m));
    child.on('exit', (code) => (code === 0 ? undefined : reject(new Error(`traced saga bench exited ${code}`))));
  });
}

export async function runTracingCost(argv: string[]): Promise<TracingCost[]> {
  const cfg = loadStackConfig();
  const jaeger = new Jaeger(cfg);
  await jaeger.health().catch((err: Error) => {
    throw new Error(
      `the tracing-cost bench exports to the stack's Jaeger, which does not answer (${err.message}): npm run stack -- up --with-tracing`,
    );
  });
  const orders = numberArg(argv, 'orders', 200);
  const concurrency = numberArg(argv, 'concurrency', 64);
  const out: TracingCost[] = [];
  for (const { variant, env } of VARIANTS) {
    const exportEnv: Record<string, string> =
      env.OTEL_TRACES_EXPORTER === 'otlp' ? { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpUrl } : {};
    out.push({ variant, ...(await runVariant({ ...env, ...exportEnv }, orders, concurrency)) });
  }
  return out;
}

export function formatTracingCost(rows: TracingCost[]): string {
  const off = rows[0]!;
  const total = (r: TracingCost) => Object.values(r.cpuMsPerOrder).reduce((a, b) => a + b, 0);
  return [
    'CPU ms per saga order with tracing (OTLP to Jaeger), each burst in its own process:',
    ...rows.map((r) => {
      const groups = Object.entries(r.cpuMsPerOrder)
        .map(([k, ms]) => `${k} ${ms.toFixed(1)}`)
        .join(', ');
      const vs = r === off ? '' : `  (${(total(r) / total(off)).toFixed(2)}x off)`;
      return `  ${r.variant.padEnd(13)} total ${total(r).toFixed(1)}${vs}; ${groups}; ${r.ordersPerSecond.toFixed(1)} orders/s`;
    }),
  ].join('\n');
}

if (require.main === module) {
  runTracingCost(process.argv).then(
    (rows) => console.log(formatTracingCost(rows)),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
