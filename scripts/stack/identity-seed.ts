/**
 * What the stack's authorization server (scripts/stack/identity-server.ts) knows at start:
 * machine clients (client credentials, with the scopes each may ask for), people (their
 * roles, for console sign-in) and the API's audience and scopes. Development secrets only:
 * this server never runs outside a developer's or the tests' machine.
 */
import { IDENTITY_DEFAULT_AUDIENCE } from '../../lib/config';
import { SCOPES } from '../../services/access/permissions';

export interface SeedClient {
  clientId: string;
  secret: string;
  /** The scopes this client may be issued. */
  scopes: readonly string[];
}

export interface SeedUser {
  subject: string;
  name: string;
  roles: readonly string[];
}

export interface IdentitySeed {
  audience: string;
  scopes: readonly string[];
  accessTokenTtlS: number;
  clients: readonly SeedClient[];
  users: readonly SeedUser[];
}

const CLIENT_SCOPES = ['orders:write', 'orders:read', 'accounts:read'] as const;

export const IDENTITY_SEED: IdentitySeed = {
  audience: IDENTITY_DEFAULT_AUDIENCE,
  scopes: SCOPES,
  accessTokenTtlS: 300,
  clients: [
    { clientId: 'order-saga-client-a', secret: 'dev-only-secret-client-a', scopes: CLIENT_SCOPES },
    { clientId: 'order-saga-client-b', secret: 'dev-only-secret-client-b', scopes: CLIENT_SCOPES },
    { clientId: 'order-saga-admin', secret: 'dev-only-secret-admin', scopes: SCOPES },
  ],
  users: [
    { subject: 'olivia.operator', name: 'Olivia Operator', roles: ['operator'] },
    { subject: 'frank.finance', name: 'Frank Finance', roles: ['finance'] },
    { subject: 'kim.keys', name: 'Kim Keyadmin', roles: ['key-admin'] },
    { subject: 'ada.auditor', name: 'Ada Auditor', roles: ['auditor'] },
  ],
};
