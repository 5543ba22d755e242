/**
 * Orders-service activities, run as local activities of the order saga (in the orders
 * worker): record a saga step and the order's status, with the outbox event of a status
 * change, in one transaction. Idempotent by (order, transition key).
 */
import type { Db } from '../lib/db';
import { EVENT_TYPES, ORDER_AGGREGATE, type EventType, type OrderStatus, type TransitionInput } from '../services/orders/contract';
import { appendEvents } from '../services/outbox/outbox';

/** The event a change to each status publishes. */
const STATUS_EVENTS: Record<OrderStatus, EventType> = {
  PENDING: EVENT_TYPES.OrderStatusChanged,
  INVENTORY_RESERVED: EVENT_TYPES.OrderStatusChanged,
  PAYMENT_CAPTURED: EVENT_TYPES.OrderStatusChanged,
  CONFIRMED: EVENT_TYPES.OrderConfirmed,
  REJECTED: EVENT_TYPES.OrderRejected,
  COMPENSATING: EVENT_TYPES.CompensationStarted,
  COMPENSATED: EVENT_TYPES.OrderCompensated,
  NEEDS_ATTENTION: EVENT_TYPES.OrderNeedsAttention,
};

export interface OrderDeps {
  db: Db;
}

export function createOrderActivities({ db }: OrderDeps) {
  return {
    async transitionOrder(input: TransitionInput): Promise<{ applied: boolean }> {
      const { orderId, transitionKey, step, stepStatus, orderStatus } = input;
      return db.$transaction(async (tx) => {
        const rows = await tx.$queryRaw<{ status: string }[]>`
          SELECT status FROM orders WHERE id = ${orderId}::uuid FOR UPDATE`;
        const from = rows[0]?.status;
        if (from === undefined) throw new Error(`order ${orderId} does not exist`);
        const recorded = await tx.$executeRaw`
          INSERT INTO order_status_history (order_id, transition_key, step, step_status, order_status, detail)
          VALUES (${orderId}::uuid, ${transitionKey}, ${step}, ${stepStatus}, ${orderStatus}, ${input.detail ?? null})
          ON CONFLICT (order_id, transition_key) DO NOTHING`;
        if (recorded === 0) return { applied: false };
        if (from === orderStatus) return { applied: true };
        await tx.order.update({
          where: { id: orderId },
          data: {
            status: orderStatus,
            ...(input.failureReason !== undefined ? { failureReason: input.failureReason } : {}),
            updatedAt: new Date(),
          },
        });
        await appendEvents(tx, { type: ORDER_AGGREGATE, id: orderId }, [
          {
            type: STATUS_EVENTS[orderStatus],
            payload: { orderId, from, to: orderStatus, step, failureReason: input.failureReason ?? null, detail: input.detail ?? null },
          },
        ]);
        return { applied: true };
      });
    },
  };
}

export type OrderActivities = ReturnType<typeof createOrderActivities>;
