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
import { isIdText, NO_CONTROL } from '../http/params.js';
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

/** The longest topic name accepted (the longest valid one, `analytics:dashboard:` and a 128-character id, is 148). */
export const MAX_TOPIC_LENGTH = 200;
const MAX_ID = 128;

/** A topic name to its topic, or the rule it breaks, said so that a client can fix it. Pure. */
export function checkTopic(name: unknown): { ok: true; topic: Topic } | { ok: false; problem: string } {
  const no = (problem: string) => ({ ok: false as const, problem });
  if (name === undefined || name === null) return no('The "topic" field is missing: send the topic\'s name as "topic" (one per message).');
  if (typeof name !== 'string') return no(`"topic" must be a string (the topic's name), not ${Array.isArray(name) ? 'an array' : typeof name === 'object' ? 'an object' : `a ${typeof name}`}.`);
  if (name.length > MAX_TOPIC_LENGTH) return no(`"topic" is ${name.length} characters; a topic name is at most ${MAX_TOPIC_LENGTH} (an id at most ${MAX_ID}).`);
  /** The id part of the name, checked: the topic, or what is wrong with the id. */
  const id = (what: string, value: string, topic: (id: string) => Topic) => {
    if (value.length === 0) return no(`The ${what} in "topic" is empty: name one after the prefix.`);
    if (value.length > MAX_ID) return no(`The ${what} in "topic" is ${value.length} characters; an id is at most ${MAX_ID}.`);
    if (!NO_CONTROL.test(value)) return no(`The ${what} in "topic" contains a control character (U+0000-U+001F, U+007F-U+009F), which no id holds.`);
    return isIdText(value, MAX_ID) ? { ok: true as const, topic: topic(value) } : no(`The ${what} in "topic" is not a valid id.`);
  };
  if (name.startsWith(DASH)) return id('organizer id', name.slice(DASH.length), (org) => ({ kind: 'dashboard', org }));
  if (name.startsWith(VENUE)) {
    const rest = name.slice(VENUE.length);
    if (!rest.endsWith(CAP)) return no(`A venue topic ends in "${CAP}": ${VENUE}{venue_id}${CAP}.`);
    return id('venue id', rest.slice(0, -CAP.length), (venue) => ({ kind: 'venue', venue }));
  }
  if (name.startsWith(EVENT)) {
    const rest = name.slice(EVENT.length);
    if (rest.endsWith(CAP)) return id('event id', rest.slice(0, -CAP.length), (event) => ({ kind: 'capacity', event }));
    return id('event id', rest, (event) => ({ kind: 'event', event }));
  }
  return no(name === '' ? '"topic" is empty.' : `"topic" names no topic: it must start with ${EVENT}, ${DASH} or ${VENUE}.`);
}

export function parseTopic(name: unknown): Topic | null {
  const c = checkTopic(name);
  return c.ok ? c.topic : null;
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
 * What separates the parts of a key (topicKey, notice-channels.ts noticeKey): U+0001, a control character, which
 * no id a client names can hold (parseTopic, isIdText). Ids may hold `|`, `#` and `:`, so a key made by joining a
 * topic's name with one of those let a client spell another topic's key: a made-up event `E1|norevenue` was handed
 * the entry of E1's revenue-free variant, a dashboard `O1#view_ad_analytics` joined O1's notice channel.
 */
export const KEY_SEP = '\u0001';

/** The part of a key that says which topic (and variant) it is: fixed words, none holding KEY_SEP. */
const keyKind = (t: Topic): string => (t.kind === 'event' && t.revenue === false ? 'event-norevenue' : t.kind);
const keyId = (t: Topic): string => (t.kind === 'dashboard' ? t.org : t.kind === 'venue' ? t.venue : t.event);

/**
 * The key a topic has inside this server, its uWS topic and Socket.IO room: `{tenant}␁{kind}␁{id}` (␁ = KEY_SEP).
 * One key per topic whatever its id holds (even KEY_SEP itself, from an event id ingest let through): the tenant
 * (digits) and the kind (a fixed word) end at the first two separators, and the id is all the rest. Tenants never
 * share one; the revenue-free variant of an event topic is its own kind, which no client names. Pure.
 */
export const topicKey = (tenant: number, t: Topic): string => `${tenant}${KEY_SEP}${keyKind(t)}${KEY_SEP}${keyId(t)}`;

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
