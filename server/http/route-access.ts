// What the principal may do: the route's permission against the role (with the tenant's overrides), the
// resource it touches against the principal's scope, and the registration-time rules of those declarations.
// The router calls these for every route, in order; apart from the router so the domains that check a scope
// by hand (campaigns, tracking) give the same refusal, and the same refusal of an event of another organizer.
import { can, inScope, type Principal as Who, type Resource } from '../authz/principal.js';
import type { Overrides, Permission } from '../authz/roles.js';
import { fail, paramFail } from './errors.js';
import type { ReqInfo, Reply } from './uws.js';
import { paramPositions } from './route-input.js';
import type { Auth, ParamSpec, ResourceSpec, RouterAuthz } from './route-types.js';

/** The 403 of a principal whose role lacks `permission` (with the tenant's overrides), or null. Pure. */
export function permissionRefusal(who: Who, permission: Permission, overrides: Overrides): Reply | null {
  if (can(who, permission, overrides)) return null;
  return fail('forbidden', `This key or token (role ${who.role}) does not have the permission ${permission}.`, { permission, role: who.role });
}

/** The 403 of a resource outside the principal's scope, or null. Pure. */
export function scopeRefusal(who: Who, permission: Permission, resource: Resource, what: string): Reply | null {
  if (inScope(who, resource)) return null;
  return fail('forbidden', `${what} is outside the scope of this key or token (role ${who.role}).`, { permission, role: who.role, scope: what });
}

/**
 * Whether `who` may be told which organizer owns an event: the server itself, an admin, a caller whose scope lists
 * no ids (the whole tenant), or one whose scope covers the event with that owner. Anyone else learns only that
 * the event is outside its scope: another organizer's name is not its to read. Pure.
 */
export function mayKnowOwner(who: Who | null, event: { id: string; organizer_id: string }): boolean {
  return who === null || who.role === 'admin' || !isLimited(who.scope) || inScope(who, { event });
}

/**
 * The refusal of a body whose event `event.id` is `event.organizer_id`'s, not the body's `organizer_id`'s: for a
 * caller that may know the owner (mayKnowOwner), 400 on event_id naming it (`Event E2 belongs to organizer O2, not
 * O1.`); for any other, 403 forbidden on event_id with `scope` naming only the event. Pure.
 */
export function eventOwnerMismatch(who: Who | null, permission: Permission, organizerId: string | null, event: { id: string; organizer_id: string }): Reply {
  if (mayKnowOwner(who, event)) return paramFail({ code: 'invalid_field', in: 'body', field: 'event_id', message: `Event ${event.id} belongs to organizer ${event.organizer_id}, not ${organizerId}.` });
  const what = `event ${event.id}`;
  return fail('forbidden', `${what} is outside the scope of this key or token (role ${who!.role}).`, { permission, role: who!.role, scope: what, in: 'body', field: 'event_id' });
}

/**
 * The refusal of a body that names an event of another organizer than its own `organizer_id` (a tracking code, a
 * campaign budget: eventOwnerMismatch), or null. `organizerOf`: the event's organizer as the scope checks see it
 * (the catalog's, else the live owner); an event whose organizer is unknown passes. So a key scoped to O1 cannot
 * attach O2's event to something of O1's, and an admin key cannot mix them up.
 */
export async function eventOrganizerRefusal(
  who: Who | null, permission: Permission, tenant: number, body: { organizer_id: string | null; event_id: string | null },
  organizerOf: (tenant: number, eventId: string) => Promise<string | null>,
): Promise<Reply | null> {
  if (body.event_id === null) return null;
  const org = await organizerOf(tenant, body.event_id);
  if (org === null || org === body.organizer_id) return null;
  return eventOwnerMismatch(who, permission, body.organizer_id, { id: body.event_id, organizer_id: org });
}

/** Registration-time rules of the declared permission and resource; a message for a route breaking them. Pure. */
export function declarationProblem(spec: { method: string; path: string; auth: Auth; permission?: string; resource?: ResourceSpec; params?: ParamSpec }): string | null {
  const name = `Route ${spec.method.toUpperCase()} ${spec.path}`;
  if (spec.auth !== 'secret' && spec.auth !== 'token') return null;
  if (spec.permission === undefined) return `${name}: declare its permission (authz/roles.ts), or permission: 'none' explicitly.`;
  if (spec.permission === 'none') return null;
  // A path without params names no resource: tenant-wide unless declared. A path with params must say what they name.
  if (spec.resource === undefined && Object.keys(paramPositions(spec.path)).length > 0) return `${name}: declare its resource ('tenant', { event: param }, …) so the router checks the scope.`;
  if (typeof spec.resource === 'object' && !('query_event' in spec.resource)) {
    const param = Object.values(spec.resource)[0];
    if (!(param in paramPositions(spec.path))) return `${name}: resource names :${param}, which is not in the path.`;
  }
  return null;
}

/** Whether a scope lists anything: a scope without ids is the whole tenant. Pure. */
export const isLimited = (scope: Who['scope']): boolean => Object.values(scope ?? {}).some((ids) => Array.isArray(ids) && ids.length > 0);

/** The resource of a request for its route's declaration, and how a refusal names it. */
export async function resourceOf(spec: ResourceSpec, who: Who, params: Record<string, unknown>, info: ReqInfo, authz: RouterAuthz | undefined): Promise<{ resource: Resource; what: string } | null> {
  // Admin's scope is the tenant: nothing to resolve (no owner lookup on the admin key's requests).
  if (spec === 'tenant' || who.role === 'admin') return null;
  if (spec === 'whole_tenant') {
    if (!isLimited(who.scope)) return null;
    // An empty resource is in no limited scope: refused, naming why.
    return { resource: {}, what: 'data of the whole tenant (this key or token is limited to some organizers, venues, artists or events)' };
  }
  if ('query_event' in spec) {
    const id = info.query.get(spec.query_event);
    if (id === null || id === '') return { resource: {}, what: `the whole tenant (name an event in ${spec.query_event})` };
    return { resource: { event: authz ? await authz.event(who.tenant, id) : { id } }, what: `event ${id}` };
  }
  if ('event' in spec) {
    const id = String(params[spec.event]);
    return { resource: { event: authz ? await authz.event(who.tenant, id) : { id } }, what: `event ${id}` };
  }
  const [kind, param] = Object.entries(spec)[0] as ['organizer' | 'venue' | 'artist', string];
  const id = String(params[param]);
  return { resource: { [kind]: id }, what: `${kind} ${id}` };
}
