/**
 * Starting an order's saga. The order row is committed first; the workflow is started
 * after, with an id derived from the order id, so starting twice is harmless. If the
 * process dies between the two, the sweeper (run by the orders worker) finds the order
 * with no saga_started_at and starts it: an order is never orphaned.
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { Config } from '../../lib/config';
import { runStatement, type Db } from '../../lib/db';
import { prepared, sql } from '../../lib/sql';
import type { Logger } from '../../lib/logger';
import type { Registry } from 'prom-client';
import { counter } from '../../lib/metrics';
import { ORDER_WORKFLOW_TYPE, orderWorkflowId, type OrderSagaInput } from './contract';
import { ordersTaskQueue } from './task-queues';
import { SA } from './search-attributes';
import { isResourceExhausted } from './admission';

export interface StartableOrder {
  id: string;
  customerId: string;
  currency: string;
  totalMinor: number;
  items: { sku: string; quantity: number; unitPriceMinor: number }[];
}

export function sagaInput(cfg: Config, order: StartableOrder): OrderSagaInput {
  return {
    orderId: order.id,
    customerId: order.customerId,
    currency: order.currency,
    totalMinor: order.totalMinor,
    items: order.items,
    options: {
      taskQueuePrefix: cfg.workers.taskQueuePrefix,
      compensationWindowMs: cfg.workers.compensationWindowMs,
      compensationMaxAttempts: cfg.workers.compensationMaxAttempts,
    },
  };
}

/** Starts the order's workflow; returns false if it already existed. */
export async function startSaga(client: Client, cfg: Config, order: StartableOrder): Promise<boolean> {
  try {
    await client.workflow.start(ORDER_WORKFLOW_TYPE, {
      workflowId: orderWorkflowId(order.id),
      taskQueue: ordersTaskQueue(cfg.workers.taskQueuePrefix),
      args: [sagaInput(cfg, order)],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes: searchAttributes(order),
      staticSummary: workflowSummary(order),
    });
    return true;
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return false;
    throw err;
  }
}

/** An order row with its lines, as STARTABLE selects it. */
interface StartableRow {
  id: string;
  customer_id: string;
  currency: string;
  total_minor: bigint;
  workflow_id: string;
  items: { sku: string; quantity: number; unitPriceMinor: string }[];
}

/** Orders with their lines in line order, one statement (plain SQL: the sweeper polls it all day). */
const STARTABLE = sql`SELECT o.id::text, o.customer_id, o.currency, o.total_minor, o.workflow_id,
         COALESCE((SELECT json_agg(json_build_object('sku', i.sku, 'quantity', i.quantity, 'unitPriceMinor', i.unit_price_minor::text)
                                   ORDER BY i.line_no)
                     FROM order_items i WHERE i.order_id = o.id), '[]'::json) AS items
    FROM orders o`;

function toStartable(o: StartableRow): StartableOrder {
  return {
    id: o.id,
    customerId: o.customer_id,
    currency: o.currency,
    totalMinor: Number(o.total_minor),
    items: o.items.map((i) => ({ sku: i.sku, quantity: i.quantity, unitPriceMinor: Number(i.unitPriceMinor) })),
  };
}

/** The order as the saga needs it, from the database. */
export async function loadStartableOrder(db: Db, orderId: string): Promise<StartableOrder | null> {
  const [o] = await runStatement<StartableRow & Record<string, unknown>>(db, sql`${STARTABLE} WHERE o.id = ${orderId}::uuid`);
  return o ? toStartable(o) : null;
}

/** The saga has finished (its workflow is closed) and can take no more signals. */
export class SagaClosedError extends Error {
  override name = 'SagaClosedError';
}

/**
 * Signals an order's saga, starting it first if its start was lost (signal-with-start).
 * Never starts a second run of a finished saga: REJECT_DUPLICATE makes that an error.
 */
export async function signalSaga(client: Client, cfg: Config, db: Db, orderId: string, signal: string, arg: unknown): Promise<void> {
  const order = await loadStartableOrder(db, orderId);
  if (!order) throw new Error(`order ${orderId} does not exist`);
  try {
    await client.workflow.signalWithStart(ORDER_WORKFLOW_TYPE, {
      workflowId: orderWorkflowId(orderId),
      taskQueue: ordersTaskQueue(cfg.workers.taskQueuePrefix),
      args: [sagaInput(cfg, order)],
      signal,
      signalArgs: [arg],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes: searchAttributes(order),
      staticSummary: workflowSummary(order),
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw new SagaClosedError(`the saga of order ${orderId} has finished`);
    throw err;
  }
}

/** The workflow's line in the Web UI (user metadata, set at start): who, how much, how many lines; nothing secret. */
export function workflowSummary(order: StartableOrder): string {
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const units = order.items.reduce((n, i) => n + i.quantity, 0);
  return `order ${order.id}: ${order.customerId}, ${order.totalMinor} ${order.currency} minor units, ${count(units, 'unit')} in ${count(order.items.length, 'line')}`;
}

function searchAttributes(order: StartableOrder) {
  return [
    { key: SA.OrderId, value: order.id },
    { key: SA.CustomerId, value: order.customerId },
    { key: SA.OrderStatus, value: 'PENDING' },
  ];
}

export async function markSagaStarted(db: Db, orderIds: string[]): Promise<void> {
  if (orderIds.length === 0) return;
  await runStatement(
    db,
    prepared(sql`UPDATE orders SET saga_started_at = now() WHERE id = ANY(${orderIds}::uuid[]) AND saga_started_at IS NULL`),
  );
}

export interface SweepResult {
  /** Orders whose saga this sweep started, or found already started. */
  started: string[];
  /** Orders whose start failed (each is retried by the next sweep). */
  failed: string[];
}

export interface SweepOptions {
  /** Where `saga_sweeper_starts_total{outcome}` is counted. */
  registry?: Registry;
  limit?: number;
}

/**
 * Starts the saga of every order committed more than `graceMs` ago whose start is
 * unconfirmed. Each order on its own: one that Temporal refuses is logged, counted and left
 * for the next sweep, and the orders after it are still started.
 */
export async function sweepUnstartedSagas(db: Db, client: Client, cfg: Config, log: Logger, opts: SweepOptions = {}): Promise<SweepResult> {
  const cutoff = new Date(Date.now() - cfg.workers.sagaStartGraceMs);
  // The partial index orders_saga_not_started_idx holds exactly these rows.
  const orders = await runStatement<StartableRow & Record<string, unknown>>(
    db,
    sql`${STARTABLE} WHERE o.saga_started_at IS NULL AND o.created_at < ${cutoff}::timestamptz ORDER BY o.created_at LIMIT ${opts.limit ?? 200}::int`,
  );
  const counted = opts.registry
    ? counter(
        opts.registry,
        'saga_sweeper_starts_total',
        'Orders the saga-start sweeper had to start (started) or could not start (failed, retried next sweep).',
        ['outcome'],
      )
    : undefined;
  const result: SweepResult = { started: [], failed: [] };
  for (const o of orders) {
    try {
      const created = await startSaga(client, cfg, toStartable(o));
      if (created) {
        log.warn({ orderId: o.id, workflowId: o.workflow_id }, 'started an orphaned order saga');
        counted?.inc({ outcome: 'started' });
      }
      result.started.push(o.id);
    } catch (err) {
      log.error({ err, orderId: o.id, workflowId: o.workflow_id }, 'sweeper could not start the order saga; retrying next sweep');
      counted?.inc({ outcome: 'failed' });
      result.failed.push(o.id);
      // Temporal is over a limit: the rest wait for the next sweep instead of adding to its load.
      if (isResourceExhausted(err)) break;
    }
  }
  await markSagaStarted(db, result.started);
  return result;
}

/** Runs sweeps one at a time: a tick while the last sweep is still running is skipped. */
export function singleFlight<T>(fn: () => Promise<T>): () => Promise<T | 'skipped'> {
  let inFlight: Promise<T> | undefined;
  return async () => {
    if (inFlight) return 'skipped';
    inFlight = fn();
    try {
      return await inFlight;
    } finally {
      inFlight = undefined;
    }
  };
}
