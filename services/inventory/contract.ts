/** The inventory context's public contract. Pure TypeScript: workflow code may import it. */

/** ApplicationFailure types of inventory activities; all are non-retryable business failures. */
export const INVENTORY_FAILURES = {
  OUT_OF_STOCK: 'OUT_OF_STOCK',
} as const;
export type InventoryFailureType = (typeof INVENTORY_FAILURES)[keyof typeof INVENTORY_FAILURES];

export interface ReserveInput {
  orderId: string;
  items: { sku: string; quantity: number }[];
}
export interface ReserveResult {
  applied: boolean;
}

export interface ReleaseInput {
  orderId: string;
  reason: string;
}
export interface ReleaseResult {
  /** What the reservation was before the release: HELD, COMMITTED, or null if there was nothing. */
  releasedFrom: 'HELD' | 'COMMITTED' | null;
  applied: boolean;
}

export interface CommitInput {
  orderId: string;
}
