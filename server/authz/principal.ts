// Who is asking (a key or a dashboard token: tenant, role, scope) and the two pure checks every route makes:
// `can` (the role's permission, with the tenant's overrides) and `inScope` (the resource belongs to the
// principal's organizers / venues / artists / events).
import { isIdText } from '../http/params.js';
import { permissionsFor, type Overrides, type Permission, type Role } from './roles.js';

/** Ids the principal is limited to, per kind. Absent or empty = nothing of that kind (admin ignores scope). */
export interface Scope {
  organizers?: string[];
  venues?: string[];
  artists?: string[];
  events?: string[];
}

export interface Principal {
  tenant: number;
  role: Role;
  scope: Scope;
  /** The key's id (audit); null for a dashboard token. */
  keyId: number | null;
  via: 'secret_key' | 'token';
}

/** An event as the catalog / live layer knows it: its owner, venue and artists (unknown = absent). */
export interface EventResource {
  id: string;
  organizer_id?: string | null;
  venue_id?: string | null;
  artist_ids?: string[];
  /** The catalog knows the event: the three fields above are its row's alone (never filled in from the live state). */
  catalog?: boolean;
}

/** What a request touches. Several parts: every part must be in scope. `{}` = the tenant as a whole. */
export interface Resource {
  event?: EventResource;
  organizer?: string;
  venue?: string;
  artist?: string;
}

/** Whether `p` has `permission` in its tenant (defaults of its role, changed by the tenant's overrides). Pure. */
export function can(p: Pick<Principal, 'role'>, permission: Permission, overrides: Overrides = {}): boolean {
  return permissionsFor(p.role, overrides).has(permission);
}

/** The analytics reads view_all_analytics widens to the whole tenant (seed 003: every analytics table, whatever the scope). */
export const ANALYTICS_READS: readonly Permission[] = ['view_event_analytics', 'view_venue_analytics', 'view_artist_analytics', 'view_capacity'];

/**
 * Whether `p` makes a read of `permission` across the whole tenant, its scope limiting nothing: an analytics read
 * (ANALYTICS_READS) by a role that has view_all_analytics with the tenant's overrides (admin has it). The read's
 * own permission is still needed, and the money in it still needs view_revenue. Pure.
 */
export function readsWholeTenant(p: Pick<Principal, 'role'>, permission: Permission, overrides: Overrides = {}): boolean {
  return ANALYTICS_READS.includes(permission) && can(p, 'view_all_analytics', overrides);
}

const has = (list: string[] | undefined, id: string | null | undefined): boolean => id != null && list !== undefined && list.includes(id);

/** Whether an event belongs to the scope: listed itself, or its organizer, venue or one of its artists is. Pure. */
export function eventInScope(s: Scope, e: EventResource): boolean {
  return has(s.events, e.id) || has(s.organizers, e.organizer_id) || has(s.venues, e.venue_id)
    || (e.artist_ids ?? []).some((a) => has(s.artists, a));
}

/**
 * Whether `resource` is inside `p`'s scope. Admin: always (the whole tenant). Others: every part given must
 * be in scope, and the tenant as a whole (`{}`) never is. Pure.
 */
export function inScope(p: Pick<Principal, 'role' | 'scope'>, resource: Resource): boolean {
  if (p.role === 'admin') return true;
  const s = p.scope;
  const parts = [
    resource.event === undefined ? null : eventInScope(s, resource.event),
    resource.organizer === undefined ? null : has(s.organizers, resource.organizer),
    resource.venue === undefined ? null : has(s.venues, resource.venue),
    resource.artist === undefined ? null : has(s.artists, resource.artist),
  ].filter((x): x is boolean => x !== null);
  return parts.length > 0 && parts.every(Boolean);
}

/**
 * Whether `p` acts for every organizer of its tenant where a non-admin is otherwise limited to its scope's
 * organizers (campaigns): admin, or an ad_account whose scope lists no ids — the tenant's own ad team, as on the
 * whole-tenant-only routes (a key: an ad_account token always names its organizers). Pure.
 */
export function actsForAllOrganizers(p: Pick<Principal, 'role' | 'scope'>): boolean {
  if (p.role === 'admin') return true;
  return p.role === 'ad_account' && !Object.values(p.scope ?? {}).some((ids) => Array.isArray(ids) && ids.length > 0);
}

/** The principal of a tenant secret key: a key without role columns (before migration 007) is the tenant's admin. */
export function keyPrincipal(tenant: number, keyId: number, role: Role | undefined, scope: Scope | undefined): Principal {
  return { tenant, role: role ?? 'admin', scope: scope ?? {}, keyId, via: 'secret_key' };
}

const SCOPE_KINDS = ['organizers', 'venues', 'artists', 'events'] as const;
export const MAX_SCOPE_IDS = 200;

/** A scope from untrusted JSON (a key's stored scope, a request body): unknown kinds, bad ids or too many → the field. Pure. */
export function parseScope(v: unknown, field = 'scope'): { ok: true; value: Scope } | { ok: false; field: string; message: string } {
  if (v === undefined || v === null) return { ok: true, value: {} };
  if (typeof v !== 'object' || Array.isArray(v)) return { ok: false, field, message: `${field} must be an object with organizers, venues, artists and/or events (lists of ids).` };
  const out: Scope = {};
  for (const [k, ids] of Object.entries(v as Record<string, unknown>)) {
    if (!(SCOPE_KINDS as readonly string[]).includes(k)) return { ok: false, field: `${field}.${k}`, message: `Unknown scope kind; use ${SCOPE_KINDS.join(', ')}.` };
    // Duplicates are dropped before the count; the raw list is bounded too, so a huge one is not walked.
    if (!Array.isArray(ids) || ids.length > 10 * MAX_SCOPE_IDS || ids.some((x) => typeof x !== 'string' || !isIdText(x) || !x.isWellFormed())) {
      return { ok: false, field: `${field}.${k}`, message: `${field}.${k} must be a list of at most ${MAX_SCOPE_IDS} ids (1-128 printable characters).` };
    }
    const unique = [...new Set(ids as string[])];
    if (unique.length > MAX_SCOPE_IDS) return { ok: false, field: `${field}.${k}`, message: `${field}.${k} must be a list of at most ${MAX_SCOPE_IDS} ids (1-128 printable characters); got ${unique.length} distinct.` };
    out[k as (typeof SCOPE_KINDS)[number]] = unique;
  }
  return { ok: true, value: out };
}
