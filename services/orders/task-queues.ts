/** The orders worker's task queue on a deployment whose queues carry `prefix` (config TEMPORAL_TASK_QUEUE_PREFIX). */
import { ORDERS_TASK_QUEUE } from './contract';

export function ordersTaskQueue(prefix: string): string {
  return `${prefix}${ORDERS_TASK_QUEUE}`;
}
