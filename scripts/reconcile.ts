/**
 * npm run reconcile [-- --incremental] [--order <orderId> ...] [--json]
 *
 * Runs one reconciliation pass now (waiting for a pass in progress to finish), prints its
 * report, and exits 1 when there are open findings (within the scope, if one was given),
 * 0 when there are none, 2 when the pass could not run. Same configuration as the reconciler
 * process (RECONCILER_DATABASE_URL, TEMPORAL_*, RECONCILE_*).
 */
import { config, exitOnConfigError, type Config } from '../lib/config';
import { createDb } from '../lib/db';
import { createLogger } from '../lib/logger';
import { createTemporalClient } from '../lib/temporal';
import { listFindings, getRun } from '../services/reconciliation/queries';
import { ReconciliationChecksFailed } from '../services/reconciliation/runner';
import { formatReport } from '../services/reconciliation/report';
import { createReconcilerPool, reconcileOnce } from '../services/reconciliation/service';

class UsageError extends Error {}

function parseArgs(args: string[]): { incremental: boolean; orderIds: string[]; json: boolean } {
  const orderIds: string[] = [];
  let incremental = false;
  let json = false;
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i]!;
    if (arg === '--incremental') incremental = true;
    else if (arg === '--json') json = true;
    else if (arg === '--order' && args[i + 1]) orderIds.push(args[++i]!);
    else throw new UsageError('usage: npm run reconcile [-- --incremental] [--order <orderId> ...] [--json]');
  }
  return { incremental, orderIds, json };
}

async function main(argv: string[]): Promise<number> {
  let cfg: Config;
  try {
    cfg = config();
  } catch (err) {
    exitOnConfigError(err);
  }
  const args = parseArgs(argv);
  const pg = createReconcilerPool(cfg, 4);
  const db = createDb(cfg.reconciler.database.url, 2);
  const temporal = await createTemporalClient(cfg);
  try {
    const scope = args.orderIds.length > 0 ? { orderIds: args.orderIds } : null;
    let runId: string;
    let failed = false;
    try {
      runId = (
        await reconcileOnce(
          { pg, temporal, cfg, log: createLogger('reconcile-cli', 'warn') },
          { trigger: 'CLI', mode: args.incremental ? 'INCREMENTAL' : 'FULL', scope },
        )
      ).runId;
    } catch (err) {
      // Some checks could not run: the others' report still matters.
      if (!(err instanceof ReconciliationChecksFailed)) throw err;
      runId = err.runId;
      failed = true;
    }
    const run = (await getRun(db, runId))!;
    const subjectIds = scope ? [...scope.orderIds, ...scope.orderIds.map((id) => `order-${id}`)] : undefined;
    const open = await listFindings(db, { status: 'open', limit: 50, subjectIds });
    const suspects = await listFindings(db, { status: 'suspect', limit: 20, subjectIds });
    if (args.json) console.log(JSON.stringify({ run, open: open.items, suspects: suspects.items }, null, 2));
    else console.log(formatReport(run, [...open.items, ...suspects.items], { open: run.openFindings, suspects: suspects.total }));
    if (failed) return 2;
    return run.openFindings > 0 ? 1 : 0;
  } finally {
    await temporal.connection.close();
    await db.$disconnect();
    await pg.end();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof UsageError ? err.message : err instanceof Error ? `reconciliation failed: ${err.message}` : err);
    process.exit(2);
  },
);
