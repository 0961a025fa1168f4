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
  'events_of_artists', 'lock_events', 'rederive_event_genres', 'lock_persons', 'erased_persons', 'insert_persons', 'upsert_persons', 'recompute_person_stats', 'persons_of_events',
  'list_organizers', 'list_venues', 'list_venue_sizes', 'list_artists', 'list_events', 'list_ticket_types', 'list_products', 'list_persons',
  'delete_organizers', 'delete_venues', 'delete_artists', 'delete_events', 'delete_ticket_types', 'delete_products', 'delete_persons',
  'event_meta', 'event_known',
]);

const sql = (op: 'upsert' | 'list' | 'delete', kind: Kind): string => Q[`${op}_${kind}` as keyof typeof Q];

/** What one sync request changed: ids by kind (artists may re-derive events' genres), and refusals found in the store. */
export interface UpsertResult {
  changed: Partial<Record<Kind, string[]>>;
  /** Valid items the store refused (a person erased after the item's updated_at); `index` is the position in `items`. */
  rejected: Rejected[];
}

export interface CatalogStore {
  /**
   * Upserts the validated items of one request: persons in one transaction; the other kinds in several when they
   * are large (CATALOG_BYTES_PER_TX) or their derived genres cost much (GENRE_REFS_PER_TX; an artist change's
   * re-derivation of its events' genres may continue in more); `now` stamps erased-person checks.
   */
  upsert(tenantId: number, kind: Kind, items: Obj[], now: Date): Promise<UpsertResult>;
  /** One page ordered by id, after the id `after`; `last` is the cursor key (the last row's id) when a next page exists, null on the last page. */
  list(tenantId: number, kind: Kind, after: string | null, limit: number): Promise<{ rows: Obj[]; last: string | null }>;
  get(tenantId: number, kind: Kind, id: string): Promise<Obj | null>;
  /** Deletes one item (for persons: drops their synced attributes; for artists: their events derive genres again); the ids removed. */
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

/**
 * Deriving events' genres costs about a row per (event, artist, genre) of the union (upsert_events,
 * rederive_event_genres): a sync within the documented limits (1000 events of 200 artists with 50 genres each) is
 * 10 million rows, 9–16 s on the embedded store in one transaction, while every tenant's ingest waited for its one
 * session. So that work goes in batches of at most this many artist references (≤ 50 genres each: ≤ 100,000 rows,
 * ≈ 0.1 s there), each its own transaction. An artist list shared by events of a batch (a tour's) is derived once
 * and counts once; each event counts 1 more. bench/catalog-genres.ts measures it (bench/RESULTS.md).
 */
export const GENRE_REFS_PER_TX = 2000;

/** `items` in order, cut into batches whose derivation work (`work`: the item's artist list, or null) stays within `budget`. Pure. */
export function genreBatches<T>(items: readonly T[], work: (item: T) => { key: string | number; refs: number } | null, budget = GENRE_REFS_PER_TX): T[][] {
  const out: T[][] = [];
  let batch: T[] = [];
  let lists = new Set<string | number>();
  let used = 0;
  for (const item of items) {
    const w = work(item);
    let cost = 1 + (w && !lists.has(w.key) ? w.refs : 0);
    if (batch.length && used + cost > budget) {
      out.push(batch);
      batch = [];
      lists = new Set();
      used = 0;
      cost = 1 + (w ? w.refs : 0);
    }
    batch.push(item);
    if (w) lists.add(w.key);
    used += cost;
  }
  if (batch.length) out.push(batch);
  return out;
}

/**
 * A catalog write loses a lock-order race now and then on a PostgreSQL server (deadlock detected, could not
 * serialize) with a concurrent writer outside the catalog's own order (the writer's person stats projector,
 * identity stitching): its transaction rolled back whole, so it is run again once rather than answered 500.
 */
const RETRYABLE_SQLSTATE = new Set(['40P01', '40001']);
const retryable = (err: unknown) => RETRYABLE_SQLSTATE.has(String((err as { code?: unknown })?.code ?? ''));

/** `db.tx`, run once more when it lost such a race; `fn` must keep its effects in its result (it may run twice). */
export async function catalogTx<T>(db: Pick<Db, 'tx'>, fn: (q: Queryable) => Promise<T>): Promise<T> {
  try {
    return await db.tx(fn);
  } catch (err) {
    if (!retryable(err)) throw err;
    return db.tx(fn);
  }
}

/** In id order, so two concurrent syncs of overlapping ids lock their rows in the same order (no deadlock). */
const byId = (items: Obj[]): Obj[] => [...items].sort((a, b) => ((a.id as string) < (b.id as string) ? -1 : (a.id as string) > (b.id as string) ? 1 : 0));

/**
 * Runs `write` in a transaction (it changes or deletes artists: their ids) and derives again the genres of the
 * events that derive theirs from those artists (a deleted artist no longer counts): the first batch in that same
 * transaction, the others after it, each in its own (GENRE_REFS_PER_TX), so other statements get the embedded
 * store's session in between. Returns the artists and the events whose genres changed. Should a later batch fail,
 * its events keep their genres until one of their artists changes again or they are synced again.
 */
async function withRederivedGenres(db: Db, tenantId: number, write: (q: Queryable) => Promise<string[]>): Promise<{ artists: string[]; events: string[] }> {
  // The events are locked in id order first (lock_events): concurrent artist syncs sharing events wait for each
  // other instead of deadlocking, and the one that waited derives from the other's committed genres.
  const rederive = async (q: Queryable, ids: string[]) => {
    await q.query(Q.lock_events, [tenantId, ids]);
    return (await q.query<{ id: string }>(Q.rederive_event_genres, [tenantId, ids])).rows.map((r) => r.id);
  };
  const first = await catalogTx(db, async (q) => {
    const artists = await write(q);
    if (artists.length === 0) return { artists, events: [] as string[], later: [] as string[][] };
    const deriving = (await q.query<{ id: string; n: number; k: number }>(Q.events_of_artists, [tenantId, artists])).rows;
    const [batch, ...later] = genreBatches(deriving, (e) => ({ key: `${e.k}:${e.n}`, refs: Number(e.n) })).map((b) => b.map((e) => e.id));
    return { artists, events: batch ? await rederive(q, batch) : [], later };
  });
  const events = [...first.events];
  for (const ids of first.later) events.push(...(await catalogTx(db, (q) => rederive(q, ids))));
  return { artists: first.artists, events };
}

/** Artists and events: the derived genres' work in bounded transactions (GENRE_REFS_PER_TX). */
async function upsertWithGenres(db: Db, tenantId: number, kind: 'artists' | 'events', items: Obj[]): Promise<UpsertResult> {
  const upsert = async (q: Queryable, batch: Obj[]) =>
    (await q.query<{ id: string; changed: boolean }>(sql('upsert', kind), [tenantId, JSON.stringify(batch)])).rows.filter((r) => r.changed === true).map((r) => r.id);
  if (kind === 'artists') {
    const { artists, events } = await withRederivedGenres(db, tenantId, (q) => upsert(q, byId(items)));
    return { changed: events.length ? { artists, events } : { artists }, rejected: [] };
  }
  // An event without genres derives them from its artists: a sync whose derivations cost more than one batch's work
  // is stored in several transactions, in id order.
  const derives = (i: Obj) => (i.genres == null && Array.isArray(i.artist_ids) ? { key: JSON.stringify(i.artist_ids), refs: i.artist_ids.length } : null);
  const ids: string[] = [];
  for (const batch of genreBatches(byId(items), derives)) ids.push(...(await catalogTx(db, (q) => upsert(q, batch))));
  return { changed: { events: ids }, rejected: [] };
}

/**
 * The JSON text of the items sent to one upsert of organizers, venues, ticket types or products: a sync within the
 * documented limits (1000 venues of 500 gates: 6.4 MB) took 7–15 s in one statement on the embedded store, and
 * every tenant's ingest waited for its one session. In transactions of at most this much (≈ 0.15 s there), ingest
 * runs in between. An item larger than this goes alone.
 */
export const CATALOG_BYTES_PER_TX = 128 * 1024;

/** `items` in order as JSON arrays of at most `budget` characters each (an item larger than that alone). Pure. */
export function jsonBatches(items: readonly Obj[], budget = CATALOG_BYTES_PER_TX): string[] {
  const out: string[] = [];
  let batch: string[] = [];
  let used = 0;
  for (const item of items) {
    const json = JSON.stringify(item);
    if (batch.length && used + json.length + 1 > budget) {
      out.push(`[${batch.join(',')}]`);
      batch = [];
      used = 0;
    }
    batch.push(json);
    used += json.length + 1;
  }
  if (batch.length) out.push(`[${batch.join(',')}]`);
  return out;
}

/** Kinds without derived work: in id order, in transactions of bounded size (CATALOG_BYTES_PER_TX). */
async function upsertPlain(db: Db, tenantId: number, kind: Exclude<Kind, 'artists' | 'events' | 'persons'>, items: Obj[]): Promise<UpsertResult> {
  const ids: string[] = [];
  for (const batch of jsonBatches(byId(items))) {
    const rows = await catalogTx(db, async (q) => (await q.query<{ id: string; changed: boolean }>(sql('upsert', kind), [tenantId, batch])).rows);
    ids.push(...rows.filter((r) => r.changed === true).map((r) => r.id));
  }
  return { changed: { [kind]: ids }, rejected: [] };
}

/**
 * The stored bytes of venues' gates read per statement of a list: a page of 1000 venues of 500 gates took 4–8 s in
 * one statement on the embedded store, ingest waiting for its one session. In parts, ingest runs in between.
 */
export const VENUE_LIST_BYTES_PER_READ = 128 * 1024;

/** `limit` venues after `after`, read in parts of bounded size, each continuing after the last id read (a keyset run). */
async function venuesInParts(db: Db, tenantId: number, after: string | null, limit: number): Promise<Obj[]> {
  const sizes = (await db.query<{ id: string; b: number | null }>(Q.list_venue_sizes, [tenantId, after, limit])).rows;
  const parts = genreBatches(sizes, (v) => ({ key: v.id, refs: Number(v.b ?? 0) }), VENUE_LIST_BYTES_PER_READ).map((p) => p.length);
  const out: Obj[] = [];
  let last = after;
  for (const n of parts) {
    const rows = (await db.query<Obj>(Q.list_venues, [tenantId, last, null, n])).rows;
    out.push(...rows);
    if (rows.length < n) break;
    last = String(rows[rows.length - 1].id);
  }
  return out;
}

export function createCatalogStore(db: Db): CatalogStore {
  return {
    upsert(tenantId, kind, items, now) {
      if (items.length === 0) return Promise.resolve({ changed: {}, rejected: [] });
      if (kind === 'artists' || kind === 'events') return upsertWithGenres(db, tenantId, kind, items);
      if (kind === 'persons') return catalogTx(db, (q) => upsertPersons(q, tenantId, items, now));
      return upsertPlain(db, tenantId, kind, items);
    },
    async list(tenantId, kind, after, limit) {
      const rows = kind === 'venues' ? await venuesInParts(db, tenantId, after, limit + 1) : (await db.query<Obj>(sql('list', kind), [tenantId, after, null, limit + 1])).rows;
      const page = pageOf(rows, limit);
      return { rows: page.rows.map((r) => itemView(kind, r)), last: page.more ? String(page.rows[page.rows.length - 1].id) : null };
    },
    async get(tenantId, kind, id) {
      const r = (await db.query<Obj>(sql('list', kind), [tenantId, null, id, 1])).rows[0];
      return r ? itemView(kind, r) : null;
    },
    async remove(tenantId, kind, id) {
      const deleted = async (q: Queryable) => {
        const rows = (await q.query<{ id: string; person_id?: string }>(sql('delete', kind), [tenantId, id])).rows;
        if (kind === 'persons' && rows.length) await recomputePersonStats(q, tenantId, rows.map((r) => Number(r.person_id)));
        return rows.map((r) => r.id);
      };
      // A deleted artist's genres leave the events deriving theirs from it (its id stays in their artist_ids).
      if (kind === 'artists') return (await withRederivedGenres(db, tenantId, deleted)).artists;
      return catalogTx(db, deleted);
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

/** Whether an event id is in the tenant's catalog or named by one of its tracked events (segments, remarketing). */
export async function eventKnown(q: Queryable, tenantId: number, eventId: string): Promise<boolean> {
  return (await q.query<Obj>(Q.event_known, [tenantId, eventId])).rows[0]?.known === true;
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
