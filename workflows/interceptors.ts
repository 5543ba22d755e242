/**
 * Workflow interceptors of the orders worker (not a workflow): every workflow log line carries
 * the order id, the saga logs its start and end, and its start is counted through a sink
 * (workflows cannot touch metrics; sinks run in the worker, and not again on replay).
 *
 * Deterministic like any workflow code: logging and sink calls add no command to the history.
 */
import {
  log,
  proxySinks,
  workflowInfo,
  type GetLogAttributesInput,
  type Next,
  type Sinks,
  type WorkflowExecuteInput,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptorsFactory,
  type WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';

/** The sink the orders worker provides for saga metrics. */
export interface SagaSinks extends Sinks {
  saga: {
    started(orderId: string): void;
  };
}

const { saga } = proxySinks<SagaSinks>();

class OrderContext {
  orderId: string | undefined;
}

class SagaInbound implements WorkflowInboundCallsInterceptor {
  constructor(private readonly order: OrderContext) {}

  async execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const arg = input.args[0] as { orderId?: unknown } | undefined;
    this.order.orderId = typeof arg?.orderId === 'string' ? arg.orderId : undefined;
    if (this.order.orderId) saga.started(this.order.orderId);
    log.info('saga started', { workflowType: workflowInfo().workflowType });
    try {
      const result = (await next(input)) as { status?: string; failureReason?: string | null } | undefined;
      log.info('saga finished', { status: result?.status, failureReason: result?.failureReason ?? null });
      return result;
    } catch (err) {
      log.warn('saga ended with an error', { error: err instanceof Error ? err.message : String(err) });
      throw err;
    }
  }
}

class SagaOutbound implements WorkflowOutboundCallsInterceptor {
  constructor(private readonly order: OrderContext) {}

  getLogAttributes(
    input: GetLogAttributesInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'getLogAttributes'>,
  ): Record<string, unknown> {
    return next(this.order.orderId ? { orderId: this.order.orderId, ...input } : input);
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => {
  const order = new OrderContext();
  return { inbound: [new SagaInbound(order)], outbound: [new SagaOutbound(order)] };
};
