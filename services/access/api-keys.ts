/**
 * API keys. A key reads `osk_<id>_<secret>`: the id (not secret) finds the row, the secret's
 * SHA-256 is compared in constant time, and only that hash is stored. Keys are high-entropy
 * random strings, so a fast hash is the right one (no password stretching needed).
 */
import crypto from 'node:crypto';
import { inTransaction, type Db } from '../../lib/db';
import type { Tx } from '../../lib/sql';

export type Role = 'client' | 'admin';

export interface Principal {
  apiKeyId: string;
  name: string;
  role: Role;
}

/** The fixed id of the bootstrap admin key taken from ADMIN_API_KEY. */
export const BOOTSTRAP_ADMIN_ID = '00000000-0000-4000-8000-00000000ad01';

const KEY_PATTERN = /^osk_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;

const sha256 = (s: string): Buffer => crypto.createHash('sha256').update(s, 'utf8').digest();

function toUuid(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Creates a key in the caller's transaction, or in one of its own given a Db. The secret is returned once. */
export async function createApiKey(handle: Db | Tx, name: string, role: Role): Promise<{ id: string; key: string }> {
  const id = crypto.randomUUID();
  const secret = crypto.randomBytes(32).toString('base64url');
  const insert = (tx: Tx) => tx.exec`
    INSERT INTO api_keys (id, name, role, secret_hash) VALUES (${id}::uuid, ${name}::text, ${role}::text, ${sha256(secret).toString('hex')}::text)`;
  await ('exec' in handle ? insert(handle) : inTransaction(handle, insert));
  return { id, key: `osk_${id.replace(/-/g, '')}_${secret}` };
}

/** Stores (or re-stores) the bootstrap admin key's hash; the key itself is never written. */
export async function installBootstrapAdminKey(db: Db, key: string): Promise<void> {
  const secretHash = sha256(key).toString('hex');
  await db.apiKey.upsert({
    where: { id: BOOTSTRAP_ADMIN_ID },
    create: { id: BOOTSTRAP_ADMIN_ID, name: 'bootstrap-admin (ADMIN_API_KEY)', role: 'admin', secretHash },
    update: { secretHash, revokedAt: null },
  });
}

/** The principal a presented key authenticates, or null. Constant time in the secret. */
export async function authenticate(db: Db, presented: string): Promise<Principal | null> {
  const match = KEY_PATTERN.exec(presented);
  const id = match ? toUuid(match[1]!) : BOOTSTRAP_ADMIN_ID;
  const secret = match ? match[2]! : presented;
  const row = await db.apiKey.findUnique({ where: { id } });
  const expected = row ? Buffer.from(row.secretHash, 'hex') : crypto.randomBytes(32);
  const ok = crypto.timingSafeEqual(sha256(secret), expected);
  if (!row || !ok || row.revokedAt) return null;
  return { apiKeyId: row.id, name: row.name, role: row.role as Role };
}

/** Revokes a key; returns false if there is no such key. Revoking twice is fine. */
export async function revokeApiKey(db: Db, id: string): Promise<boolean> {
  const existing = await db.apiKey.findUnique({ where: { id } });
  if (!existing) return false;
  // Keep the first revocation time.
  await db.apiKey.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: new Date() } });
  return true;
}
