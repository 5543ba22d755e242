/**
 * The saga liveness checks against the real Temporal server, with faults made the way they
 * happen: a workflow terminated with the temporal CLI, an order moved on outside its workflow
 * by an operator script, a saga started by hand for no order, workers that are down; and the
 * events check against an operator who finished an order in SQL. Each test asserts exactly
 * that finding with its fingerprint, and that it resolves after the repair.
 */
import crypto from 'node:crypto';
import { createInventoryActivities } from '../../activities/inventory';
import { createOrderActivities } from '../../activities/orders';
import { ORDER_EVENTS, ORDER_AGGREGATE, orderWorkflowId, type OrderSagaInput } from '../../services/orders/contract';
import { ordersTaskQueue } from '../../services/orders/task-queues';
import { inTransaction } from '../../lib/db';
import { appendEvents } from '../../services/platform/outbox/outbox';
import { createCustomer, createProduct, waitForStatus } from '../support/fixtures';
import { startReconciliationEnv, TEST_SETTINGS, type Deployment, type ReconciliationEnv } from '../support/reconciliation-env';
import { SA } from '../../services/orders/search-attributes';
import { eventually } from '../support/wait';

let env: ReconciliationEnv;

beforeAll(async () => {
  env = await startReconciliationEnv('recon-saga');
}, 180_000);
afterAll(async () => {
  await env?.close();
});

const db = () => env.pipeline.db;

/**
 * An order whose saga runs but cannot get past its first step: the inventory (and payment)
 * services of its deployment are down, so it waits in PENDING, its workflow running.
 */
async function parkedOrder(): Promise<{ d: Deployment; orderId: string; sku: string }> {
  const d = await env.deployment({ workers: ['orders'] });
  const sku = await createProduct(db(), { stock: 10, priceMinor: 400 });
  const customer = await createCustomer(db(), { balanceMinor: 10_000 });
  const order = await d.place(customer, [{ sku, quantity: 1 }]);
  // The workflow has run its first task: the reservation waits on the inventory queue.
  await eventually(
    async () => ((await env.temporal.workflow.getHandle(orderWorkflowId(order.id)).describe()).raw.pendingActivities?.length ?? 0) > 0,
    {
      what: `the saga of ${order.id} to wait for the inventory service`,
    },
  );
  return { d, orderId: order.id, sku };
}

/**
 * For the faults found only through the saga or stream window (4 s in TEST_SETTINGS, waited
 * out twice: examined, then raised): a 1 s window. The scope is the faulted order alone.
 */
const QUICK = { settings: { sagaGraceMs: 1000, streamLagMs: 1000 } };

test('saga.workflow_running: when an operator terminates the workflow of a PENDING order with the temporal CLI, the order is found, and resolves once the workflow is reset', async () => {
  const { orderId } = await parkedOrder();
  const workflowId = orderWorkflowId(orderId);
  env.temporalCli(['workflow', 'terminate', '--workflow-id', workflowId, '--reason', 'test: terminated by an operator']);
  const scope = { orderIds: [orderId] };
  const fingerprint = `order:${orderId}`;
  await env.expectFindings(scope, [{ check: 'saga.workflow_running', fingerprint }], QUICK);
  expect((await env.unresolved(scope))[0]?.details).toMatchObject({ status: 'PENDING', workflowId });

  env.temporalCli(['workflow', 'reset', '--workflow-id', workflowId, '--type', 'FirstWorkflowTask', '--reason', 'test: restore the saga']);
  await env.expectFindings(scope, [], QUICK);
  await env.expectRaisedThenResolved('saga.workflow_running', fingerprint);
});

test('saga.search_attribute: when an operator script reserves stock and parks the order in NEEDS_ATTENTION outside its workflow, the stale OrderStatus is found, and resolves once the saga catches up', async () => {
  const { d, orderId, sku } = await parkedOrder();
  // The services' own code paths, called by hand: everything in the database agrees. NEEDS_ATTENTION
  // is a status the saga writes to OrderStatus (unlike the transient ones, where PENDING agrees).
  await createInventoryActivities({ db: db() }).reserveInventory({ orderId, items: [{ sku, quantity: 1 }] });
  await createOrderActivities({ db: db() }).transitionOrder({
    orderId,
    transitionKey: 'ops:reserveInventory:FAILED',
    step: 'reserveInventory',
    stepStatus: 'FAILED',
    orderStatus: 'NEEDS_ATTENTION',
  });
  const scope = { orderIds: [orderId] };
  const fingerprint = `order:${orderId}`;
  await env.expectFindings(scope, [{ check: 'saga.search_attribute', fingerprint }], QUICK);
  expect((await env.unresolved(scope))[0]?.details).toMatchObject({ status: 'NEEDS_ATTENTION', searchAttribute: 'PENDING' });

  await d.start(['inventory', 'payments']);
  await waitForStatus(db(), orderId, 'CONFIRMED');
  await env.expectFindings(scope, [], QUICK);
  await env.expectRaisedThenResolved('saga.search_attribute', fingerprint);
});

test('saga.search_attribute: a saga waiting for its charge shows OrderStatus PENDING (no upsert for transient statuses) and is not a finding', async () => {
  // The payment service is down: the order waits in INVENTORY_RESERVED, its search attribute still PENDING.
  const d = await env.deployment({ workers: ['orders', 'inventory'] });
  const sku = await createProduct(db(), { stock: 10, priceMinor: 400 });
  const customer = await createCustomer(db(), { balanceMinor: 10_000 });
  const order = await d.place(customer, [{ sku, quantity: 1 }]);
  await waitForStatus(db(), order.id, 'INVENTORY_RESERVED');
  const handle = env.temporal.workflow.getHandle(orderWorkflowId(order.id));
  // Past the saga grace window, so a disagreement would be raised, not merely suspected.
  await eventually(
    async () => {
      const row = await db().order.findUniqueOrThrow({ where: { id: order.id } });
      return row.status === 'INVENTORY_RESERVED' && Date.now() - row.updatedAt.getTime() > TEST_SETTINGS.sagaGraceMs + 1000;
    },
    { what: `order ${order.id} to stay INVENTORY_RESERVED past the saga grace window` },
  );
  // Visibility has had the grace window to catch up: a transient status would show by now.
  expect((await handle.describe()).typedSearchAttributes.get(SA.OrderStatus)).toBe('PENDING');
  const scope = { orderIds: [order.id] };
  await env.reconcile(scope);
  expect((await env.unresolved(scope)).filter((f) => f.check.startsWith('saga.'))).toEqual([]);

  await d.start(['payments']);
  await waitForStatus(db(), order.id, 'CONFIRMED');
  await eventually(async () => (await handle.describe()).typedSearchAttributes.get(SA.OrderStatus) === 'CONFIRMED', {
    what: 'OrderStatus to say CONFIRMED',
  });
});

test('saga.orphan_workflow: when a saga is started by hand for an order that does not exist, the workflow is found, and resolves once it is terminated', async () => {
  const d = await env.deployment({ workers: ['orders'] });
  const ghost = crypto.randomUUID();
  const workflowId = orderWorkflowId(ghost);
  const input: OrderSagaInput = {
    orderId: ghost,
    customerId: 'nobody',
    currency: 'EUR',
    totalMinor: 100,
    items: [{ sku: 'NO-SUCH-SKU', quantity: 1, unitPriceMinor: 100 }],
    options: { taskQueuePrefix: d.prefix },
  };
  env.temporalCli([
    'workflow',
    'start',
    '--type',
    'orderSaga',
    '--task-queue',
    ordersTaskQueue(d.prefix),
    '--workflow-id',
    workflowId,
    '--input',
    JSON.stringify(input),
  ]);
  const scope = { orderIds: [ghost] };
  const fingerprint = `workflow:${workflowId}`;
  // Orphans are looked for on the deployment's own task queue.
  await env.expectFindings(scope, [{ check: 'saga.orphan_workflow', fingerprint }], { ...QUICK, cfg: d.cfg });

  env.temporalCli(['workflow', 'terminate', '--workflow-id', workflowId, '--reason', 'test: no such order']);
  await env.expectFindings(scope, [], { ...QUICK, cfg: d.cfg });
  await env.expectRaisedThenResolved('saga.orphan_workflow', fingerprint);
});

test('saga.stuck: when the inventory and payment services are down, the order stuck in PENDING past the threshold is found, and resolves once they are back', async () => {
  const { d, orderId } = await parkedOrder();
  const settings = { stuckMs: 3000 };
  const scope = { orderIds: [orderId] };
  const fingerprint = `order:${orderId}`;
  await env.expectFindings(scope, [{ check: 'saga.stuck', fingerprint }], { settings });
  expect((await env.unresolved(scope))[0]?.details).toMatchObject({ status: 'PENDING', thresholdMs: 3000 });

  await d.start(['inventory', 'payments']);
  await waitForStatus(db(), orderId, 'CONFIRMED');
  await env.expectFindings(scope, [], { settings });
  await env.expectRaisedThenResolved('saga.stuck', fingerprint);
});

test('events.order_status: when an operator cancels a PENDING order in SQL and terminates its workflow, the status no event recorded is found, and resolves once the event is written', async () => {
  const { orderId } = await parkedOrder();
  await env.owner.query(`UPDATE orders SET status = 'COMPENSATED', failure_reason = 'CANCELLED', updated_at = now() WHERE id = $1`, [
    orderId,
  ]);
  env.temporalCli(['workflow', 'terminate', '--workflow-id', orderWorkflowId(orderId), '--reason', 'test: cancelled by hand']);
  const scope = { orderIds: [orderId] };
  const fingerprint = `order:${orderId}`;
  await env.expectFindings(scope, [{ check: 'events.order_status', fingerprint }], QUICK);
  expect((await env.unresolved(scope))[0]?.details).toMatchObject({
    status: 'COMPENSATED',
    lastStatusEvent: { type: 'OrderCreated', to: 'PENDING' },
  });

  await inTransaction(db(), (tx) =>
    appendEvents(tx, { type: ORDER_AGGREGATE, id: orderId }, [
      {
        type: ORDER_EVENTS.OrderCompensated,
        payload: {
          orderId,
          from: 'PENDING',
          to: 'COMPENSATED',
          step: 'manual',
          failureReason: 'CANCELLED',
          detail: 'cancelled by an operator',
        },
      },
    ]),
  );
  await env.expectFindings(scope, [], QUICK);
  await env.expectRaisedThenResolved('events.order_status', fingerprint);
});
