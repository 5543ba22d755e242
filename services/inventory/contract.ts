/** The inventory context's public contract. Pure TypeScript: workflow code may import it. */
import type { ErrorKind } from '../../lib/errors';

/** The task queue of the inventory worker (before the deployment's prefix). */
export const INVENTORY_TASK_QUEUE = 'inventory';

/** Business failures of inventory: non-retryable, `type` of the ApplicationFailure. */
export const INVENTORY_FAILURES = {
  OUT_OF_STOCK: 'OUT_OF_STOCK',
  /** A line names a sku that has no product. */
  UNKNOWN_SKU: 'UNKNOWN_SKU',
  /** The order's reservation was released (compensated) before this reserve could hold it. */
  RESERVATION_RELEASED: 'RESERVATION_RELEASED',
} as const;

export const INVENTORY_ERRORS = {
  OUT_OF_STOCK: {
    code: INVENTORY_FAILURES.OUT_OF_STOCK,
    status: 409,
    retryable: false,
    title: 'Not enough stock',
    when: 'a product has fewer units available than the order asks for when the saga reserves them (the order is REJECTED)',
    action: 'place a new order for what is available, or later',
  },
  UNKNOWN_SKU: {
    code: INVENTORY_FAILURES.UNKNOWN_SKU,
    status: 422,
    retryable: false,
    title: 'No such product',
    when: 'a line of the order names a sku that has no product',
    action: 'correct the sku (the pointer in errors[] names the line)',
  },
  RESERVATION_RELEASED: {
    code: INVENTORY_FAILURES.RESERVATION_RELEASED,
    status: 409,
    retryable: false,
    title: 'Reservation was released',
    when: "a reserve arrives after the order's reservation was released by a compensation",
    action: 'nothing: the order is being compensated and holds no stock',
  },
  /** Commit of a reservation that is not held (released or rejected): a saga bug, never retried. */
  RESERVATION_NOT_HELD: {
    code: 'RESERVATION_NOT_HELD',
    status: 409,
    retryable: false,
    title: 'Reservation is not held',
    when: 'a commit names a reservation that is released or rejected (a saga bug; nothing changed)',
    action: 'report it; operators look at the order',
  },
} as const satisfies Record<string, ErrorKind>;

export interface ReserveInput {
  orderId: string;
  items: { sku: string; quantity: number }[];
}
export interface ReserveResult {
  applied: boolean;
}

export interface Shortage {
  sku: string;
  requested: number;
  available: number;
}

export interface ReleaseInput {
  orderId: string;
  reason: string;
}
export interface ReleaseResult {
  /**
   * What the reservation was before the release: HELD, COMMITTED, or null if nothing was held
   * (then `applied` says whether this call left the RELEASED mark that fails a later reserve).
   */
  releasedFrom: 'HELD' | 'COMMITTED' | null;
  applied: boolean;
}

export interface CommitInput {
  orderId: string;
}

/** The inventory context's domain events (the outbox `type`; names are on the wire, never renamed), aggregated by order id. */
export const INVENTORY_EVENTS = {
  InventoryReserved: 'InventoryReserved',
  InventoryRejected: 'InventoryRejected',
  InventoryCommitted: 'InventoryCommitted',
  InventoryReleased: 'InventoryReleased',
} as const;
export type InventoryEventType = (typeof INVENTORY_EVENTS)[keyof typeof INVENTORY_EVENTS];

export interface InventoryLinesPayload {
  orderId: string;
  items: { sku: string; quantity: number }[];
}
export interface InventoryRejectedPayload {
  orderId: string;
  reason: string;
  shortages: Shortage[];
}
export interface InventoryReleasedPayload extends InventoryLinesPayload {
  /** HELD or COMMITTED; null when nothing was held. */
  releasedFrom: 'HELD' | 'COMMITTED' | null;
  reason: string;
}
export type InventoryEvent =
  | { type: typeof INVENTORY_EVENTS.InventoryReserved | typeof INVENTORY_EVENTS.InventoryCommitted; payload: InventoryLinesPayload }
  | { type: typeof INVENTORY_EVENTS.InventoryRejected; payload: InventoryRejectedPayload }
  | { type: typeof INVENTORY_EVENTS.InventoryReleased; payload: InventoryReleasedPayload };
