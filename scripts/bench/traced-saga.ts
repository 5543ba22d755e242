/**
 * One burst of the saga benchmark with tracing as the environment says (scripts/bench/tracing.ts
 * forks it): tracing starts before the benchmark's modules load express and http, as in
 * app/main.ts. Sends { ordersPerSecond, cpuMsPerOrder } to the parent over IPC.
 */
import { loadConfig } from '../../lib/config';
import { startTracing } from '../../lib/tracing';

async function main(): Promise<void> {
  const tracing = startTracing('bench', loadConfig().otel);
  // Loaded only now: the instrumentation patches express and http as they load.
  const { runSagaBench, sagaOptionsFromArgv } = require('./saga') as typeof import('./saga');
  const opts = { ...sagaOptionsFromArgv(process.argv), rates: [], sweep: { start: 1, steps: 0, seconds: 0, limitMs: 1000 } };
  const r = await runSagaBench({ ...opts, overload: { factor: 3, seconds: 0 } });
  await tracing.shutdown();
  process.send!({ ordersPerSecond: r.sagaRate, cpuMsPerOrder: r.cpuMs.saga });
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
