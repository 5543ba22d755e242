/** Findings, dead letters and API keys. */
import type { ApiKeyView } from '../../../services/access/api-keys';
import { AUDIT_ACTION_NAMES, AUDIT_OUTCOMES, type AuditRow } from '../../../services/platform/audit-log/audit-log';
import type { DeadLetterSummary } from '../../../services/platform/dlq/dead-letters';
import type { FindingView } from '../../../services/reconciliation/contract';
import { formatTime } from '../format';
import { Csrf, Status, type Viewer } from '../layout';

function subjectLink(f: FindingView) {
  return f.subjectType === 'order' ? <a href={`/console/orders/${f.subjectId}`}>{f.subjectId}</a> : <span>{f.subjectId}</span>;
}

export function Findings({ items, total, status, viewer }: { items: FindingView[]; total: number; status: string; viewer: Viewer }) {
  return (
    <>
      <nav class="pager" aria-label="Finding status">
        {['open', 'suspect', 'resolved', 'all'].map((s) => (
          <a key={s} href={`/console/findings?status=${s}`} aria-current={s === status ? 'page' : undefined}>
            {s}
          </a>
        ))}
      </nav>
      {viewer.may('reconciliation:run') && (
        <div class="actions">
          <a class="button secondary" href="/console/reconciliation/run">
            Start a reconciliation run…
          </a>
        </div>
      )}
      <table>
        <caption class="muted">
          {total} {status} findings{items.length < total ? `, newest ${items.length} shown` : ''}
        </caption>
        <thead>
          <tr>
            <th scope="col">Check</th>
            <th scope="col">Subject</th>
            <th scope="col">Status</th>
            <th scope="col">First seen</th>
            <th scope="col">Last seen</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {items.map((f) => (
            <tr key={f.id}>
              <td>{f.check}</td>
              <td>
                {f.subjectType} {subjectLink(f)}
              </td>
              <td>
                <Status value={f.status} tone={f.status === 'resolved' ? 'ok' : f.status === 'open' ? 'bad' : 'warn'} />
              </td>
              <td>{formatTime(f.firstSeenAt)}</td>
              <td>{formatTime(f.lastSeenAt)}</td>
              <td>
                <code>{JSON.stringify(f.details)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

export function DeadLetters({
  items,
  total,
  showAll,
  viewer,
}: {
  items: DeadLetterSummary[];
  total: number;
  showAll: boolean;
  viewer: Viewer;
}) {
  return (
    <>
      <nav class="pager" aria-label="Dead letter filter">
        <a href="/console/dead-letters" aria-current={showAll ? undefined : 'page'}>
          waiting
        </a>
        <a href="/console/dead-letters?all=1" aria-current={showAll ? 'page' : undefined}>
          all (replayed too)
        </a>
      </nav>
      <table>
        <caption class="muted">
          {total} {showAll ? 'dead letters' : 'dead letters waiting for replay'}
        </caption>
        <thead>
          <tr>
            <th scope="col">Id</th>
            <th scope="col">Group</th>
            <th scope="col">Event</th>
            <th scope="col">Order</th>
            <th scope="col">Error</th>
            <th scope="col">Dead-lettered</th>
            <th scope="col">Replayed</th>
            <th scope="col">Action</th>
          </tr>
        </thead>
        <tbody>
          {items.map((l) => (
            <tr key={l.id}>
              <td>{l.id}</td>
              <td>{l.consumerGroup}</td>
              <td>{l.eventType ?? '—'}</td>
              <td>{l.messageKey ? <a href={`/console/orders/${encodeURIComponent(l.messageKey)}`}>{l.messageKey}</a> : '—'}</td>
              <td>
                {l.errorClass}: {l.errorMessage}
              </td>
              <td>{formatTime(l.deadLetteredAt)}</td>
              <td>{l.replayedAt ? `${l.replayCount}×, last ${formatTime(l.replayedAt)}` : 'never'}</td>
              <td>{viewer.may('dlq:replay') && <a href={`/console/dead-letters/${l.id}/replay`}>Replay…</a>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

export function ApiKeys({
  items,
  viewer,
  created,
}: {
  items: ApiKeyView[];
  viewer: Viewer;
  created: { id: string; key: string; name: string } | null;
}) {
  return (
    <>
      {created && (
        <div class="notice good" role="status">
          <p>
            Key <strong>{created.name}</strong> created. Its secret is shown this once; copy it now:
          </p>
          <code class="secret">{created.key}</code>
        </div>
      )}
      <h2 id="new-key">New key</h2>
      <form class="stack" method="post" action="/console/api-keys">
        <Csrf viewer={viewer} />
        <label>
          Name
          <input type="text" name="name" required maxLength={100} />
        </label>
        <label>
          Role
          <select name="role">
            <option value="client">client (acts for its granted customers)</option>
            <option value="admin">admin</option>
          </select>
        </label>
        <label>
          Granted customers (comma-separated; client keys)
          <input type="text" name="customers" />
        </label>
        <button type="submit">Create key</button>
      </form>
      <h2 id="keys">Keys</h2>
      <table aria-labelledby="keys">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Role</th>
            <th scope="col">Id</th>
            <th scope="col">Customers</th>
            <th scope="col">Created</th>
            <th scope="col">State</th>
          </tr>
        </thead>
        <tbody>
          {items.map((k) => (
            <tr key={k.id}>
              <td>{k.name}</td>
              <td>{k.role}</td>
              <td class="mono">{k.id}</td>
              <td>
                {k.role === 'client' && !k.revokedAt ? (
                  <form class="inline" method="post" action={`/console/api-keys/${k.id}/grants`}>
                    <Csrf viewer={viewer} />
                    <label>
                      <span class="skip">Customers of {k.name}</span>
                      <input type="text" name="customers" value={k.customers.join(', ')} />
                    </label>{' '}
                    <button type="submit">Save grants</button>
                  </form>
                ) : (
                  k.customers.join(', ') || '—'
                )}
              </td>
              <td>{formatTime(k.createdAt)}</td>
              <td>
                {k.revokedAt ? (
                  <Status value={`revoked ${formatTime(k.revokedAt)}`} tone="bad" />
                ) : (
                  <a href={`/console/api-keys/${k.id}/revoke`}>Revoke…</a>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** Audit rows as a table: when, who, what, to what, why, how it ended. */
export function AuditTable({ items, labelledBy }: { items: AuditRow[]; labelledBy?: string }) {
  const subject = (r: AuditRow) =>
    r.subject.kind === 'order' ? <a href={`/console/orders/${r.subject.id}`}>{r.subject.id}</a> : <span class="mono">{r.subject.id}</span>;
  return (
    <table aria-labelledby={labelledBy}>
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Actor</th>
          <th scope="col">Action</th>
          <th scope="col">Subject</th>
          <th scope="col">Reason</th>
          <th scope="col">Outcome</th>
          <th scope="col">Request</th>
        </tr>
      </thead>
      <tbody>
        {items.map((r) => (
          <tr key={r.id}>
            <td>{formatTime(r.occurredAt)}</td>
            <td>
              {r.actor.name} <span class="muted">({r.actor.kind})</span>
            </td>
            <td>{r.action}</td>
            <td>
              {r.subject.kind} {subject(r)}
            </td>
            <td>{r.reason ?? '—'}</td>
            <td>
              <Status value={r.outcome} tone={r.outcome === 'done' ? 'ok' : 'bad'} />
            </td>
            <td class="mono">{r.requestId ?? '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export interface AuditQueryForm {
  action: string;
  actor: string;
  subject: string;
  outcome: string;
}

export function AuditLog({
  query,
  items,
  nextHref,
  error,
}: {
  query: AuditQueryForm;
  items: AuditRow[];
  nextHref: string | null;
  error: string | null;
}) {
  return (
    <>
      <form class="search" method="get" action="/console/audit-log" role="search">
        <label>
          Action
          <select name="action">
            <option value="">any</option>
            {AUDIT_ACTION_NAMES.map((a) => (
              <option key={a} value={a} selected={query.action === a}>
                {a}
              </option>
            ))}
          </select>
        </label>
        <label>
          Actor id
          <input type="text" name="actor" value={query.actor} />
        </label>
        <label>
          Subject id
          <input type="text" name="subject" value={query.subject} />
        </label>
        <label>
          Outcome
          <select name="outcome">
            <option value="">any</option>
            {AUDIT_OUTCOMES.map((o) => (
              <option key={o} value={o} selected={query.outcome === o}>
                {o}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Filter</button>
      </form>
      {error && (
        <p class="notice bad" role="alert">
          {error}
        </p>
      )}
      <AuditTable items={items} />
      <nav class="pager" aria-label="Pages">
        <a href="/console/audit-log">Newest</a>
        {nextHref && <a href={nextHref}>Older</a>}
      </nav>
    </>
  );
}
