/**
 * The workers' activity interceptor: every activity attempt (local ones included) is logged
 * when it starts, completes or fails, with its order, workflow, activity and attempt, and
 * timed into saga_step_duration_seconds / saga_step_failures_total. Everything the activity
 * itself logs carries the same fields (withLogContext).
 */
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { withLogContext, type Logger } from '../lib/logger';
import { observeLatency } from '../lib/metrics';
import type { StepMetrics } from '../services/orders/metrics';

/** The order an activity is about: every activity input of this system has an orderId. */
function orderIdOf(args: unknown[]): string | undefined {
  const first = args[0] as { orderId?: unknown } | undefined;
  return typeof first?.orderId === 'string' ? first.orderId : undefined;
}

/** A bounded label for a failure: the ApplicationFailure type, else the error class. */
export function errorTypeOf(err: unknown): string {
  if (err instanceof ApplicationFailure && err.type) return err.type;
  if (err instanceof Error) return err.name || 'Error';
  return 'unknown';
}

export function activityObserver(log: Logger, metrics: StepMetrics): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        const { activityType: activity, attempt, isLocal, workflowExecution } = ctx.info;
        const fields = { orderId: orderIdOf(input.args), workflowId: workflowExecution?.workflowId, activity, attempt };
        return withLogContext(fields, async () => {
          const started = performance.now();
          log.info({ local: isLocal }, 'activity started');
          try {
            const result = await next(input);
            const seconds = (performance.now() - started) / 1000;
            observeLatency(metrics.duration, { activity, outcome: 'completed' }, seconds);
            log.info({ ms: Math.round(seconds * 10_000) / 10 }, 'activity completed');
            return result;
          } catch (err) {
            const seconds = (performance.now() - started) / 1000;
            const errorType = errorTypeOf(err);
            observeLatency(metrics.duration, { activity, outcome: 'failed' }, seconds);
            metrics.failures.inc({ activity, error_type: errorType });
            const nonRetryable = err instanceof ApplicationFailure ? err.nonRetryable : false;
            log.warn({ ms: Math.round(seconds * 10_000) / 10, errorType, nonRetryable, error: (err as Error)?.message }, 'activity failed');
            throw err;
          }
        });
      },
    },
  });
}
