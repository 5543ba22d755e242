/**
 * One order, whole: saga (Temporal's history and status query), the order's status history,
 * every outbox event with its publication and consumption, ledger entries, stock, dead letters
 * and findings, merged into one timeline and then shown source by source.
 */
import type { findOrderView } from '../../../services/orders/queries';
import type { SagaView } from '../../../services/orders/saga-view';
import type { OutboxEventView } from '../../../services/platform/outbox/queries';
import type { findOrderMoney } from '../../../services/payments/accounts';
import type { findOrderReservation } from '../../../services/inventory/queries';
import type { DeadLetterSummary } from '../../../services/platform/dlq/dead-letters';
import type { FindingView } from '../../../services/reconciliation/contract';
import type { AuditRow } from '../../../services/platform/audit-log/audit-log';
import { AuditTable } from './lists';
import { formatMoney, formatTime } from '../format';
import { Status, type Viewer } from '../layout';
import { searchedStatus } from '../temporal-ui';

export interface OrderData {
  order: NonNullable<Awaited<ReturnType<typeof findOrderView>>>['view'];
  window: { closesAt: string | null; closedAt: string | null; open: boolean };
  saga: SagaView;
  events: OutboxEventView[];
  money: Awaited<ReturnType<typeof findOrderMoney>>;
  reservation: Awaited<ReturnType<typeof findOrderReservation>>;
  deadLetters: DeadLetterSummary[];
  findings: FindingView[];
  /** The audit log's rows about this order (empty without audit:read). */
  audit: AuditRow[];
  /** `temporalList`: the Temporal UI's workflow list of sagas with this order's OrderStatus. */
  links: { temporal: string; temporalList: string; logQuery: string; traceCommand: string; traceId: string | null };
}

interface TimelineLine {
  at: string;
  source: string;
  text: string;
}

/** Every source's dated facts, in time order (ties keep the sources' own order). */
function timeline(d: OrderData): TimelineLine[] {
  const lines: TimelineLine[] = [
    ...d.saga.history.map((h) => ({
      at: h.at,
      source: 'saga',
      text: `${h.kind} ${h.name} ${h.outcome}${h.detail ? ` — ${h.detail}` : ''}${h.identity ? ` (by ${h.identity})` : ''}`,
    })),
    ...d.order.steps.map((s) => ({
      at: s.at,
      source: 'status',
      text: `${s.name} ${s.status} → ${s.orderStatus}${s.detail ? ` — ${s.detail}` : ''}`,
    })),
    ...d.events.map((e) => ({
      at: e.occurredAt,
      source: 'event',
      text: `#${e.sequence} ${e.type} ${e.publishedAt ? 'published' : 'not yet published'}${e.consumedBy.length ? `, consumed by ${e.consumedBy.map((c) => c.group).join(', ')}` : ''}`,
    })),
    ...d.money.entries.map((e) => ({
      at: e.at,
      source: 'ledger',
      text: `${e.kind} ${e.accountId} ${formatMoney(e.amountMinor, d.order.currency)}`,
    })),
    ...d.deadLetters.map((l) => ({
      at: l.deadLetteredAt,
      source: 'dead letter',
      text: `${l.eventType ?? 'message'} in ${l.consumerGroup}: ${l.errorMessage}`,
    })),
    ...d.findings.map((f) => ({ at: f.firstSeenAt, source: 'finding', text: `${f.check} (${f.status})` })),
    ...d.audit.map((a) => ({
      at: a.occurredAt,
      source: 'audit',
      text: `${a.action} by ${a.actor.name} (${a.actor.kind}) ${a.outcome}${a.reason ? `: ${a.reason}` : ''}`,
    })),
  ];
  return lines
    .map((l, i) => ({ l, i }))
    .sort((a, b) => a.l.at.localeCompare(b.l.at) || a.i - b.i)
    .map((x) => x.l);
}

function Actions({ d, viewer }: { d: OrderData; viewer: Viewer }) {
  if (!viewer.may('orders:compensate')) return null;
  const id = d.order.orderId;
  return (
    <div class="actions">
      {d.order.status === 'CONFIRMED' && d.window.open && (
        <a class="button danger" href={`/console/orders/${id}/compensate`}>
          Compensate (refund and restock)…
        </a>
      )}
      {d.order.status === 'NEEDS_ATTENTION' && (
        <a class="button" href={`/console/orders/${id}/resume`}>
          Resume the saga…
        </a>
      )}
      {viewer.may('reconciliation:run') && (
        <a class="button secondary" href={`/console/reconciliation/run?order=${id}`}>
          Reconcile this order…
        </a>
      )}
    </div>
  );
}

export function OrderPage({ d, viewer }: { d: OrderData; viewer: Viewer }) {
  const o = d.order;
  const money = (m: number) => formatMoney(m, o.currency);
  return (
    <>
      <dl class="facts">
        <dt>Order</dt>
        <dd class="mono">{o.orderId}</dd>
        <dt>Status</dt>
        <dd>
          <Status value={o.status} /> {o.failureReason && <span class="muted">{o.failureReason}</span>}
        </dd>
        <dt>Customer</dt>
        <dd>
          <a href={`/console/orders?customer=${encodeURIComponent(o.customerId)}`}>{o.customerId}</a>
        </dd>
        <dt>Total</dt>
        <dd>{money(o.totalMinor)}</dd>
        <dt>Created</dt>
        <dd>{formatTime(o.createdAt)}</dd>
        <dt>Compensation window</dt>
        <dd>
          {d.window.closedAt
            ? `closed at ${formatTime(d.window.closedAt)}`
            : d.window.closesAt
              ? `${d.window.open ? 'open until' : 'closed at'} ${formatTime(d.window.closesAt)}`
              : 'opens at confirmation'}
        </dd>
        <dt>Links</dt>
        <dd>
          <a href={d.links.temporal}>Workflow in the Temporal UI</a>
          {' · '}
          <a href={d.links.temporalList}>every saga in {searchedStatus(o.status)} in the Temporal UI</a>
          {' · '}trace: <code>{d.links.traceCommand}</code>
          {d.links.traceId && <span class="muted"> (trace id {d.links.traceId})</span>}
          {' · '}logs: <code>{d.links.logQuery}</code>
        </dd>
      </dl>
      <Actions d={d} viewer={viewer} />

      <h2 id="lines">Lines</h2>
      <table aria-labelledby="lines">
        <thead>
          <tr>
            <th scope="col">SKU</th>
            <th scope="col" class="num">
              Quantity
            </th>
            <th scope="col" class="num">
              Unit price
            </th>
            <th scope="col" class="num">
              Amount
            </th>
          </tr>
        </thead>
        <tbody>
          {o.items.map((i) => (
            <tr key={i.sku}>
              <td>{i.sku}</td>
              <td class="num">{i.quantity}</td>
              <td class="num">{money(i.unitPriceMinor)}</td>
              <td class="num">{money(i.unitPriceMinor * i.quantity)}</td>
            </tr>
          ))}
        </tbody>
      </table>

      <h2 id="saga">Saga steps</h2>
      {d.saga.problem && <p class="notice bad">{d.saga.problem}</p>}
      <dl class="facts">
        <dt>Workflow</dt>
        <dd class="mono">
          {d.saga.workflowId}{' '}
          {d.saga.executionStatus && <Status value={d.saga.executionStatus} tone={d.saga.executionStatus === 'RUNNING' ? 'warn' : 'ok'} />}
        </dd>
        <dt>Completed steps</dt>
        <dd>{d.saga.state?.completedSteps.join(' → ') || '—'}</dd>
        <dt>Pending compensation</dt>
        <dd>{d.saga.state?.pendingCompensation.join(' → ') || '—'}</dd>
        <dt>Last error</dt>
        <dd>
          {d.saga.state?.lastError
            ? `${d.saga.state.lastError.step}: ${d.saga.state.lastError.type ?? ''} ${d.saga.state.lastError.message}`
            : '—'}
        </dd>
      </dl>

      <h2 id="timeline">Timeline</h2>
      <ol class="timeline" aria-labelledby="timeline">
        {timeline(d).map((l, i) => (
          <li key={i}>
            <span class="src">{l.source}</span> <span class="muted">{formatTime(l.at)}</span> {l.text}
          </li>
        ))}
      </ol>

      <h2 id="ledger">Ledger</h2>
      <p>
        Payment:{' '}
        {d.money.payment ? (
          <>
            <Status
              value={d.money.payment.status}
              tone={d.money.payment.status === 'CAPTURED' ? 'ok' : d.money.payment.status === 'REFUNDED' ? 'warn' : 'bad'}
            />{' '}
            {d.money.payment.amountMinor !== null && money(d.money.payment.amountMinor)}
          </>
        ) : (
          'none'
        )}
      </p>
      <table aria-labelledby="ledger">
        <thead>
          <tr>
            <th scope="col">Kind</th>
            <th scope="col">Account</th>
            <th scope="col" class="num">
              Amount
            </th>
            <th scope="col">At</th>
          </tr>
        </thead>
        <tbody>
          {d.money.entries.map((e, i) => (
            <tr key={i}>
              <td>{e.kind}</td>
              <td>{e.accountId}</td>
              <td class={`num${e.amountMinor < 0 ? ' neg' : ''}`}>{money(e.amountMinor)}</td>
              <td>{formatTime(e.at)}</td>
            </tr>
          ))}
        </tbody>
      </table>

      <h2 id="stock">Stock reservation</h2>
      {d.reservation ? (
        <>
          <p>
            Reservation <Status value={d.reservation.status} tone={d.reservation.status === 'COMMITTED' ? 'ok' : 'warn'} />
          </p>
          <table aria-labelledby="stock">
            <thead>
              <tr>
                <th scope="col">SKU</th>
                <th scope="col" class="num">
                  Reserved for this order
                </th>
                <th scope="col" class="num">
                  Available now
                </th>
                <th scope="col" class="num">
                  Reserved now
                </th>
                <th scope="col" class="num">
                  Committed now
                </th>
              </tr>
            </thead>
            <tbody>
              {d.reservation.items.map((i) => (
                <tr key={i.sku}>
                  <td>{i.sku}</td>
                  <td class="num">{i.quantity}</td>
                  <td class="num">{i.stock?.available ?? '—'}</td>
                  <td class="num">{i.stock?.reserved ?? '—'}</td>
                  <td class="num">{i.stock?.committed ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : (
        <p class="muted">No reservation.</p>
      )}

      <h2 id="events">Events</h2>
      <table aria-labelledby="events">
        <thead>
          <tr>
            <th scope="col" class="num">
              #
            </th>
            <th scope="col">Type</th>
            <th scope="col">Occurred</th>
            <th scope="col">Published</th>
            <th scope="col">Consumed by</th>
          </tr>
        </thead>
        <tbody>
          {d.events.map((e) => (
            <tr key={e.eventId}>
              <td class="num">{e.sequence}</td>
              <td>{e.type}</td>
              <td>{formatTime(e.occurredAt)}</td>
              <td>{e.publishedAt ? formatTime(e.publishedAt) : <Status value="pending" tone="warn" />}</td>
              <td>
                {e.consumedBy.length ? (
                  e.consumedBy.map((c) => `${c.group} (${formatTime(c.at)})`).join(', ')
                ) : (
                  <span class="muted">none yet</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>

      <h2 id="dead-letters">Dead letters</h2>
      {d.deadLetters.length === 0 ? (
        <p class="muted">None.</p>
      ) : (
        <ul>
          {d.deadLetters.map((l) => (
            <li key={l.id}>
              #{l.id} {l.eventType} in {l.consumerGroup}: {l.errorMessage} {l.replayedAt ? `(replayed ${formatTime(l.replayedAt)})` : ''}
            </li>
          ))}
        </ul>
      )}

      {viewer.may('audit:read') && (
        <>
          <h2 id="audit">Audit log</h2>
          {d.audit.length === 0 ? (
            <p class="muted">No operator action on this order.</p>
          ) : (
            <AuditTable items={d.audit} labelledBy="audit" />
          )}
        </>
      )}

      <h2 id="findings">Findings</h2>
      {d.findings.length === 0 ? (
        <p class="muted">None.</p>
      ) : (
        <ul>
          {d.findings.map((f) => (
            <li key={f.id}>
              {f.check} <Status value={f.status} tone={f.status === 'resolved' ? 'ok' : 'bad'} /> first seen {formatTime(f.firstSeenAt)}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
