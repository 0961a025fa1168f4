// Topic names and who may read them (issue 18: one rule per token role). Pure.
//   analytics:event:{event_id}            funnel + capacity (organizer of the event, artist of the event without
//                                         revenue, tenant)
//   analytics:event:{event_id}:capacity   capacity only (gate staff of the event, organizer, venue staff of the
//                                         event's venue, artist of the event, tenant)
//   analytics:dashboard:{org_id}          the organizer's roll-up (that organizer, tenant)
//   analytics:venue:{venue_id}:capacity   capacity of every event at the venue, summed (venue staff, tenant)
// The roles without a line above (venue_manager, promoter, ad_account, media) read what a key of the role may:
// the permission (access.ts) and the topic's resource in scope, nothing more.
// The revenue-free variant of an event topic is its own hub entry (`revenue: false`): the hub builds it without
// the revenue fields, so a connection without view_revenue (an artist, by default) never receives them.
import { inScope, type EventResource } from '../authz/principal.js';
import { isIdText } from '../http/params.js';
import { tokenPrincipal, type Scope } from './token.js';

export type Topic =
  | { kind: 'event'; event: string; revenue?: false }
  | { kind: 'capacity'; event: string }
  | { kind: 'dashboard'; org: string }
  | { kind: 'venue'; venue: string };

const EVENT = 'analytics:event:';
const DASH = 'analytics:dashboard:';
const VENUE = 'analytics:venue:';
const CAP = ':capacity';

export function parseTopic(name: unknown): Topic | null {
  if (typeof name !== 'string' || name.length > 200) return null;
  if (name.startsWith(DASH)) {
    const org = name.slice(DASH.length);
    return isIdText(org) ? { kind: 'dashboard', org } : null;
  }
  if (name.startsWith(VENUE)) {
    const rest = name.slice(VENUE.length);
    if (!rest.endsWith(CAP)) return null;
    const venue = rest.slice(0, -CAP.length);
    return isIdText(venue) ? { kind: 'venue', venue } : null;
  }
  if (name.startsWith(EVENT)) {
    const rest = name.slice(EVENT.length);
    if (rest.endsWith(CAP)) {
      const event = rest.slice(0, -CAP.length);
      return isIdText(event) ? { kind: 'capacity', event } : null;
    }
    return isIdText(rest) ? { kind: 'event', event: rest } : null;
  }
  return null;
}

export function topicName(t: Topic): string {
  switch (t.kind) {
    case 'dashboard':
      return DASH + t.org;
    case 'capacity':
      return EVENT + t.event + CAP;
    case 'venue':
      return VENUE + t.venue + CAP;
    case 'event':
      return EVENT + t.event;
  }
}

/**
 * The key a topic has inside this server (tenants never share one): `{tenant}|{topic}`. The revenue-free
 * variant of an event topic gets `|norevenue`: a name a client cannot spell (parseTopic never makes it).
 */
export const topicKey = (tenant: number, t: Topic): string => `${tenant}|${topicName(t)}${t.kind === 'event' && t.revenue === false ? '|norevenue' : ''}`;

/** What the live layer knows of an event: its organizer, venue and artists (unknown = null / absent). */
export interface EventOwnership {
  org: string | null;
  venue: string | null;
  artists: string[];
  /** True when these are the catalog's (the event is in it): then they are the whole truth, see eventOwnership. */
  catalog?: boolean;
}

/**
 * An event's organizer, venue and artists: the catalog's, all three, when the catalog knows the event (a
 * field its row leaves empty stays empty: a row sent with the public write key never fills it in, so it cannot
 * move a catalog event into a venue's or an organizer's scope); else what the live state learnt from the
 * events themselves; undefined when neither knows it. Pure.
 */
export function eventOwnership(
  meta: { organizer_id: string | null; venue_id: string | null; artist_ids?: string[] } | undefined,
  live: { org: string | null; venue: string | null } | undefined,
): EventOwnership | undefined {
  if (meta) return { org: meta.organizer_id, venue: meta.venue_id, artists: meta.artist_ids ?? [], catalog: true };
  if (live) return { org: live.org, venue: live.venue, artists: [], catalog: false };
  return undefined;
}

/**
 * The event behind a route's or a token's scope check: this node's view (`hot`: its catalog metadata, fresh
 * on every catalog change, else its live state) and the store's (`stored`: the catalog row, else the claimed
 * live owner; cached a few seconds, dropped when the event changes hands: authz forgetEvents, wired in app.ts).
 * The catalog wins whole, as in eventOwnership: this node's copy of it
 * first, else the store's row (an event whose metadata this node does not hold, one that is over); only an
 * event the catalog does not know takes the live state's organizer and venue. Pure.
 */
export function eventResourceOf(stored: EventResource, hot: EventOwnership | undefined): EventResource {
  if (hot?.catalog) return { id: stored.id, organizer_id: hot.org, venue_id: hot.venue, artist_ids: hot.artists, catalog: true };
  if (stored.catalog || !hot) return stored;
  return { id: stored.id, organizer_id: hot.org ?? stored.organizer_id ?? null, venue_id: hot.venue, artist_ids: [], catalog: false };
}

/**
 * The topic a scope actually reads for a requested one, by its role's default permissions (access.ts decides
 * with the tenant's overrides): an artist's or a venue's event topic is the revenue-free variant; every other
 * request is itself. Pure.
 */
export function topicFor(scope: Scope, topic: Topic): Topic {
  return (scope.role === 'artist' || scope.role === 'venue') && topic.kind === 'event' ? { kind: 'event', event: topic.event, revenue: false } : topic;
}

/**
 * Whether `scope` may read `topic`. `ownerOf` gives what the catalog or the live state knows of an event
 * (undefined when nothing): a limited scope only sees events known to be in it. `wholeTenant`: the token's role
 * reads this topic's analytics tenant-wide (view_all_analytics, authz/principal.ts readsWholeTenant, decided
 * with the tenant's overrides by the caller): no per-role rule limits it. Pure.
 */
export function allowed(scope: Scope, topic: Topic, ownerOf: (tenant: number, event: string) => EventOwnership | undefined, wholeTenant = false): boolean {
  if (wholeTenant) return true;
  const owner = (event: string) => ownerOf(scope.tenant, event);
  switch (scope.role) {
    case 'tenant':
    case 'admin':
      return true;
    case 'organizer':
      if (topic.kind === 'dashboard') return topic.org === scope.org;
      if (topic.kind === 'venue') return false;
      return owner(topic.event)?.org === scope.org;
    case 'gate':
      return topic.kind === 'capacity' && scope.events.includes(topic.event);
    case 'venue': {
      // Events at its venues: capacity, and (like a venue key) the funnel, revenue-free unless the tenant
      // grants view_revenue (access.ts picks the variant); never an organizer's roll-up.
      if (topic.kind === 'venue') return scope.venues.includes(topic.venue);
      if (topic.kind === 'dashboard') return false;
      const v = owner(topic.event)?.venue;
      return v != null && scope.venues.includes(v);
    }
    case 'artist': {
      // Which variant of an event topic (with or without the money) is decided by view_revenue (access.ts).
      if (topic.kind !== 'event' && topic.kind !== 'capacity') return false;
      return (owner(topic.event)?.artists ?? []).some((a) => scope.artists.includes(a));
    }
    case 'venue_manager':
    case 'promoter':
    case 'ad_account':
    case 'media': {
      // No per-topic rule beyond the shared model: the topic's resource in the token's scope, as for a key of
      // the role (the permission is access.ts' part: ad_account and media read no topic by default).
      const who = tokenPrincipal(scope);
      if (topic.kind === 'dashboard') return inScope(who, { organizer: topic.org });
      if (topic.kind === 'venue') return inScope(who, { venue: topic.venue });
      const o = owner(topic.event);
      return inScope(who, { event: { id: topic.event, organizer_id: o?.org ?? null, venue_id: o?.venue ?? null, artist_ids: o?.artists ?? [] } });
    }
  }
}
