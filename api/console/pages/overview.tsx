/** Overview: where things stand and what waits for an operator. */
import { ORDER_STATUSES, type OrderStatus } from '../../../services/orders/contract';
import type { AdmissionSnapshot } from '../../../services/orders/admission';
import type { OrderSummary } from '../../../services/orders/queries';
import type { LagReport } from '../../../services/platform/messaging/lag';
import { formatAge, formatMoney, formatTime } from '../format';
import { Status, type Viewer } from '../layout';

export interface OverviewData {
  counts: Record<OrderStatus, number>;
  needsAttention: OrderSummary[];
  oldestInFlight: OrderSummary | null;
  openFindings: number;
  pendingDeadLetters: number;
  relay: { pending: number; oldestAgeSeconds: number };
  lag: LagReport;
  admission: AdmissionSnapshot;
  /** The Temporal UI's workflow list per OrderStatus the search attribute takes. */
  temporalLists: Partial<Record<OrderStatus, string>>;
}

export function OrderLink({ id }: { id: string }) {
  return (
    <a class="mono" href={`/console/orders/${id}`}>
      {id}
    </a>
  );
}

/** How an adaptive bound came about: the throughput it follows, its target and its limits. */
function adaptiveWhy(adaptive: NonNullable<AdmissionSnapshot['adaptive']>): string {
  const limits = adaptive.cap > 0 ? `${adaptive.floor}..${adaptive.cap}` : `at least ${adaptive.floor}`;
  const followed =
    adaptive.throughputPerS === null
      ? 'no throughput measured yet'
      : `${adaptive.throughputPerS.toFixed(1)} sagas/s measured x ${adaptive.targetMs / 1000} s`;
  return ` (adaptive: ${followed}, within ${limits})`;
}

/** The bound on sagas in flight and what it refused (ORDERS_MAX_IN_FLIGHT, ORDERS_IN_FLIGHT_TARGET_MS; docs/api.md#overload). */
export function FrontDoor({ door }: { door: AdmissionSnapshot }) {
  const refused = door.refused.in_flight + door.refused.temporal_exhausted;
  return (
    <>
      {door.maxInFlight > 0
        ? `${door.inFlight} of at most ${door.maxInFlight} sagas in flight${door.adaptive ? adaptiveWhy(door.adaptive) : ''}`
        : `${door.inFlight} sagas in flight, no bound`}
      {'; '}
      {refused === 0
        ? 'no order refused since start'
        : `${refused} refused since start with 503 (${door.refused.in_flight} at the bound, ${door.refused.temporal_exhausted} while Temporal was exhausted)`}
      {door.closedUntil && <strong>{`; closed until ${formatTime(door.closedUntil)} (Temporal ResourceExhausted)`}</strong>}
    </>
  );
}

export function Overview({ data, viewer }: { data: OverviewData; viewer: Viewer }) {
  const ageOf = (o: OrderSummary) => (Date.now() - new Date(o.updatedAt).getTime()) / 1000;
  return (
    <>
      <h2>Orders by status</h2>
      <ul class="cards">
        {ORDER_STATUSES.map((s) => (
          <li key={s}>
            <a href={`/console/orders?status=${s}`}>
              <span class="n">{data.counts[s]}</span>
              {s}
            </a>
          </li>
        ))}
      </ul>
      <p>
        In the Temporal UI, by <code>OrderStatus</code>:{' '}
        {Object.entries(data.temporalLists).map(([status, href], i) => (
          <span key={status}>
            {i > 0 && ' · '}
            <a href={href}>{status}</a>
          </span>
        ))}
      </p>

      <h2>Health</h2>
      <dl class="facts">
        <dt>Open findings</dt>
        <dd>
          <a href="/console/findings">{data.openFindings}</a>
        </dd>
        <dt>Dead letters waiting</dt>
        <dd>
          <a href="/console/dead-letters">{data.pendingDeadLetters}</a>
        </dd>
        <dt>Relay lag</dt>
        <dd>
          {data.relay.pending} outbox rows unpublished
          {data.relay.pending > 0 && `, oldest ${formatAge(data.relay.oldestAgeSeconds)}`}
        </dd>
        <dt>Consumer lag</dt>
        <dd>
          {data.lag.problem ? (
            <span class="muted">unknown ({data.lag.problem})</span>
          ) : (
            data.lag.groups.map((g) => (
              <span key={g.group} class="mono">
                {g.group}: {g.lag ?? '?'} messages{' '}
              </span>
            ))
          )}
        </dd>
        <dt>Front door (this API process)</dt>
        <dd>
          <FrontDoor door={data.admission} />
        </dd>
        <dt>Oldest in-flight saga</dt>
        <dd>
          {data.oldestInFlight ? (
            <>
              <OrderLink id={data.oldestInFlight.orderId} /> <Status value={data.oldestInFlight.status} /> for{' '}
              {formatAge(ageOf(data.oldestInFlight))}
            </>
          ) : (
            'none'
          )}
        </dd>
      </dl>

      <h2 id="needs-attention">Needs attention ({data.counts.NEEDS_ATTENTION})</h2>
      {data.needsAttention.length === 0 ? (
        <p class="muted">No saga is parked.</p>
      ) : (
        <table aria-labelledby="needs-attention">
          <thead>
            <tr>
              <th scope="col">Order</th>
              <th scope="col">Customer</th>
              <th scope="col" class="num">
                Total
              </th>
              <th scope="col">Reason</th>
              <th scope="col">Parked since</th>
              <th scope="col">Action</th>
            </tr>
          </thead>
          <tbody>
            {data.needsAttention.map((o) => (
              <tr key={o.orderId}>
                <td>
                  <OrderLink id={o.orderId} />
                </td>
                <td>{o.customerId}</td>
                <td class="num">{formatMoney(o.totalMinor, o.currency)}</td>
                <td>{o.failureReason ?? '—'}</td>
                <td>{formatTime(o.updatedAt)}</td>
                <td>{viewer.may('orders:compensate') && <a href={`/console/orders/${o.orderId}/resume`}>Resume…</a>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
