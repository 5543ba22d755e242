/**
 * What the reconciliation tests share: a pipeline of their own (database, topics), the relay
 * and the audit consumer in this process (so a test can stop the relay or make the consumer
 * fail), saga "deployments" (workers on a task queue prefix of their own, some of them faked
 * the way a buggy service would behave, some missing the way a down service would be), the
 * reconciler (read-only role, real Temporal), and the database owner's connection that tests
 * use to make faults the way a real fault would.
 */
import crypto from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { Pool } from 'pg';
import { Registry } from 'prom-client';
import { createStepActivities } from '../../activities';
import { appWorkersSetup, startSagaWorkers, type RunningWorkers } from '../../app/workers';
import { loadConfig, type Config } from '../../lib/config';
import { FaultPlan } from '../../lib/faults';
import { createLogger } from '../../lib/logger';
import { createTemporalClient, createWorkerConnection } from '../../lib/temporal';
import { createAuditHandler } from '../../services/audit/projector';
import { EventConsumer, type DecodedEvent } from '../../services/platform/messaging/consumer';
import { createKafka } from '../../services/platform/messaging/kafka';
import type { PlacedOrder } from '../../services/orders/place-order';
import type { CheckName, RunScope } from '../../services/reconciliation/contract';
import type { RunOutcome } from '../../services/reconciliation/runner';
import { createReconcilerPool, reconcileOnce } from '../../services/reconciliation/service';
import { Relay } from '../../services/platform/relay/relay';
import { temporalCli as runTemporalCli } from './temporal-cli';
import { placeOrder } from './fixtures';
import { createPipelineEnv, type PipelineEnv } from './processes';
import { eventually } from './wait';
import { SAGA_QUEUES } from '../../workflows/saga-steps';

const log = createLogger('reconciliation-test', 'fatal');

/** Short grace windows: a failure is raised once it has lasted this long. */
export const TEST_SETTINGS = {
  graceMs: 1000,
  sagaGraceMs: 4000,
  streamLagMs: 4000,
  stuckMs: 600_000,
  intervalMs: 1000,
  standbyPollMs: 200,
};

/** A worker of the deployment, by its task queue (before the prefix): orders, payments, inventory, ... (SAGA_QUEUES). */
type Kind = string;

/** Saga workers on a task queue prefix of their own: one deployment of the services. */
export interface Deployment {
  cfg: Config;
  prefix: string;
  /** Places an order (committed, then its workflow started), as the API does. */
  place(customerId: string, items: { sku: string; quantity: number }[]): Promise<PlacedOrder>;
  /** Starts the real workers of the given kinds (those not running yet). */
  start(kinds: Kind[]): Promise<void>;
  stop(): Promise<void>;
}

export interface DeploymentOptions {
  /** Which real workers run from the start (default every queue of the saga). */
  workers?: Kind[];
  /** A payment service that acknowledges a charge it never wrote. */
  phantomCharge?: boolean;
  /** A payment service that voids the payment (a refund before any charge) and acknowledges the charge anyway. */
  voidingCharge?: boolean;
  /** An inventory service whose release reports success and does nothing. */
  noopRelease?: boolean;
  /** Fault injection for the payment and inventory activities. */
  faults?: FaultPlan;
}

export interface ReconciliationEnv {
  pipeline: PipelineEnv;
  cfg: Config;
  /** The database owner (DATABASE_OWNER_URL): how tests make faults, as a careless operator or import would. */
  owner: Pool;
  temporal: Client;
  consumerFaults: FaultPlan;
  relay: { start(): void; stop(): Promise<void> };
  deployment(opts?: DeploymentOptions): Promise<Deployment>;
  /** One scoped pass of the reconciler (read-only role), with the test settings. */
  reconcile(scope: RunScope, settings?: Partial<Config['reconciler']>, cfg?: Config): Promise<RunOutcome>;
  /** Findings (open or suspect) about the scope's subjects. */
  unresolved(scope: RunScope): Promise<{ check: string; fingerprint: string; status: 'open' | 'suspect'; details: unknown }[]>;
  /** Runs the reconciler until exactly `expected` are open in the scope (and nothing else, not even a suspect). */
  expectFindings(scope: RunScope, expected: { check: CheckName; fingerprint: string }[], opts?: ExpectOptions): Promise<void>;
  /** The finding was raised and is history now: its latest record resolved (not deleted), and none of it open. */
  expectRaisedThenResolved(check: CheckName, fingerprint: string): Promise<void>;
  temporalCli(args: string[]): string;
  close(): Promise<void>;
}

export interface ExpectOptions {
  settings?: Partial<Config['reconciler']>;
  cfg?: Config;
  timeoutMs?: number;
}

export async function startReconciliationEnv(label: string, extraEnv: Record<string, string> = {}): Promise<ReconciliationEnv> {
  const pipeline = await createPipelineEnv(label, { CONSUMER_MAX_ATTEMPTS: '2', ...extraEnv });
  const cfg = pipeline.cfg;
  const owner = new Pool({ connectionString: cfg.databaseOwner.url, max: 4 });
  const pg = createReconcilerPool(cfg, 4);
  const temporal = await createTemporalClient(cfg);
  const connection: NativeConnection = await createWorkerConnection(cfg);
  const consumerFaults = new FaultPlan();
  const deployments: Deployment[] = [];

  const audit = new EventConsumer<DecodedEvent>({
    kafka: createKafka(cfg, 'recon-test-audit', log),
    db: pipeline.db,
    handler: createAuditHandler(new Registry()),
    topic: cfg.kafka.eventsTopic,
    dlqTopic: cfg.kafka.dlqTopic,
    settings: cfg.consumers,
    log,
    registry: new Registry(),
    faults: consumerFaults,
  });
  await audit.start();
  await audit.joined();

  let relay: Relay | undefined;
  const relayControl = {
    start() {
      if (relay) return;
      relay = new Relay({
        db: pipeline.db,
        databaseUrl: cfg.database.url,
        kafka: createKafka(cfg, 'recon-test-relay', log),
        topic: cfg.kafka.eventsTopic,
        settings: cfg.relay,
        log,
        registry: new Registry(),
      });
      relay.start();
    },
    async stop() {
      const r = relay;
      relay = undefined;
      await r?.stop();
    },
  };
  relayControl.start();

  async function deployment(opts: DeploymentOptions = {}): Promise<Deployment> {
    const prefix = `recon-${crypto.randomUUID().slice(0, 8)}-`;
    const dcfg = loadConfig({ ...process.env, ...pipeline.env, TEMPORAL_TASK_QUEUE_PREFIX: prefix, ...extraEnv });
    const running: RunningWorkers[] = [];
    const started = new Set<Kind>();
    const real = createStepActivities({ db: pipeline.db, faults: opts.faults });
    // A payment service that acknowledges a charge it never wrote, or voids the payment and acknowledges it.
    const phantomCharge = async () => ({ transactionId: crypto.randomUUID(), applied: true });
    const voidingCharge = async ({ orderId }: { orderId: string }) => {
      await real.refundPayment({ orderId, reason: 'test: voided by a buggy payment service' });
      return { transactionId: crypto.randomUUID(), applied: true };
    };
    const activities = {
      ...real,
      ...(opts.phantomCharge ? { chargePayment: phantomCharge } : opts.voidingCharge ? { chargePayment: voidingCharge } : {}),
      ...(opts.noopRelease ? { releaseInventory: async () => ({ releasedFrom: 'HELD' as const, applied: true }) } : {}),
    };
    const setup = await appWorkersSetup({ cfg: dcfg, db: pipeline.db, connection });
    const d: Deployment = {
      cfg: dcfg,
      prefix,
      place: (customerId, items) => placeOrder({ db: pipeline.db, client: temporal, cfg: dcfg }, customerId, items),
      async start(kinds) {
        const queues = kinds.filter((k) => !started.has(k));
        queues.forEach((k) => started.add(k));
        if (queues.length > 0)
          running.push(await startSagaWorkers({ ...setup, activities, queues, tune: () => ({ shutdownGraceTime: '2 seconds' }) }));
      },
      async stop() {
        await Promise.all(running.map((r) => r.stop()));
      },
    };
    await d.start(opts.workers ?? [...SAGA_QUEUES]);
    deployments.push(d);
    return d;
  }

  async function reconcile(scope: RunScope, settings: Partial<Config['reconciler']> = {}, rcfg: Config = cfg): Promise<RunOutcome> {
    return reconcileOnce({ pg, temporal, cfg: rcfg, log }, { trigger: 'CLI', scope, settings: { ...TEST_SETTINGS, ...settings } });
  }

  async function unresolved(scope: RunScope) {
    const orderIds = scope.orderIds ?? [];
    const { rows } = await owner.query<{ check_name: string; fingerprint: string; raised: boolean; details: unknown }>(
      `WITH subjects AS (
         SELECT unnest($1::text[]) AS id
         UNION SELECT 'order-' || unnest($1::text[])
         UNION SELECT unnest($2::text[]) UNION SELECT unnest($3::text[])
         UNION SELECT customer_id FROM orders WHERE id::text = ANY($1::text[])
         UNION SELECT sku FROM order_items WHERE order_id::text = ANY($1::text[])
         UNION SELECT id::text FROM ledger_transactions WHERE order_id::text = ANY($1::text[])
         UNION SELECT e.transaction_id::text FROM ledger_entries e
                WHERE e.account_id IN (SELECT customer_id FROM orders WHERE id::text = ANY($1::text[])) OR e.account_id = ANY($2::text[])
         UNION SELECT id::text FROM dead_letters WHERE message_key = ANY($1::text[])
       )
       SELECT check_name, fingerprint, raised_at IS NOT NULL AS raised, details FROM reconciliation_findings
        WHERE resolved_at IS NULL AND subject_id IN (SELECT id FROM subjects) ORDER BY check_name, fingerprint`,
      [orderIds, scope.accountIds ?? [], scope.skus ?? []],
    );
    return rows.map((r) => ({
      check: r.check_name,
      fingerprint: r.fingerprint,
      status: r.raised ? ('open' as const) : ('suspect' as const),
      details: r.details,
    }));
  }

  async function expectFindings(scope: RunScope, expected: { check: CheckName; fingerprint: string }[], opts: ExpectOptions = {}) {
    const want = expected
      .map((e) => ({ check: e.check, fingerprint: e.fingerprint, status: 'open' }))
      .sort((a, b) => a.fingerprint.localeCompare(b.fingerprint));
    let last: unknown;
    await eventually(
      async () => {
        await reconcile(scope, opts.settings, opts.cfg);
        const got = (await unresolved(scope)).map(({ check, fingerprint, status }) => ({ check, fingerprint, status }));
        last = got;
        return (
          JSON.stringify(got.sort((a, b) => a.fingerprint.localeCompare(b.fingerprint) || a.check.localeCompare(b.check))) ===
          JSON.stringify(want)
        );
      },
      { timeoutMs: opts.timeoutMs ?? 60_000, intervalMs: 250, what: `findings ${JSON.stringify(want)}` },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last seen: ${JSON.stringify(last)}`);
    });
  }

  async function expectRaisedThenResolved(check: CheckName, fingerprint: string): Promise<void> {
    const { rows } = await owner.query<{ raised: boolean; resolved: boolean }>(
      `SELECT raised_at IS NOT NULL AS raised, resolved_at IS NOT NULL AS resolved FROM reconciliation_findings
        WHERE check_name = $1 AND fingerprint = $2 ORDER BY id DESC`,
      [check, fingerprint],
    );
    expect(rows[0]).toEqual({ raised: true, resolved: true });
    expect(rows.filter((r) => !r.resolved)).toEqual([]);
  }

  const temporalCli = (args: string[]): string => runTemporalCli(cfg, args);

  return {
    pipeline,
    cfg,
    owner,
    temporal,
    consumerFaults,
    relay: relayControl,
    deployment,
    reconcile,
    unresolved,
    expectFindings,
    expectRaisedThenResolved,
    temporalCli,
    async close() {
      await Promise.all(deployments.map((d) => d.stop()));
      await relayControl.stop();
      await audit.stop();
      await connection.close();
      await temporal.connection.close();
      await pg.end();
      await owner.end();
      await pipeline.close();
    },
  };
}
