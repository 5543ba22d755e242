/**
 * OAuth2 clients registered for access tokens. Each is a principal row in api_keys with its
 * client id and no secret (it can never authenticate as an API key), so its grants, orders and
 * idempotency keys are exactly those of a client API key. An issuer's client that is not
 * registered here, or whose registration is revoked, is refused whatever its token says.
 */
import crypto from 'node:crypto';
import { inTransaction, runStatement, type Db } from '../../lib/db';
import { sql } from '../../lib/sql';

export interface TokenClientView {
  /** The principal row (orders and idempotency keys name it). */
  id: string;
  clientId: string;
  name: string;
  customers: string[];
  createdAt: string;
  revokedAt: string | null;
}

interface Row {
  id: string;
  oauth_client_id: string;
  name: string;
  customers: string[];
  created_at: Date;
  revoked_at: Date | null;
}

const toView = (r: Row): TokenClientView => ({
  id: r.id,
  clientId: r.oauth_client_id,
  name: r.name,
  customers: r.customers,
  createdAt: r.created_at.toISOString(),
  revokedAt: r.revoked_at?.toISOString() ?? null,
});

export async function findTokenClient(db: Db, clientId: string): Promise<TokenClientView | null> {
  const [row] = await runStatement<Row & Record<string, unknown>>(
    db,
    sql`SELECT k.id::text, k.oauth_client_id, k.name, k.created_at, k.revoked_at,
               ARRAY(SELECT g.customer_id FROM api_key_customers g WHERE g.api_key_id = k.id ORDER BY g.customer_id) AS customers
          FROM api_keys k WHERE k.oauth_client_id = ${clientId}::text`,
  );
  return row ? toView(row) : null;
}

/**
 * Registers a client id (first call: with this name) and replaces its grants with exactly these
 * customers. Idempotent: the same call, the same registration. A revoked registration stays
 * revoked (register a new client id instead).
 */
export async function registerTokenClient(db: Db, clientId: string, name: string, customers: readonly string[]): Promise<TokenClientView> {
  await inTransaction(db, async (tx) => {
    await tx.exec`
      INSERT INTO api_keys (id, name, role, secret_hash, oauth_client_id)
      VALUES (${crypto.randomUUID()}::uuid, ${name}::text, 'client', repeat('0', 64), ${clientId}::text)
      ON CONFLICT (oauth_client_id) DO NOTHING`;
    const [row] = await tx.rows<{ id: string }>`SELECT id::text FROM api_keys WHERE oauth_client_id = ${clientId}::text FOR UPDATE`;
    const wanted = [...new Set(customers)];
    await tx.exec`DELETE FROM api_key_customers WHERE api_key_id = ${row!.id}::uuid AND NOT (customer_id = ANY(${wanted}::text[]))`;
    if (wanted.length > 0) {
      await tx.exec`
        INSERT INTO api_key_customers (api_key_id, customer_id)
        SELECT ${row!.id}::uuid, c FROM unnest(${wanted}::text[]) AS c ON CONFLICT DO NOTHING`;
    }
  });
  return (await findTokenClient(db, clientId))!;
}
