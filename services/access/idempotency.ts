/**
 * Idempotency keys (IETF draft "The Idempotency-Key HTTP Header Field"), scoped per API key
 * and kept 24 h. A request first takes a short lease on its key (committed at once, so a
 * concurrent duplicate sees it and gets 409); the request's own transaction then turns the
 * lease into the stored response, but only while it still holds the lease. A request that
 * crashed leaves an expired lease, which the client's retry takes over.
 */
import crypto from 'node:crypto';
import { runCount, runStatement, type Db } from '../../lib/db';
import { DomainError, type ErrorKind } from '../../lib/errors';
import { prepared, sql, type SqlFragment, type StatementPart, type Tx } from '../../lib/sql';

export const LEASE_MS = 30_000;
export const RETENTION_MS = 24 * 60 * 60 * 1000;

export interface Lease {
  apiKeyId: string;
  key: string;
  token: string;
}

export interface StoredResponse {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

/** `alongside`: the row of the statement beginIdempotent was given to read with the lease (undefined without one). */
export type BeginResult =
  | { kind: 'proceed'; lease: Lease; alongside?: Record<string, unknown> }
  | { kind: 'replay'; response: StoredResponse }
  | { kind: 'in-flight' }
  | { kind: 'mismatch' };

export const IDEMPOTENCY_ERRORS = {
  /**
   * Another request with the key holds its lease, or the lease expired and a retry took the
   * key over (a normal race: the retry owns the answer). Retrying gets the stored answer.
   */
  IN_FLIGHT: {
    code: 'IDEMPOTENCY_KEY_IN_FLIGHT',
    status: 409,
    retryable: true,
    title: 'Request with this Idempotency-Key is in progress',
    when: 'a request with the same Idempotency-Key is still being processed (or took this one over after its lease ran out)',
    action: "retry the same request after the Retry-After seconds: it then gets the first request's answer",
  },
  REUSED: {
    code: 'IDEMPOTENCY_KEY_REUSED',
    status: 422,
    retryable: false,
    title: 'Idempotency-Key reused with a different request',
    when: 'the Idempotency-Key was first used with another method, path or body (within its retention)',
    action: 'use a new Idempotency-Key for a new request',
  },
} as const satisfies Record<string, ErrorKind>;

/** A stable hash of what makes two requests "the same": method, path and canonical body. */
export function requestFingerprint(method: string, path: string, body: unknown): string {
  return crypto
    .createHash('sha256')
    .update(`${method} ${path}\n${canonicalJson(body)}`)
    .digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** A key's row as beginIdempotent reads it when its insert conflicted. */
interface StoredKeyRow extends Record<string, unknown> {
  request_hash: string;
  state: string;
  expires_at: Date;
  response_status: number | null;
  response_body: unknown;
  response_headers: Record<string, string> | null;
}

/**
 * Takes the key's lease, or says why not. `alongside`, a read that yields exactly one row, runs
 * in the lease's statement (one round trip for both: the order's pricing read); its row comes
 * with `proceed`. The lease still commits on its own, at once, so a concurrent duplicate sees it.
 */
export async function beginIdempotent(
  db: Db,
  apiKeyId: string,
  key: string,
  fingerprint: string,
  alongside?: SqlFragment,
): Promise<BeginResult> {
  const token = crypto.randomUUID();
  const insert = sql`
    INSERT INTO idempotency_keys (api_key_id, key, request_hash, state, lease_token, locked_until, expires_at)
    VALUES (${apiKeyId}::uuid, ${key}::text, ${fingerprint}::text, 'IN_FLIGHT', ${token}::uuid,
            now() + make_interval(secs => ${LEASE_MS / 1000}::double precision),
            now() + make_interval(secs => ${RETENTION_MS / 1000}::double precision))
    ON CONFLICT (api_key_id, key) DO NOTHING`;
  let inserted: number;
  let read: Record<string, unknown> | undefined;
  if (alongside) {
    const [row] = await runStatement<{ leased: number }>(
      db,
      prepared(sql`WITH lease AS (${insert} RETURNING 1) SELECT (SELECT count(*)::int FROM lease) AS leased, a.* FROM (${alongside}) a`),
    );
    if (!row) throw new Error('the read alongside the idempotency lease yielded no row');
    const { leased, ...rest } = row;
    inserted = leased;
    read = rest;
  } else {
    inserted = await runCount(db, insert);
  }
  const proceed = (lease: Lease): BeginResult => ({ kind: 'proceed', lease, ...(read ? { alongside: read } : {}) });
  if (inserted === 1) return proceed({ apiKeyId, key, token });

  const [row] = await runStatement<StoredKeyRow>(
    db,
    sql`SELECT request_hash, state, expires_at, response_status, response_body, response_headers
          FROM idempotency_keys WHERE api_key_id = ${apiKeyId}::uuid AND key = ${key}::text`,
  );
  if (!row) return beginIdempotent(db, apiKeyId, key, fingerprint, alongside); // deleted meanwhile: try again
  if (row.expires_at.getTime() < Date.now()) {
    // After 24 h a key may be reused: forget the old record (if it is still expired) and start over.
    // The database's clock decides; if it disagrees, the record is treated as live.
    const forgotten = await runCount(
      db,
      sql`DELETE FROM idempotency_keys WHERE api_key_id = ${apiKeyId}::uuid AND key = ${key}::text AND expires_at < now()`,
    );
    if (forgotten > 0) return beginIdempotent(db, apiKeyId, key, fingerprint, alongside);
  }
  if (row.request_hash !== fingerprint) return { kind: 'mismatch' };
  if (row.state === 'COMPLETED') {
    return {
      kind: 'replay',
      response: { status: row.response_status ?? 200, body: row.response_body, headers: row.response_headers ?? {} },
    };
  }
  const taken = await runCount(
    db,
    sql`
    UPDATE idempotency_keys SET lease_token = ${token}::uuid, locked_until = now() + make_interval(secs => ${LEASE_MS / 1000}::double precision)
    WHERE api_key_id = ${apiKeyId}::uuid AND key = ${key}::text AND state = 'IN_FLIGHT' AND locked_until < now()`,
  );
  return taken === 1 ? proceed({ apiKeyId, key, token }) : { kind: 'in-flight' };
}

/**
 * Storing the response, as a part of the caller's own statement (one round trip for the change
 * and its stored response): its check throws IDEMPOTENCY_KEY_IN_FLIGHT if the lease was taken
 * over, which rolls the caller's transaction back.
 */
export function completion(lease: Lease, response: StoredResponse): StatementPart {
  return {
    ctes: sql`idempotency_completed AS (
      UPDATE idempotency_keys SET state = 'COMPLETED', lease_token = NULL, locked_until = NULL, response_status = ${response.status}::int,
             response_body = ${JSON.stringify(response.body ?? null)}::jsonb, response_headers = ${JSON.stringify(response.headers)}::jsonb
      WHERE api_key_id = ${lease.apiKeyId}::uuid AND key = ${lease.key}::text AND lease_token = ${lease.token}::uuid AND state = 'IN_FLIGHT'
      RETURNING 1)`,
    result: sql`(SELECT count(*)::int FROM idempotency_completed)`,
    check: (updated) => {
      if (updated !== 1) throw new DomainError(IDEMPOTENCY_ERRORS.IN_FLIGHT, `idempotency key "${lease.key}" was taken over by a retry`);
    },
  };
}

/** Stores the response in the caller's transaction; throws IDEMPOTENCY_KEY_IN_FLIGHT if the lease was taken over. */
export async function completeIdempotent(tx: Tx, lease: Lease, response: StoredResponse): Promise<void> {
  const part = completion(lease, response);
  const { rows } = await tx.query<{ result: unknown }>(prepared(sql`WITH ${part.ctes} SELECT ${part.result} AS result`));
  part.check(rows[0]?.result);
}

/** Gives the key back when the request failed before completing, so a retry can proceed. */
export async function abandonIdempotent(db: Db, lease: Lease): Promise<void> {
  await runCount(
    db,
    sql`DELETE FROM idempotency_keys
        WHERE api_key_id = ${lease.apiKeyId}::uuid AND key = ${lease.key}::text AND lease_token = ${lease.token}::uuid AND state = 'IN_FLIGHT'`,
  );
}

export async function pruneExpiredIdempotencyKeys(db: Db): Promise<number> {
  return runCount(db, sql`DELETE FROM idempotency_keys WHERE expires_at < now()`);
}
