// The feature store's jobs (README "Feature store"). Each incremental job remembers the highest tx_events.id it
// processed (fs_job_state) and works only on what rows stored since then touch: the buckets of the aggregates,
// the events (timings, attendance), the persons (affinities, ticket preferences, decision times; and the persons
// of catalog items changed since the last run, fs_catalog_seen). For each key
// it deletes the key's rows and recounts them from tx_events in one statement per chunk of keys, so a run that
// sees a key recomputes it exactly as features.full (every key) does: incremental = full.
// The watermark is the ids' horizon (ingest/projector.ts), not the highest id visible: commits of several writer
// lanes, or nodes, end in any order, so a lower id can commit after a higher one was read; the horizon waits for
// the writer commits in flight, so every id up to it is committed or gone and none is skipped.
import type { Logger } from 'pino';
import type { Job, JobContext } from '../jobs/index.js';
import { horizon } from '../ingest/projector.js';
import type { Db } from '../store/db.js';
import { queries } from '../store/queries.js';
import type { Aggregates } from './aggregates.js';
import { AFFINITY_WINDOW_DAYS, DAY_MS, refreshStart } from './model.js';
import { aggregateCutoff } from './retention.js';

const Q = queries('features.sql', [
  'job_state', 'save_job_state', 'new_span', 'new_event_keys', 'new_person_keys', 'aging_person_keys', 'arrived_person_keys', 'all_event_keys', 'all_person_keys', 'oldest_event',
  'delete_timings', 'insert_timings', 'delete_decisions', 'insert_decisions',
  'delete_affinity_artist', 'insert_affinity_artist', 'delete_affinity_genre', 'insert_affinity_genre',
  'update_quartiles', 'reband', 'delete_ticket_pref', 'insert_ticket_pref',
  'delete_attendance', 'insert_attendance', 'delete_scores', 'insert_scores', 'lock_features',
  'catalog_changes', 'catalog_change_persons', 'save_catalog_seen', 'stale_ticket_pref_keys',
]);

/** Keys per statement at most: bounds a statement's work so ingest's commits run between two chunks on the embedded store. */
export const KEY_CHUNK = 1000;
/**
 * On the embedded store (one session) a chunk holds ingest's commits back for as long as it runs, so the chunk
 * size follows each chunk's time towards this target instead of a fixed key count: a person with years of
 * events costs a thousand times one with a page view (bench/RESULTS.md "Feature store": fixed chunks of 1000
 * persons held ingest's p99 at ×6.5 while features.persons ran).
 */
export const CHUNK_TARGET_MS = 250;
const MIN_CHUNK = 10;
/**
 * Ids per key-discovery statement: after a watermark reset (or on a large backlog) one DISTINCT over every new row
 * held the embedded store's session for seconds; id ranges keep each statement short.
 */
const EMBEDDED_ID_SPAN = 50_000;
const ID_SPAN = 1_000_000;
/**
 * Rows of ticket preferences computed before migration 036 (an average without a currency) whose persons one
 * persons run recomputes at most: the first run after the upgrade takes them all unless there are more (the
 * next runs take the rest), so it equals a full recompute without waiting for the daily features.full.
 */
export const STALE_PREFS_PER_RUN = 100_000;

/** (lo, hi] id ranges of at most `span` ids covering (lastId, maxId]. Pure. */
export function idRanges(lastId: string, maxId: string, span: number): [string, string][] {
  const out: [string, string][] = [];
  const end = BigInt(maxId);
  for (let lo = BigInt(lastId); lo < end; lo += BigInt(span)) {
    const hi = lo + BigInt(span) < end ? lo + BigInt(span) : end;
    out.push([lo.toString(), hi.toString()]);
  }
  return out;
}

/** The next chunk's key count from the last one's size and time: towards `targetMs`, at most ×2 up or ÷4 down. Pure. */
export function nextChunk(size: number, tookMs: number, targetMs = CHUNK_TARGET_MS): number {
  const want = tookMs > 0 ? Math.round((size * targetMs) / tookMs) : size * 2;
  return Math.max(MIN_CHUNK, Math.min(KEY_CHUNK, size * 2, Math.max(Math.floor(size / 4), want)));
}

export interface FeatureJobsDeps {
  db: Db;
  log: Logger;
  aggregates: Aggregates;
  /** BACKFILL_DAYS: how old a newly stored row's occurred_at can be. */
  backfillDays: number;
}

interface Window {
  lastId: string;
  maxId: string;
  /** The oldest occurred_at a row stored since the last run can have. */
  low: string;
  lastRunAt: number | null;
}

type Keys = [number[], (string | number)[]];
type KeyRows = { tenant_id: string; event_entity_id?: string; person_id?: string }[];
/** A catalog item whose fingerprint changed since the persons' rows were computed (features.sql catalog_changes); null: deleted. */
type CatalogChange = { tenant_id: string; kind: 'event' | 'ticket_type'; id: string; fingerprint: string | null };

const iso = (ms: number) => new Date(ms).toISOString();
const yieldTurn = () => new Promise<void>((r) => setImmediate(r));

export interface FeatureJobs {
  jobs(): Job[];
  /** features.full's work, also for tests and the bench: every aggregate, event and person recomputed. */
  full(ctx: Pick<JobContext, 'now' | 'signal'>): Promise<number>;
  /** Timings and attendance of these events recounted (after a GDPR erasure). */
  recountEvents(tenant: number, events: string[]): Promise<void>;
  /** The tenant's fs_person_scores recomputed as of `now` (after a GDPR erasure: the others' quintiles without the person). */
  recountScores(tenant: number, now: number): Promise<void>;
  /** These persons' decision times, affinities, ticket preferences, and their tenants' scores (after pseudonymisation). */
  recountPersons(tenants: number[], persons: string[], now: number): Promise<void>;
}

export function createFeatureJobs(deps: FeatureJobsDeps): FeatureJobs {
  const { db, aggregates } = deps;
  const backfillMs = (deps.backfillDays + 2) * DAY_MS;

  /** What is new for `job` since its last run; `save` records it as seen once the work is done. */
  const windowOf = async (job: string, now: number, signal: AbortSignal): Promise<{ w: Window; save: (refreshedTo?: number) => Promise<void> }> => {
    const s = (await db.query<{ last_id: string; last_run_at: Date | string | null }>(Q.job_state, [job])).rows[0];
    const lastRunAt = s?.last_run_at ? new Date(s.last_run_at).getTime() : null;
    const low = iso(lastRunAt === null ? 0 : lastRunAt - backfillMs);
    // Every id up to it is final (ingest/projector.ts horizon); on shutdown it may return before: not saved then.
    const maxId = String(Math.max(Number(s?.last_id ?? 0), await horizon(db, () => signal.aborted)));
    signal.throwIfAborted();
    const w = { lastId: s?.last_id ?? '0', maxId, low, lastRunAt };
    return { w, save: async (to) => void (await db.query(Q.save_job_state, [job, maxId, iso(now), to === undefined ? null : iso(to)])) };
  };

  /** Runs `step` over `keys` in chunks (delete + recount in one transaction each); returns the keys done. */
  const adaptive = db.kind === 'embedded';
  // A chunk's time counts from its request for the session, queueing behind ingest's commits included: under
  // load the chunks shrink and ingest gets the session more often; idle, they grow back to full speed.
  const inChunks = async (keys: Keys, signal: AbortSignal, step: (chunk: Keys) => Promise<void>): Promise<number> => {
    let size = adaptive ? MIN_CHUNK * 10 : KEY_CHUNK;
    for (let i = 0; i < keys[0].length; ) {
      signal.throwIfAborted();
      const started = performance.now();
      await step([keys[0].slice(i, i + size), keys[1].slice(i, i + size)]);
      i += size;
      if (adaptive) size = nextChunk(size, performance.now() - started);
      await yieldTurn();
    }
    return keys[0].length;
  };

  const eventKeys = (rows: KeyRows): Keys => [rows.map((r) => Number(r.tenant_id)), rows.map((r) => r.event_entity_id!)];
  const personKeys = (rows: KeyRows): Keys => [rows.map((r) => Number(r.tenant_id)), rows.map((r) => Number(r.person_id))];
  type Distinct = Map<string, KeyRows[number]>;
  const add = (seen: Distinct, rows: KeyRows) => {
    for (const r of rows) seen.set(`${r.tenant_id}\u0000${r.event_entity_id ?? r.person_id}`, r);
  };
  /** Distinct key rows of `sql` over the window's new ids, read id range by id range (see idRanges). */
  const overNewIds = async (w: Window, sql: string): Promise<Distinct> => {
    const seen: Distinct = new Map();
    for (const [lo, hi] of idRanges(w.lastId, w.maxId, adaptive ? EMBEDDED_ID_SPAN : ID_SPAN)) {
      add(seen, (await db.query<KeyRows[number]>(sql, [lo, hi, w.low])).rows);
      await yieldTurn();
    }
    return seen;
  };
  const newEvents = async (w: Window) => eventKeys([...(await overNewIds(w, Q.new_event_keys)).values()]);
  /**
   * Persons with new rows; with `aging`, also those whose events left the affinity window since the last run or
   * whose future-dated events' time came since then; and `extra` (the persons of catalog changes, and those with
   * ticket preferences computed before migration 036).
   */
  const newPersons = async (w: Window, now: number, aging: boolean, extra: KeyRows = []) => {
    const seen = await overNewIds(w, Q.new_person_keys);
    if (aging && w.lastRunAt !== null) {
      const win = AFFINITY_WINDOW_DAYS * DAY_MS;
      add(seen, (await db.query<KeyRows[number]>(Q.aging_person_keys, [iso(w.lastRunAt - win), iso(now - win)])).rows);
      add(seen, (await db.query<KeyRows[number]>(Q.arrived_person_keys, [iso(w.lastRunAt), iso(now)])).rows);
    }
    add(seen, extra);
    return personKeys([...seen.values()]);
  };

  // Affinities read the catalog's events (artists, genres) and ticket preferences its ticket types (category,
  // price): a catalog change moves them without a new row. The persons job compares the catalog with the
  // fingerprints it last computed with (fs_catalog_seen), recomputes the persons of the changed items, and
  // records the fingerprints it read: the same idea as the price quartiles' re-band.
  const catalogChanges = async () => (await db.query<CatalogChange>(Q.catalog_changes)).rows;
  const catalogPersons = async (changes: CatalogChange[], now: number): Promise<KeyRows> => {
    if (changes.length === 0) return [];
    const of = (kind: CatalogChange['kind']) => changes.filter((c) => c.kind === kind);
    const [ev, tt] = [of('event'), of('ticket_type')];
    return (await db.query<KeyRows[number]>(Q.catalog_change_persons, [
      ev.map((c) => Number(c.tenant_id)), ev.map((c) => c.id), tt.map((c) => Number(c.tenant_id)), tt.map((c) => c.id),
      iso(now - AFFINITY_WINDOW_DAYS * DAY_MS), iso(now),
    ])).rows;
  };
  const saveCatalogSeen = async (changes: CatalogChange[]) => {
    if (changes.length === 0) return;
    await db.query(Q.save_catalog_seen, [changes.map((c) => Number(c.tenant_id)), changes.map((c) => c.kind), changes.map((c) => c.id), changes.map((c) => c.fingerprint)]);
  };

  const recount = (del: string, ins: string, extra: (chunk: Keys) => unknown[] = () => []) => (chunk: Keys) =>
    db.tx(async (q) => {
      await q.query(Q.lock_features);
      await q.query(del, chunk);
      await q.query(ins, [...chunk, ...extra(chunk)]);
    });

  // Timings and decision times are bucketed (hours, days) as the aggregates are, and pruned with them: a recount
  // writes no bucket before the aggregate retention's cutoff (retention.ts aggregateCutoff), whatever rows the raw
  // events still hold; the first steps before it still count for the steps after it.
  const retainedFrom = async () => {
    const cutoff = await aggregateCutoff(db);
    return cutoff === null ? '-infinity' : iso(cutoff);
  };
  const timings = async (keys: Keys, signal: AbortSignal) => {
    const from = await retainedFrom();
    return inChunks(keys, signal, recount(Q.delete_timings, Q.insert_timings, () => [from]));
  };
  const decisions = async (keys: Keys, signal: AbortSignal) => {
    const from = await retainedFrom();
    return inChunks(keys, signal, recount(Q.delete_decisions, Q.insert_decisions, () => [from]));
  };
  const attendance = (keys: Keys, signal: AbortSignal) => inChunks(keys, signal, recount(Q.delete_attendance, Q.insert_attendance));

  const persons = async (keys: Keys, now: number, signal: AbortSignal) => {
    // Price bands follow the tenant's quartiles: when they moved, every band of the tenant moves with them.
    const changed = (await db.query<{ tenant_id: string }>(Q.update_quartiles)).rows.map((r) => Number(r.tenant_id));
    if (changed.length) await db.query(Q.reband, [changed]);
    const window = () => [iso(now - AFFINITY_WINDOW_DAYS * DAY_MS), iso(now)];
    return inChunks(keys, signal, (chunk) =>
      db.tx(async (q) => {
        await q.query(Q.lock_features);
        for (const [del, ins, extra] of [
          [Q.delete_affinity_artist, Q.insert_affinity_artist, window()],
          [Q.delete_affinity_genre, Q.insert_affinity_genre, window()],
          [Q.delete_ticket_pref, Q.insert_ticket_pref, []],
        ] as const) {
          await q.query(del, chunk);
          await q.query(ins, [...chunk, ...extra]);
        }
      }));
  };

  /**
   * Every tenant's scores (tenant null), or one tenant's: quintiles are within the tenant, so a tenant is recomputed
   * whole. Returns the persons scored (the job run's `rows`, as the other jobs report their keys), counted by
   * insert_scores from its own rows: the db interface gives rows, not a command's row count.
   */
  const scores = (now: number, tenant: number | null = null) =>
    db.tx(async (q) => {
      await q.query(Q.lock_features);
      await q.query(Q.delete_scores, [tenant]);
      return (await q.query<{ n: number }>(Q.insert_scores, [iso(now), tenant])).rows[0]?.n ?? 0;
    });

  const job = (name: string, every: number, run: (ctx: JobContext) => Promise<number>): Job => ({ name, schedule: { every }, timeoutS: 1800, run });

  const refreshJob = job('features.refresh', 300, async (ctx) => {
    const now = ctx.now();
    const { w, save } = await windowOf('features.refresh', now, ctx.signal);
    const min = (await db.query<{ min_at: Date | string | null }>(Q.new_span, [w.lastId, w.maxId, w.low])).rows[0]?.min_at;
    const from = refreshStart(min ? new Date(min).getTime() : null, w.lastRunAt);
    const n = from === null ? 0 : await aggregates.refresh(from, now, ctx.signal);
    await save(now);
    return n;
  });

  const timingsJob = job('features.timings', 300, async (ctx) => {
    const { w, save } = await windowOf('features.timings', ctx.now(), ctx.signal);
    const n = (await timings(await newEvents(w), ctx.signal)) + (await decisions(await newPersons(w, ctx.now(), false), ctx.signal));
    await save();
    return n;
  });

  const personsJob = job('features.persons', 900, async (ctx) => {
    const now = ctx.now();
    const { w, save } = await windowOf('features.persons', now, ctx.signal);
    const changes = await catalogChanges();
    const stale = (await db.query<KeyRows[number]>(Q.stale_ticket_pref_keys, [STALE_PREFS_PER_RUN])).rows;
    const n = await persons(await newPersons(w, now, true, [...(await catalogPersons(changes, now)), ...stale]), now, ctx.signal);
    await saveCatalogSeen(changes);
    await save();
    return n;
  });

  const attendanceJob = job('features.attendance', 300, async (ctx) => {
    const { w, save } = await windowOf('features.attendance', ctx.now(), ctx.signal);
    const n = await attendance(await newEvents(w), ctx.signal);
    await save();
    return n;
  });

  const scoresJob = job('features.scores', 3600, (ctx) => scores(ctx.now()));

  const full = async (ctx: Pick<JobContext, 'now' | 'signal'>): Promise<number> => {
    const now = ctx.now();
    // From the oldest raw row, which may be older than the aggregates kept: refresh starts at the retention cutoff then.
    const oldest = (await db.query<{ min_at: Date | string | null }>(Q.oldest_event)).rows[0]?.min_at;
    let n = oldest ? await aggregates.refresh(new Date(oldest).getTime(), now, ctx.signal) : 0;
    const events = eventKeys((await db.query<KeyRows[number]>(Q.all_event_keys)).rows);
    const people = personKeys((await db.query<KeyRows[number]>(Q.all_person_keys)).rows);
    const changes = await catalogChanges();
    n += await timings(events, ctx.signal);
    n += await attendance(events, ctx.signal);
    n += await decisions(people, ctx.signal);
    n += await persons(people, now, ctx.signal);
    await saveCatalogSeen(changes);
    await scores(now);
    return n;
  };

  return {
    jobs: () => [
      refreshJob, timingsJob, personsJob, attendanceJob, scoresJob,
      // The full recompute: daily, and by hand (POST /api/admin/jobs/features.full/run).
      { name: 'features.full', schedule: { daily: '03:15', tz: 'UTC' }, timeoutS: 7200, run: full },
    ],
    full,
    async recountEvents(tenant, events) {
      const keys: Keys = [events.map(() => tenant), events];
      const signal = new AbortController().signal;
      await timings(keys, signal);
      await attendance(keys, signal);
    },
    async recountScores(tenant, now) {
      await scores(now, tenant);
    },
    async recountPersons(tenants, ids, now) {
      const keys: Keys = [tenants, ids];
      const signal = new AbortController().signal;
      await decisions(keys, signal);
      await persons(keys, now, signal);
      for (const t of new Set(tenants)) await scores(now, t);
    },
  };
}
