/**
 * Every app process (role), its metrics port offset (port = METRICS_PORT_BASE + offset) and
 * how it starts. `npm start` runs all of them; production runs each on its own.
 */
import { INVENTORY_TASK_QUEUE } from '../services/inventory/contract';
import { ORDERS_TASK_QUEUE } from '../services/orders/contract';
import { PAYMENTS_TASK_QUEUE } from '../services/payments/contract';
import type { RoleContext, Running } from './role';

// Each role's module is required only when that role starts: a process loads its own role's
// dependencies (a worker no express, the API no Temporal worker), which halves its start-up,
// and readers of this table (tests, scripts) load none of them.
const api = () => require('./roles/api') as typeof import('./roles/api');
const consumers = () => require('./roles/consumers') as typeof import('./roles/consumers');
const reconciler = () => require('./roles/reconciler') as typeof import('./roles/reconciler');
const relay = () => require('./roles/relay') as typeof import('./roles/relay');
const workers = () => require('./roles/workers') as typeof import('./roles/workers');

export interface RoleSpec {
  metricsOffset: number;
  description: string;
  start(ctx: RoleContext): Promise<Running>;
}

export const ROLES = {
  api: { metricsOffset: 1, description: 'REST API', start: (ctx) => api().startApi(ctx) },
  'worker-orders': {
    metricsOffset: 2,
    description: 'Temporal worker: order saga + orders service',
    start: (ctx) => workers().workerRole(ORDERS_TASK_QUEUE)(ctx),
  },
  'worker-payments': {
    metricsOffset: 3,
    description: 'Temporal worker: payment service',
    start: (ctx) => workers().workerRole(PAYMENTS_TASK_QUEUE)(ctx),
  },
  'worker-inventory': {
    metricsOffset: 4,
    description: 'Temporal worker: inventory service',
    start: (ctx) => workers().workerRole(INVENTORY_TASK_QUEUE)(ctx),
  },
  relay: { metricsOffset: 5, description: 'outbox relay to Kafka', start: (ctx) => relay().startRelay(ctx) },
  'consumer-audit': {
    metricsOffset: 6,
    description: 'Kafka consumer: order timeline (audit)',
    start: (ctx) => consumers().startConsumer('audit', ctx),
  },
  'consumer-notifications': {
    metricsOffset: 7,
    description: 'Kafka consumer: customer notifications',
    start: (ctx) => consumers().startConsumer('notifications', ctx),
  },
  reconciler: {
    metricsOffset: 8,
    description: 'reconciliation: orders, payments, ledger, inventory, Temporal and the stream agree',
    start: (ctx) => reconciler().startReconciler(ctx),
  },
} satisfies Record<string, RoleSpec>;

export type Role = keyof typeof ROLES;
