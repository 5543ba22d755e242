/**
 * What the stack's authorization server (scripts/stack/identity-server.ts) knows at start:
 * machine clients (client credentials, with the scopes each may ask for), the console's client
 * (authorization code + PKCE, for people), people (their password and roles) and the API's
 * audience and scopes. Development secrets only: this server never runs outside a developer's
 * or the tests' machine.
 */
import { IDENTITY_DEFAULT_AUDIENCE } from '../../lib/config';
import { SCOPES } from '../../services/access/permissions';

export interface SeedClient {
  clientId: string;
  secret: string;
  /** The scopes this client may be issued. */
  scopes: readonly string[];
}

/** A web client that signs people in (authorization code, PKCE S256 required, client_secret_basic). */
export interface SeedConsoleClient {
  clientId: string;
  secret: string;
  /** Exact redirect URIs (the API's /console/auth/callback on its port). */
  redirectUris: readonly string[];
  /** Where the issuer may send a browser back after sign-out (RP-initiated logout). */
  postLogoutRedirectUris: readonly string[];
}

export interface SeedUser {
  /** What the person types on the login page. */
  username: string;
  /** Development passwords only: the tests and the docs know them. */
  password: string;
  /** The stable `sub` of the person's tokens. */
  subject: string;
  name: string;
  /** The `roles` claim: people roles (services/access/permissions.ts PEOPLE_ROLES), or anything else an issuer might send. */
  roles: readonly string[];
}

export interface IdentitySeed {
  audience: string;
  scopes: readonly string[];
  accessTokenTtlS: number;
  clients: readonly SeedClient[];
  consoleClients: readonly SeedConsoleClient[];
  users: readonly SeedUser[];
}

const CLIENT_SCOPES = ['orders:write', 'orders:read', 'accounts:read'] as const;

/** The console's client id at the development issuer (IDENTITY_CONSOLE_CLIENT_ID). */
export const CONSOLE_CLIENT_ID = 'order-saga-console';
/** Its development secret (IDENTITY_CONSOLE_CLIENT_SECRET). */
export const CONSOLE_CLIENT_SECRET = 'dev-only-secret-console-0123456789';

/** The console client's redirect and post-logout URIs for an API at this base URL (`http://127.0.0.1:3000`). */
export function consoleClientFor(...apiBaseUrls: string[]): SeedConsoleClient {
  const bases = apiBaseUrls.map((u) => u.replace(/\/$/, ''));
  return {
    clientId: CONSOLE_CLIENT_ID,
    secret: CONSOLE_CLIENT_SECRET,
    redirectUris: bases.map((b) => `${b}/console/auth/callback`),
    postLogoutRedirectUris: bases.map((b) => `${b}/console/sign-in`),
  };
}

export const IDENTITY_SEED: IdentitySeed = {
  audience: IDENTITY_DEFAULT_AUDIENCE,
  scopes: SCOPES,
  accessTokenTtlS: 300,
  clients: [
    { clientId: 'order-saga-client-a', secret: 'dev-only-secret-client-a', scopes: CLIENT_SCOPES },
    { clientId: 'order-saga-client-b', secret: 'dev-only-secret-client-b', scopes: CLIENT_SCOPES },
    { clientId: 'order-saga-admin', secret: 'dev-only-secret-admin', scopes: SCOPES },
  ],
  // The API's default address (API_PORT 3000); scripts/stack/identity.ts adds the configured port's.
  consoleClients: [consoleClientFor('http://127.0.0.1:3000', 'http://localhost:3000')],
  users: [
    { username: 'olivia', password: 'olivia-dev-password', subject: 'olivia.operator', name: 'Olivia Operator', roles: ['operator'] },
    { username: 'fiona', password: 'fiona-dev-password', subject: 'fiona.finance', name: 'Fiona Finance', roles: ['finance'] },
    { username: 'kim', password: 'kim-dev-password', subject: 'kim.keys', name: 'Kim Keyadmin', roles: ['key-admin'] },
    { username: 'avery', password: 'avery-dev-password', subject: 'avery.auditor', name: 'Avery Auditor', roles: ['auditor'] },
    // Roles the API does not know are ignored: Sam signs in as an operator.
    {
      username: 'sam',
      password: 'sam-dev-password',
      subject: 'sam.support',
      name: 'Sam Support',
      roles: ['operator', 'payments-superuser'],
    },
    // No console role at all: sign-in is refused.
    { username: 'nora', password: 'nora-dev-password', subject: 'nora.nobody', name: 'Nora Nobody', roles: [] },
  ],
};
