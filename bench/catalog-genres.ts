// Derived event genres on the embedded store, in the shape a probe found holding it: 1000 artists × 50 genres, 1000
// events each listing a different set of 200 of them (genres derived: 10 million (event, artist, genre) rows), then
// one PUT changing every artist's genres (all 1000 events derived again). Two genre shapes: `distinct` (each artist
// its own 50: 10,000 per event, the cap keeps 50 by name) and `pool` (50 of 200 shared genres: the cap by count).
//
// Part 1, store level, one run for both: each sync as shipped (batches of GENRE_REFS_PER_TX artist references, each
// its own transaction) and as before (the whole sync in one transaction, the union by count(DISTINCT a.id)), while a
// probe statement (SELECT 1) is sent every 10 ms: its longest wait is what an ingest commit waits for the one session.
// The derived genres of the two are compared. Part 2, over HTTP, shipped code only: the same syncs through the API,
// an event_view ingested every 100 ms meanwhile (its longest answer).
//
//   npx tsx bench/catalog-genres.ts            (both shapes; or name them: npx tsx bench/catalog-genres.ts distinct)
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkItems, type Kind } from '../server/catalog/schemas.js';
import { createCatalogStore, GENRE_REFS_PER_TX } from '../server/catalog/store.js';
import { openEmbedded, type Db } from '../server/store/db.js';
import { migrate } from '../server/store/migrate.js';
import { queries } from '../server/store/queries.js';
import { benchServer, loadAvg, machine, pct, quietLog } from './ingest.js';

type Shape = 'distinct' | 'pool';
const ARTISTS = 1000;
const EVENTS = 1000;
const PER_EVENT = 200;
const GENRES = 50;

/** Seeded, so both variants and both parts sync the same catalog. */
function catalogOf(shape: Shape, seed: number) {
  let s = seed; // mulberry32
  const rnd = () => {
    s = (s + 0x6d2b79f5) | 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const sample = (n: number, k: number) => {
    const set = new Set<number>();
    while (set.size < k) set.add(Math.floor(rnd() * n));
    return [...set];
  };
  const genres = (i: number, round: number) =>
    shape === 'distinct' ? Array.from({ length: GENRES }, (_, k) => `a${i}-r${round}-g${k}`) : sample(200, GENRES).map((g) => `pool${g}`);
  const round = (r: number) => Array.from({ length: ARTISTS }, (_, i) => ({ id: `A${i}`, name: `Artist ${i}`, genres: genres(i, r) }));
  const artists = [round(1), round(2)];
  const events = Array.from({ length: EVENTS }, (_, i) => ({ id: `E${i}`, organizer_id: 'O1', title: `Event ${i}`, artist_ids: sample(ARTISTS, PER_EVENT).map((a) => `A${a}`) }));
  if (new Set(events.map((e) => [...e.artist_ids].sort().join())).size !== EVENTS) throw new Error('two events share an artist list');
  return { artists: (r: 1 | 2) => artists[r - 1], events };
}

// The statements before: the union counted distinct artists per genre (a sort of all the event's artists' genres),
// and a sync's whole derivation ran in its one transaction.
const Q = queries('catalog.sql', ['upsert_artists', 'upsert_events']);
// (upsert_events' dup CTE is then referenced by nothing, so it is not run.)
const NEW_UNION = `count(*) AS n FROM catalog_artists a,
        unnest(CASE WHEN a.id IN (SELECT id FROM dup) THEN ARRAY(SELECT DISTINCT unnest(a.genres)) ELSE a.genres END) g`;
const OLD_UNION = 'count(DISTINCT a.id) AS n FROM catalog_artists a, unnest(a.genres) g';
if (!Q.upsert_events.includes(NEW_UNION)) throw new Error('upsert_events no longer has the union this bench replaces: update the bench');
const OLD_UPSERT_EVENTS = Q.upsert_events.replace(NEW_UNION, OLD_UNION);
const OLD_REDERIVE = `
WITH e AS (
  SELECT id, artist_ids FROM catalog_events
  WHERE tenant_id = $1 AND genres_derived AND artist_ids && $2::text[]
), u AS MATERIALIZED (
  SELECT s.artist_ids,
    ARRAY(SELECT g FROM (
      SELECT g, count(DISTINCT a.id) AS n FROM catalog_artists a, unnest(a.genres) g
      WHERE a.tenant_id = $1 AND a.id = ANY(s.artist_ids) GROUP BY g ORDER BY n DESC, g LIMIT 50) top ORDER BY g) AS genres
  FROM (SELECT DISTINCT artist_ids FROM e) s
)
UPDATE catalog_events c SET genres = u.genres, synced_at = now()
FROM e JOIN u ON u.artist_ids = e.artist_ids
WHERE c.tenant_id = $1 AND c.id = e.id AND c.genres IS DISTINCT FROM u.genres
RETURNING c.id`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const valid = (kind: Kind, items: unknown[]) => {
  const c = checkItems(kind, items);
  if (c.rejected.length) throw new Error(`${kind}: ${JSON.stringify(c.rejected[0])}`);
  return c.valid;
};
const byId = <T extends Record<string, unknown>>(xs: T[]) => [...xs].sort((a, b) => (String(a.id) < String(b.id) ? -1 : 1));

/** Runs `fn` while `probe` is called again `everyMs` after each answer; fn's time and the probe's longest and p50 answer. */
async function probed(fn: () => Promise<unknown>, probe: () => Promise<unknown>, everyMs: number) {
  let running = true;
  const waits: number[] = [];
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      await probe();
      waits.push(performance.now() - t0);
      await sleep(everyMs);
    }
  })();
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  running = false;
  await loop;
  return { ms, max: Math.max(...waits), p50: pct(waits, 50), n: waits.length };
}

const row = (what: string, r: Awaited<ReturnType<typeof probed>>) =>
  `| ${what} | ${Math.round(r.ms)} | ${r.max.toFixed(1)} | ${r.p50.toFixed(1)} | ${r.n} |`;

async function storeLevel(shapes: Shape[]) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'txl-bench-genres-'));
  const log = await quietLog();
  const db: Db = await openEmbedded(dir, log);
  try {
    await migrate(db, log);
    const store = createCatalogStore(db);
    const probe = () => db.query('SELECT 1');
    console.log('\n| store level: sync | ms | probe max wait ms | probe p50 ms | probes |\n|:---|---:|---:|---:|---:|');
    for (const shape of shapes) {
      const c = catalogOf(shape, 20261201);
      const derived: Record<string, string> = {};
      for (const variant of ['before', 'after'] as const) {
        const tenant = Number((await db.query<{ tenant_id: string }>('INSERT INTO tenants (name) VALUES ($1) RETURNING tenant_id', [`${shape}-${variant}`])).rows[0].tenant_id);
        const artists = valid('artists', c.artists(1));
        const events = valid('events', c.events);
        const changed = valid('artists', c.artists(2));
        await store.upsert(tenant, 'artists', artists, new Date());
        const label = `${shape}, ${variant}`;
        if (variant === 'after') {
          console.log(row(`${label}: ${EVENTS} events × ${PER_EVENT} artists (derived)`, await probed(() => store.upsert(tenant, 'events', events, new Date()), probe, 10)));
          console.log(row(`${label}: the ${ARTISTS} artists, new genres (${EVENTS} events re-derived)`, await probed(() => store.upsert(tenant, 'artists', changed, new Date()), probe, 10)));
        } else {
          const syncEvents = () => db.tx((q) => q.query(OLD_UPSERT_EVENTS, [tenant, JSON.stringify(byId(events))]));
          const syncArtists = () =>
            db.tx(async (q) => {
              const rows = (await q.query<{ id: string; changed: boolean }>(Q.upsert_artists, [tenant, JSON.stringify(byId(changed))])).rows;
              await q.query(OLD_REDERIVE, [tenant, rows.filter((r) => r.changed).map((r) => r.id)]);
            });
          console.log(row(`${label}: ${EVENTS} events × ${PER_EVENT} artists (derived)`, await probed(syncEvents, probe, 10)));
          console.log(row(`${label}: the ${ARTISTS} artists, new genres (${EVENTS} events re-derived)`, await probed(syncArtists, probe, 10)));
        }
        const rows = (await db.query<{ id: string; genres: string[] }>('SELECT id, genres FROM catalog_events WHERE tenant_id = $1 AND genres_derived ORDER BY id', [tenant])).rows;
        derived[variant] = JSON.stringify(rows);
        if (rows.length !== EVENTS || rows.some((r) => r.genres.length !== GENRES)) throw new Error(`${label}: ${rows.length} derived events, not ${EVENTS} of ${GENRES} genres`);
      }
      console.log(`\n${shape}: the derived genres of before and after are ${derived.before === derived.after ? 'the same' : 'DIFFERENT'} (${EVENTS} events)\n`);
      if (derived.before !== derived.after) process.exitCode = 1;
    }
  } finally {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function overHttp(shapes: Shape[]) {
  const server = await benchServer();
  try {
    console.log('\n| HTTP, shipped: sync | answer | ms | event_view max ms | event_view p50 ms | ingested |\n|:---|:---|---:|---:|---:|---:|');
    for (const shape of shapes) {
      const t = await server.tenant(`genres-${shape}`);
      const c = catalogOf(shape, 20261201);
      let status = 0;
      const put = async (kind: string, items: unknown[]) => {
        const r = await fetch(`${server.base}/api/v1/catalog/${kind}`, { method: 'PUT', headers: { authorization: `Bearer ${t.secret_key}`, 'content-type': 'application/json' }, body: JSON.stringify({ items }) });
        await r.text();
        status = r.status;
      };
      const ingest = async () => {
        const event = {
          event_id: crypto.randomUUID(), event_name: 'event_view', occurred_at: new Date().toISOString(), source_system: 'web',
          visitor_id: 'v-bench', session_id: 's-bench', consent_snapshot: { analytics: true, marketing: true, data_processing: true },
          entities: { event_entity_id: 'E1' }, payload: {},
        };
        const r = await fetch(`${server.base}/api/tx/events/batch`, { method: 'POST', headers: { 'x-tx-key': t.write_key, 'content-type': 'application/json' }, body: JSON.stringify({ events: [event] }) });
        const body = await r.text();
        if (r.status !== 200) throw new Error(`ingest answered ${r.status}: ${body}`);
      };
      await put('artists', c.artists(1));
      const line = (what: string, r: Awaited<ReturnType<typeof probed>>) =>
        `| ${shape}: ${what} | ${status} | ${Math.round(r.ms)} | ${r.max.toFixed(1)} | ${r.p50.toFixed(1)} | ${r.n} |`;
      console.log(line(`${EVENTS} events × ${PER_EVENT} artists (derived)`, await probed(() => put('events', c.events), ingest, 100)));
      console.log(line(`the ${ARTISTS} artists, new genres (${EVENTS} events re-derived)`, await probed(() => put('artists', c.artists(2)), ingest, 100)));
    }
  } finally {
    await server.close();
  }
}

async function main() {
  const args = process.argv.slice(2).filter((a): a is Shape => a === 'distinct' || a === 'pool');
  const shapes: Shape[] = args.length ? args : ['distinct', 'pool'];
  console.log(`${machine()}; load average ${loadAvg()} at the start; GENRE_REFS_PER_TX ${GENRE_REFS_PER_TX}`);
  await storeLevel(shapes);
  await overHttp(shapes);
  console.log(`\nload average ${loadAvg()} at the end`);
}

main().then(() => process.exit(process.exitCode ?? 0), (err) => {
  console.error(err);
  process.exit(1);
});
