/**
 * The orders context's public contract: every name that crosses a process boundary.
 * Pure TypeScript with no runtime imports, so workflow code may import it.
 */
import type { ErrorKind } from '../../lib/errors';

/** Custom search attributes of the order saga, registered on the Temporal server. */
export const SEARCH_ATTRIBUTES = {
  OrderId: 'Keyword',
  CustomerId: 'Keyword',
  OrderStatus: 'Keyword',
} as const;

export const ORDER_WORKFLOW_TYPE = 'orderSaga';

/** One workflow per order; its id is derived from the order id and nothing else. */
export function orderWorkflowId(orderId: string): string {
  return `order-${orderId}`;
}

/** What a log line about an order names, so one grep finds the order's whole story. */
export function orderLogFields(orderId: string): { orderId: string; workflowId: string } {
  return { orderId, workflowId: orderWorkflowId(orderId) };
}

/** The task queue of the orders worker (saga + order transitions), before the deployment's prefix. */
export const ORDERS_TASK_QUEUE = 'orders';

export const ORDER_STATUSES = [
  'PENDING',
  'INVENTORY_RESERVED',
  'PAYMENT_CAPTURED',
  'CONFIRMED',
  'REJECTED',
  'COMPENSATING',
  'COMPENSATED',
  'NEEDS_ATTENTION',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** States of an order's reservation (the inventory context's reservations.status). */
export type ReservationState = 'HELD' | 'COMMITTED' | 'RELEASED' | 'REJECTED';
/** States of an order's payment (the payments context's payments.status). */
export type PaymentState = 'CAPTURED' | 'FAILED' | 'REFUNDED' | 'VOIDED';

/** What a status allows: the listed states, `null` for no row at all, or '*' for anything (a compensation in progress). */
export type Allowed<S extends string> = readonly (S | null)[] | '*';

/**
 * What each order status allows of the order's reservation and payment, on one snapshot (every
 * saga step is one transaction; the statuses in between allow what a step in flight can leave).
 * The one declaration: the database's guard trigger (services/orders/status-rules.ts, for the
 * statuses in GUARDED_ON_ENTRY), the reconciler's checks and docs/order-status-rules.md are
 * built from it.
 */
export const STATUS_ALLOWS = {
  PENDING: { reservation: [null, 'HELD', 'REJECTED'], payment: [null] },
  INVENTORY_RESERVED: { reservation: ['HELD'], payment: [null, 'CAPTURED', 'FAILED'] },
  PAYMENT_CAPTURED: { reservation: ['HELD', 'COMMITTED'], payment: ['CAPTURED'] },
  CONFIRMED: { reservation: ['COMMITTED'], payment: ['CAPTURED'] },
  REJECTED: { reservation: ['REJECTED'], payment: [null] },
  COMPENSATING: { reservation: '*', payment: '*' },
  NEEDS_ATTENTION: { reservation: '*', payment: '*' },
  COMPENSATED: { reservation: [null, 'RELEASED', 'REJECTED'], payment: [null, 'FAILED', 'REFUNDED', 'VOIDED'] },
} as const satisfies Record<OrderStatus, { reservation: Allowed<ReservationState>; payment: Allowed<PaymentState> }>;

/** Statuses the database refuses to enter while the reservation or payment is not one it allows (SQLSTATE OS002). */
export const GUARDED_ON_ENTRY: readonly OrderStatus[] = ['COMPENSATED'];

/** Statuses after which the order never changes again (CONFIRMED can still be compensated). */
export const FINAL_STATUSES: readonly OrderStatus[] = ['REJECTED', 'COMPENSATED'];
/** Statuses in which a customer's cancel request is no longer accepted. */
export const NOT_CANCELLABLE: readonly OrderStatus[] = ['CONFIRMED', 'REJECTED', 'COMPENSATING', 'COMPENSATED', 'NEEDS_ATTENTION'];

export const FAILURE_REASONS = {
  OUT_OF_STOCK: 'OUT_OF_STOCK',
  INSUFFICIENT_FUNDS: 'INSUFFICIENT_FUNDS',
  PAYMENT_DECLINED: 'PAYMENT_DECLINED',
  INVENTORY_UNAVAILABLE: 'INVENTORY_UNAVAILABLE',
  CANCELLED: 'CANCELLED',
  MANUAL_COMPENSATION: 'MANUAL_COMPENSATION',
} as const;
export type FailureReason = (typeof FAILURE_REASONS)[keyof typeof FAILURE_REASONS];

/** Why a request cannot become an order, or an order cannot take a command. */
export const ORDER_ERRORS = {
  DUPLICATE_SKU: {
    code: 'DUPLICATE_SKU',
    status: 422,
    retryable: false,
    title: 'Order repeats a sku',
    when: 'two lines of the order name the same sku',
    action: 'send one line per sku with the quantities added up',
  },
  TOTAL_TOO_LARGE: {
    code: 'TOTAL_TOO_LARGE',
    status: 422,
    retryable: false,
    title: 'Order total is too large',
    when: 'the order total in minor units is too large to be exact',
    action: 'split the order into smaller ones',
  },
  ORDER_NOT_CANCELLABLE: {
    code: 'ORDER_NOT_CANCELLABLE',
    status: 409,
    retryable: false,
    title: 'Order can no longer be cancelled',
    when: 'the order is already CONFIRMED, final, compensating or waiting for an operator, or its saga has finished',
    action: 'read the order (GET /orders/{id}); a confirmed order is undone by an operator (manual compensation)',
  },
  ORDER_NOT_COMPENSABLE: {
    code: 'ORDER_NOT_COMPENSABLE',
    status: 409,
    retryable: false,
    title: 'Order cannot be compensated now',
    when: 'manual compensation was asked for an order that is neither CONFIRMED nor NEEDS_ATTENTION',
    action: 'read the order; orders still in their saga are cancelled (POST /orders/{id}/cancel) instead',
  },
  COMPENSATION_WINDOW_CLOSED: {
    code: 'COMPENSATION_WINDOW_CLOSED',
    status: 409,
    retryable: false,
    title: 'Compensation window has closed',
    when: "a CONFIRMED order's compensation window is over: its saga has closed and the database refuses to compensate it",
    action: 'handle the return outside the saga (a refund by other means); do not retry',
  },
  /** The database refused COMPENSATED: a payment is still captured or stock still held (the orders_guard_compensation trigger). */
  COMPENSATION_INCOMPLETE: {
    code: 'COMPENSATION_INCOMPLETE',
    status: 409,
    retryable: false,
    title: 'Compensation has not taken effect',
    when: 'an order would become COMPENSATED while its payment is still captured or its stock still held (a saga bug the database refuses)',
    action: 'nothing for a client; operators look at the order (it is kept for the reconciler)',
  },
  /**
   * A step's input disagrees with the order row (customer, amount, currency or lines), or names
   * no order: the payment and inventory services act on the row, never on a workflow's say-so.
   */
  ORDER_INPUT_MISMATCH: {
    code: 'ORDER_INPUT_MISMATCH',
    status: 422,
    retryable: false,
    title: 'Step input does not match the order',
    when: "a saga step's input names another customer, amount, currency or lines than the order it names, or an order that does not exist (a workflow started by hand with a forged input); nothing was charged or reserved",
    action: 'nothing for a client; operators look at who started the workflow (the order is compensated)',
  },
  /** The saga did not answer a command in time (its worker down or overloaded); the command changed nothing. */
  SAGA_UNAVAILABLE: {
    code: 'SAGA_UNAVAILABLE',
    status: 503,
    retryable: true,
    title: 'Order saga is not answering; retry shortly',
    when: "the order's saga did not answer the command in time (its worker is down or overloaded); the command changed nothing",
    action: 'retry the same request after the Retry-After seconds',
  },
  /** Backpressure at the front door (services/orders/admission.ts): nothing was written. */
  OVERLOADED: {
    code: 'OVERLOADED',
    status: 503,
    retryable: true,
    title: 'Too many orders in flight; retry shortly',
    when: 'POST /orders came while as many sagas are in flight as the bound allows (measured throughput x ORDERS_IN_FLIGHT_TARGET_MS, within ORDERS_MIN_IN_FLIGHT..ORDERS_MAX_IN_FLIGHT), or while Temporal refuses workflow starts (ResourceExhausted); nothing was written: no order, no idempotency record, no money or stock moved',
    action: 'retry after the Retry-After seconds; the same Idempotency-Key may be reused, as nothing was recorded under it',
  },
} as const satisfies Record<string, ErrorKind>;

export interface OrderLine {
  sku: string;
  quantity: number;
  unitPriceMinor: number;
}

/** Tuning of one saga run; every field has a default in the workflow. */
export interface SagaOptions {
  /** How long a CONFIRMED order's saga stays open to accept a `compensate` signal (ms). */
  compensationWindowMs?: number;
  /** Attempts of each compensation step before the saga parks in NEEDS_ATTENTION. */
  compensationMaxAttempts?: number;
  /** First retry interval of a compensation step (ms); doubles up to 30 s. */
  compensationInitialIntervalMs?: number;
  /**
   * Attempts of each status write (the orders service's local activities) before the saga parks
   * in NEEDS_ATTENTION (saga version 2026-12-bounded-writes; default 10, about 40 s of backoff).
   */
  statusWriteMaxAttempts?: number;
  /**
   * Prefix of the task queues the saga's activities run on (config TEMPORAL_TASK_QUEUE_PREFIX;
   * default none). The queues themselves follow from the saga's step table.
   */
  taskQueuePrefix?: string;
}

export interface OrderSagaInput {
  orderId: string;
  customerId: string;
  currency: string;
  totalMinor: number;
  items: OrderLine[];
  options?: SagaOptions;
}

export const SIGNALS = { cancel: 'cancel', compensate: 'compensate' } as const;
export const QUERIES = { status: 'status' } as const;
/** Workflow updates: the caller gets the saga's own decision (a validator refuses, the update fails). */
export const UPDATES = { cancel: 'requestCancel' } as const;

export interface CancelSignal {
  reason: string;
}
/** The saga's answer to an accepted `requestCancel` update: it will undo what was done. */
export interface CancelDecision {
  accepted: true;
  /** The order's status when the cancel was accepted. */
  status: OrderStatus;
}
export interface CompensateSignal {
  reason: string;
  /**
   * Set by the API: the operator audit log row that recorded this request. A compensate without
   * it (tctl, the temporal CLI) is recorded by the saga's transition, naming the signal's sender.
   */
  auditId?: string;
}

/** What the `status` query returns; `Step` is a step's name (workflows/saga-steps.ts declares them). */
export interface SagaState<Step extends string = string> {
  orderId: string;
  status: OrderStatus;
  failureReason: FailureReason | null;
  completedSteps: Step[];
  /** Compensation steps still to run, next first. */
  pendingCompensation: Step[];
  lastError: { step: Step; type: string | null; message: string } | null;
  cancelRequested: boolean;
}

/** What an order's status change records (a local activity of the orders service). */
export interface TransitionInput {
  orderId: string;
  /** Unique per order and transition, chosen deterministically by the workflow. */
  transitionKey: string;
  step: string;
  stepStatus: 'STARTED' | 'COMPLETED' | 'FAILED';
  orderStatus: OrderStatus;
  failureReason?: FailureReason | null;
  detail?: string | null;
  /** With the first CONFIRMED: when the compensation window ends (ISO 8601, workflow time). Kept if already set. */
  compensationWindowClosesAt?: string | null;
  /** The saga closes the compensation window (its timer elapsed, or its workflow was cancelled while CONFIRMED). */
  closeCompensationWindow?: boolean;
  /** The `compensate` signal this transition acts on, if any: one the API did not record is audited with its sender. */
  requestedBy?: CompensateRequest;
  /** The first transition after the saga's workflow was cancelled (tctl, the temporal CLI, the Web UI): audited with the canceller. */
  workflowCancelled?: boolean;
}

/** A `compensate` signal as the saga acts on it: which one it was (its number in this run), and what it asked. */
export interface CompensateRequest {
  /** 1 for the run's first `compensate` signal, 2 for the next...: finds its event (and sender) in the history. */
  seq: number;
  reason: string;
  /** The API's audit row of this request (CompensateSignal.auditId). */
  auditId?: string;
  /** Retries a parked (NEEDS_ATTENTION) saga rather than undoing a CONFIRMED order. */
  resumes: boolean;
}

/** The orders context's domain events (the outbox `type`; names are on the wire, never renamed). */
export const ORDER_EVENTS = {
  OrderCreated: 'OrderCreated',
  OrderStatusChanged: 'OrderStatusChanged',
  OrderConfirmed: 'OrderConfirmed',
  OrderRejected: 'OrderRejected',
  CompensationStarted: 'CompensationStarted',
  OrderCompensated: 'OrderCompensated',
  OrderNeedsAttention: 'OrderNeedsAttention',
} as const;
export type OrderEventType = (typeof ORDER_EVENTS)[keyof typeof ORDER_EVENTS];

export interface OrderCreatedPayload {
  orderId: string;
  customerId: string;
  currency: string;
  totalMinor: number;
  items: OrderLine[];
}
/** Every status change; its type is OrderStatusChanged or the named event of the new status. */
export interface OrderStatusChangedPayload {
  orderId: string;
  from: OrderStatus;
  to: OrderStatus;
  step: string;
  failureReason: FailureReason | null;
  detail: string | null;
}
export type OrderEvent =
  | { type: typeof ORDER_EVENTS.OrderCreated; payload: OrderCreatedPayload }
  | { type: Exclude<OrderEventType, typeof ORDER_EVENTS.OrderCreated>; payload: OrderStatusChangedPayload };

/** The aggregate type of every event about an order, whichever context writes it (aggregate id: the order id). */
export const ORDER_AGGREGATE = 'Order';
