// What each topic's message holds, built from the hot state and named from the catalog: an organizer's
// dashboard, an event (with the artists' variant without the money), an event's capacity and a venue's
// capacity over its events of the day; and who owns an event (the catalog's row when it knows the event, else
// the live state), which the topic checks read. Apart from the assembly (index.ts) because it reads state and catalog only, never the
// bus, Redis or the transports.
import { withCatalog } from './catalog-sync.js';
import type { LiveCatalog } from './catalog.js';
import { venueCapacity, type CapacityFigures } from './capacity.js';
import type { Built, TopicEntry } from './hub.js';
import type { LiveState } from './state.js';
import { eventOwnership, type EventOwnership, type Topic } from './topics.js';

export interface TopicBuilder {
  /** The message data of a topic now, and when its numbers last changed (the hub's build). */
  build(tenant: number, t: Topic, at: number): Built;
  /** An event's organizer, venue and artists: the catalog's when it knows the event, else the live state's. */
  ownerOf(tenant: number, event: string): EventOwnership | undefined;
}

export function createTopicBuilder(deps: { state: LiveState; catalog: LiveCatalog }): TopicBuilder {
  const { state, catalog } = deps;
  const build = (tenant: number, t: Topic, at: number): Built => {
    if (t.kind === 'dashboard') {
      let updatedAt = 0;
      for (const id of state.getOrg(tenant, t.org)?.events ?? []) updatedAt = Math.max(updatedAt, state.latestUpdate(tenant, id));
      return { data: withCatalog(catalog, tenant, t, state.dashboardData(tenant, t.org, at)), updatedAt };
    }
    if (t.kind === 'venue') return venueBuilt(tenant, t.venue, at);
    const updatedAt = state.latestUpdate(tenant, t.event);
    const data = t.kind === 'event' ? state.eventData(tenant, t.event, at) : state.capacityData(tenant, t.event, at);
    const named = withCatalog(catalog, tenant, t, data);
    if (t.kind === 'event' && t.revenue === false) {
      // An artist's variant: the same numbers without the money.
      const { revenue: _revenue, ...rest } = named;
      return { data: rest, updatedAt };
    }
    return { data: named, updatedAt };
  };

  /** The catalog's organizer, venue and artists of an event it knows, else the live state's (eventOwnership). */
  const ownerOf = (tenant: number, event: string): EventOwnership | undefined => eventOwnership(catalog.get(tenant, event), state.getEvent(tenant, event));

  /**
   * `analytics:venue:{venue}:capacity`: every event of the tenant with live state today whose venue is this one
   * (the catalog's for an event it knows, whatever rows named; else the live state's). A scan over the tenant's events of the day, at most once per coalescing interval per
   * watched venue topic.
   */
  const venueBuilt = (tenant: number, venue: string, at: number): Built => {
    const events: Parameters<typeof venueCapacity>[1] = [];
    let updatedAt = 0;
    for (const e of state.events.values()) {
      if (e.tenant !== tenant || eventOwnership(catalog.get(tenant, e.event), e)?.venue !== venue) continue;
      const cap = withCatalog(catalog, tenant, { kind: 'capacity', event: e.event }, state.capacityData(tenant, e.event, at)) as unknown as CapacityFigures & { event_title: string | null };
      events.push({ event_id: e.event, event_title: cap.event_title ?? null, view: cap });
      updatedAt = Math.max(updatedAt, state.latestUpdate(tenant, e.event));
    }
    return { data: venueCapacity(venue, events) as unknown as Record<string, unknown>, updatedAt };
  };
  return { build, ownerOf };
}

/**
 * Whether time alone may change a watched topic's data (the REFRESH_MS refresh rebuilds only those). An event or
 * capacity topic of an event without live state today shows the catalog's figures and zeros, which no clock
 * moves: 200,000 such topics held were rebuilt every 5 s for nothing. Pure apart from reading `state`.
 */
export const changesWithTime = (state: Pick<LiveState, 'getEvent'>) => (e: Pick<TopicEntry, 'tenant' | 'topic'>): boolean =>
  (e.topic.kind !== 'event' && e.topic.kind !== 'capacity') || state.getEvent(e.tenant, e.topic.event) !== undefined;
