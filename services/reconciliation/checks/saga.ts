/**
 * Saga liveness, against Temporal's visibility API, set-based: per batch of orders one list
 * query (`WorkflowId IN (...)`), never a describe per order; orphans by listing the running
 * workflows of the deployment's orders task queue page by page. Visibility and search
 * attributes lag the database (the workflow upserts OrderStatus after the transition's
 * activity returns), hence the saga grace window.
 */
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { FINAL_STATUSES, ORDER_WORKFLOW_TYPE, orderWorkflowId, type OrderStatus } from '../../orders/contract';
import { SA, searchAttributeAgrees } from '../../orders/search-attributes';
import type { Batch, BatchCheck, CheckContext, Failure, ListingCheck } from './check';
import { settledBefore } from './check';

/** Statuses a saga passes through; an order should not stay in one of them for long. */
export const IN_FLIGHT_STATUSES: readonly OrderStatus[] = ['PENDING', 'INVENTORY_RESERVED', 'PAYMENT_CAPTURED', 'COMPENSATING'];
/** Statuses whose saga is always running (CONFIRMED: during its compensation window). */
const WORKFLOW_STATUSES: readonly OrderStatus[] = [...IN_FLIGHT_STATUSES, 'NEEDS_ATTENTION'];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Workflow ids per visibility query: keeps the query text a few kilobytes. */
const IDS_PER_QUERY = 200;
const WORKFLOW_PREFIX = orderWorkflowId('');

interface OrderRow {
  id: string;
  status: OrderStatus;
  created_at: Date;
  updated_at: Date;
  compensation_window_closes_at: Date | null;
  compensation_window_closed_at: Date | null;
}

interface RunningWorkflow {
  workflowId: string;
  runId: string;
  orderStatus: string | null;
  startTime: Date;
  taskQueue: string;
}

function running(info: WorkflowExecutionInfo): RunningWorkflow {
  return {
    workflowId: info.workflowId,
    runId: info.runId,
    orderStatus: info.typedSearchAttributes.get(SA.OrderStatus) ?? null,
    startTime: info.startTime,
    taskQueue: info.taskQueue,
  };
}

const quoted = (s: string) => `'${s}'`;

function ordersOf(ctx: CheckContext, batch: Batch): Promise<OrderRow[]> {
  return batch.memo('saga.orders', async () => {
    const { rows } = await ctx.pg.query<OrderRow>(
      `SELECT id::text AS id, status, created_at, updated_at, compensation_window_closes_at, compensation_window_closed_at
         FROM orders WHERE id = ANY($1::uuid[])`,
      [batch.ids],
    );
    return rows;
  });
}

/** The running workflows of the batch's orders, by order id: a few list queries per batch. */
function runningOf(ctx: CheckContext, batch: Batch): Promise<Map<string, RunningWorkflow>> {
  return batch.memo('saga.running', async () => {
    const found = new Map<string, RunningWorkflow>();
    const ids = batch.ids.filter((id) => UUID.test(id));
    for (let i = 0; i < ids.length; i += IDS_PER_QUERY) {
      const chunk = ids.slice(i, i + IDS_PER_QUERY).map((id) => quoted(orderWorkflowId(id)));
      const query = `WorkflowType = '${ORDER_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running' AND WorkflowId IN (${chunk.join(', ')})`;
      for await (const info of ctx.temporal.workflow.list({ query, pageSize: IDS_PER_QUERY })) {
        found.set(info.workflowId.slice(WORKFLOW_PREFIX.length), running(info));
      }
    }
    return found;
  });
}

/**
 * The saga of a CONFIRMED order waits out its compensation window, then completes; a window
 * closed early (the workflow cancelled while CONFIRMED: `temporal workflow cancel`, the Web UI's
 * Request Cancellation) ends it too. The window is a fact of the order: its deadline and its
 * closing, not the row's updated_at (which the closing itself moves).
 */
function needsWorkflow(ctx: CheckContext, o: OrderRow): boolean {
  if (WORKFLOW_STATUSES.includes(o.status)) return true;
  if (o.status !== 'CONFIRMED' || o.compensation_window_closed_at) return false;
  const closesAt = o.compensation_window_closes_at?.getTime() ?? o.updated_at.getTime() + ctx.compensationWindowMs;
  return ctx.now.getTime() < closesAt;
}

export const workflowRunning: BatchCheck = {
  kind: 'batch',
  name: 'saga.workflow_running',
  subjects: 'live_orders',
  async examine(ctx, batch, openIds) {
    const [orders, workflows] = await Promise.all([ordersOf(ctx, batch), runningOf(ctx, batch)]);
    const settled = settledBefore(ctx, 'saga.workflow_running');
    const open = new Set(openIds);
    return orders
      .filter((o) => needsWorkflow(ctx, o) && (o.created_at < settled || open.has(o.id)) && !workflows.has(o.id))
      .map((o) => ({
        subjectId: o.id,
        details: { status: o.status, workflowId: orderWorkflowId(o.id), statusSinceMs: ctx.now.getTime() - o.updated_at.getTime() },
      }));
  },
};

export const searchAttribute: BatchCheck = {
  kind: 'batch',
  name: 'saga.search_attribute',
  subjects: 'live_orders',
  async examine(ctx, batch, openIds) {
    const [orders, workflows] = await Promise.all([ordersOf(ctx, batch), runningOf(ctx, batch)]);
    const settled = settledBefore(ctx, 'saga.search_attribute');
    const open = new Set(openIds);
    const failures: Failure[] = [];
    for (const o of orders) {
      const wf = workflows.get(o.id);
      if (!wf || (o.updated_at >= settled && !open.has(o.id))) continue;
      if (!searchAttributeAgrees(o.status, wf.orderStatus)) {
        failures.push({
          subjectId: o.id,
          details: { status: o.status, searchAttribute: wf.orderStatus, workflowId: wf.workflowId, runId: wf.runId },
        });
      }
    }
    return failures;
  },
};

export const stuck: BatchCheck = {
  kind: 'batch',
  name: 'saga.stuck',
  subjects: 'live_orders',
  async examine(ctx, batch) {
    const orders = await ordersOf(ctx, batch);
    const limit = ctx.settings.stuckMs;
    return orders
      .filter((o) => IN_FLIGHT_STATUSES.includes(o.status) && ctx.now.getTime() - o.updated_at.getTime() > limit)
      .map((o) => ({
        subjectId: o.id,
        details: { status: o.status, statusSinceMs: ctx.now.getTime() - o.updated_at.getTime(), thresholdMs: limit },
      }));
  },
};

/** Task queue names go into a visibility query literal. */
const SAFE_QUEUE = /^[A-Za-z0-9._:\-/]+$/;

export const orphanWorkflow: ListingCheck = {
  kind: 'listing',
  name: 'saga.orphan_workflow',
  fullPassOnly: true,
  async examine(ctx, scope, emit) {
    if (!SAFE_QUEUE.test(ctx.ordersTaskQueue)) throw new Error(`task queue "${ctx.ordersTaskQueue}" cannot be put into a visibility query`);
    const startedBefore = settledBefore(ctx, 'saga.orphan_workflow').toISOString();
    const clauses = [
      `WorkflowType = '${ORDER_WORKFLOW_TYPE}'`,
      `ExecutionStatus = 'Running'`,
      `TaskQueue = '${ctx.ordersTaskQueue}'`,
      `StartTime < '${startedBefore}'`,
    ];
    const lists: string[] = [];
    if (scope) {
      const ids = scope.orderIds.filter((id) => UUID.test(id));
      if (ids.length === 0) return;
      for (let i = 0; i < ids.length; i += IDS_PER_QUERY) {
        lists.push(
          `${clauses.join(' AND ')} AND WorkflowId IN (${ids
            .slice(i, i + IDS_PER_QUERY)
            .map((id) => quoted(orderWorkflowId(id)))
            .join(', ')})`,
        );
      }
    } else {
      lists.push(clauses.join(' AND '));
    }
    const size = ctx.settings.batchSize;
    for (const query of lists) {
      let page: RunningWorkflow[] = [];
      for await (const info of ctx.temporal.workflow.list({ query, pageSize: size })) {
        page.push(running(info));
        if (page.length >= size) {
          await emit(await orphansIn(ctx, page));
          page = [];
        }
      }
      if (page.length > 0) await emit(await orphansIn(ctx, page));
    }
  },
  async scopeSubjects(_ctx, scope) {
    return scope.orderIds.map(orderWorkflowId);
  },
};

async function orphansIn(ctx: CheckContext, page: RunningWorkflow[]): Promise<Failure[]> {
  const orderIds = page.map((w) => w.workflowId.slice(WORKFLOW_PREFIX.length)).filter((id) => UUID.test(id));
  const { rows } = await ctx.pg.query<{ id: string }>('SELECT id::text AS id FROM orders WHERE id = ANY($1::uuid[])', [orderIds]);
  const known = new Set(rows.map((r) => r.id));
  return page
    .filter((w) => !known.has(w.workflowId.slice(WORKFLOW_PREFIX.length)))
    .map((w) => ({
      subjectId: w.workflowId,
      details: {
        workflowId: w.workflowId,
        runId: w.runId,
        taskQueue: w.taskQueue,
        startTime: w.startTime.toISOString(),
        searchAttribute: w.orderStatus,
      },
    }));
}

/** Final statuses, re-exported for the runner's enumeration of live orders. */
export const SAGA_FINAL_STATUSES = FINAL_STATUSES;
