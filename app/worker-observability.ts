/**
 * What the workers add for observability, kept apart from their tuning (app/workers.ts):
 * activity interceptors (OpenTelemetry spans when tracing is on; logs and step metrics when
 * the worker has a logger and a registry), the sinks the workflow interceptors call (those
 * are compiled into the workflow bundle: app/workflow-source.ts), and the orders service's
 * status-change observer.
 */
import { OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor } from '@temporalio/interceptors-opentelemetry';
import type { ActivityInterceptorsFactory, InjectedSinks, WorkerOptions } from '@temporalio/worker';
import type { Registry } from 'prom-client';
import type { AppliedTransition } from '../services/orders/transitions';
import type { Logger } from '../lib/logger';
import type { Tracing } from '../lib/tracing';
import { orderWorkflowId } from '../services/orders/contract';
import { recordTransition, sagaMetrics, stepMetrics } from '../services/orders/metrics';
import type { SagaSinks } from '../workflows/interceptors';
import { activityObserver } from './activity-observer';

export interface ObservabilityDeps {
  log?: Logger;
  registry?: Registry;
  tracing?: Tracing;
}

/** Interceptors and sinks of a worker; `hostsWorkflows` for the orders worker. */
export function workerObservability(deps: ObservabilityDeps, hostsWorkflows = false): Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  const tracing = deps.tracing?.enabled ? deps.tracing : undefined;
  const activity: ActivityInterceptorsFactory[] = [];
  // First is outermost: the span is active while the observer logs (its lines get the traceId).
  if (tracing) {
    activity.push((ctx) => ({
      inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
      outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
    }));
  }
  if (deps.log && deps.registry) activity.push(activityObserver(deps.log, stepMetrics(deps.registry)));
  if (!hostsWorkflows) return { interceptors: { activity } };

  const saga = deps.registry ? sagaMetrics(deps.registry) : undefined;
  const sinks: InjectedSinks<SagaSinks> = {
    saga: { started: { fn: () => saga?.started.inc() } },
  };
  return { interceptors: { activity }, sinks: { ...sinks, ...(tracing ? tracing.workflowSinks() : {}) } };
}

/** The orders service's observer of status changes: saga metrics and one log line each. */
export function transitionObserver(deps: ObservabilityDeps): ((t: AppliedTransition) => void) | undefined {
  if (!deps.log && !deps.registry) return undefined;
  const metrics = deps.registry ? sagaMetrics(deps.registry) : undefined;
  return (t) => {
    if (metrics) recordTransition(metrics, t);
    deps.log?.info(
      {
        orderId: t.orderId,
        workflowId: orderWorkflowId(t.orderId),
        eventId: t.eventId,
        from: t.from,
        to: t.to,
        step: t.step,
        failureReason: t.failureReason,
      },
      'order status changed',
    );
  };
}
