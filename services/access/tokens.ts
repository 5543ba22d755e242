/**
 * OAuth2 access tokens from the configured issuer (IDENTITY_ISSUER), checked with jose
 * against the issuer's JWKS: the signature with an allow-list of asymmetric algorithms, `iss`,
 * `aud`, `exp`/`nbf` within the configured clock skew, the RFC 9068 `typ`. The JWKS is fetched
 * once, cached, and fetched again when a token names an unknown `kid` (at most once per
 * cooldown), so a rotated signing key is picked up without a restart. The token's scopes map
 * to permissions; its client id must be a registered token client, whose grants are the
 * customers it acts for (services/access/token-clients.ts).
 */
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ConfigError, type IdentitySettings } from '../../lib/config';
import type { Db } from '../../lib/db';
import type { Principal } from './api-keys';
import { DEFAULT_SCOPE_PERMISSIONS, permissionsOfScopes, unknownPermissions, type Permission } from './permissions';
import { findTokenClient } from './token-clients';

/** The issuer cannot be reached (discovery or JWKS): the request is answered 503, not 401. */
export class IdentityUnavailable extends Error {
  constructor(readonly reason: string) {
    super(`the identity provider cannot be reached: ${reason}`);
    this.name = 'IdentityUnavailable';
  }
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Whether a bearer credential is a JWT (three base64url parts) rather than an API key. */
export function looksLikeJwt(credential: string): boolean {
  return credential.startsWith('eyJ') && JWT_SHAPE.test(credential);
}

/** JOSE failures that say the issuer misbehaves or is away, not that the token is bad. */
const UNAVAILABLE = new Set(['ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID', 'ERR_JOSE_GENERIC']);

/** Why a token is refused, in words a client can act on (never the token itself). */
function refusal(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'the access token has expired';
  if (err instanceof errors.JWTClaimValidationFailed) return `the access token's "${err.claim}" claim is not accepted (${err.reason})`;
  if (err instanceof errors.JOSEAlgNotAllowed) return "the access token's signature algorithm is not accepted";
  if (err instanceof errors.JWKSNoMatchingKey) return "the access token's signing key is not one of the issuer's keys";
  if (err instanceof errors.JWSSignatureVerificationFailed) return "the access token's signature does not verify";
  return 'the access token is malformed';
}

export class AccessTokens {
  private readonly mapping: Readonly<Record<string, readonly Permission[]>>;
  private keys?: Promise<JWTVerifyGetKey>;

  constructor(
    private readonly db: Db,
    private readonly settings: IdentitySettings,
  ) {
    const mapping = settings.scopePermissions ?? DEFAULT_SCOPE_PERMISSIONS;
    const unknown = unknownPermissions(mapping);
    if (unknown.length > 0) throw new ConfigError('IDENTITY_SCOPE_PERMISSIONS', `unknown permissions: ${unknown.join(', ')}`);
    this.mapping = mapping as Readonly<Record<string, readonly Permission[]>>;
  }

  /** The JWKS URL: configured, or the issuer's discovery document's (which must name the same issuer). */
  private async jwksUrl(): Promise<URL> {
    if (this.settings.jwksUrl) return new URL(this.settings.jwksUrl);
    const where = `${this.settings.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    let doc: { issuer?: unknown; jwks_uri?: unknown };
    try {
      const res = await fetch(where, { signal: AbortSignal.timeout(this.settings.timeoutMs) });
      if (!res.ok) throw new Error(`${where} answered ${res.status}`);
      doc = (await res.json()) as typeof doc;
    } catch (err) {
      throw new IdentityUnavailable((err as Error).message);
    }
    if (doc.issuer !== this.settings.issuer || typeof doc.jwks_uri !== 'string') {
      throw new IdentityUnavailable(`${where} does not describe issuer ${this.settings.issuer}`);
    }
    return new URL(doc.jwks_uri);
  }

  private jwks(): Promise<JWTVerifyGetKey> {
    this.keys ??= this.jwksUrl().then((url) =>
      createRemoteJWKSet(url, {
        timeoutDuration: this.settings.timeoutMs,
        cooldownDuration: this.settings.jwksCooldownMs,
        cacheMaxAge: this.settings.jwksMaxAgeMs,
      }),
    );
    // A failed discovery is tried again by the next request.
    this.keys.catch(() => (this.keys = undefined));
    return this.keys;
  }

  private async verify(token: string): Promise<JWTPayload | string> {
    const keys = await this.jwks();
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        algorithms: this.settings.algorithms,
        clockTolerance: this.settings.clockSkewS,
        requiredClaims: ['exp', this.settings.clientIdClaim],
        ...(this.settings.tokenType === 'at+jwt' ? { typ: 'at+jwt' } : {}),
      });
      return payload;
    } catch (err) {
      if (!(err instanceof errors.JOSEError) || UNAVAILABLE.has(err.code)) throw new IdentityUnavailable((err as Error).message);
      return refusal(err);
    }
  }

  /** The principal of a valid token, or why the token is refused. Throws IdentityUnavailable. */
  async authenticate(token: string): Promise<Principal | string> {
    const payload = await this.verify(token);
    if (typeof payload === 'string') return payload;
    const clientId = payload[this.settings.clientIdClaim];
    if (typeof clientId !== 'string' || clientId === '') return `the access token has no "${this.settings.clientIdClaim}" claim`;
    const client = await findTokenClient(this.db, clientId);
    if (!client || client.revokedAt)
      return `the OAuth2 client "${clientId}" is not registered with this API, or its registration is revoked`;
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
    return {
      apiKeyId: client.id,
      name: client.name,
      role: 'client',
      customers: new Set(client.customers),
      permissions: permissionsOfScopes(scopes, this.mapping),
      token: { issuer: this.settings.issuer, clientId, subject: payload.sub ?? clientId, scopes },
    };
  }
}
