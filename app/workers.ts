/**
 * The saga's Temporal workers, one per task queue of the step table (workflows/saga-steps.ts):
 * the orders worker hosts the saga workflow and the orders service's local activities; every
 * other queue's worker hosts the step and compensation activities the table puts on it, so
 * each service deploys and scales on its own. `startSagaWorkers` is the one worker starter:
 * the app's roles, the benchmarks and every test environment (real or fake activities) use it.
 */
import { Worker, type NativeConnection, type WorkerOptions, type WorkflowBundleOption } from '@temporalio/worker';
import type { Registry } from 'prom-client';
import { createStepActivities } from '../activities';
import { createOrderActivities } from '../activities/orders';
import type { Config } from '../lib/config';
import type { Db } from '../lib/db';
import { noFaults, type Faults } from '../lib/faults';
import type { Logger } from '../lib/logger';
import type { Tracing } from '../lib/tracing';
import { ORDERS_TASK_QUEUE } from '../services/orders/contract';
import { activitiesOn, prefixedQueue, SAGA_QUEUES } from '../workflows/saga-steps';
import { transitionObserver, workerObservability } from './worker-observability';
import { workflowBundle } from './workflow-source';

/** Where the orders worker's workflow code comes from: a bundle built ahead of time, or the source to bundle at start. */
export type WorkflowSource = { workflowBundle: WorkflowBundleOption } | { workflowsPath: string };

type Activities = Record<string, (...args: never[]) => Promise<unknown>>;

export interface SagaWorkersSetup {
  connection: NativeConnection;
  namespace: string;
  /** Prefix of every queue (config TEMPORAL_TASK_QUEUE_PREFIX); the saga is started with the same one. */
  taskQueuePrefix: string;
  /** The orders worker's workflow code (needed only when the orders queue is among `queues`). */
  workflows?: WorkflowSource;
  /** Step and compensation activities by name (more is fine): each worker takes those of its queue. */
  activities: Activities;
  /** The orders worker's local activities (transitionOrder, compensationFacts). */
  localActivities: Activities;
  /** Whose workers to start (queues before the prefix); default every queue of the saga. */
  queues?: readonly string[];
  /** Options a queue's worker adds (tuning, observability). */
  tune?: (queue: string) => Partial<WorkerOptions>;
}

function pick(activities: Activities, names: readonly string[], queue: string): Activities {
  const missing = names.filter((n) => typeof activities[n] !== 'function');
  if (missing.length > 0) throw new Error(`the worker of queue ${queue} has no activity ${missing.join(', ')}`);
  return Object.fromEntries(names.map((n) => [n, activities[n]!]));
}

/** Creates the workers of the given queues (not yet running), as the step table assigns activities. */
export function createSagaWorkers(setup: SagaWorkersSetup): Promise<Worker[]> {
  const queues = setup.queues ?? SAGA_QUEUES;
  const unknown = queues.filter((q) => !SAGA_QUEUES.includes(q));
  if (unknown.length > 0) throw new Error(`not a task queue of the saga: ${unknown.join(', ')}; known: ${SAGA_QUEUES.join(', ')}`);
  return Promise.all(
    queues.map((queue) => {
      const hostsWorkflows = queue === ORDERS_TASK_QUEUE;
      if (hostsWorkflows && !setup.workflows) throw new Error('the orders worker needs its workflow code (setup.workflows)');
      const steps = pick(setup.activities, activitiesOn(queue), queue);
      return Worker.create({
        connection: setup.connection,
        namespace: setup.namespace,
        taskQueue: prefixedQueue(setup.taskQueuePrefix, queue),
        ...(hostsWorkflows ? setup.workflows : {}),
        activities: hostsWorkflows ? { ...steps, ...setup.localActivities } : steps,
        ...setup.tune?.(queue),
      });
    }),
  );
}

/** Running workers: stop() shuts them down and waits for them. */
export interface RunningWorkers {
  workers: Worker[];
  stop(): Promise<void>;
}

/** Creates and runs the workers of the given queues; a worker that failed makes stop() throw its error. */
export async function startSagaWorkers(setup: SagaWorkersSetup): Promise<RunningWorkers> {
  const workers = await createSagaWorkers(setup);
  const runs = workers.map((w) => w.run());
  // Handled here, so a worker that fails before stop() is no unhandled rejection; stop() reports it.
  const outcomes = Promise.allSettled(runs);
  return {
    workers,
    async stop() {
      workers.filter((w) => w.getState() === 'RUNNING').forEach((w) => w.shutdown());
      const failed = (await outcomes).find((o): o is PromiseRejectedResult => o.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}

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

/** The app's workers of the given queues (default all): real activities, the deployment's tuning and observability. */
export async function appWorkersSetup(deps: WorkerDeps, queues: readonly string[] = SAGA_QUEUES): Promise<SagaWorkersSetup> {
  const { cfg } = deps;
  return {
    connection: deps.connection,
    namespace: cfg.temporal.namespace,
    taskQueuePrefix: cfg.workers.taskQueuePrefix,
    // Only the orders worker runs workflows: the others never load (or build) a bundle.
    ...(queues.includes(ORDERS_TASK_QUEUE) ? { workflows: { workflowBundle: await workflowBundle(deps) } } : {}),
    activities: createStepActivities({ db: deps.db, faults: deps.faults ?? noFaults }),
    localActivities: createOrderActivities({
      db: deps.db,
      onTransition: transitionObserver(deps),
      temporal: { connection: deps.connection, namespace: cfg.temporal.namespace },
    }),
    queues,
    tune: (queue) => ({
      maxConcurrentActivityTaskExecutions: cfg.workers.maxConcurrentActivities,
      maxConcurrentLocalActivityExecutions: cfg.workers.maxConcurrentActivities,
      shutdownGraceTime: '10 seconds',
      ...workerObservability(deps, queue === ORDERS_TASK_QUEUE),
      ...(queue === ORDERS_TASK_QUEUE
        ? {
            maxConcurrentWorkflowTaskExecutions: cfg.workers.maxConcurrentWorkflowTasks,
            maxCachedWorkflows: cfg.workers.maxCachedWorkflows,
          }
        : {}),
    }),
  };
}
