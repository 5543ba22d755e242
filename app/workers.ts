/**
 * The three Temporal workers. Orders hosts the saga workflow and the orders service's local
 * activities; payments and inventory each host their own activities on their own task
 * queue, so each service deploys and scales on its own.
 */
import { Worker, type NativeConnection, type WorkflowBundleOption } from '@temporalio/worker';
import type { Registry } from 'prom-client';
import { createInventoryActivities } from '../activities/inventory';
import { createOrderActivities } from '../activities/orders';
import { createPaymentActivities } from '../activities/payment';
import type { Config } from '../lib/config';
import type { Db } from '../lib/db';
import { noFaults, type Faults } from '../lib/faults';
import type { Logger } from '../lib/logger';
import type { Tracing } from '../lib/tracing';
import { taskQueues } from '../services/orders/task-queues';
import { transitionObserver, workerObservability } from './worker-observability';
import { workflowBundle } from './workflow-source';

export interface WorkerDeps {
  cfg: Config;
  db: Db;
  connection: NativeConnection;
  faults?: Faults;
  /** A workflow bundle of the caller's; otherwise the prebuilt one or workflows/ (app/workflow-source.ts). */
  workflowBundle?: WorkflowBundleOption;
  /** Observability (app roles pass them): activity logs and step/saga metrics, tracing. */
  log?: Logger;
  registry?: Registry;
  tracing?: Tracing;
}

function common(deps: WorkerDeps) {
  return {
    connection: deps.connection,
    namespace: deps.cfg.temporal.namespace,
    maxConcurrentActivityTaskExecutions: deps.cfg.workers.maxConcurrentActivities,
    maxConcurrentLocalActivityExecutions: deps.cfg.workers.maxConcurrentActivities,
    shutdownGraceTime: '10 seconds',
  } as const;
}

export async function createOrdersWorker(deps: WorkerDeps): Promise<Worker> {
  return Worker.create({
    ...common(deps),
    taskQueue: taskQueues(deps.cfg.workers.taskQueuePrefix).orders,
    workflowBundle: await workflowBundle(deps),
    activities: createOrderActivities({ db: deps.db, onTransition: transitionObserver(deps) }),
    ...workerObservability(deps, true),
    maxConcurrentWorkflowTaskExecutions: deps.cfg.workers.maxConcurrentWorkflowTasks,
    maxCachedWorkflows: deps.cfg.workers.maxCachedWorkflows,
  });
}

export function createPaymentsWorker(deps: WorkerDeps): Promise<Worker> {
  return Worker.create({
    ...common(deps),
    taskQueue: taskQueues(deps.cfg.workers.taskQueuePrefix).payments,
    activities: createPaymentActivities({ db: deps.db, faults: deps.faults ?? noFaults }),
    ...workerObservability(deps),
  });
}

export function createInventoryWorker(deps: WorkerDeps): Promise<Worker> {
  return Worker.create({
    ...common(deps),
    taskQueue: taskQueues(deps.cfg.workers.taskQueuePrefix).inventory,
    activities: createInventoryActivities({ db: deps.db, faults: deps.faults ?? noFaults }),
    ...workerObservability(deps),
  });
}
