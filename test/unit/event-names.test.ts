/**
 * Event names are on the wire and in recorded histories: moving them to the context that owns
 * them must not rename one, and no two contexts may claim the same name.
 */
import { INVENTORY_EVENTS } from '../../services/inventory/contract';
import { ORDER_EVENTS } from '../../services/orders/contract';
import { PAYMENT_EVENTS } from '../../services/payments/contract';

const OWNERS = { orders: ORDER_EVENTS, payments: PAYMENT_EVENTS, inventory: INVENTORY_EVENTS };

test('each context names its events as they have always been published', () => {
  expect(Object.fromEntries(Object.entries(OWNERS).map(([ctx, names]) => [ctx, Object.values(names).sort()]))).toEqual({
    orders: [
      'CompensationStarted',
      'OrderCompensated',
      'OrderConfirmed',
      'OrderCreated',
      'OrderNeedsAttention',
      'OrderRejected',
      'OrderStatusChanged',
    ],
    payments: ['PaymentCaptured', 'PaymentFailed', 'PaymentRefunded', 'PaymentVoided'],
    inventory: ['InventoryCommitted', 'InventoryRejected', 'InventoryReleased', 'InventoryReserved'],
  });
});

test('every constant is its own name, and no name belongs to two contexts', () => {
  const all = Object.values(OWNERS).flatMap((names) => Object.entries(names));
  for (const [key, name] of all) expect(name).toBe(key);
  expect(new Set(all.map(([, name]) => name)).size).toBe(all.length);
});
