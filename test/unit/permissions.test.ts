import { OPERATIONS } from '../../api/app';
import {
  can,
  DEFAULT_SCOPE_PERMISSIONS,
  PEOPLE_ROLES,
  permissionsOfScopes,
  PERMISSIONS,
  ROLE_PERMISSIONS,
  unknownPermissions,
} from '../../services/access/permissions';

const WRITES = [
  'orders:write',
  'catalog:write',
  'deposits:write',
  'orders:compensate',
  'keys:manage',
  'dlq:replay',
  'reconciliation:run',
] as const;

test('API key roles keep their old reach: a client key the tenant routes only, an admin key every route', () => {
  for (const op of OPERATIONS) {
    if (op.access === 'public') continue;
    expect({ route: `${op.method} ${op.path}`, admin: can({ role: 'admin' }, op.permission) }).toEqual({
      route: `${op.method} ${op.path}`,
      admin: true,
    });
    expect({ route: `${op.method} ${op.path}`, client: can({ role: 'client' }, op.permission) }).toEqual({
      route: `${op.method} ${op.path}`,
      client: op.access === 'client',
    });
  }
});

test('people roles: an operator compensates and replays but manages no keys; an auditor reads and audits but writes nothing', () => {
  const operator = { role: 'operator' };
  expect(['orders:compensate', 'dlq:replay', 'orders:read'].map((p) => can(operator, p as never))).toEqual([true, true, true]);
  expect(can(operator, 'keys:manage')).toBe(false);
  expect(WRITES.filter((p) => can({ role: 'auditor' }, p))).toEqual([]);
  expect(can({ role: 'auditor' }, 'audit:read')).toBe(true);
  expect([...ROLE_PERMISSIONS.finance].sort()).toEqual([
    'accounts:read',
    'console:sign-in',
    'customers:any',
    'deposits:write',
    'ledgers:read',
  ]);
  expect([...ROLE_PERMISSIONS['key-admin']]).toEqual(['keys:manage', 'console:sign-in']);
  // Every person may sign in to the console; a tenant key may not.
  expect(PEOPLE_ROLES.every((role) => can({ role }, 'console:sign-in'))).toBe(true);
  expect(can({ role: 'client' }, 'console:sign-in')).toBe(false);
});

test('explicit permissions (a token) replace the role set, and an unknown role may do nothing', () => {
  expect(can({ role: 'admin', permissions: new Set(['orders:read']) }, 'keys:manage')).toBe(false);
  expect(can({ role: 'nobody' }, 'orders:read')).toBe(false);
});

test('scopes map to permissions; unknown scopes grant nothing; a mapping naming no permission is caught', () => {
  expect([...permissionsOfScopes(['orders:read', 'admin:dlq', 'made:up', '__proto__'], DEFAULT_SCOPE_PERMISSIONS)].sort()).toEqual([
    'dlq:read',
    'dlq:replay',
    'orders:read',
  ]);
  expect(unknownPermissions(DEFAULT_SCOPE_PERMISSIONS)).toEqual([]);
  expect(unknownPermissions({ x: ['orders:read', 'root'] })).toEqual(['root']);
  // Every permission a machine may need has a scope; the console's sign-in is for people (and admin keys) only.
  expect(PERMISSIONS.filter((p) => !Object.values(DEFAULT_SCOPE_PERMISSIONS).flat().includes(p))).toEqual(['console:sign-in']);
});
