// Roles and permissions of a tenant: the per-tenant overrides (tenant_role_permissions), a cached
// `permissionsOf`, the resource behind an event id (catalog owner / live owner, venue, artists) and the
// /api/v1/roles routes that read and change the overrides. The checks themselves are pure (principal.ts);
// the router (http/router.ts) makes them for every declared route.
import type { Logger } from 'pino';
import type { GdprRegistry } from '../gdpr/registry.js';
import type { Db, Queryable } from '../store/db.js';
import { queries } from '../store/queries.js';
import type { EventResource } from './principal.js';
import { isPermission, isRole, permissionsFor, DEFAULT_ROLE_PERMISSIONS, ROLES, type Overrides, type Permission, type Role } from './roles.js';

const Q = queries('authz.sql', ['list_overrides', 'set_overrides', 'event_resource']);

/** Overrides are cached per node this long: a change made on another node applies here within it. */
export const OVERRIDES_TTL_MS = 5_000;

export interface OverrideChange {
  role: Role;
  permission: Permission;
  /** null = back to the role's default. */
  granted: boolean | null;
}

export interface RoleView {
  role: Role;
  permissions: Permission[];
  defaults: Permission[];
  overrides: Partial<Record<Permission, boolean>>;
}

export interface Authz {
  overrides(tenant: number): Promise<Overrides>;
  permissionsOf(tenant: number, role: Role): Promise<Set<Permission>>;
  resolveEventResource(q: Queryable, tenant: number, eventId: string): Promise<EventResource>;
  /**
   * These events' owner, venue or artists may have changed (a catalog change or a claim, on this node or heard
   * over the live bus): their cached resources go, and an answer read before now is not cached.
   */
  forgetEvents(events: { tenant: number; event: string }[]): void;
  /** Every role of the tenant with its effective permissions. */
  roles(tenant: number): Promise<RoleView[]>;
  setOverrides(tenant: number, changes: OverrideChange[]): Promise<RoleView[]>;
}

/** `onChange`: this node changed a tenant's overrides (after the write, with the cache holding the new ones). */
export function createAuthz(deps: { db: Db; log: Logger; ttlMs?: number; now?: () => number; onChange?: (tenant: number) => void }): Authz {
  const { db, log } = deps;
  const ttl = deps.ttlMs ?? OVERRIDES_TTL_MS;
  const now = deps.now ?? Date.now;
  const cache = new Map<number, { value: Overrides; expires: number }>();
  // Event owners for scoped requests, kept as long as overrides. A change of an event's organizer, venue or
  // artists that the live layer reads (catalog sync, on every node) forgets it at once (forgetEvents): the check
  // right after a move, which reads the store when this node's catalog copy does not hold the event, must not
  // read the owner before it.
  const events = new Map<string, { value: EventResource; expires: number }>();
  /** forgetEvents calls so far: a read that started before one is not cached (it may hold the old owner). */
  let forgets = 0;

  const load = async (tenant: number): Promise<Overrides> => {
    const { rows } = await db.query<{ role: string; permission: string; granted: boolean }>(Q.list_overrides, [tenant]);
    const out: Overrides = {};
    for (const r of rows) {
      // Rows for a role or permission this version no longer knows are kept in the table but ignored.
      if (!isRole(r.role) || !isPermission(r.permission)) continue;
      (out[r.role] ??= {})[r.permission] = r.granted;
    }
    return out;
  };

  const overrides = async (tenant: number): Promise<Overrides> => {
    const hit = cache.get(tenant);
    if (hit && hit.expires > now()) return hit.value;
    try {
      const value = await load(tenant);
      if (cache.size > 10_000) cache.clear();
      cache.set(tenant, { value, expires: now() + ttl });
      return value;
    } catch (err) {
      // The last known overrides stay in force while the store is away; never the bare defaults, which could
      // give back a permission the tenant removed.
      if (hit) return hit.value;
      log.warn({ err, tenant }, 'role overrides unavailable');
      throw err;
    }
  };

  const roles = async (tenant: number): Promise<RoleView[]> => {
    const o = await overrides(tenant);
    return ROLES.map((role) => ({
      role,
      permissions: [...permissionsFor(role, o)],
      defaults: [...DEFAULT_ROLE_PERMISSIONS[role]],
      overrides: role === 'admin' ? {} : { ...(o[role] ?? {}) },
    }));
  };

  return {
    overrides,
    async permissionsOf(tenant, role) {
      return permissionsFor(role, await overrides(tenant));
    },
    async resolveEventResource(q, tenant, eventId) {
      const k = `${tenant}|${eventId}`;
      const hit = events.get(k);
      if (hit && hit.expires > now()) return hit.value;
      const asOf = forgets;
      const { rows } = await q.query<{ in_catalog: boolean; catalog_organizer: string | null; live_organizer: string | null; venue_id: string | null; artist_ids: string[] | null }>(
        Q.event_resource, [tenant, eventId],
      );
      const r = rows[0];
      // A catalog event is the catalog's alone: a live claim never fills in an organizer its row leaves empty.
      const catalog = r?.in_catalog === true;
      const value = { id: eventId, organizer_id: (catalog ? r.catalog_organizer : r?.live_organizer) ?? null, venue_id: r?.venue_id ?? null, artist_ids: r?.artist_ids ?? [], catalog };
      if (asOf !== forgets) return value;
      if (events.size > 50_000) events.clear();
      events.set(k, { value, expires: now() + ttl });
      return value;
    },
    forgetEvents(list) {
      forgets++;
      for (const e of list) events.delete(`${e.tenant}|${e.event}`);
    },
    roles,
    async setOverrides(tenant, changes) {
      await db.query(Q.set_overrides, [tenant, JSON.stringify(changes)]);
      cache.delete(tenant);
      try {
        return await roles(tenant);
      } finally {
        // Open live subscriptions of the tenant are checked again with the new overrides (live/subscriptions.ts).
        try {
          deps.onChange?.(tenant);
        } catch (err) {
          log.warn({ err, tenant }, 'role overrides changed: a listener failed');
        }
      }
    },
  };
}

export function registerAuthzTables(registry: GdprRegistry): void {
  registry.none(['tenant_role_permissions'], 'per-tenant role → permission overrides: role and permission names only');
}
