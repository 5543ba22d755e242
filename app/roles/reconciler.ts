/**
 * The reconciler role: the reconciliation service on its own process, reading with the
 * read-only database role (RECONCILER_DATABASE_URL) and Temporal's visibility API. Several may
 * run; one is active, the others wait as standbys (services/reconciliation/service.ts).
 */
import { createTemporalClient } from '../../lib/temporal';
import { createReconcilerPool, ReconciliationService } from '../../services/reconciliation/service';
import type { RoleContext, Running } from '../role';

export async function startReconciler({ cfg, log, registry }: RoleContext): Promise<Running> {
  const pg = createReconcilerPool(cfg, undefined, (err) =>
    log.warn({ err }, 'idle reconciler connection lost; the pool reconnects on demand'),
  );
  const temporal = await createTemporalClient(cfg);
  const service = new ReconciliationService({ pg, temporal, cfg, log, registry });
  service.start();
  log.info({ intervalMs: cfg.reconciler.intervalMs, database: cfg.reconciler.database.user }, 'reconciler running');
  return {
    async stop() {
      await service.stop();
      await temporal.connection.close();
      await pg.end();
    },
  };
}
