// The tenant's role overrides over HTTP (permission manage_permissions, admin by default):
//   GET /api/v1/roles                 every role: effective permissions, defaults, this tenant's overrides
//   PUT /api/v1/roles/{role}          {"permissions": {"view_revenue": true, "view_capacity": false, "x": null}}
//                                     true grants, false removes, null goes back to the default; admin is fixed
// An admin key changes any permission of any role. Any other key holding manage_permissions (a tenant lent it)
// changes only permissions its own role has, and none of ADMIN_GRANTED (overrideRefusal).
import { fail, paramFail } from '../http/errors.js';
import { unknownBodyField, type Parsed, type Where } from '../http/params.js';
import type { Router } from '../http/router.js';
import type { Reply } from '../http/uws.js';
import type { Authz, OverrideChange } from './index.js';
import type { Principal as Who } from './principal.js';
import { ADMIN_GRANTED, isPermission, isRole, PERMISSIONS, ROLES, type Permission, type Role } from './roles.js';

/** A role in the path: one of ROLES except admin, whose permissions cannot change. Pure. */
export const roleParam = (where: Where, field: string, raw: string): Parsed<Exclude<Role, 'admin'>> =>
  isRole(raw) && raw !== 'admin'
    ? { ok: true, value: raw as Exclude<Role, 'admin'> }
    : { ok: false, error: { code: 'invalid_field', in: where, field, message: `role must be one of ${ROLES.filter((r) => r !== 'admin').join(', ')} (admin always has every permission); got ${JSON.stringify(raw.slice(0, 40))}.` } };

/** The body of PUT /api/v1/roles/{role} for `role`. Pure. */
export function parseRoleChanges(role: Role, v: unknown): Parsed<OverrideChange[]> {
  const bad = (field: string, message: string): Parsed<never> => ({ ok: false, error: { code: 'invalid_field', in: 'body', field, message } });
  // An unknown field is refused, not dropped, as POST /api/v1/keys does: {"permission": …} must not pass as a change.
  const extra = v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.keys(v).find((k) => k !== 'permissions') : undefined;
  if (extra !== undefined) return { ok: false, error: unknownBodyField(extra, 'a role change takes only permissions.') };
  const perms = (v as { permissions?: unknown } | null)?.permissions;
  if (typeof perms !== 'object' || perms === null || Array.isArray(perms)) return bad('permissions', 'permissions must be an object: permission → true (grant), false (remove) or null (default).');
  const entries = Object.entries(perms as Record<string, unknown>);
  if (entries.length === 0 || entries.length > PERMISSIONS.length) return bad('permissions', `permissions must name 1-${PERMISSIONS.length} permissions.`);
  const out: OverrideChange[] = [];
  for (const [k, g] of entries) {
    if (!isPermission(k)) return bad(`permissions.${k.slice(0, 64)}`, `Unknown permission; the keys are: ${PERMISSIONS.join(', ')}.`);
    if (g !== true && g !== false && g !== null) return bad(`permissions.${k}`, 'Each value must be true, false or null.');
    out.push({ role, permission: k, granted: g });
  }
  return { ok: true, value: out };
}

/**
 * The 403 of a change the caller may not make, naming the first such permission (`permissions.<key>`), or null.
 * Admin: none. Another role: every change (true, false or null alike) must be of a permission in `held` (its
 * role's own, with the tenant's overrides) and not admin-granted. A role may so never end up wider than the
 * caller, nor take a permission from another role that the caller could not give back. Pure.
 */
export function overrideRefusal(who: Pick<Who, 'role'> | null, held: ReadonlySet<Permission>, changes: readonly OverrideChange[]): Reply | null {
  if (who?.role === 'admin') return null;
  const role = who?.role ?? null;
  const refuse = (permission: Permission, why: string) =>
    fail('forbidden', `This key or token (role ${role}) may not change ${permission}: ${why}`, { permission, role, in: 'body', field: `permissions.${permission}` });
  for (const c of changes) {
    if (ADMIN_GRANTED.includes(c.permission)) return refuse(c.permission, 'only an admin key grants, removes or resets it.');
    if (!held.has(c.permission)) return refuse(c.permission, 'its own role does not have it (a key other than admin changes only the permissions its role has).');
  }
  return null;
}

export function registerAuthzRoutes(router: Router, authz: Authz): void {
  router.add({
    method: 'get', path: '/api/v1/roles', auth: 'secret', permission: 'manage_permissions', resource: 'tenant', query: [],
    handler: async ({ principal }) => ({ status: 200, body: { roles: await authz.roles(principal.tenant.tenant_id) } }),
  });
  router.add({
    method: 'put', path: '/api/v1/roles/:role', auth: 'secret', permission: 'manage_permissions', resource: 'tenant', params: { role: roleParam }, body: { limit: 16 * 1024 },
    audit: ({ params, body }) => ({ action: 'roles.changed', target: `role:${params.role}`, details: { permissions: (body as { permissions?: unknown }).permissions } }),
    handler: async ({ principal, who, params, body }) => {
      const changes = parseRoleChanges(params.role, body);
      if (!changes.ok) return paramFail(changes.error);
      const tenant = principal.tenant.tenant_id;
      const held = who === null || who.role === 'admin' ? new Set<Permission>() : await authz.permissionsOf(tenant, who.role);
      const refused = overrideRefusal(who, held, changes.value);
      if (refused) return refused;
      const roles = await authz.setOverrides(tenant, changes.value);
      return { status: 200, body: { role: roles.find((r) => r.role === params.role) } };
    },
  });
}
