// The live layer's view of the tenant's catalog (issue 11.3, README "Live layer"): per catalog event its
// organizer (the owner of highest precedence, owners.ts), title, organizer name, venue capacity and gates.
// Snapshots gain names (event_title, organizer_name, gates[id].name, ticker category) and, when scanners send
// no capacity, the venue's; field names that existed stay as they were. The metadata is kept in memory for
// the events that are not over, today's live ones and those a topic read (read set-based at start, then on each
// catalog change, which every node hears of over the bus and re-reads from the store: the store is the record,
// the bus message only names ids), at most LIVE_CATALOG_MAX in all: past it the least recently used of the
// tenant holding the most go (TenantLru), so no tenant's catalog crowds out another's.
// Order categories are read in the writer's transaction (one query per commit with orders), like owners.
import type { Logger } from 'pino';
import type { Queryable } from '../store/db.js';
import { onceEvery } from './limits.js';
import type { EventRow } from '../store/events.js';
import { iso } from '../store/rows.js';
import { queries } from '../store/queries.js';
import { eventCapacity, pct, type CapacityView, type GateView } from './capacity.js';
import { entityId } from './facts.js';

const Q = queries('live-catalog.sql', ['event_meta', 'restore_meta', 'organizer_names', 'organizer_names_of', 'ticket_categories']);

/** What the catalog adds to topic data (client/live/types.ts; wire.typecheck.ts keeps them in step). */
export interface EventNames {
  event_title: string | null;
  organizer_name: string | null;
}
export type NamedGateView = GateView & { name: string | null };
export interface TickerNames {
  category: string | null;
  event_title: string | null;
}

export interface GateMeta {
  id: string;
  name: string | null;
  capacity: number | null;
}

export interface EventMeta {
  tenant: number;
  id: string;
  organizer_id: string | null;
  organizer_name: string | null;
  title: string | null;
  venue_id: string | null;
  /** The event's artists (issue 18: an artist token reads these events); absent when it has none. */
  artist_ids?: string[];
  capacity: number | null;
  gates: GateMeta[];
  starts_at: string | null;
  status: string | null;
}

/** What a catalog change names (server/catalog calls deps.onChange after each upsert or delete). */
export interface CatalogChange {
  tenantId: number;
  kind: string;
  ids: string[];
}

/** The ids whose events' metadata a change may alter; null for kinds the live layer does not show. */
export function changeTargets(c: CatalogChange): { events: string[]; organizers: string[]; venues: string[] } | null {
  const ids = c.ids.filter((id) => typeof id === 'string');
  switch (c.kind) {
    case 'events':
      return { events: ids, organizers: [], venues: [] };
    case 'organizers':
      return { events: [], organizers: ids, venues: [] };
    case 'venues':
      return { events: [], organizers: [], venues: ids };
    default:
      // ticket_types: a category is read when an order commits; artists, products, persons: not shown live.
      return null;
  }
}

const posInt = (v: unknown): number | null => {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? n : null;
};
const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

/** A row of event_meta / restore_meta → EventMeta; gates that are not {id} objects are skipped. Pure. */
export function metaFromRow(r: Record<string, unknown>): EventMeta {
  const gates = Array.isArray(r.gates) ? (r.gates as unknown[]) : [];
  return {
    tenant: Number(r.tenant_id),
    id: String(r.id),
    organizer_id: str(r.organizer_id),
    organizer_name: str(r.organizer_name),
    title: str(r.title),
    venue_id: str(r.venue_id),
    capacity: posInt(r.capacity),
    gates: gates.flatMap((g) => {
      const o = g !== null && typeof g === 'object' ? (g as Record<string, unknown>) : null;
      const id = o ? entityId(o.id) : null;
      return id === null ? [] : [{ id, name: str(o!.name), capacity: posInt(o!.capacity) }];
    }),
    starts_at: r.starts_at == null ? null : iso(r.starts_at),
    status: str(r.status),
    ...(Array.isArray(r.artist_ids) && r.artist_ids.length > 0 ? { artist_ids: (r.artist_ids as unknown[]).map(String) } : {}),
  };
}

/**
 * Capacity with the catalog filled in where scanners sent nothing: a gate's capacity from the venue's gate
 * (a scanner-stated one wins, gate by gate), the event's by capacity.ts eventCapacity (the one rule for every
 * topic, the REST mirror and the venue aggregate); percent = inside / capacity. Each gate gains `name`. Pure.
 */
export function capacityWithMeta(cap: CapacityView, meta: EventMeta | undefined): CapacityView {
  if (!meta) return cap;
  const byId = new Map(meta.gates.map((g) => [g.id, g]));
  // Null prototype: a gate id `__proto__` is kept as a key (see capacityView).
  const gates: Record<string, NamedGateView> = Object.create(null);
  const lines: { scanner: number | null; catalog: number | null }[] = [];
  for (const [id, g] of Object.entries(cap.gates)) {
    const m = byId.get(id);
    const capacity = g.capacity ?? m?.capacity ?? null;
    gates[id] = { ...g, capacity, percent: g.percent ?? pct(g.inside, capacity), name: m?.name ?? null };
    lines.push({ scanner: g.capacity, catalog: m?.capacity ?? null });
  }
  // A catalog gate no scanner has reported yet (doors just opened, a quiet side gate) is shown empty, and its
  // capacity counts: leaving it out made the event's capacity the open gates' only, and its fill overstated.
  const unseen = meta.gates.filter((m) => !(m.id in gates));
  for (const m of unseen) {
    gates[m.id] = { inside: 0, entries: 0, denied: 0, rate_per_minute: 0, capacity: m.capacity, percent: pct(0, m.capacity), updated_at: null, name: m.name };
    lines.push({ scanner: null, catalog: m.capacity });
  }
  const sorted: Record<string, NamedGateView> = Object.create(null);
  if (unseen.length > 0) for (const id of Object.keys(gates).sort()) sorted[id] = gates[id];
  // The scanners' venue_capacity comes first. cap.capacity is it, or the sum when every gate the scanners
  // reported stated its own: with catalog gates added that sum no longer covers the gates shown.
  const capacity = eventCapacity(unseen.length > 0 ? (cap.venue_capacity ?? null) : cap.capacity, lines, meta);
  return { ...cap, capacity, percent: pct(cap.inside, capacity), gates: unseen.length > 0 ? sorted : gates };
}

/** The distinct catalog categories of an order's items (sorted, ', '-joined), or null. Pure. */
export function orderCategory(tenant: number, payload: Record<string, unknown> | null | undefined, categories: Map<string, string>): string | null {
  const items = Array.isArray(payload?.items) ? (payload!.items as unknown[]) : [];
  const found = new Set<string>();
  for (const it of items) {
    const id = it !== null && typeof it === 'object' ? entityId((it as Record<string, unknown>).ticket_type_id) : null;
    const c = id === null ? undefined : categories.get(`${tenant}\u0000${id}`);
    if (c !== undefined) found.add(c);
  }
  return found.size === 0 ? null : [...found].sort().join(', ');
}

const keyOf = (tenant: number, id: string) => `${tenant}\u0000${id}`;
/** Bounds the memory of the catalog's copy on a node, all tenants together (LIVE_CATALOG_MAX). */
const META_MAX = 100_000;
/** The limit is logged at most once per this long (with how many entries went meanwhile), not once per entry. */
export const LIMIT_LOG_MS = 60_000;

/**
 * Per-tenant entries, at most `max` in all. A new entry is always taken in: when full, the least recently used
 * entry of the tenant holding the most goes (its own when the tenant adding is one of the largest), so a tenant
 * holding no more than an equal share of `max` never loses an entry to another. get and set make an entry the
 * most recently used. O(1) per call.
 */
export class TenantLru<V> {
  /** Per tenant, its entries from the least to the most recently used (a Map keeps insertion order). */
  private readonly tenants = new Map<number, Map<string, V>>();
  /** Tenants by how many entries they hold, and the most any holds: finds the largest in O(1). */
  private readonly bySize = new Map<number, Set<number>>();
  private top = 0;
  size = 0;

  constructor(
    readonly max: number,
    private readonly onEvict: (tenant: number) => void,
  ) {}

  get(tenant: number, id: string): V | undefined {
    const m = this.tenants.get(tenant);
    const v = m?.get(id);
    if (v !== undefined) {
      m!.delete(id);
      m!.set(id, v);
    }
    return v;
  }

  has(tenant: number, id: string): boolean {
    return this.tenants.get(tenant)?.has(id) ?? false;
  }

  set(tenant: number, id: string, v: V): void {
    const held = this.tenants.get(tenant);
    if (held?.has(id)) {
      held.delete(id);
      held.set(id, v);
      return;
    }
    if (this.size >= this.max) this.evictOne(tenant);
    let m = this.tenants.get(tenant);
    if (!m) this.tenants.set(tenant, (m = new Map()));
    m.set(id, v);
    this.size++;
    this.resized(tenant, m.size - 1, m.size);
  }

  delete(tenant: number, id: string): void {
    const m = this.tenants.get(tenant);
    if (!m?.delete(id)) return;
    this.size--;
    this.resized(tenant, m.size + 1, m.size);
    if (m.size === 0) this.tenants.delete(tenant);
  }

  clear(): void {
    this.tenants.clear();
    this.bySize.clear();
    this.top = 0;
    this.size = 0;
  }

  private evictOne(adding: number): void {
    const largest = this.bySize.get(this.top);
    if (!largest) return;
    const tenant = largest.has(adding) ? adding : (largest.values().next().value as number);
    const id = this.tenants.get(tenant)!.keys().next().value as string;
    this.delete(tenant, id);
    this.onEvict(tenant);
  }

  /** A tenant's count moved by one (from → to). */
  private resized(tenant: number, from: number, to: number): void {
    const was = this.bySize.get(from);
    if (was) {
      was.delete(tenant);
      if (was.size === 0) this.bySize.delete(from);
    }
    if (to > 0) {
      let now = this.bySize.get(to);
      if (!now) this.bySize.set(to, (now = new Set()));
      now.add(tenant);
    }
    if (to > this.top) this.top = to;
    else if (from === this.top && !this.bySize.has(from)) this.top = to;
  }
}

/**
 * Whether a catalog row's event is over before `dayStart` (epoch ms): restore_meta's rule, its `ends_at`, else
 * its `starts_at` + 1 day, before it; an event with neither is never over. Pure.
 */
export function overBefore(r: Record<string, unknown>, dayStart: number): boolean {
  const end = r.ends_at != null ? Date.parse(iso(r.ends_at)) : r.starts_at != null ? Date.parse(iso(r.starts_at)) + 86_400_000 : Infinity;
  return end < dayStart;
}

export interface LiveCatalog {
  get(tenant: number, event: string): EventMeta | undefined;
  /** An organizer's name in the catalog (null when the catalog has none, or no such organizer). */
  organizerName(tenant: number, org: string): string | null;
  /**
   * Re-reads the metadata a change may alter. Returns the metas read and the event ids the catalog no longer
   * has. Of the metas read, this node keeps those it held, those `keep` names (a topic reads them, they have live
   * state today) and, for a change of `events`, those not over on `day`: a sync of events long over (a history)
   * does not push out the current ones; one of their topics reads them when it is read.
   */
  reload(q: Queryable, c: CatalogChange, opts: { day: string; keep?(id: string): boolean }): Promise<{ metas: EventMeta[]; removed: string[] }>;
  /** At start: the events that are not over on `day`, and those of `live` (today's live state). */
  restore(q: Queryable, day: string, live: { tenant: number; event: string }[]): Promise<EventMeta[]>;
  /**
   * Whether this node's copy may lack catalog events of the tenant (some were evicted, or restore read as many as
   * it may): a topic's event not held is then read from the store even when it has live state.
   */
  lacks(tenant: number): boolean;
  /** Writer projector: reads the categories of the ticket types of newly committed orders. */
  project(q: Queryable, rows: EventRow[]): Promise<void>;
  /** After the commit: the order row's category (null when the catalog has none). */
  categoryOf(row: EventRow): string | null;
}

/**
 * `max` (LIVE_CATALOG_MAX): events' metadata held at most, all tenants together, and as many organizer names;
 * past it the least useful go (TenantLru), never the entry being added.
 */
export function createLiveCatalog(deps: { log: Logger; max?: number; now?: () => number }): LiveCatalog {
  const max = deps.max ?? META_MAX;
  const now = deps.now ?? Date.now;
  /** Tenants whose copy may lack catalog events (see lacks). */
  const lacking = new Set<number>();
  const limitLog = (what: string) => {
    let evicted = 0;
    const due = onceEvery(LIMIT_LOG_MS, now);
    return (tenant: number) => {
      if (what === 'events') lacking.add(tenant);
      evicted++;
      if (!due()) return;
      deps.log.warn({ max, evicted, what }, 'live: catalog metadata limit reached; the least recently used of the tenant holding the most are evicted (read again from the store when a topic needs them)');
      evicted = 0;
    };
  };
  const metas = new TenantLru<EventMeta>(max, limitLog('events'));
  const orgNames = new TenantLru<string>(max, limitLog('organizer names'));
  const categories = new WeakMap<EventRow, string | null>();

  // Every catalog organizer's name (organizer_names at start, organizer_names_of on a change), not only those
  // of events held here: an organizer without catalog events showed null. Bounded like the metadata.
  const putName = (tenant: number, org: string, name: string | null) => {
    if (name !== null) orgNames.set(tenant, org, name);
  };
  const put = (m: EventMeta) => {
    metas.set(m.tenant, m.id, m);
    if (m.organizer_id !== null) putName(m.tenant, m.organizer_id, m.organizer_name);
  };

  return {
    get: (tenant, event) => metas.get(tenant, event),
    organizerName: (tenant, org) => orgNames.get(tenant, org) ?? null,
    lacks: (tenant) => lacking.has(tenant),
    async reload(q, c, opts) {
      const t = changeTargets(c);
      if (!t) return { metas: [], removed: [] };
      const { rows } = await q.query<Record<string, unknown>>(Q.event_meta, [c.tenantId, t.events, t.organizers, t.venues]);
      const read = rows.map(metaFromRow);
      const seen = new Set(read.map((m) => m.id));
      const removed = t.events.filter((id) => !seen.has(id));
      for (const id of removed) metas.delete(c.tenantId, id);
      // A renamed or deleted organizer: its name is read again, with or without events (a deleted one has none).
      for (const id of t.organizers) orgNames.delete(c.tenantId, id);
      if (t.organizers.length > 0) {
        const names = await q.query<Record<string, unknown>>(Q.organizer_names_of, [c.tenantId, t.organizers]);
        for (const r of names.rows) putName(Number(r.tenant_id), String(r.id), str(r.name));
      }
      const dayStart = Date.parse(`${opts.day}T00:00:00.000Z`);
      read.forEach((m, i) => {
        if (metas.has(m.tenant, m.id) || opts.keep?.(m.id) || (c.kind === 'events' && !overBefore(rows[i], dayStart))) put(m);
      });
      return { metas: read, removed };
    },
    async restore(q, day, live) {
      // At most `max` per tenant, the least useful first (restore_meta): put in that order, the most useful (today's
      // live events, then the soonest) are the most recently used, the last the limit would evict.
      const { rows } = await q.query<Record<string, unknown>>(Q.restore_meta, [`${day}T00:00:00.000Z`, live.map((l) => l.tenant), live.map((l) => l.event), max]);
      const { rows: names } = await q.query<Record<string, unknown>>(Q.organizer_names, [max]);
      metas.clear();
      orgNames.clear();
      lacking.clear();
      for (const r of names) putName(Number(r.tenant_id), String(r.id), str(r.name));
      const read = rows.map(metaFromRow);
      const perTenant = new Map<number, number>();
      for (const m of read) {
        put(m);
        perTenant.set(m.tenant, (perTenant.get(m.tenant) ?? 0) + 1);
      }
      // A tenant read up to the limit may have more events not over than were read.
      for (const [tenant, n] of perTenant) if (n >= max) lacking.add(tenant);
      return read;
    },
    async project(q, rows) {
      const orders = rows.filter((r) => !r.is_bot && r.event_name === 'order_completed');
      if (orders.length === 0) return;
      const keys = new Map<string, [number, string]>();
      for (const r of orders) {
        const items = Array.isArray(r.payload?.items) ? (r.payload.items as unknown[]) : [];
        for (const it of items) {
          const id = it !== null && typeof it === 'object' ? entityId((it as Record<string, unknown>).ticket_type_id) : null;
          if (id !== null) keys.set(keyOf(Number(r.tenant_id), id), [Number(r.tenant_id), id]);
        }
      }
      const found = new Map<string, string>();
      if (keys.size > 0) {
        const list = [...keys.values()];
        const { rows: cats } = await q.query<{ tenant_id: string; id: string; category: string }>(Q.ticket_categories, [list.map((k) => k[0]), list.map((k) => k[1])]);
        for (const c of cats) found.set(keyOf(Number(c.tenant_id), c.id), c.category);
      }
      for (const r of orders) categories.set(r, orderCategory(Number(r.tenant_id), r.payload, found));
    },
    categoryOf: (row) => categories.get(row) ?? null,
  };
}
