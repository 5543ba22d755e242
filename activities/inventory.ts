/**
 * Inventory activities (task queue `inventory`): Temporal's names for the inventory
 * context's reservation functions (services/inventory/reservations.ts).
 */
import { createInventoryService, type InventoryDeps } from '../services/inventory/reservations';
import { asActivities } from './failure';

export function createInventoryActivities(deps: InventoryDeps) {
  const inventory = createInventoryService(deps);
  return asActivities({
    reserveInventory: inventory.reserve,
    commitInventory: inventory.commit,
    releaseInventory: inventory.release,
  });
}

export type InventoryActivities = ReturnType<typeof createInventoryActivities>;
