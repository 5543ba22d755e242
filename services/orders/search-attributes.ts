/** Typed keys of the saga's search attributes (workflow-safe: @temporalio/common only). */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { OrderStatus } from './contract';

export const SA = {
  OrderId: defineSearchAttributeKey('OrderId', SearchAttributeType.KEYWORD),
  CustomerId: defineSearchAttributeKey('CustomerId', SearchAttributeType.KEYWORD),
  OrderStatus: defineSearchAttributeKey('OrderStatus', SearchAttributeType.KEYWORD),
};

/** Statuses between two forward steps, each lasting one step. */
export const TRANSIENT_STATUSES: readonly OrderStatus[] = ['INVENTORY_RESERVED', 'PAYMENT_CAPTURED'];

/**
 * Whether a run's OrderStatus search attribute agrees with the order's status in the database:
 * equal, or PENDING for a transient status (the saga writes OrderStatus only where it rests or
 * turns; through the transient statuses it stays PENDING, as the start set it).
 */
export function searchAttributeAgrees(dbStatus: OrderStatus, searchAttribute: string | null): boolean {
  if (searchAttribute === dbStatus) return true;
  return TRANSIENT_STATUSES.includes(dbStatus) && searchAttribute === 'PENDING';
}
