/**
 * What a caller may do, as permissions: every API operation names the one it needs, and one
 * check (can) answers for every kind of caller. A role is a named set of permissions: API
 * keys carry `client` or `admin`, people (console sign-in) carry the people roles, and an
 * OAuth2 access token carries the permissions its scopes map to. Which customers a caller
 * acts for is a separate question (mayActFor, services/access/api-keys.ts): its grants, or
 * any customer with `customers:any`.
 */

export const PERMISSIONS = [
  'orders:write',
  'orders:read',
  'accounts:read',
  /** Act for every customer on the tenant routes (no grants needed). */
  'customers:any',
  'catalog:read',
  'catalog:write',
  'deposits:write',
  'ledgers:read',
  /** Manual compensation, and resuming a NEEDS_ATTENTION order. */
  'orders:compensate',
  'keys:manage',
  'dlq:read',
  'dlq:replay',
  'reconciliation:read',
  'reconciliation:run',
  'audit:read',
  /** Sign in to the operator console (/console): people and admin keys, never a tenant or a machine token. */
  'console:sign-in',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

const READS: readonly Permission[] = [
  'orders:read',
  'accounts:read',
  'customers:any',
  'catalog:read',
  'ledgers:read',
  'dlq:read',
  'reconciliation:read',
];

/** Every role and its permissions. `client` and `admin` are the API key roles. */
export const ROLE_PERMISSIONS = {
  client: new Set<Permission>(['orders:write', 'orders:read', 'accounts:read']),
  admin: new Set<Permission>(PERMISSIONS),
  operator: new Set<Permission>([...READS, 'orders:compensate', 'dlq:replay', 'reconciliation:run', 'console:sign-in']),
  finance: new Set<Permission>(['accounts:read', 'customers:any', 'deposits:write', 'ledgers:read', 'console:sign-in']),
  'key-admin': new Set<Permission>(['keys:manage', 'console:sign-in']),
  auditor: new Set<Permission>([...READS, 'audit:read', 'console:sign-in']),
} as const satisfies Record<string, ReadonlySet<Permission>>;

export type RoleName = keyof typeof ROLE_PERMISSIONS;
/** The roles a person may hold (console sign-in: the issuer's `roles` claim). */
export const PEOPLE_ROLES = ['operator', 'finance', 'key-admin', 'auditor'] as const satisfies readonly RoleName[];

export type PeopleRole = (typeof PEOPLE_ROLES)[number];

export function isPeopleRole(name: string): name is PeopleRole {
  return (PEOPLE_ROLES as readonly string[]).includes(name);
}

/** What a person with these roles may do: the union of the roles' permissions. */
export function permissionsOfRoles(roles: readonly PeopleRole[]): Set<Permission> {
  const granted = new Set<Permission>();
  for (const role of roles) for (const p of ROLE_PERMISSIONS[role]) granted.add(p);
  return granted;
}

/**
 * The scopes the API understands and the permissions each grants an access token. The tenant
 * scopes act only for the client's granted customers; `admin:customers` lifts that.
 */
export const DEFAULT_SCOPE_PERMISSIONS: Readonly<Record<string, readonly Permission[]>> = {
  'orders:write': ['orders:write'],
  'orders:read': ['orders:read'],
  'accounts:read': ['accounts:read'],
  'admin:customers': ['customers:any'],
  'admin:catalog': ['catalog:read', 'catalog:write'],
  'admin:accounts': ['deposits:write', 'ledgers:read'],
  'admin:orders': ['orders:compensate'],
  'admin:keys': ['keys:manage'],
  'admin:dlq': ['dlq:read', 'dlq:replay'],
  'admin:reconciliation': ['reconciliation:read', 'reconciliation:run'],
  'admin:audit': ['audit:read'],
};

/** The scopes of the default mapping, as an authorization server would list them. */
export const SCOPES: readonly string[] = Object.keys(DEFAULT_SCOPE_PERMISSIONS);

/** Anything that can be asked "may you?": a role, and its own permissions if it has them. */
export interface Authorized {
  role: string;
  /** When present, exactly what it may do; when absent, its role's set. */
  permissions?: ReadonlySet<Permission>;
}

/** The one authorization check. */
export function can(who: Authorized, permission: Permission): boolean {
  const set = who.permissions ?? (ROLE_PERMISSIONS as Record<string, ReadonlySet<Permission>>)[who.role];
  return set?.has(permission) ?? false;
}

/** The permissions a token's scopes grant under a mapping; unknown scopes grant nothing. */
export function permissionsOfScopes(scopes: readonly string[], mapping: Readonly<Record<string, readonly Permission[]>>): Set<Permission> {
  const granted = new Set<Permission>();
  for (const scope of scopes) for (const p of Object.hasOwn(mapping, scope) ? mapping[scope]! : []) granted.add(p);
  return granted;
}

/** The permission names of a mapping that are not permissions (a configuration error). */
export function unknownPermissions(mapping: Readonly<Record<string, readonly string[]>>): string[] {
  const known = new Set<string>(PERMISSIONS);
  return [...new Set(Object.values(mapping).flat())].filter((p) => !known.has(p));
}
