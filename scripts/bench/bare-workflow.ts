// Baseline for the saga benchmark: a workflow with the same shape as orderSaga (three
// activities on their task queues, three local activities) doing no work at all.
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type * as acts from './bare-activities';

export async function bareWorkflow(queues: { orders: string; payments: string; inventory: string }): Promise<string> {
  const inventory = proxyActivities<typeof acts>({ taskQueue: queues.inventory, startToCloseTimeout: '30 seconds' });
  const payment = proxyActivities<typeof acts>({ taskQueue: queues.payments, startToCloseTimeout: '30 seconds' });
  const local = proxyLocalActivities<typeof acts>({ startToCloseTimeout: '30 seconds' });
  await inventory.noop();
  await local.noop();
  await payment.noop();
  await local.noop();
  await inventory.noop();
  await local.noop();
  return 'done';
}
