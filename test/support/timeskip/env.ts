/**
 * A time-skipping Temporal environment for workflow unit tests: Temporal's Java test server
 * (installed from Maven Central by scripts/stack/test-server.ts, started per test file), the
 * saga's search attributes registered, the workflow bundle built once per process, and the
 * saga's workers (app/workers.ts, one per queue of the step table) per test, hosting fake
 * activities on task queues of the test's own prefix.
 */
import crypto from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startSagaWorkers } from '../../../app/workers';
import { loadStackConfig } from '../../../scripts/stack/config';
import { ensureTestServer } from '../../../scripts/stack/test-server';
import { ordersTaskQueue } from '../../../services/orders/task-queues';
import {
  orderWorkflowId,
  SEARCH_ATTRIBUTES,
  type OrderSagaInput,
  type SagaOptions,
  type SagaState,
} from '../../../services/orders/contract';
import { orderSaga, statusQuery } from '../../../workflows/order-saga';
import type { FakeSagaActivities } from './fakes';
import { cachedPlainBundle } from '../workflow-bundles';

export type SagaHandle = WorkflowHandle<typeof orderSaga>;

const silent = () => undefined;
/** For webpack's bundling chatter: errors only. */
export const quietLogger = {
  log: silent,
  trace: silent,
  debug: silent,
  info: silent,
  warn: silent,
  error: (message: string) => console.error(message),
};

/**
 * The SDK logs every failed activity attempt as a warning; the tests fail activities on
 * purpose, so only errors are shown (ORDER_SAGA_TEST_LOG_LEVEL=DEBUG etc. shows more).
 */
export function installQuietRuntime(): void {
  const level = (process.env.ORDER_SAGA_TEST_LOG_LEVEL ?? 'ERROR') as 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  try {
    Runtime.install({
      logger: new DefaultLogger(level),
      telemetryOptions: { logging: { filter: { core: level, other: level }, forward: {} } },
    });
  } catch {
    // Already installed in this module registry: keep it.
  }
}

/** The SDK gives the server 5 s to answer; a JVM on a busy machine may need a second try. */
async function createWithRetry(path: string, attempts = 3): Promise<TestWorkflowEnvironment> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path } } });
    } catch (err) {
      if (attempt >= attempts) throw err;
    }
  }
}

/** Starts the Java test server (installing it on first use) and registers the saga's search attributes. */
export async function startTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  installQuietRuntime();
  const path = await ensureTestServer(loadStackConfig());
  const env = await createWithRetry(path);
  const keyword = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(Object.keys(SEARCH_ATTRIBUTES).map((name) => [name, keyword])),
  });
  return env;
}

let bundle: Promise<{ codePath: string }> | undefined;

/** The production workflow code (workflows/index.ts), bundled once per workflow change (test/support/workflow-bundles.ts). */
export function sagaWorkflowBundle(): Promise<{ codePath: string }> {
  bundle ??= cachedPlainBundle(require.resolve('../../../workflows'));
  return bundle;
}

/** A saga's input; its activities run on the queues of `taskQueuePrefix`. */
export function sagaInput(orderId: string, taskQueuePrefix: string, options?: SagaOptions): OrderSagaInput {
  return {
    orderId,
    customerId: 'customer-1',
    currency: 'EUR',
    totalMinor: 2500,
    items: [
      { sku: 'SKU-APPLE', quantity: 2, unitPriceMinor: 500 },
      { sku: 'SKU-PEAR', quantity: 3, unitPriceMinor: 500 },
    ],
    options: { taskQueuePrefix, ...options },
  };
}

export interface SagaRun {
  /** The prefix of this run's task queues. */
  taskQueuePrefix: string;
  /** Starts the saga for an order (a random order id unless given) on this run's worker. */
  start(options?: SagaOptions, orderId?: string): Promise<SagaHandle>;
}

/**
 * Runs `body` while the saga's workers with the given fakes serve fresh task queues. Afterwards
 * the workers stop, held fake activities are let go and sagas still open are terminated, so one
 * test never leaves timers behind for the next (time skipping is global to the server).
 */
export async function withSagaWorker<T>(
  env: TestWorkflowEnvironment,
  fakes: FakeSagaActivities,
  body: (run: SagaRun) => Promise<T>,
): Promise<T> {
  const taskQueuePrefix = `saga-test-${crypto.randomUUID()}-`;
  const workers = await startSagaWorkers({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueuePrefix,
    workflows: { workflowBundle: await sagaWorkflowBundle() },
    activities: fakes.activities,
    localActivities: fakes.activities,
  });
  const started: SagaHandle[] = [];
  const run: SagaRun = {
    taskQueuePrefix,
    async start(options, orderId = crypto.randomUUID()) {
      const handle = await env.client.workflow.start(orderSaga, {
        workflowId: orderWorkflowId(orderId),
        taskQueue: ordersTaskQueue(taskQueuePrefix),
        args: [sagaInput(orderId, taskQueuePrefix, options)],
      });
      started.push(handle);
      return handle;
    },
  };
  try {
    return await body(run).finally(() => fakes.releaseAll());
  } finally {
    await workers.stop();
    for (const handle of started) {
      try {
        const { status } = await handle.describe();
        if (status.name === 'RUNNING') await handle.terminate('test over');
      } catch {
        // Cleanup only: never hide the test's own failure.
      }
    }
  }
}

const realDelay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` in real time until it returns true (for fake-activity calls, not workflow time). */
export async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await realDelay(10);
  }
}

/**
 * Queries the saga's status until `accept` returns true, skipping `stepMs` of workflow time
 * between polls (so retry backoffs elapse), for at most `timeoutMs` of real time.
 */
export async function waitForStatus(
  env: TestWorkflowEnvironment,
  handle: SagaHandle,
  accept: (state: SagaState) => boolean,
  { stepMs = 1000, timeoutMs = 20_000 }: { stepMs?: number; timeoutMs?: number } = {},
): Promise<SagaState> {
  const deadline = Date.now() + timeoutMs;
  let last: SagaState | undefined;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      last = await handle.query(statusQuery);
      if (accept(last)) return last;
    } catch (err) {
      // The first workflow task may not have run yet.
      lastError = err;
    }
    await env.sleep(stepMs);
    await realDelay(10);
  }
  const seen = last ? JSON.stringify(last) : `no answer (${lastError instanceof Error ? lastError.message : String(lastError)})`;
  throw new Error(`timed out waiting for saga ${handle.workflowId}; last status ${seen}`);
}
