/** Sign-in, the confirmation step of every action, its result, and errors. */
import type { ComponentChildren } from 'preact';
import { Csrf, type Viewer } from '../layout';

export function SignIn({ token, error, issuer = null }: { token: string; error: string | null; issuer?: string | null }) {
  return (
    <div class="signin">
      {issuer && (
        <p>
          <a class="button" href="/console/auth/login">
            Sign in with {issuer}
          </a>
        </p>
      )}
      <p>Sign in with an admin API key. The key is exchanged for a session; it is not stored in the browser.</p>
      {error && (
        <p class="notice bad" role="alert">
          {error}
        </p>
      )}
      <form class="stack" method="post" action="/console/sign-in">
        <input type="hidden" name="_csrf" value={token} />
        <label>
          API key
          <input type="password" name="key" required autocomplete="off" />
        </label>
        <button type="submit">Sign in</button>
      </form>
    </div>
  );
}

/** The confirmation step: what will happen, the fields it needs, and one button that does it. */
export function Confirm(props: {
  viewer: Viewer;
  action: string;
  what: ComponentChildren;
  button: string;
  danger?: boolean;
  reason?: { label: string; value: string };
  hidden?: Record<string, string>;
  error?: string | null;
  back: string;
}) {
  return (
    <>
      <div class="notice">{props.what}</div>
      {props.error && (
        <p class="notice bad" role="alert">
          {props.error}
        </p>
      )}
      <form class="stack" method="post" action={props.action}>
        <Csrf viewer={props.viewer} />
        {Object.entries(props.hidden ?? {}).map(([name, value]) => (
          <input key={name} type="hidden" name={name} value={value} />
        ))}
        {props.reason && (
          <label>
            {props.reason.label}
            <input type="text" name="reason" required maxLength={500} value={props.reason.value} />
          </label>
        )}
        <div class="actions">
          <button type="submit" class={props.danger ? 'danger' : undefined}>
            {props.button}
          </button>
          <a class="button secondary" href={props.back}>
            Cancel
          </a>
        </div>
      </form>
    </>
  );
}

export function Result({ ok, children, next }: { ok: boolean; children?: ComponentChildren; next: { href: string; label: string }[] }) {
  return (
    <>
      <div class={`notice ${ok ? 'good' : 'bad'}`} role="status">
        {children}
      </div>
      <div class="actions">
        {next.map((n) => (
          <a key={n.href} class="button secondary" href={n.href}>
            {n.label}
          </a>
        ))}
      </div>
    </>
  );
}

export function ErrorPage({ status, title, detail, code }: { status: number; title: string; detail: string; code: string }) {
  return (
    <div class="notice bad" role="alert">
      <p>
        <strong>
          {status} {title}
        </strong>{' '}
        <span class="muted">({code})</span>
      </p>
      <p>{detail}</p>
      <p>
        <a href="/console">Back to the overview</a>
      </p>
    </div>
  );
}
