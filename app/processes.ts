/**
 * Every app process (role), its metrics port offset (port = METRICS_PORT_BASE + offset) and
 * how it starts. `npm start` runs all of them; production runs each on its own.
 */
import type { RoleContext, Running } from './role';
import { startApi } from './roles/api';
import { startConsumer } from './roles/consumers';
import { startReconciler } from './roles/reconciler';
import { startRelay } from './roles/relay';
import { workerRole } from './roles/workers';
import { INVENTORY_TASK_QUEUE } from '../services/inventory/contract';
import { ORDERS_TASK_QUEUE } from '../services/orders/contract';
import { PAYMENTS_TASK_QUEUE } from '../services/payments/contract';

export interface RoleSpec {
  metricsOffset: number;
  description: string;
  start(ctx: RoleContext): Promise<Running>;
}

export const ROLES = {
  api: { metricsOffset: 1, description: 'REST API', start: startApi },
  'worker-orders': { metricsOffset: 2, description: 'Temporal worker: order saga + orders service', start: workerRole(ORDERS_TASK_QUEUE) },
  'worker-payments': { metricsOffset: 3, description: 'Temporal worker: payment service', start: workerRole(PAYMENTS_TASK_QUEUE) },
  'worker-inventory': { metricsOffset: 4, description: 'Temporal worker: inventory service', start: workerRole(INVENTORY_TASK_QUEUE) },
  relay: { metricsOffset: 5, description: 'outbox relay to Kafka', start: startRelay },
  'consumer-audit': {
    metricsOffset: 6,
    description: 'Kafka consumer: order timeline (audit)',
    start: (ctx) => startConsumer('audit', ctx),
  },
  'consumer-notifications': {
    metricsOffset: 7,
    description: 'Kafka consumer: customer notifications',
    start: (ctx) => startConsumer('notifications', ctx),
  },
  reconciler: {
    metricsOffset: 8,
    description: 'reconciliation: orders, payments, ledger, inventory, Temporal and the stream agree',
    start: startReconciler,
  },
} satisfies Record<string, RoleSpec>;

export type Role = keyof typeof ROLES;
