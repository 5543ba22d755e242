/** Each context owns its task queue name; a deployment prefixes them all the same way. */
import { INVENTORY_TASK_QUEUE } from '../inventory/contract';
import { PAYMENTS_TASK_QUEUE } from '../payments/contract';
import { ORDERS_TASK_QUEUE, type TaskQueues } from './contract';

export function taskQueues(prefix: string): TaskQueues {
  return {
    orders: `${prefix}${ORDERS_TASK_QUEUE}`,
    payments: `${prefix}${PAYMENTS_TASK_QUEUE}`,
    inventory: `${prefix}${INVENTORY_TASK_QUEUE}`,
  };
}
