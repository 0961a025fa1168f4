// Catalog changes into the live state, on every node (issue 11.3). The node whose API changed the catalog
// publishes the change's ids on the bus (and applies it at once); every other node re-reads the metadata of
// those ids from the store (the record: the message carries no data, so a node never shows what the store
// does not hold) and applies it: the catalog organizer takes the event (moving it from another dashboard),
// the owners cache learns it, and the event's topics and its dashboards are pushed. Names are added to the
// topic data as it is built (withCatalog).
import type { Logger } from 'pino';
import type { Queryable } from '../store/db.js';
import type { LiveBus } from './bus.js';
import { capacityWithMeta, TenantLru, type CatalogChange, type EventMeta, type EventNames, type LiveCatalog, type TickerNames } from './catalog.js';
import type { CapacityView } from './capacity.js';
import type { Hub } from './hub.js';
import type { OwnerClaims } from './owners.js';
import type { LiveState } from './state.js';
import { eventOwnership, type Topic } from './topics.js';

export const CATALOG = 'catalog';

export interface CatalogMessage {
  n: string;
  t: number;
  k: string;
  ids: string[];
}

/** Bounds one message (the sync API takes at most 1000 items per request), and one read of fill's. */
const MAX_IDS = 1000;
/** Event ids the store has no catalog row for, remembered (all tenants together) so topics of them read nothing again. */
const ABSENT_MAX = 100_000;
/**
 * How long such an id is remembered: a change names it on this node and, over the bus, on the others; this
 * bounds what a change missed (the bus down) can hide, at one read per id per minute.
 */
const ABSENT_TTL_MS = 60_000;

export interface CatalogSync {
  /** server/catalog's onChange: applies here, then tells the other nodes. Never throws (logged). */
  onChange(c: CatalogChange): Promise<void>;
  onMessage(m: CatalogMessage): void;
  /** At start, after the live state is restored: metadata of today's events, their catalog owners applied. */
  restore(day: string): Promise<number>;
  /**
   * Before a topic of these events is read: the metadata of those this node holds nothing of (a catalog event over
   * before the node started, which restore does not read; one the copy's limit evicted), from the store, so its
   * snapshot shows the catalog's organizer, title and capacity as a node that held it does. Never throws (logged).
   */
  fill(tenant: number, events: string[]): Promise<void>;
}

export function createCatalogSync(deps: {
  catalog: LiveCatalog;
  state: LiveState;
  hub: Hub;
  owners: OwnerClaims;
  db: Queryable;
  bus: LiveBus | null;
  nodeId: string;
  log: Logger;
  /** The events whose catalog row changed (organizer, venue, artists may have): their subscribers are checked again. */
  ownersChanged?(events: { tenant: number; event: string }[]): void;
  now?: () => number;
}): CatalogSync {
  const { catalog, state, hub, owners, log } = deps;
  /**
   * Ids a fill found no catalog row for: a topic of an event the catalog does not hold (most live events, and any
   * id a token holder makes up) is read once, not on every subscribe. A change naming the id forgets it.
   */
  const absent = new TenantLru<number>(ABSENT_MAX, () => undefined);
  const now = deps.now ?? Date.now;
  const knownAbsent = (tenant: number, id: string) => now() - (absent.get(tenant, id) ?? -Infinity) < ABSENT_TTL_MS;
  /** Per tenant, the ids of the read about to start, and its outcome: every fill of one tick shares one query. */
  const batches = new Map<number, { ids: Set<string>; done: Promise<void> }>();
  /** Per tenant and id, the read under way that will answer it: one id is read once however many ask. */
  const reading = new Map<string, Promise<void>>();
  const readingKey = (tenant: number, id: string) => `${tenant}\u0000${id}`;
  /** Catalog changes of events seen: a fill's read that a change overlapped records no absent ids (it may predate the change). */
  let eventChanges = 0;

  /** The catalog organizer takes the event's live state (a move marks the dashboard it left). */
  const apply = (metas: EventMeta[], removed: { tenant: number; id: string }[]) => {
    for (const m of metas) {
      if (m.organizer_id !== null) owners.learn(m.tenant, m.id, { org: m.organizer_id, source: 'catalog' });
      else owners.forget(m.tenant, m.id);
      const e = state.getEvent(m.tenant, m.id);
      let org = e?.org ?? m.organizer_id;
      if (e && m.organizer_id !== null) {
        const { from } = state.linkOrg(e, m.organizer_id, 'catalog');
        org = e.org;
        if (from !== null) hub.touch({ tenant: m.tenant, event: m.id, org: from, capacity: true, funnel: true });
      }
      hub.touch({ tenant: m.tenant, event: m.id, org, capacity: true, funnel: true });
    }
    for (const r of removed) {
      owners.forget(r.tenant, r.id);
      hub.touch({ tenant: r.tenant, event: r.id, org: state.getEvent(r.tenant, r.id)?.org ?? null, capacity: true, funnel: true });
    }
  };

  /** An event's organizer, venue and artists as the topic checks read them (topic-build.ts ownerOf). */
  const ownership = (tenant: number, id: string): string => JSON.stringify(eventOwnership(catalog.get(tenant, id), state.getEvent(tenant, id)) ?? null);

  /**
   * `forTopic`: a topic of these events is being read (fill): this node keeps what it reads. Else it keeps what
   * LiveCatalog.reload keeps, and the events that have live state today.
   */
  const reread = async (c: CatalogChange, forTopic = false) => {
    const before = new Map(c.ids.map((id) => [id, ownership(c.tenantId, id)]));
    const keep = forTopic ? () => true : (id: string) => state.getEvent(c.tenantId, id) !== undefined;
    if (c.kind === 'events' && !forTopic) eventChanges++;
    const seen = eventChanges;
    const { metas, removed } = await catalog.reload(deps.db, c, { day: state.day, keep });
    if (c.kind === 'events') {
      for (const id of c.ids) absent.delete(c.tenantId, id);
      if (forTopic && seen === eventChanges) for (const id of removed) absent.set(c.tenantId, id, now());
    }
    apply(metas, removed.map((id) => ({ tenant: c.tenantId, id })));
    // A renamed organizer's dashboard, also when it has no events (whose touches above would carry it).
    if (c.kind === 'organizers') for (const org of c.ids) hub.touchTopic(c.tenantId, { kind: 'dashboard', org });
    // The events whose owners this changed: their open subscriptions are checked again, and the store's answer
    // cached for the scope checks is read again (app.ts). An event of the change this node does not hold (over, or
    // evicted) counts too: its checks read the store, whose row this change rewrote.
    const moved = new Set([...metas.map((m) => m.id), ...removed].filter((id) => before.get(id) !== ownership(c.tenantId, id)));
    if (c.kind === 'events') for (const m of metas) if (!catalog.get(c.tenantId, m.id)) moved.add(m.id);
    deps.ownersChanged?.([...moved].map((event) => ({ tenant: c.tenantId, event })));
  };

  /** Adds `id` to the tenant's read that starts at the end of this tick (one of at most MAX_IDS ids; a full one takes no more). */
  const enqueue = (tenant: number, id: string): Promise<void> => {
    let b = batches.get(tenant);
    if (!b) {
      const ids = new Set<string>();
      const done = new Promise<void>((resolve) => setImmediate(resolve)).then(() => read(tenant, ids));
      batches.set(tenant, (b = { ids, done }));
    }
    b.ids.add(id);
    reading.set(readingKey(tenant, id), b.done);
    if (b.ids.size >= MAX_IDS) batches.delete(tenant);
    return b.done;
  };
  const read = async (tenant: number, ids: Set<string>): Promise<void> => {
    if (batches.get(tenant)?.ids === ids) batches.delete(tenant);
    try {
      await reread({ tenantId: tenant, kind: 'events', ids: [...ids] }, true);
    } catch (err) {
      log.warn({ err: (err as Error).message, tenant }, 'live: reading catalog events for a topic failed');
    } finally {
      for (const id of ids) reading.delete(readingKey(tenant, id));
    }
  };

  return {
    async onChange(c) {
      const ids = c.ids.slice(0, MAX_IDS);
      try {
        await reread({ ...c, ids });
      } catch (err) {
        log.error({ err: (err as Error).message, tenant: c.tenantId, kind: c.kind }, 'live: reading the catalog change failed');
      }
      if (!deps.bus) return;
      const msg: CatalogMessage = { n: deps.nodeId, t: c.tenantId, k: c.kind, ids };
      await deps.bus.publish(CATALOG, msg).catch((err: Error) => log.warn({ err: err.message }, 'live: could not tell the other nodes of a catalog change'));
    },
    onMessage(m) {
      if (m.n === deps.nodeId || !Number.isSafeInteger(m.t) || !Array.isArray(m.ids)) return;
      reread({ tenantId: m.t, kind: String(m.k), ids: m.ids.filter((id) => typeof id === 'string').slice(0, MAX_IDS) }).catch((err: Error) =>
        log.error({ err: err.message, tenant: m.t, kind: m.k }, 'live: reading a catalog change of another node failed'),
      );
    },
    async fill(tenant, events) {
      // An event with live state today is held unless the copy lacks some of the tenant's (catalog.lacks).
      const wanted = [...new Set(events)].filter(
        (id) => !catalog.get(tenant, id) && !knownAbsent(tenant, id) && (!state.getEvent(tenant, id) || catalog.lacks(tenant)),
      );
      if (wanted.length === 0) return;
      await Promise.all(wanted.map((id) => reading.get(readingKey(tenant, id)) ?? enqueue(tenant, id)));
    },
    async restore(day) {
      absent.clear();
      const live = [...state.events.values()].map((e) => ({ tenant: e.tenant, event: e.event }));
      const metas = await catalog.restore(deps.db, day, live);
      apply(metas, []);
      return metas.length;
    },
  };
}

/** The events of event and capacity topics, by tenant (what CatalogSync.fill is asked for). Pure. */
export function topicEvents(entries: { tenant: number; topic: Topic }[]): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const { tenant, topic } of entries) {
    if (topic.kind !== 'event' && topic.kind !== 'capacity') continue;
    const list = out.get(tenant) ?? [];
    list.push(topic.event);
    out.set(tenant, list);
  }
  return out;
}

/**
 * Adds the catalog's names to a topic's data (fields added, none renamed): `event_title`, `organizer_name`,
 * gate names and the venue's capacity (capacityWithMeta); an event the live state has not linked yet shows
 * its catalog organizer. Pure apart from reading `catalog`.
 */
export function withCatalog(catalog: LiveCatalog, tenant: number, t: Topic, data: Record<string, unknown>): Record<string, unknown> {
  if (t.kind === 'dashboard') {
    const events = (data.events as Record<string, unknown>[]).map((e) => ({ ...e, event_title: catalog.get(tenant, e.event_id as string)?.title ?? null }));
    const ticker = (data.ticker as Record<string, unknown>[]).map((x) => {
      const names: TickerNames = { category: (x.category as string | undefined) ?? null, event_title: catalog.get(tenant, x.event_id as string)?.title ?? null };
      return { ...x, ...names };
    });
    return { ...data, organizer_name: catalog.organizerName(tenant, t.org), events, ticker };
  }
  // A venue's aggregate is built from events already named (live/capacity.ts venueCapacity).
  if (t.kind === 'venue') return data;
  const meta = catalog.get(tenant, t.event);
  if (t.kind === 'capacity') {
    const { event_id, venue_id, ...cap } = data;
    return { event_id, venue_id: venue_id ?? meta?.venue_id ?? null, event_title: meta?.title ?? null, ...capacityWithMeta(cap as unknown as CapacityView, meta) };
  }
  const org = (meta?.organizer_id ?? data.organizer_id ?? null) as string | null;
  const names: EventNames = { event_title: meta?.title ?? null, organizer_name: org === null ? null : catalog.organizerName(tenant, org) };
  return {
    ...data,
    organizer_id: org,
    venue_id: data.venue_id ?? meta?.venue_id ?? null,
    ...names,
    capacity: capacityWithMeta(data.capacity as CapacityView, meta),
  };
}
