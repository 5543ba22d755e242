/**
 * People sign in to the console with OpenID Connect: the authorization code flow with PKCE
 * (S256) against IDENTITY_ISSUER, as the confidential client IDENTITY_CONSOLE_CLIENT_ID.
 * Hand-written on jose, which has no OIDC client (openid-client is not a dependency): the flow
 * is three steps and each check is named below.
 *
 * begin()  a fresh state, nonce and code_verifier, sealed into a short-lived cookie (JWE, dir +
 *          A256GCM, key derived from the client secret, so any API instance can open it and the
 *          browser can neither read nor forge it), and the issuer's authorization URL.
 * finish() the callback: the cookie opens and is not expired, `state` equals the cookie's, the
 *          RFC 9207 `iss` equals the issuer (required when the issuer advertises it), the code is
 *          exchanged at the token endpoint (client_secret_basic, redirect_uri, code_verifier), and
 *          the ID token is verified with jose against the issuer's JWKS: signature by the
 *          IDENTITY_ALGORITHMS allow-list, `iss`, `aud` = the client id (and `azp` when there are
 *          several audiences), `exp`/`iat` within the clock skew, `nonce` = the cookie's. The
 *          person's roles come from IDENTITY_ROLES_CLAIM (ID token, else userinfo for the same
 *          `sub`), mapped by IDENTITY_ROLE_MAPPING; unknown roles are ignored, and a person with
 *          no console role is refused.
 * Nothing here writes: the console turns a SignedInPerson into its session.
 */
import crypto from 'node:crypto';
import { createRemoteJWKSet, EncryptJWT, errors, jwtDecrypt, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ConfigError, type ConsoleSignInSettings, type IdentitySettings } from '../../lib/config';
import type { Principal } from './api-keys';
import { isPeopleRole, permissionsOfRoles, PEOPLE_ROLES, type PeopleRole, type Permission } from './permissions';
import { IdentityUnavailable } from './tokens';

/** The settings a sign-in needs: the issuer's (IDENTITY_*) and the console client's. */
export type OidcLoginSettings = Pick<
  IdentitySettings,
  'issuer' | 'algorithms' | 'clockSkewS' | 'timeoutMs' | 'jwksMaxAgeMs' | 'jwksCooldownMs'
> &
  ConsoleSignInSettings;

/** A sign-in that cannot complete, in words the person can act on (never a token or secret). */
export class SignInRefused extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'SignInRefused';
  }
}

/** Who signed in, as the issuer vouches for them. */
export interface SignedInPerson {
  issuer: string;
  subject: string;
  name: string;
  /** The console roles (never empty). */
  roles: PeopleRole[];
  permissions: ReadonlySet<Permission>;
  /** The verified ID token: the `id_token_hint` of a sign-out at the issuer. */
  idToken: string;
  /** The ID token's expiry; a console session may be shorter, never longer than the issuer's say. */
  expiresAt: Date;
}

/** The browser is sent to `url`; `cookie` (LOGIN_COOKIE, HttpOnly) holds what the callback must match. */
export interface PendingSignIn {
  url: string;
  cookie: string;
  maxAgeS: number;
}

/** The cookie that carries a sign-in in progress from begin() to finish(). */
export const LOGIN_COOKIE = 'order_saga_signin';
const PENDING_MAX_AGE_S = 600;
/** An ID token issued longer ago than this (plus skew) is refused even if not yet expired. */
const ID_TOKEN_MAX_AGE_S = 600;
const MAX_NAME = 200;

/** What begin() seals into the cookie. */
interface Pending {
  state: string;
  nonce: string;
  verifier: string;
  returnTo: string;
}

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  userinfo_endpoint?: string;
  end_session_endpoint?: string;
  authorization_response_iss_parameter_supported?: boolean;
  code_challenge_methods_supported?: string[];
}

const random = () => crypto.randomBytes(32).toString('base64url');
const s256 = (verifier: string) => crypto.createHash('sha256').update(verifier, 'ascii').digest('base64url');

function sameText(a: string, b: string): boolean {
  const x = crypto.createHash('sha256').update(a).digest();
  const y = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(x, y) && a === b;
}

/** A console path to come back to after sign-in (anything else: the console's home). */
export function safeReturnTo(path: string | undefined): string {
  return path && /^\/console(?:[/?#]|$)/.test(path) && !path.includes('\\') && !/[\r\n]/.test(path) ? path : '/console';
}

/**
 * The console roles a claim value grants: an array of strings or one space-separated string,
 * each mapped (`mapping`, or the people role of the same name), unknown ones ignored.
 */
export function rolesOf(value: unknown, mapping?: Readonly<Record<string, readonly string[]>>): PeopleRole[] {
  const names = Array.isArray(value)
    ? value.filter((v): v is string => typeof v === 'string')
    : typeof value === 'string'
      ? value.split(/\s+/)
      : [];
  const roles = new Set<PeopleRole>();
  for (const name of names) {
    const mapped = mapping ? (Object.hasOwn(mapping, name) ? mapping[name]! : []) : [name];
    for (const role of mapped) if (isPeopleRole(role)) roles.add(role);
  }
  return PEOPLE_ROLES.filter((r) => roles.has(r));
}

/** What an ID token must satisfy besides its signature. */
export interface IdTokenExpectations {
  issuer: string;
  clientId: string;
  nonce: string;
  algorithms: readonly string[];
  clockSkewS: number;
}

/** Why an ID token is refused (never the token itself). */
function idTokenRefusal(err: unknown): string {
  if (err instanceof errors.JWTExpired)
    return err.claim === 'iat' ? 'the ID token was issued too long ago ("iat")' : 'the ID token has expired';
  if (err instanceof errors.JWTClaimValidationFailed) return `the ID token's "${err.claim}" claim is not accepted (${err.reason})`;
  if (err instanceof errors.JOSEAlgNotAllowed) return "the ID token's signature algorithm is not accepted";
  if (err instanceof errors.JWKSNoMatchingKey) return "the ID token's signing key is not one of the issuer's keys";
  if (err instanceof errors.JWSSignatureVerificationFailed) return "the ID token's signature does not verify";
  return 'the ID token is malformed';
}

/** JOSE failures that say the issuer misbehaves or is away, not that the token is bad. */
const UNAVAILABLE = new Set(['ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID', 'ERR_JOSE_GENERIC']);

/** The verified claims of an ID token. Throws SignInRefused, or IdentityUnavailable when the JWKS cannot be had. */
export async function verifyIdToken(idToken: string, keys: JWTVerifyGetKey, expect: IdTokenExpectations): Promise<JWTPayload> {
  let payload: JWTPayload;
  let typ: string | undefined;
  try {
    ({
      payload,
      protectedHeader: { typ },
    } = await jwtVerify(idToken, keys, {
      issuer: expect.issuer,
      audience: expect.clientId,
      algorithms: [...expect.algorithms],
      clockTolerance: expect.clockSkewS,
      maxTokenAge: ID_TOKEN_MAX_AGE_S + expect.clockSkewS,
      requiredClaims: ['sub', 'exp', 'iat', 'nonce'],
    }));
  } catch (err) {
    if (err instanceof errors.JOSEError && !UNAVAILABLE.has(err.code)) throw new SignInRefused(idTokenRefusal(err));
    throw new IdentityUnavailable((err as Error).message);
  }
  // An access token (RFC 9068) is not an ID token, whatever its claims.
  if (typ?.toLowerCase().replace(/^application\//, '') === 'at+jwt')
    throw new SignInRefused('the ID token is an access token (typ at+jwt)');
  if (typeof payload.nonce !== 'string' || !sameText(payload.nonce, expect.nonce)) {
    throw new SignInRefused('the ID token\'s "nonce" is not the one this sign-in sent (replayed or mixed-up sign-in)');
  }
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (audiences.length > 1 || payload.azp !== undefined) {
    if (payload.azp !== expect.clientId) throw new SignInRefused('the ID token\'s "azp" claim is not this client');
  }
  if (typeof payload.sub !== 'string' || payload.sub === '' || payload.sub.length > 255)
    throw new SignInRefused('the ID token has no usable "sub"');
  return payload;
}

/** The Principal of a signed-in person whose principal row (api_keys) is `principalId`: no customers, the roles' permissions. */
export function personPrincipal(person: SignedInPerson, principalId: string): Principal {
  return {
    apiKeyId: principalId,
    name: person.name,
    role: 'admin',
    customers: new Set(),
    permissions: person.permissions,
    person: { issuer: person.issuer, subject: person.subject, roles: person.roles },
  };
}

export class OidcLogin {
  private discovery?: Promise<Discovery>;
  private keys?: JWTVerifyGetKey;
  private readonly cookieKey: Uint8Array;

  constructor(private readonly settings: OidcLoginSettings) {
    const mapping = settings.roleMapping;
    const unknown = mapping ? [...new Set(Object.values(mapping).flat())].filter((r) => !isPeopleRole(r)) : [];
    if (unknown.length > 0)
      throw new ConfigError('IDENTITY_ROLE_MAPPING', `unknown console roles: ${unknown.join(', ')} (known: ${PEOPLE_ROLES.join(', ')})`);
    this.cookieKey = new Uint8Array(crypto.hkdfSync('sha256', settings.clientSecret, 'order-saga', 'console sign-in state v1', 32));
  }

  get issuer(): string {
    return this.settings.issuer;
  }

  private async fetchJson(url: string, init: RequestInit, what: string): Promise<{ status: number; body: Record<string, unknown> }> {
    let res: Response;
    try {
      res = await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(this.settings.timeoutMs) });
    } catch (err) {
      throw new IdentityUnavailable(`${what}: ${(err as Error).message}`);
    }
    if (res.status >= 500) throw new IdentityUnavailable(`${what} answered ${res.status}`);
    const body: unknown = await res.json().catch(() => undefined);
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new IdentityUnavailable(`${what} answered ${res.status} without a JSON object`);
    return { status: res.status, body: body as Record<string, unknown> };
  }

  /** The issuer's discovery document, which must name this issuer exactly; fetched once (again after a failure). */
  private discover(): Promise<Discovery> {
    this.discovery ??= (async () => {
      const where = `${this.settings.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
      const { status, body } = await this.fetchJson(where, {}, where);
      const doc = body as Partial<Discovery>;
      const endpoints = [doc.authorization_endpoint, doc.token_endpoint, doc.jwks_uri];
      if (status !== 200 || doc.issuer !== this.settings.issuer || !endpoints.every((e) => typeof e === 'string')) {
        throw new IdentityUnavailable(`${where} does not describe issuer ${this.settings.issuer}`);
      }
      if (doc.code_challenge_methods_supported && !doc.code_challenge_methods_supported.includes('S256')) {
        throw new IdentityUnavailable(`issuer ${this.settings.issuer} does not support PKCE S256`);
      }
      return doc as Discovery;
    })();
    this.discovery.catch(() => (this.discovery = undefined));
    return this.discovery;
  }

  private async jwks(): Promise<JWTVerifyGetKey> {
    const doc = await this.discover();
    this.keys ??= createRemoteJWKSet(new URL(doc.jwks_uri), {
      timeoutDuration: this.settings.timeoutMs,
      cooldownDuration: this.settings.jwksCooldownMs,
      cacheMaxAge: this.settings.jwksMaxAgeMs,
    });
    return this.keys;
  }

  /** Starts a sign-in: where to send the browser, and the cookie to set. `returnTo`: a console path. */
  async begin(returnTo?: string): Promise<PendingSignIn> {
    const doc = await this.discover();
    const pending: Pending = { state: random(), nonce: random(), verifier: random(), returnTo: safeReturnTo(returnTo) };
    const cookie = await new EncryptJWT({ ...pending })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .setIssuedAt()
      .setExpirationTime(`${PENDING_MAX_AGE_S}s`)
      .encrypt(this.cookieKey);
    const url = new URL(doc.authorization_endpoint);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: this.settings.clientId,
      redirect_uri: this.settings.redirectUri,
      scope: this.settings.scopes.join(' '),
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: s256(pending.verifier),
      code_challenge_method: 'S256',
    }).toString();
    return { url: url.toString(), cookie, maxAgeS: PENDING_MAX_AGE_S };
  }

  private async opened(cookie: string | undefined): Promise<Pending> {
    if (!cookie) throw new SignInRefused('no sign-in is in progress in this browser (the sign-in cookie is missing): start again');
    try {
      const { payload } = await jwtDecrypt(cookie, this.cookieKey, {
        keyManagementAlgorithms: ['dir'],
        contentEncryptionAlgorithms: ['A256GCM'],
      });
      const { state, nonce, verifier, returnTo } = payload as Partial<Pending>;
      if (typeof state === 'string' && typeof nonce === 'string' && typeof verifier === 'string') {
        return { state, nonce, verifier, returnTo: safeReturnTo(returnTo) };
      }
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw new SignInRefused('the sign-in took too long: start again');
    }
    throw new SignInRefused('the sign-in cookie is not one this console made: start again');
  }

  /** The code for tokens at the token endpoint (the issuer's refusal is SignInRefused). */
  private async exchange(doc: Discovery, code: string, verifier: string): Promise<{ idToken: string; accessToken?: string }> {
    const basic = `${encodeURIComponent(this.settings.clientId)}:${encodeURIComponent(this.settings.clientSecret)}`;
    const { status, body } = await this.fetchJson(
      doc.token_endpoint,
      {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(basic).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          redirect_uri: this.settings.redirectUri,
          code_verifier: verifier,
        }),
      },
      'the token endpoint',
    );
    if (status !== 200) {
      const error = typeof body.error === 'string' ? body.error.slice(0, 100) : `status ${status}`;
      throw new SignInRefused(`the issuer refused the authorization code (${error})`);
    }
    if (typeof body.id_token !== 'string')
      throw new SignInRefused('the issuer answered without an ID token (is "openid" among IDENTITY_CONSOLE_SCOPES?)');
    return { idToken: body.id_token, accessToken: typeof body.access_token === 'string' ? body.access_token : undefined };
  }

  /** The roles claim: the ID token's, else userinfo's for the same subject. */
  private async rolesClaim(doc: Discovery, claims: JWTPayload, accessToken: string | undefined): Promise<unknown> {
    const claim = this.settings.rolesClaim;
    if (claims[claim] !== undefined || !doc.userinfo_endpoint || !accessToken) return claims[claim];
    const { status, body } = await this.fetchJson(
      doc.userinfo_endpoint,
      { headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' } },
      'userinfo',
    );
    if (status !== 200) throw new SignInRefused(`the issuer's userinfo answered ${status}`);
    if (body.sub !== claims.sub) throw new SignInRefused("the issuer's userinfo names another subject than the ID token");
    return body[claim];
  }

  /**
   * Completes a sign-in from the callback's query and the sign-in cookie. Throws SignInRefused
   * (the person sees why and starts again) or IdentityUnavailable (the issuer cannot be reached).
   */
  async finish(query: URLSearchParams, cookie: string | undefined): Promise<{ person: SignedInPerson; returnTo: string }> {
    const pending = await this.opened(cookie);
    const state = query.get('state');
    if (!state || !sameText(state, pending.state))
      throw new SignInRefused("the callback's state is not this sign-in's (forged or mixed-up sign-in): start again");
    const doc = await this.discover();
    const iss = query.get('iss');
    if (iss !== null ? iss !== this.settings.issuer : doc.authorization_response_iss_parameter_supported === true) {
      throw new SignInRefused(`the callback does not come from issuer ${this.settings.issuer}`);
    }
    const error = query.get('error');
    if (error) throw new SignInRefused(`the issuer did not sign you in (${error.slice(0, 100)})`);
    const code = query.get('code');
    if (!code) throw new SignInRefused('the callback carries no authorization code');

    const tokens = await this.exchange(doc, code, pending.verifier);
    const claims = await verifyIdToken(tokens.idToken, await this.jwks(), {
      issuer: this.settings.issuer,
      clientId: this.settings.clientId,
      nonce: pending.nonce,
      algorithms: this.settings.algorithms,
      clockSkewS: this.settings.clockSkewS,
    });
    const roles = rolesOf(await this.rolesClaim(doc, claims, tokens.accessToken), this.settings.roleMapping);
    const subject = claims.sub!;
    const name =
      (typeof claims.name === 'string' && claims.name) ||
      (typeof claims.preferred_username === 'string' && claims.preferred_username) ||
      subject;
    if (roles.length === 0)
      throw new SignInRefused(`${name} is signed in at the issuer but holds no console role (${PEOPLE_ROLES.join(', ')})`);
    const person: SignedInPerson = {
      issuer: this.settings.issuer,
      subject,
      name: name.slice(0, MAX_NAME),
      roles,
      permissions: permissionsOfRoles(roles),
      idToken: tokens.idToken,
      expiresAt: new Date(claims.exp! * 1000),
    };
    return { person, returnTo: pending.returnTo };
  }

  /** Where to send the browser to end the person's session at the issuer too (RP-initiated logout), if it offers that. */
  async signOutUrl(idToken: string | undefined, postLogoutRedirectUri: string): Promise<string | undefined> {
    const doc = await this.discover();
    if (!doc.end_session_endpoint) return undefined;
    const url = new URL(doc.end_session_endpoint);
    url.search = new URLSearchParams({
      client_id: this.settings.clientId,
      post_logout_redirect_uri: postLogoutRedirectUri,
      ...(idToken ? { id_token_hint: idToken } : {}),
    }).toString();
    return url.toString();
  }
}
