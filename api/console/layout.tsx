/** The console's page frame: header with navigation and sign-out, one stylesheet, no script. */
import type { ComponentChildren } from 'preact';
import { renderToString } from 'preact-render-to-string';
import type { Permission } from '../../services/access/permissions';

/** What every page knows about its viewer. */
export interface Viewer {
  name: string;
  apiKeyId: string;
  /** The session's synchronizer token, for every form that changes something. */
  csrf: string;
  may(permission: Permission): boolean;
}

const NAV: { href: string; label: string; permission: Permission }[] = [
  { href: '/console', label: 'Overview', permission: 'orders:read' },
  { href: '/console/orders', label: 'Orders', permission: 'orders:read' },
  { href: '/console/findings', label: 'Findings', permission: 'reconciliation:read' },
  { href: '/console/dead-letters', label: 'Dead letters', permission: 'dlq:read' },
  { href: '/console/api-keys', label: 'API keys', permission: 'keys:manage' },
  { href: '/console/audit-log', label: 'Audit log', permission: 'audit:read' },
];

/** A hidden field with the session's CSRF token: put in every POST form. */
export function Csrf({ viewer }: { viewer: Viewer }) {
  return <input type="hidden" name="_csrf" value={viewer.csrf} />;
}

function Header({ viewer, current }: { viewer: Viewer | null; current: string }) {
  return (
    <header class="top">
      <a class="brand" href={viewer ? '/console' : '/'}>
        order-saga console
      </a>
      {viewer && (
        <nav aria-label="Console">
          <ul>
            {NAV.filter((n) => viewer.may(n.permission)).map((n) => (
              <li key={n.href}>
                <a href={n.href} aria-current={n.href === current ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
            <li>
              <a href="/docs">API reference</a>
            </li>
          </ul>
        </nav>
      )}
      {viewer && (
        <div class="who">
          <span>
            Signed in as <strong>{viewer.name}</strong>
          </span>
          <form class="inline" method="post" action="/console/sign-out">
            <Csrf viewer={viewer} />
            <button type="submit">Sign out</button>
          </form>
        </div>
      )}
    </header>
  );
}

/** A whole page as HTML text (escaped by preact: no value reaches the page unescaped). */
export function renderPage(opts: { title: string; viewer: Viewer | null; current?: string; children: ComponentChildren }): string {
  const html = renderToString(
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${opts.title} · order-saga console`}</title>
        <link rel="stylesheet" href="/console/assets/console.css" />
      </head>
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <Header viewer={opts.viewer} current={opts.current ?? ''} />
        <main id="main">
          <h1>{opts.title}</h1>
          {opts.children}
        </main>
      </body>
    </html>,
  );
  return `<!doctype html>\n${html}`;
}

/** An order status (or any state) as a coloured label; the text carries the meaning, the colour only helps. */
export function Status({ value, tone }: { value: string; tone?: 'ok' | 'bad' | 'warn' }) {
  return <span class={`status status-${tone ?? value}`}>{value}</span>;
}
