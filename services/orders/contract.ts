/**
 * The orders context's public contract: every name that crosses a process boundary.
 * Pure TypeScript with no imports, so workflow code may import it.
 */

/** Custom search attributes of the order saga, registered on the Temporal server. */
export const SEARCH_ATTRIBUTES = {
  OrderId: 'Keyword',
  CustomerId: 'Keyword',
  OrderStatus: 'Keyword',
} as const;
