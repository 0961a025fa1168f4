// Who may read a live topic (issue 18 item 2): one check for /ws and Socket.IO, made of the shared model
// (authz/principal.ts, the same `can` and `inScope` the router uses for HTTP routes, with the tenant's role
// overrides) and the per-topic rules of topics.ts (a gate token reads capacity only, a venue token no organizer roll-up…).
// Both must agree. Pure apart from the overrides and event owners it is handed.
import { can, inScope, readsWholeTenant, type EventResource, type Resource } from '../authz/principal.js';
import type { Overrides, Permission } from '../authz/roles.js';
import { tokenPrincipal } from '../http/router.js';
import type { Scope } from './token.js';
import { NOTICE_PERMISSIONS, type NoticePermission } from './notice-channels.js';
import { limitConcurrency } from './rate.js';
import { allowed, type EventOwnership, type Topic } from './topics.js';

/** The permission a topic is read with. The organizer roll-up also needs view_revenue (it has no revenue-free variant). */
export function topicPermission(t: Topic): Permission {
  return t.kind === 'event' || t.kind === 'dashboard' ? 'view_event_analytics' : t.kind === 'venue' ? 'view_venue_analytics' : 'view_capacity';
}

/**
 * `ownerOf` (this node's memory) with one event answered as the scope checks resolved it (`r`: the catalog's row
 * whole, this node's copy or the store's, else the live owner), so a node that does not hold the event (one over
 * before the node started) decides as the router and a node that holds it do. Pure.
 */
export function withResolved(
  ownerOf: (tenant: number, event: string) => EventOwnership | undefined,
  tenant: number,
  event: string,
  r: EventResource,
): (tenant: number, event: string) => EventOwnership | undefined {
  const o: EventOwnership = { org: r.organizer_id ?? null, venue: r.venue_id ?? null, artists: r.artist_ids ?? [], catalog: r.catalog };
  return (t, e) => (t === tenant && e === event ? o : ownerOf(t, e));
}

/** `notices`: the notice channels (notices.ts) the subscriber joins with the topic, by the permission each needs. */
export type Access = { ok: true; topic: Topic; notices: NoticePermission[] } | { ok: false; permission: Permission };

export async function topicAccess(
  scope: Scope,
  requested: Topic,
  overridesOf: (tenant: number) => Promise<Overrides>,
  ownerOf: (tenant: number, event: string) => EventOwnership | undefined,
  /**
   * The event as the HTTP routes' scope check resolves it (the catalog's row whole, this node's copy or the
   * store's, else the live owner), when the server hands it over; else `ownerOf` alone (this node's memory).
   */
  eventOf?: (tenant: number, event: string) => Promise<EventResource>,
): Promise<Access> {
  const who = tokenPrincipal(scope);
  if (eventOf && who.role !== 'admin' && (requested.kind === 'event' || requested.kind === 'capacity')) {
    ownerOf = withResolved(ownerOf, scope.tenant, requested.event, await eventOf(scope.tenant, requested.event));
  }
  const overrides = who.role === 'admin' ? {} : await overridesOf(scope.tenant);
  const money = can(who, 'view_revenue', overrides);
  // Without view_revenue (an artist, venue staff by default) an event topic is its revenue-free variant.
  const topic: Topic = requested.kind === 'event' && !money ? { kind: 'event', event: requested.event, revenue: false } : requested;
  const permission = topicPermission(topic);
  if (!can(who, permission, overrides)) return { ok: false, permission };
  if (topic.kind === 'dashboard' && !money) return { ok: false, permission: 'view_revenue' };
  // A budget's notices on the organizer's dashboard need what the campaigns pages need.
  const notices = topic.kind === 'dashboard' ? NOTICE_PERMISSIONS.filter((p) => can(who, p, overrides)) : [];
  let resource: Resource;
  if (topic.kind === 'dashboard') resource = { organizer: topic.org };
  else if (topic.kind === 'venue') resource = { venue: topic.venue };
  else {
    const o = ownerOf(scope.tenant, topic.event);
    resource = { event: { id: topic.event, organizer_id: o?.org ?? null, venue_id: o?.venue ?? null, artist_ids: o?.artists ?? [] } };
  }
  // view_all_analytics: every topic of the tenant, its scope limiting nothing (the money decided above).
  if (readsWholeTenant(who, permission, overrides)) return { ok: true, topic, notices };
  if (!inScope(who, resource) || !allowed(scope, topic, ownerOf)) return { ok: false, permission };
  return { ok: true, topic, notices };
}

/**
 * `check` run at most `n` at once, the others in order of arrival. A check whose subscribe nobody waits for any
 * more when its turn comes (`wanted()` false: the connection closed, the topic was unsubscribed) is not run and
 * refuses: a client that sent thousands of subscribes and left costs no store reads.
 */
export function limitedAccess(n: number, check: (scope: Scope, topic: Topic) => Promise<Access>) {
  return limitConcurrency(n, (scope: Scope, topic: Topic, wanted?: () => boolean) =>
    wanted && !wanted() ? Promise.resolve<Access>({ ok: false, permission: topicPermission(topic) }) : check(scope, topic),
  );
}
