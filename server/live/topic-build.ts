// What each topic's message holds, built from the hot state and named from the catalog: an organizer's
// dashboard, an event (with the artists' variant without the money), an event's capacity and a venue's
// capacity over its events of the day; and who owns an event (catalog first, then the live state), which the
// topic checks read. Apart from the assembly (index.ts) because it reads state and catalog only, never the
// bus, Redis or the transports.
import { withCatalog } from './catalog-sync.js';
import type { LiveCatalog } from './catalog.js';
import { venueCapacity, type CapacityFigures } from './capacity.js';
import type { Built } from './hub.js';
import type { LiveState } from './state.js';
import type { EventOwnership, Topic } from './topics.js';

export interface TopicBuilder {
  /** The message data of a topic now, and when its numbers last changed (the hub's build). */
  build(tenant: number, t: Topic, at: number): Built;
  /** What the catalog (first) or the live state knows of an event's organizer, venue and artists. */
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

  /** What the catalog (first) or the live state knows of an event's organizer, venue and artists. */
  const ownerOf = (tenant: number, event: string): EventOwnership | undefined => {
    const meta = catalog.get(tenant, event);
    const live = state.getEvent(tenant, event);
    if (!meta && !live) return undefined;
    return { org: meta?.organizer_id ?? live?.org ?? null, venue: meta?.venue_id ?? live?.venue ?? null, artists: meta?.artist_ids ?? [] };
  };

  /**
   * `analytics:venue:{venue}:capacity`: every event of the tenant with live state today whose venue (catalog
   * first) is this one. A scan over the tenant's events of the day, at most once per coalescing interval per
   * watched venue topic.
   */
  const venueBuilt = (tenant: number, venue: string, at: number): Built => {
    const events: Parameters<typeof venueCapacity>[1] = [];
    let updatedAt = 0;
    for (const e of state.events.values()) {
      if (e.tenant !== tenant || (catalog.get(tenant, e.event)?.venue_id ?? e.venue) !== venue) continue;
      const cap = withCatalog(catalog, tenant, { kind: 'capacity', event: e.event }, state.capacityData(tenant, e.event, at)) as unknown as CapacityFigures & { event_title: string | null };
      events.push({ event_id: e.event, event_title: cap.event_title ?? null, view: cap });
      updatedAt = Math.max(updatedAt, state.latestUpdate(tenant, e.event));
    }
    return { data: venueCapacity(venue, events) as unknown as Record<string, unknown>, updatedAt };
  };
  return { build, ownerOf };
}
