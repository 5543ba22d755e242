/** Orders: search by id, customer, status and creation time; newest first, keyset pages. */
import { ORDER_STATUSES } from '../../../services/orders/contract';
import type { OrderSummary } from '../../../services/orders/queries';
import { formatMoney, formatTime } from '../format';
import { Status } from '../layout';
import { OrderLink } from './overview';

export interface OrdersQuery {
  id: string;
  customer: string;
  status: string;
  from: string;
  to: string;
}

export function Orders({
  query,
  items,
  nextHref,
  error,
}: {
  query: OrdersQuery;
  items: OrderSummary[];
  nextHref: string | null;
  error: string | null;
}) {
  return (
    <>
      <form class="search" method="get" action="/console/orders" role="search">
        <label>
          Order id
          <input type="text" name="id" value={query.id} placeholder="uuid" />
        </label>
        <label>
          Customer
          <input type="text" name="customer" value={query.customer} />
        </label>
        <label>
          Status
          <select name="status">
            <option value="">any</option>
            {ORDER_STATUSES.map((s) => (
              <option key={s} value={s} selected={query.status === s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Created from (UTC)
          <input type="datetime-local" name="from" value={query.from} />
        </label>
        <label>
          Created before (UTC)
          <input type="datetime-local" name="to" value={query.to} />
        </label>
        <button type="submit">Search</button>
      </form>
      {error && (
        <p class="notice bad" role="alert">
          {error}
        </p>
      )}
      <table>
        <caption class="muted">{items.length === 0 ? 'No order matches.' : `${items.length} orders, newest first`}</caption>
        <thead>
          <tr>
            <th scope="col">Order</th>
            <th scope="col">Customer</th>
            <th scope="col">Status</th>
            <th scope="col" class="num">
              Total
            </th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {items.map((o) => (
            <tr key={o.orderId}>
              <td>
                <OrderLink id={o.orderId} />
              </td>
              <td>{o.customerId}</td>
              <td>
                <Status value={o.status} />
                {o.failureReason && <span class="muted"> {o.failureReason}</span>}
              </td>
              <td class="num">{formatMoney(o.totalMinor, o.currency)}</td>
              <td>{formatTime(o.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <nav class="pager" aria-label="Pages">
        <a href="/console/orders">First page</a>
        {nextHref && <a href={nextHref}>Next page</a>}
      </nav>
    </>
  );
}
