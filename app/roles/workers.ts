/** The Temporal worker roles. The orders worker also runs the saga-start sweeper. */
import type { Worker } from '@temporalio/worker';
import { createTemporalClient, createWorkerConnection } from '../../lib/temporal';
import { needsAttentionGauge } from '../../services/orders/metrics';
import { singleFlight, sweepUnstartedSagas } from '../../services/orders/saga-starter';
import type { RoleContext, Running } from '../role';
import { installWorkerRuntime } from '../temporal-runtime';
import { createInventoryWorker, createOrdersWorker, createPaymentsWorker } from '../workers';

const FACTORIES = { orders: createOrdersWorker, payments: createPaymentsWorker, inventory: createInventoryWorker };
const SWEEP_INTERVAL_MS = 2000;

export function workerRole(kind: keyof typeof FACTORIES) {
  return async ({ cfg, db, log, faults, registry, tracing }: RoleContext): Promise<Running> => {
    // Before any connection: SDK logs to pino, SDK metrics into this process's /metrics.
    const stopRuntimeMetrics = installWorkerRuntime(log, registry);
    const connection = await createWorkerConnection(cfg);
    const worker: Worker = await FACTORIES[kind]({ cfg, db, connection, faults, log, registry, tracing });
    const run = worker.run().catch((err: unknown) => {
      log.fatal({ err }, `${kind} worker failed`);
      process.exit(1);
    });

    let sweeper: NodeJS.Timeout | undefined;
    let sweeping: Promise<unknown> = Promise.resolve();
    const client = kind === 'orders' ? await createTemporalClient(cfg, { tracing: tracing.enabled }) : undefined;
    if (client) {
      needsAttentionGauge(registry, db);
      // One sweep in flight: a slow sweep (Temporal or the database slow) is never doubled.
      const sweep = singleFlight(() => sweepUnstartedSagas(db, client, cfg, log, { registry }));
      sweeper = setInterval(() => {
        sweeping = sweep().catch((err: unknown) => log.error({ err }, 'saga-start sweep failed'));
      }, SWEEP_INTERVAL_MS);
    }
    return {
      async stop() {
        clearInterval(sweeper);
        await sweeping;
        worker.shutdown();
        await run;
        await client?.connection.close();
        await connection.close();
        stopRuntimeMetrics();
      },
    };
  };
}
