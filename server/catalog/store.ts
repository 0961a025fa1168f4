// The catalog in the store: one set-based statement per request and kind (sql/queries/catalog.sql), keyset
// lists by id, the live layer's event metadata, and the persons' derived stats (recompute + writer projector).
import { pageOf } from '../http/params.js';
import { idDigest } from '../identity/crypto.js';
import type { WriterHook } from '../ingest/hooks.js';
import type { Db, Queryable } from '../store/db.js';
import { queries } from '../store/queries.js';
import { iso, isoOrNull, num, type Obj } from '../store/rows.js';
import type { Kind, Rejected } from './schemas.js';

const Q = queries('catalog.sql', [
  'upsert_organizers', 'upsert_venues', 'upsert_artists', 'upsert_events', 'upsert_ticket_types', 'upsert_products',
  'rederive_event_genres', 'lock_persons', 'erased_persons', 'insert_persons', 'upsert_persons', 'recompute_person_stats', 'persons_of_events',
  'list_organizers', 'list_venues', 'list_artists', 'list_events', 'list_ticket_types', 'list_products', 'list_persons',
  'delete_organizers', 'delete_venues', 'delete_artists', 'delete_events', 'delete_ticket_types', 'delete_products', 'delete_persons',
  'event_meta',
]);

const sql = (op: 'upsert' | 'list' | 'delete', kind: Kind): string => Q[`${op}_${kind}` as keyof typeof Q];

/** What one sync request changed: ids by kind (artists may re-derive events' genres), and refusals found in the store. */
export interface UpsertResult {
  changed: Partial<Record<Kind, string[]>>;
  /** Valid items the store refused (a person erased after the item's updated_at); `index` is the position in `items`. */
  rejected: Rejected[];
}

export interface CatalogStore {
  /** Upserts the validated items of one request in one transaction; `now` stamps erased-person checks. */
  upsert(tenantId: number, kind: Kind, items: Obj[], now: Date): Promise<UpsertResult>;
  /** One page ordered by id, after the id `after`; `last` is the cursor key (the last row's id) when a next page exists, null on the last page. */
  list(tenantId: number, kind: Kind, after: string | null, limit: number): Promise<{ rows: Obj[]; last: string | null }>;
  get(tenantId: number, kind: Kind, id: string): Promise<Obj | null>;
  /** Deletes one item (for persons: drops their synced attributes); the ids removed. */
  remove(tenantId: number, kind: Kind, id: string): Promise<string[]>;
}

/** A catalog row as the API shows it: ISO timestamps, numbers for numeric columns. Pure. */
export function itemView(kind: Kind, r: Obj): Obj {
  const out: Obj = { ...r, updated_at: isoOrNull(r.updated_at), synced_at: isoOrNull(r.synced_at) };
  if ('price' in r) out.price = num(r.price);
  if (kind === 'events') Object.assign(out, { starts_at: isoOrNull(r.starts_at), ends_at: isoOrNull(r.ends_at) });
  if (kind === 'persons') {
    Object.assign(out, {
      person_id: num(r.person_id), marketing_consent_at: isoOrNull(r.marketing_consent_at), last_purchase_at: isoOrNull(r.last_purchase_at),
      avg_order_value: num(r.avg_order_value),
    });
  }
  return out;
}

async function upsertPersons(q: Queryable, tenantId: number, items: Obj[], now: Date): Promise<UpsertResult> {
  const ids = items.map((i) => i.id as string);
  await q.query(Q.lock_persons, [tenantId, ids]);
  // A sync that predates an erasure must not bring the person back (identity stitching applies the same rule).
  const digests = ids.map((id) => idDigest(tenantId, 'external', id));
  const tombs = (await q.query<{ external_sha256: string; erased_at: Date | string }>(Q.erased_persons, [tenantId, digests])).rows;
  const erasedAt = new Map(tombs.map((t) => [t.external_sha256, Date.parse(iso(t.erased_at))]));
  const rejected: Rejected[] = [];
  const keep = items.filter((item, i) => {
    const at = erasedAt.get(digests[i]);
    const stamp = typeof item.updated_at === 'string' ? Date.parse(item.updated_at) : now.getTime();
    if (at === undefined || stamp > at) return true;
    rejected.push({ index: i, id: ids[i], errors: [{ code: 'person_erased', field: 'id', message: 'This person was erased after this item was last updated; nothing is stored about them.' }] });
    return false;
  });
  if (keep.length === 0) return { changed: {}, rejected };
  const created = (await q.query<{ id: string }>(Q.insert_persons, [tenantId, keep.map((i) => i.id)])).rows.map((r) => r.id);
  const rows = (await q.query<{ id: string; person_id: string; changed: boolean | null }>(Q.upsert_persons, [tenantId, JSON.stringify(keep)])).rows;
  // A removed override gets its derived value back now, not at the next scheduled recompute.
  await recomputePersonStats(q, tenantId, rows.map((r) => Number(r.person_id)));
  const changed = [...new Set([...created, ...rows.filter((r) => r.changed === true).map((r) => r.id)])];
  return { changed: { persons: changed }, rejected };
}

export function createCatalogStore(db: Db): CatalogStore {
  return {
    upsert(tenantId, kind, items, now) {
      if (items.length === 0) return Promise.resolve({ changed: {}, rejected: [] });
      return db.tx(async (q) => {
        if (kind === 'persons') return upsertPersons(q, tenantId, items, now);
        // In id order, so two concurrent syncs of overlapping ids lock their rows in the same order (no deadlock).
        const sorted = [...items].sort((a, b) => ((a.id as string) < (b.id as string) ? -1 : (a.id as string) > (b.id as string) ? 1 : 0));
        const rows = (await q.query<{ id: string; changed: boolean }>(sql('upsert', kind), [tenantId, JSON.stringify(sorted)])).rows;
        const ids = rows.filter((r) => r.changed === true).map((r) => r.id);
        const changed: UpsertResult['changed'] = { [kind]: ids };
        if (kind === 'artists' && ids.length) {
          const events = (await q.query<{ id: string }>(Q.rederive_event_genres, [tenantId, ids])).rows.map((r) => r.id);
          if (events.length) changed.events = events;
        }
        return { changed, rejected: [] };
      });
    },
    async list(tenantId, kind, after, limit) {
      const page = pageOf((await db.query<Obj>(sql('list', kind), [tenantId, after, null, limit + 1])).rows, limit);
      return { rows: page.rows.map((r) => itemView(kind, r)), last: page.more ? String(page.rows[page.rows.length - 1].id) : null };
    },
    async get(tenantId, kind, id) {
      const r = (await db.query<Obj>(sql('list', kind), [tenantId, null, id, 1])).rows[0];
      return r ? itemView(kind, r) : null;
    },
    remove(tenantId, kind, id) {
      return db.tx(async (q) => {
        const rows = (await q.query<{ id: string; person_id?: string }>(sql('delete', kind), [tenantId, id])).rows;
        if (kind === 'persons' && rows.length) await recomputePersonStats(q, tenantId, rows.map((r) => Number(r.person_id)));
        return rows.map((r) => r.id);
      });
    },
  };
}

/** What the live layer needs of an event (names, capacity, gates, ownership). */
export interface EventMeta {
  id: string;
  organizer_id: string | null;
  organizer_name: string | null;
  title: string | null;
  venue_id: string | null;
  /** The event's capacity, else its venue's. */
  capacity: number | null;
  gates: { id: string; name: string | null; capacity: number | null }[];
  starts_at: string | null;
  status: string | null;
}

/** The catalog metadata of `eventIds` (those in the catalog; one set-based query joining organizer and venue). */
export async function getEventMeta(q: Queryable, tenantId: number, eventIds: string[]): Promise<EventMeta[]> {
  if (eventIds.length === 0) return [];
  const { rows } = await q.query<Obj>(Q.event_meta, [tenantId, eventIds]);
  return rows.map((r) => ({
    id: String(r.id),
    organizer_id: (r.organizer_id as string | null) ?? null,
    organizer_name: (r.organizer_name as string | null) ?? null,
    title: (r.title as string | null) ?? null,
    venue_id: (r.venue_id as string | null) ?? null,
    capacity: num(r.capacity),
    gates: Array.isArray(r.gates) ? (r.gates as EventMeta['gates']) : [],
    starts_at: isoOrNull(r.starts_at),
    status: (r.status as string | null) ?? null,
  }));
}

/**
 * Recomputes the persons' derived attributes (orders, events attended, last purchase, average order value,
 * marketing consent from their latest order) from the stored events, set-based; synced fields stay, except a
 * synced marketing consent that a later order's consent supersedes (the newest statement wins). All
 * persons of `tenantId` (all tenants when null), or only `personIds`. Returns how many persons changed.
 * The writer projector keeps it current for new orders and entries; a scheduled run catches what the
 * projector cannot see (events linked to a person later by identity stitching, erasures).
 */
export async function recomputePersonStats(q: Queryable, tenantId: number | null = null, personIds: number[] | null = null): Promise<number> {
  if (personIds && personIds.length === 0) return 0;
  return (await q.query<{ n: number }>(Q.recompute_person_stats, [tenantId, personIds])).rows[0].n;
}

const STAT_EVENTS = new Set(['order_completed', 'entry_granted']);

/**
 * Writer projector: the persons of newly stored orders and entries get their stats recomputed in the commit's
 * transaction. Two set-based queries per commit with such rows; idempotent (a recompute, not an increment).
 * Declared after identity's projectors, so events stitched in this commit carry their person.
 */
export const personStatsProjector: WriterHook = {
  name: 'catalog.person_stats',
  async run(q, rows) {
    const hits = rows.filter((r) => STAT_EVENTS.has(r.event_name));
    if (hits.length === 0) return;
    const persons = (await q.query<{ person_id: string }>(Q.persons_of_events, [hits.map((r) => r.tenant_id), hits.map((r) => r.event_id)])).rows;
    await recomputePersonStats(q, null, persons.map((p) => Number(p.person_id)));
  },
};
