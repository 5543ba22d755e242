/**
 * Console sessions (/console). A person signs in once and then browses with a cookie: the
 * cookie carries a random token, the row is found by its SHA-256 (a database read gives no
 * usable cookie), and every request joins the key it was opened with, so revoking the key,
 * or unsetting ADMIN_API_KEY for the bootstrap key, ends its sessions at the next request.
 * A session ends after CONSOLE_SESSION_IDLE_MS without a request and CONSOLE_SESSION_MAX_MS
 * after sign-in, whichever comes first. Each session has its own CSRF secret (the
 * synchronizer token its forms carry).
 *
 * A session resolves to the same Principal an API request gets (services/access/api-keys.ts),
 * judged by the same can(): a person signed in through an OIDC issuer would be the same kind
 * of row with a principal built from its roles' permissions.
 */
import crypto from 'node:crypto';
import { runStatement, type Db } from '../../lib/db';
import { sql, type Statement, type Tx } from '../../lib/sql';
import type { Principal, Role } from './api-keys';
import type { SignedInPerson } from './oidc-login';
import { can, isPeopleRole, permissionsOfRoles } from './permissions';

/** The stored hash of a key that cannot authenticate (api-keys.ts NO_SECRET). */
const NO_SECRET = '0'.repeat(64);
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export interface SessionSettings {
  idleMs: number;
  maxMs: number;
}

export interface ConsoleSession {
  /** SHA-256 of the token: names the session in logs and the audit log, never a usable secret. */
  id: string;
  principal: Principal;
  csrfSecret: string;
  expiresAt: Date;
}

const hash = (token: string): string => crypto.createHash('sha256').update(token, 'utf8').digest('hex');

/** A statement in the caller's transaction given a Tx (the audit row commits with it), or on its own. */
async function run<T extends Record<string, unknown>>(handle: Db | Tx, statement: Statement): Promise<T[]> {
  return 'exec' in handle ? (await handle.query<T>(statement)).rows : runStatement<T>(handle, statement);
}

/** Why a principal may not open a session, or null if it may. */
export function signInRefusal(principal: Principal): string | null {
  if (principal.token) return 'the console takes an API key, not an access token';
  if (!can(principal, 'console:sign-in'))
    return 'this key may not sign in to the console (a client key acts for its customers through the API only)';
  return null;
}

/** Opens a session for an authenticated principal that may sign in; returns the cookie's token (shown once). */
export async function openSession(
  handle: Db | Tx,
  principal: Principal,
  settings: SessionSettings,
): Promise<{ token: string; session: ConsoleSession }> {
  const refusal = signInRefusal(principal);
  if (refusal) throw new Error(refusal);
  const token = crypto.randomBytes(32).toString('base64url');
  const csrfSecret = crypto.randomBytes(32).toString('base64url');
  const id = hash(token);
  const roles = principal.person ? [...principal.person.roles] : [];
  const [row] = await run<{ expires_at: Date }>(
    handle,
    sql`INSERT INTO console_sessions (id, api_key_id, csrf_secret, expires_at, person_roles)
        VALUES (${id}::text, ${principal.apiKeyId}::uuid, ${csrfSecret}::text, now() + ${settings.maxMs}::int * interval '1 millisecond',
                ${roles}::text[])
        RETURNING expires_at`,
  );
  return { token, session: { id, principal, csrfSecret, expiresAt: row!.expires_at } };
}

/**
 * The principal row of a person signed in with OIDC (first sign-in: registered with their
 * name), in the caller's transaction; null if the row is revoked (the console's kill switch for
 * that person, whatever the issuer says).
 */
export async function registerPerson(tx: Tx, person: SignedInPerson): Promise<string | null> {
  await tx.exec`
    INSERT INTO api_keys (id, name, role, secret_hash, person_issuer, person_subject)
    VALUES (${crypto.randomUUID()}::uuid, ${person.name}::text, 'client', repeat('0', 64), ${person.issuer}::text, ${person.subject}::text)
    ON CONFLICT (person_issuer, person_subject) DO NOTHING`;
  const [row] = await tx.rows<{ id: string; revoked_at: Date | null }>`
    SELECT id::text, revoked_at FROM api_keys WHERE person_issuer = ${person.issuer}::text AND person_subject = ${person.subject}::text`;
  return row && !row.revoked_at ? row.id : null;
}

interface SessionRow {
  id: string;
  api_key_id: string;
  name: string;
  role: Role;
  csrf_secret: string;
  expires_at: Date;
  customers: string[];
  person_issuer: string | null;
  person_subject: string | null;
  person_roles: string[];
}

/** A session's principal: the key's, or the person's with the roles of their sign-in. */
function principalOfRow(row: SessionRow): Principal {
  if (row.person_subject && row.person_issuer && row.person_roles.length > 0) {
    const roles = row.person_roles.filter(isPeopleRole);
    return {
      apiKeyId: row.api_key_id,
      name: row.name,
      role: 'admin',
      customers: new Set(),
      permissions: permissionsOfRoles(roles),
      person: { issuer: row.person_issuer, subject: row.person_subject, roles },
    };
  }
  return { apiKeyId: row.api_key_id, name: row.name, role: row.role, customers: new Set(row.customers) };
}

/**
 * The live session of a cookie token, touched (its idle clock restarts), or null: unknown,
 * signed out, idle or past its absolute expiry, or its key revoked or disabled. One statement.
 */
export async function resumeSession(db: Db, token: string | undefined, settings: SessionSettings): Promise<ConsoleSession | null> {
  if (!token || !TOKEN.test(token)) return null;
  const [row] = await runStatement<SessionRow & Record<string, unknown>>(
    db,
    sql`UPDATE console_sessions s SET last_seen_at = now()
          FROM api_keys k
         WHERE s.id = ${hash(token)}::text AND k.id = s.api_key_id
           AND s.revoked_at IS NULL AND s.expires_at > now()
           AND s.last_seen_at > now() - ${settings.idleMs}::int * interval '1 millisecond'
           AND k.revoked_at IS NULL
           -- a key's session needs a live secret; a person's row has none and its session carries roles
           AND (CASE WHEN k.person_subject IS NULL THEN k.secret_hash <> ${NO_SECRET}::text AND cardinality(s.person_roles) = 0
                     ELSE cardinality(s.person_roles) > 0 END)
     RETURNING s.id, s.api_key_id::text, k.name, k.role, s.csrf_secret, s.expires_at, k.person_issuer, k.person_subject, s.person_roles,
               ARRAY(SELECT g.customer_id FROM api_key_customers g WHERE g.api_key_id = k.id) AS customers`,
  );
  if (!row) return null;
  const principal = principalOfRow(row);
  // A key's permissions can only have shrunk since sign-in if its role changed (it cannot: api_keys_immutable).
  if (signInRefusal(principal)) return null;
  return { id: row.id, principal, csrfSecret: row.csrf_secret, expiresAt: row.expires_at };
}

/** Signs a session out; false if it was not live. */
export async function closeSession(handle: Db | Tx, sessionId: string): Promise<boolean> {
  const rows = await run(
    handle,
    sql`UPDATE console_sessions SET revoked_at = now() WHERE id = ${sessionId}::text AND revoked_at IS NULL RETURNING 1 AS closed`,
  );
  return rows.length === 1;
}

/** Whether a presented CSRF token is the session's (constant time). */
export function csrfMatches(session: ConsoleSession, presented: unknown): boolean {
  if (typeof presented !== 'string' || presented.length !== session.csrfSecret.length) return false;
  return crypto.timingSafeEqual(Buffer.from(presented), Buffer.from(session.csrfSecret));
}
