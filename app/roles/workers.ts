/** The Temporal worker roles, one per task queue of the saga. The orders worker also runs the saga-start sweeper. */
import { createTemporalClient, createWorkerConnection } from '../../lib/temporal';
import { ORDERS_TASK_QUEUE } from '../../services/orders/contract';
import { needsAttentionGauge } from '../../services/orders/metrics';
import { singleFlight, sweepUnstartedSagas } from '../../services/orders/saga-starter';
import type { RoleContext, Running } from '../role';
import { installWorkerRuntime } from '../temporal-runtime';
import { appWorkersSetup, createSagaWorkers } from '../workers';

const SWEEP_INTERVAL_MS = 2000;

/** The worker of one queue of the step table (workflows/saga-steps.ts), before the deployment's prefix. */
export function workerRole(queue: string) {
  return async ({ cfg, db, log, faults, registry, tracing }: RoleContext): Promise<Running> => {
    // Before any connection: SDK logs to pino, SDK metrics into this process's /metrics.
    const stopRuntimeMetrics = installWorkerRuntime(log, registry);
    const connection = await createWorkerConnection(cfg);
    const [worker] = await createSagaWorkers(await appWorkersSetup({ cfg, db, connection, faults, log, registry, tracing }, [queue]));
    if (!worker) throw new Error(`no worker for queue ${queue}`);
    const run = worker.run().catch((err: unknown) => {
      log.fatal({ err }, `${queue} worker failed`);
      process.exit(1);
    });

    let sweeper: NodeJS.Timeout | undefined;
    let sweeping: Promise<unknown> = Promise.resolve();
    const client = queue === ORDERS_TASK_QUEUE ? await createTemporalClient(cfg, { tracing: tracing.enabled }) : undefined;
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
