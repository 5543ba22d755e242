/**
 * Orders activities, run as local activities of the order saga in the orders worker:
 * Temporal's names for the orders context's status transition (services/orders/transitions.ts)
 * and for what the database says a compensation must undo (services/orders/compensation-facts.ts).
 * Given the worker's connection, a transition acting on a `compensate` signal that did not come
 * through the API finds the signal's sender in the workflow's history (the operator audit log).
 */
import { Context } from '@temporalio/activity';
import type { NativeConnection } from '@temporalio/worker';
import { SIGNALS } from '../services/orders/contract';
import { createCompensationFacts } from '../services/orders/compensation-facts';
import { createTransitions, type SignalOrigin, type TransitionDeps } from '../services/orders/transitions';
import { asActivities } from './failure';

export interface OrderActivityDeps extends Omit<TransitionDeps, 'signalOrigin'> {
  /** The worker's connection to Temporal, to read a workflow's history. */
  temporal?: { connection: NativeConnection; namespace: string };
}

/**
 * The `seq`-th `compensate` signal of the running workflow, from its history: the
 * WorkflowExecutionSignaled event carries the identity its sender gave (tctl and the temporal
 * CLI send one; an SDK client its own). Read when a transition acts on it, so it is in the
 * history already.
 */
export function historySignalOrigin(connection: NativeConnection, namespace: string) {
  return async (seq: number): Promise<SignalOrigin | null> => {
    const execution = Context.current().info.workflowExecution;
    if (!execution) return null;
    let nextPageToken: Uint8Array | undefined;
    let seen = 0;
    do {
      const page = await connection.workflowService.getWorkflowExecutionHistory({
        namespace,
        execution,
        nextPageToken,
        maximumPageSize: 500,
      });
      for (const event of page.history?.events ?? []) {
        const signaled = event.workflowExecutionSignaledEventAttributes;
        if (signaled?.signalName !== SIGNALS.compensate) continue;
        seen += 1;
        if (seen === seq) return { identity: signaled.identity ?? '', runId: execution.runId, eventId: String(event.eventId) };
      }
      nextPageToken = page.nextPageToken && page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
    } while (nextPageToken);
    return null;
  };
}

export function createOrderActivities(deps: OrderActivityDeps) {
  const { temporal, ...rest } = deps;
  const signalOrigin = temporal ? historySignalOrigin(temporal.connection, temporal.namespace) : undefined;
  return asActivities({
    transitionOrder: createTransitions({ ...rest, signalOrigin }).transition,
    compensationFacts: createCompensationFacts(deps).facts,
  });
}

export type OrderActivities = ReturnType<typeof createOrderActivities>;
