/**
 * API keys and what they may act for. A key reads `osk_<id>_<secret>`: the id (not secret)
 * finds the row, the secret's SHA-256 is compared in constant time, and only that hash is
 * stored. Keys are high-entropy random strings, so a fast hash is the right one (no password
 * stretching needed). A client key acts only for the customers granted to it; admin keys act
 * for anyone. Orders belong to the customer, so a new key with the same grants keeps access.
 */
import crypto from 'node:crypto';
import { ADMIN_API_KEY_MIN_LENGTH } from '../../lib/config';
import { inTransaction, runStatement, type Db } from '../../lib/db';
import { prepared, sql, type Tx } from '../../lib/sql';
import { can, type Permission } from './permissions';

export type Role = 'client' | 'admin';

/** Whoever calls the API, however it authenticated: an API key, an OAuth2 access token, or a person signed in to the console. */
export interface Principal {
  /** The principal's row in api_keys (a token client's registration row for a token). */
  apiKeyId: string;
  name: string;
  /** The rate limit tier and the view (client: redacted); a person is `admin` here and limited by `permissions`. */
  role: Role;
  /** The customers a client key is granted (empty for admins, who need none). */
  customers: ReadonlySet<string>;
  /** What it may do (services/access/permissions.ts can()); absent for an API key, whose role's set applies. */
  permissions?: ReadonlySet<Permission>;
  /** Set when it authenticated with an access token (services/access/tokens.ts). */
  token?: { issuer: string; clientId: string; subject: string; scopes: readonly string[] };
  /** Set for a person signed in with OIDC (services/access/oidc-login.ts): who, as the issuer names them. */
  person?: { issuer: string; subject: string; roles: readonly string[] };
}

/** The fixed id of the bootstrap admin key taken from ADMIN_API_KEY. */
export const BOOTSTRAP_ADMIN_ID = '00000000-0000-4000-8000-00000000ad01';
/** The stored hash of a key that cannot authenticate (no secret hashes to it). */
const NO_SECRET = '0'.repeat(64);

const KEY_PATTERN = /^osk_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;

const sha256 = (s: string): Buffer => crypto.createHash('sha256').update(s, 'utf8').digest();

function toUuid(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Whether this principal may act for this customer (place, cancel, read). */
export function mayActFor(principal: Principal, customerId: string): boolean {
  return can(principal, 'customers:any') || principal.customers.has(customerId);
}

async function insertGrants(tx: Tx, apiKeyId: string, customers: readonly string[]): Promise<void> {
  if (customers.length === 0) return;
  await tx.exec`
    INSERT INTO api_key_customers (api_key_id, customer_id)
    SELECT ${apiKeyId}::uuid, c FROM unnest(${[...new Set(customers)]}::text[]) AS c ON CONFLICT DO NOTHING`;
}

/** Creates a key (with its grants) in the caller's transaction, or in one of its own given a Db. The secret is returned once. */
export async function createApiKey(
  handle: Db | Tx,
  name: string,
  role: Role,
  customers: readonly string[] = [],
): Promise<{ id: string; key: string }> {
  const id = crypto.randomUUID();
  const secret = crypto.randomBytes(32).toString('base64url');
  const insert = async (tx: Tx) => {
    await tx.exec`
      INSERT INTO api_keys (id, name, role, secret_hash) VALUES (${id}::uuid, ${name}::text, ${role}::text, ${sha256(secret).toString('hex')}::text)`;
    await insertGrants(tx, id, customers);
  };
  await ('exec' in handle ? insert(handle) : inTransaction(handle, insert));
  return { id, key: `osk_${id.replace(/-/g, '')}_${secret}` };
}

/** Replaces a key's grants with exactly these customers; false if there is no such key. In the caller's transaction given a Tx. */
export async function setGrants(handle: Db | Tx, apiKeyId: string, customers: readonly string[]): Promise<boolean> {
  const replace = async (tx: Tx) => {
    const [key] = await tx.rows`SELECT 1 FROM api_keys WHERE id = ${apiKeyId}::uuid FOR UPDATE`;
    if (!key) return false;
    await tx.exec`DELETE FROM api_key_customers WHERE api_key_id = ${apiKeyId}::uuid AND NOT (customer_id = ANY(${[...customers]}::text[]))`;
    await insertGrants(tx, apiKeyId, customers);
    return true;
  };
  return 'exec' in handle ? replace(handle) : inTransaction(handle, replace);
}

export interface ApiKeyView {
  id: string;
  name: string;
  role: Role;
  customers: string[];
  createdAt: string;
  revokedAt: string | null;
}

interface KeyRow {
  id: string;
  name: string;
  role: Role;
  customers: string[];
  created_at: Date;
  revoked_at: Date | null;
}

const toView = (r: KeyRow): ApiKeyView => ({
  id: r.id,
  name: r.name,
  role: r.role,
  customers: r.customers,
  createdAt: r.created_at.toISOString(),
  revokedAt: r.revoked_at?.toISOString() ?? null,
});

const KEY_VIEW = `SELECT k.id::text, k.name, k.role, k.created_at, k.revoked_at,
         COALESCE(array_agg(g.customer_id ORDER BY g.customer_id) FILTER (WHERE g.customer_id IS NOT NULL), '{}') AS customers
    FROM api_keys k LEFT JOIN api_key_customers g ON g.api_key_id = k.id`;

/** Every key with its grants (never a secret), newest first. */
export async function listApiKeys(db: Db, page: { limit: number; offset: number }): Promise<ApiKeyView[]> {
  const rows = await runStatement<KeyRow & Record<string, unknown>>(db, {
    text: `${KEY_VIEW} GROUP BY k.id ORDER BY k.created_at DESC, k.id LIMIT $1 OFFSET $2`,
    values: [page.limit, page.offset],
  });
  return rows.map(toView);
}

export async function findApiKey(db: Db, id: string): Promise<ApiKeyView | null> {
  const rows = await runStatement<KeyRow & Record<string, unknown>>(db, {
    text: `${KEY_VIEW} WHERE k.id = $1::uuid GROUP BY k.id`,
    values: [id],
  });
  return rows[0] ? toView(rows[0]) : null;
}

/**
 * Makes the bootstrap admin key follow ADMIN_API_KEY: while the variable is set its hash is
 * stored; when it is unset the key can no longer authenticate. A revocation is never undone.
 */
export async function syncBootstrapAdminKey(db: Db, key: string | undefined): Promise<void> {
  const secretHash = key ? sha256(key).toString('hex') : NO_SECRET;
  await runStatement(
    db,
    sql`INSERT INTO api_keys (id, name, role, secret_hash) VALUES (${BOOTSTRAP_ADMIN_ID}::uuid, 'bootstrap-admin (ADMIN_API_KEY)', 'admin', ${secretHash}::text)
        ON CONFLICT (id) DO UPDATE SET secret_hash = EXCLUDED.secret_hash`,
  );
}

interface AuthRow {
  id: string;
  name: string;
  role: Role;
  secret_hash: string;
  revoked_at: Date | null;
  customers: string[];
}

/** The principal a presented key authenticates, or null. Constant time in the secret. */
export async function authenticate(db: Db, presented: string): Promise<Principal | null> {
  const match = KEY_PATTERN.exec(presented);
  // Neither a generated key nor a possible ADMIN_API_KEY: refused without a lookup.
  if (!match && presented.length < ADMIN_API_KEY_MIN_LENGTH) return null;
  const id = match ? toUuid(match[1]!) : BOOTSTRAP_ADMIN_ID;
  const secret = match ? match[2]! : presented;
  const [row] = await runStatement<AuthRow & Record<string, unknown>>(
    db,
    prepared(sql`SELECT k.id::text, k.name, k.role, k.secret_hash, k.revoked_at,
               ARRAY(SELECT g.customer_id FROM api_key_customers g WHERE g.api_key_id = k.id) AS customers
          FROM api_keys k WHERE k.id = ${id}::uuid`),
  );
  const expected = row && row.secret_hash !== NO_SECRET ? Buffer.from(row.secret_hash, 'hex') : crypto.randomBytes(32);
  const ok = expected.length === 32 && crypto.timingSafeEqual(sha256(secret), expected);
  if (!row || !ok || row.revoked_at || row.secret_hash === NO_SECRET) return null;
  return { apiKeyId: row.id, name: row.name, role: row.role, customers: new Set(row.customers) };
}

/** Revokes a key; returns false if there is no such key. Revoking twice keeps the first time. In the caller's transaction given a Tx. */
export async function revokeApiKey(handle: Db | Tx, id: string): Promise<boolean> {
  const statement = sql`WITH k AS (SELECT id FROM api_keys WHERE id = ${id}::uuid),
             u AS (UPDATE api_keys SET revoked_at = now() WHERE id = ${id}::uuid AND revoked_at IS NULL)
        SELECT 1 FROM k`;
  const rows = 'exec' in handle ? (await handle.query(statement)).rows : await runStatement(handle, statement);
  return rows.length === 1;
}
