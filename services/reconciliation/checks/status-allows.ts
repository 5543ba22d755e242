/** What each order status allows of its reservation and payment (the orders contract's STATUS_ALLOWS), as SQL the checks join. */
import { ORDER_STATUSES, STATUS_ALLOWS, type Allowed } from '../../orders/contract';

const literal = (s: string | null) => (s === null ? 'NULL' : `'${s}'`);

/**
 * `VALUES (status, state), ...` of what each status allows of `subject`: NULL for no row, '*' for
 * anything. A check joins it: `a.status = o.status AND (a.state = '*' OR a.state IS NOT DISTINCT FROM o.state)`.
 */
export function allowedValuesSql(subject: 'reservation' | 'payment'): string {
  const rows = ORDER_STATUSES.flatMap((status) => {
    const allowed: Allowed<string> = STATUS_ALLOWS[status][subject];
    return (allowed === '*' ? ['*'] : allowed).map((state) => `(${literal(status)}, ${literal(state)})`);
  });
  return `VALUES ${rows.join(', ')}`;
}
