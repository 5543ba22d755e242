/** Typed keys of the saga's search attributes (workflow-safe: @temporalio/common only). */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const SA = {
  OrderId: defineSearchAttributeKey('OrderId', SearchAttributeType.KEYWORD),
  CustomerId: defineSearchAttributeKey('CustomerId', SearchAttributeType.KEYWORD),
  OrderStatus: defineSearchAttributeKey('OrderStatus', SearchAttributeType.KEYWORD),
};
