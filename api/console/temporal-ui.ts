/** Links into the Temporal Web UI: one workflow, and the workflow list filtered by the saga's OrderStatus. */
import { ORDER_STATUSES, type OrderStatus } from '../../services/orders/contract';
import { SA, TRANSIENT_STATUSES } from '../../services/orders/search-attributes';

/** The OrderStatus search attribute a saga in `status` carries: through the transient statuses it stays PENDING. */
export const searchedStatus = (status: OrderStatus): OrderStatus => (TRANSIENT_STATUSES.includes(status) ? 'PENDING' : status);

/** The statuses a saga's OrderStatus search attribute takes (a list filtered by any other is empty). */
export const SEARCHED_STATUSES: readonly OrderStatus[] = ORDER_STATUSES.filter((s) => !TRANSIENT_STATUSES.includes(s));

export interface TemporalUiLinks {
  workflow(workflowId: string): string;
  /** The UI's workflow list with the visibility query `OrderStatus="<status>"` (its `query` parameter). */
  withStatus(status: OrderStatus): string;
}

/** `base`: TEMPORAL_UI_URL, without a trailing slash. */
export function temporalUiLinks(base: string, namespace: string): TemporalUiLinks {
  const workflows = `${base}/namespaces/${encodeURIComponent(namespace)}/workflows`;
  return {
    workflow: (workflowId) => `${workflows}/${encodeURIComponent(workflowId)}`,
    withStatus: (status) =>
      `${workflows}?${new URLSearchParams({ query: `${SA.OrderStatus.name}="${searchedStatus(status)}"` }).toString()}`,
  };
}
