// The live layer's view of the tenant's catalog (issue 11.3, README "Live layer"): per catalog event its
// organizer (the owner of highest precedence, owners.ts), title, organizer name, venue capacity and gates.
// Snapshots gain names (event_title, organizer_name, gates[id].name, ticker category) and, when scanners send
// no capacity, the venue's; field names that existed stay as they were. The metadata is kept in memory for
// the events that are not over (read set-based at start, then on each catalog change, which every node hears
// of over the bus and re-reads from the store: the store is the record, the bus message only names ids).
// Order categories are read in the writer's transaction (one query per commit with orders), like owners.
import type { Logger } from 'pino';
import type { Queryable } from '../store/db.js';
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
/** Bounds the memory one tenant's catalog can take here (restore_meta reads at most as many). */
const META_MAX = 100_000;

export interface LiveCatalog {
  get(tenant: number, event: string): EventMeta | undefined;
  /** An organizer's name in the catalog (null when the catalog has none, or no such organizer). */
  organizerName(tenant: number, org: string): string | null;
  /** Re-reads the metadata a change may alter. Returns the metas read and the event ids the catalog no longer has. */
  reload(q: Queryable, c: CatalogChange): Promise<{ metas: EventMeta[]; removed: string[] }>;
  /** At start: the events that are not over on `day`, and those of `live` (today's live state). */
  restore(q: Queryable, day: string, live: { tenant: number; event: string }[]): Promise<EventMeta[]>;
  /** Writer projector: reads the categories of the ticket types of newly committed orders. */
  project(q: Queryable, rows: EventRow[]): Promise<void>;
  /** After the commit: the order row's category (null when the catalog has none). */
  categoryOf(row: EventRow): string | null;
}

export function createLiveCatalog(deps: { log: Logger }): LiveCatalog {
  const metas = new Map<string, EventMeta>();
  const orgNames = new Map<string, string>();
  const categories = new WeakMap<EventRow, string | null>();

  // Every catalog organizer's name (organizer_names at start, organizer_names_of on a change), not only those
  // of events held here: an organizer without catalog events showed null. Bounded like the metadata.
  const putName = (tenant: number, org: string, name: string | null) => {
    if (name !== null && (orgNames.size < META_MAX || orgNames.has(keyOf(tenant, org)))) orgNames.set(keyOf(tenant, org), name);
  };
  const put = (m: EventMeta) => {
    if (metas.size >= META_MAX && !metas.has(keyOf(m.tenant, m.id))) {
      deps.log.warn({ max: META_MAX }, 'live: catalog metadata limit reached; further events show without names');
      return;
    }
    metas.set(keyOf(m.tenant, m.id), m);
    if (m.organizer_id !== null) putName(m.tenant, m.organizer_id, m.organizer_name);
  };

  return {
    get: (tenant, event) => metas.get(keyOf(tenant, event)),
    organizerName: (tenant, org) => orgNames.get(keyOf(tenant, org)) ?? null,
    async reload(q, c) {
      const t = changeTargets(c);
      if (!t) return { metas: [], removed: [] };
      const { rows } = await q.query<Record<string, unknown>>(Q.event_meta, [c.tenantId, t.events, t.organizers, t.venues]);
      const read = rows.map(metaFromRow);
      const seen = new Set(read.map((m) => m.id));
      const removed = t.events.filter((id) => !seen.has(id));
      for (const id of removed) metas.delete(keyOf(c.tenantId, id));
      // A renamed or deleted organizer: its name is read again, with or without events (a deleted one has none).
      for (const id of t.organizers) orgNames.delete(keyOf(c.tenantId, id));
      if (t.organizers.length > 0) {
        const names = await q.query<Record<string, unknown>>(Q.organizer_names_of, [c.tenantId, t.organizers]);
        for (const r of names.rows) putName(Number(r.tenant_id), String(r.id), str(r.name));
      }
      for (const m of read) put(m);
      return { metas: read, removed };
    },
    async restore(q, day, live) {
      const { rows } = await q.query<Record<string, unknown>>(Q.restore_meta, [`${day}T00:00:00.000Z`, live.map((l) => l.tenant), live.map((l) => l.event)]);
      const { rows: names } = await q.query<Record<string, unknown>>(Q.organizer_names, []);
      metas.clear();
      orgNames.clear();
      for (const r of names) putName(Number(r.tenant_id), String(r.id), str(r.name));
      const read = rows.map(metaFromRow);
      for (const m of read) put(m);
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
