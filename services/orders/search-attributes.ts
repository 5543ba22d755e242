/** Typed keys of the saga's search attributes (workflow-safe: @temporalio/common only). */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { OrderStatus } from './contract';

export const SA = {
  OrderId: defineSearchAttributeKey('OrderId', SearchAttributeType.KEYWORD),
  CustomerId: defineSearchAttributeKey('CustomerId', SearchAttributeType.KEYWORD),
  OrderStatus: defineSearchAttributeKey('OrderStatus', SearchAttributeType.KEYWORD),
};

/** The SDK's own list of the patches a run has used (written at each patch's first use). */
export const CHANGE_VERSION = defineSearchAttributeKey('TemporalChangeVersion', SearchAttributeType.KEYWORD_LIST);

/**
 * The saga's patch (workflows/saga-run.ts) from which OrderStatus is written only where the saga
 * rests or turns: through the transient statuses it stays PENDING.
 */
export const STATUS_AT_REST_PATCH = 'status-search-attribute-at-rest-2026-12';

/** Statuses between two forward steps, each lasting one step. */
export const TRANSIENT_STATUSES: readonly OrderStatus[] = ['INVENTORY_RESERVED', 'PAYMENT_CAPTURED'];

/**
 * Whether a run's OrderStatus search attribute agrees with the order's status in the database:
 * equal, or PENDING for a transient status in a run under STATUS_AT_REST_PATCH.
 */
export function searchAttributeAgrees(dbStatus: OrderStatus, searchAttribute: string | null, changeVersions: readonly string[]): boolean {
  if (searchAttribute === dbStatus) return true;
  return TRANSIENT_STATUSES.includes(dbStatus) && searchAttribute === 'PENDING' && changeVersions.includes(STATUS_AT_REST_PATCH);
}
