// Audience builder benchmark (issue 14, bench/RESULTS.md "Audiences"): generated persons and feature-store
// rows, then on each store the estimate's latency (p50/p99 over ESTIMATE_RUNS, seed_v1 and fitted side by
// side in one statement), one build, one segment refresh, and — in the same run — the seed's per-person loop
// (two affinity queries per person, the score in JS) on LOOP_PERSONS persons, extrapolated per person for the
// ratio. Stores: the embedded PGlite + TimescaleDB (worker thread) and PostgreSQL 15 over the wire (plain mode,
// a fresh database dropped after). The store-level functions are timed (no HTTP).
//
//   npx tsx bench/audiences.ts                       # 1M persons, 5M affinity rows, 200k ticket preferences
//   BENCH_PERSONS=100000 npx tsx bench/audiences.ts  # smaller
//   BENCH_STORES=embedded npx tsx bench/audiences.ts
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { createSnapshotCache } from '../server/audiences/snapshot-cache.js';
import { scoreColumns } from '../server/audiences/snapshot.js';
import { createAudienceStore } from '../server/audiences/store.js';
import { features, propensity, seedModel, SEED_COEFFICIENTS, type Hypothesis, type PersonFacts } from '../server/audiences/score.js';
import { createSegmentStore } from '../server/segments/store.js';
import { openEmbedded, openPostgres, type Db } from '../server/store/db.js';
import { migrate } from '../server/store/migrate.js';
import { createTenantStore } from '../server/store/tenants.js';

const N = Number(process.env.BENCH_PERSONS ?? 1_000_000);
const AFFINITY = Math.round(N * 5); // half artist, half genre rows
const PREFS = Math.round(N / 5);
const RUNS = Number(process.env.ESTIMATE_RUNS ?? 20);
const LOOP = Number(process.env.LOOP_PERSONS ?? 10_000);
const STORES = (process.env.BENCH_STORES ?? 'embedded,postgres').split(',');
const PG_ADMIN = process.env.PLAIN_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const log = pino({ level: 'warn' });

const H: Hypothesis = { artist_ids: ['A7', 'A42', 'A1999'], genres: ['g3', 'g11'], city: 'city4', venue_id: '', price_from: 60, price_to: 120, ticket_category: '' };

async function generate(db: Db, tenant: number): Promise<void> {
  const t0 = performance.now();
  // Deterministic values from the row number (hashtext), so both stores hold the same data.
  await db.query(`
    INSERT INTO persons (tenant_id, external_id, city, marketing_consent, total_orders, events_attended, last_purchase_at, avg_order_value)
    SELECT $1, 'p' || i, 'city' || (abs(hashtext('c' || i)) % 20), abs(hashtext('m' || i)) % 10 <> 0,
      abs(hashtext('o' || i)) % 8, abs(hashtext('e' || i)) % 8,
      CASE WHEN abs(hashtext('l' || i)) % 4 = 0 THEN NULL ELSE now() - (abs(hashtext('d' || i)) % 400) * interval '1 day' END,
      CASE WHEN abs(hashtext('o' || i)) % 8 = 0 THEN NULL ELSE 10 + abs(hashtext('v' || i)) % 200 END
    FROM generate_series(1, $2::int) AS i`, [tenant, N]);
  const first = Number((await db.query<{ m: string }>('SELECT min(person_id) AS m FROM persons WHERE tenant_id = $1', [tenant])).rows[0].m);
  const half = Math.round(AFFINITY / 2);
  for (const [table, col, ids] of [['fs_person_affinity_artist_raw', 'artist_id', "'A' || (abs(hashtext('a' || i)) % 2000)"], ['fs_person_affinity_genre_raw', 'genre', "'g' || (abs(hashtext('g' || i)) % 30)"]] as const) {
    // In slices, so one statement never holds millions of rows in memory on the embedded store.
    for (let from = 1; from <= half; from += 1_000_000) {
      await db.query(`
        INSERT INTO ${table} (tenant_id, person_id, ${col}, score_at_last, views_count, purchases_count, attendance_count, last_interaction_at)
        SELECT $1, $2::bigint + (i % $3::int), ${ids}, (abs(hashtext('s' || i)) % 15000) / 100.0, 1, 0, 0, now() - (abs(hashtext('t' || i)) % 60) * interval '1 day'
        FROM generate_series($4::int, $5::int) AS i
        ON CONFLICT DO NOTHING`, [tenant, first, N, from, Math.min(half, from + 999_999)]);
    }
  }
  await db.query(`
    INSERT INTO fs_person_ticket_pref (tenant_id, person_id, ticket_category, purchases_count, avg_price, price_band, preference_score)
    SELECT $1, $2::bigint + (i % $3::int), (ARRAY['GA','VIP','Early'])[1 + abs(hashtext('k' || i)) % 3], 1 + abs(hashtext('n' || i)) % 4, 20 + abs(hashtext('p' || i)) % 150,
      (ARRAY['low','mid','high','premium'])[1 + abs(hashtext('b' || i)) % 4], (abs(hashtext('q' || i)) % 100) / 100.0
    FROM generate_series(1, $4::int) AS i ON CONFLICT DO NOTHING`, [tenant, first, N, PREFS]);
  await db.query('ANALYZE persons');
  await db.query('ANALYZE fs_person_affinity_artist_raw');
  await db.query('ANALYZE fs_person_affinity_genre_raw');
  const counts = (await db.query<Record<string, string>>(`SELECT (SELECT count(*) FROM persons) AS persons, (SELECT count(*) FROM fs_person_affinity_artist_raw) + (SELECT count(*) FROM fs_person_affinity_genre_raw) AS affinity, (SELECT count(*) FROM fs_person_ticket_pref) AS prefs`)).rows[0];
  console.log(`  generated ${JSON.stringify(counts)} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];

/** The seed's AudienceController::estimate: persons loaded, then two affinity queries per person. */
async function seedLoop(db: Db, tenant: number, limit: number): Promise<{ ms: number; persons: number }> {
  const t0 = performance.now();
  const persons = (await db.query<Record<string, unknown>>('SELECT person_id, city, avg_order_value, last_purchase_at, total_orders, events_attended FROM persons WHERE tenant_id = $1 AND marketing_consent ORDER BY person_id LIMIT $2', [tenant, limit])).rows;
  const model = seedModel(SEED_COEFFICIENTS);
  let buyers = 0;
  for (const p of persons) {
    const g = (await db.query<{ s: string; genre: string }>('SELECT genre, affinity_score AS s FROM fs_person_affinity_genre WHERE tenant_id = $1 AND person_id = $2 AND genre = ANY($3)', [tenant, p.person_id, H.genres])).rows;
    const a = (await db.query<{ s: string; artist_id: string }>('SELECT artist_id, affinity_score AS s FROM fs_person_affinity_artist WHERE tenant_id = $1 AND person_id = $2 AND artist_id = ANY($3)', [tenant, p.person_id, H.artist_ids])).rows;
    const facts: PersonFacts = {
      city: p.city as string, avgOrderValue: p.avg_order_value === null ? null : Number(p.avg_order_value), lastPurchaseAt: p.last_purchase_at ? new Date(p.last_purchase_at as string) : null,
      totalOrders: Number(p.total_orders), eventsAttended: Number(p.events_attended),
      genreAffinity: Object.fromEntries(g.map((r) => [r.genre, Number(r.s)])), artistAffinity: Object.fromEntries(a.map((r) => [r.artist_id, Number(r.s)])), discountRate: 0,
    };
    const pr = propensity(model, features(facts, H, Date.now()));
    if (pr > 0.1) buyers += pr;
  }
  return { ms: performance.now() - t0, persons: persons.length };
}

async function run(name: string, db: Db): Promise<void> {
  console.log(`\n== ${name}`);
  await migrate(db, log);
  const tenant = (await db.tx((q) => createTenantStore().create(q, `bench-${crypto.randomBytes(3).toString('hex')}`, []))).tenant_id;
  await generate(db, tenant);
  const store = createAudienceStore(db);
  const seed = await store.seed(tenant);
  // A fitted model side by side (its weights do not change the cost): the statement computes both.
  const other = { intercept: -2, weights: [2, 1.5, 0.5, 0.2, 1, 0.5, -0.5] as typeof seed.weights };
  if (process.env.BENCH_EXPLAIN) {
    const { withFeatures } = await import('../server/audiences/store.js');
    const { queries } = await import('../server/store/queries.js');
    const sql = withFeatures(queries('audiences.sql', ['estimate']).estimate);
    const plan = await db.query<Record<string, string>>(`EXPLAIN ANALYZE ${sql}`, [tenant, H.artist_ids, H.genres, H.city, 90, new Date(), null, [0, ...seed.weights], [other.intercept, ...other.weights], 0.6]);
    console.log(plan.rows.map((r) => Object.values(r)[0]).join('\n'));
  }
  const times: number[] = [];
  let last = null;
  for (let i = 0; i < RUNS + 2; i++) {
    const t0 = performance.now();
    last = await store.estimate(tenant, H, seed, other, 0.6, new Date());
    if (i >= 2) times.push(performance.now() - t0); // two warm-up runs
  }
  console.log(`  estimate (${RUNS} runs after 2 warm-up): p50 ${pct(times, 50).toFixed(0)} ms, p99 ${pct(times, 99).toFixed(0)} ms; consented ${last!.consented}, admitted ${last!.eligible}`);
  // The same estimate over a node's snapshot (what the service answers a large tenant with): the snapshot's
  // load once, then per request the hypothesis' affinities and the scoring in Node.
  const cache = createSnapshotCache({ source: store, log, options: { maxAgeMs: 3_600_000, minPersons: 1, maxTenants: 1 } });
  let l0 = performance.now();
  const cols = await cache.load(tenant);
  console.log(`  snapshot load: ${((performance.now() - l0) / 1000).toFixed(2)} s, ${cols.size} persons, ${(cols.size * 45 / 2 ** 20).toFixed(1)} MiB of columns`);
  const snapTimes: number[] = [];
  let snap = null;
  for (let i = 0; i < RUNS + 2; i++) {
    const at = new Date();
    l0 = performance.now();
    snap = scoreColumns(cols, await store.hypothesisAffinities(tenant, H, at), H, seed, other, 0.6, at.getTime());
    if (i >= 2) snapTimes.push(performance.now() - l0);
  }
  const same = snap!.eligible === last!.eligible && snap!.consented === last!.consented && JSON.stringify(snap!.buckets) === JSON.stringify(last!.buckets);
  console.log(`  estimate over the snapshot (${RUNS} runs after 2 warm-up): p50 ${pct(snapTimes, 50).toFixed(0)} ms, p99 ${pct(snapTimes, 99).toFixed(0)} ms; admitted ${snap!.eligible} (${same ? 'same counts as the statement' : 'DIFFERENT from the statement'}); statement ÷ snapshot p50 ${(pct(times, 50) / pct(snapTimes, 50)).toFixed(1)}×`);
  let t0 = performance.now();
  const built = await store.build(tenant, { audienceId: null, name: 'bench', definition: {}, modelName: 'seed_v1', model: seed, target: { hypothesis: H, eventId: null, currency: 'EUR' }, min: 0.6, price: 60 }, new Date());
  console.log(`  build (min_propensity 0.6): ${((performance.now() - t0) / 1000).toFixed(2)} s, ${built!.member_count} members`);
  t0 = performance.now();
  const seg = await createSegmentStore(db).create(tenant, { name: 'bench', filters: { or: [{ affinity: 'genre', id: 'g3', gte: 100 }, { and: [{ attribute: 'city', op: 'eq', value: 'city4' }, { not: { attribute: 'total_orders', op: 'lt', value: 2 } }] }] }, marketingOnly: true }, true, new Date());
  console.log(`  segment refresh (affinity or city-and-orders): ${((performance.now() - t0) / 1000).toFixed(2)} s, ${seg.size_estimate} members`);
  const loop = await seedLoop(db, tenant, LOOP);
  const perPerson = loop.ms / loop.persons;
  const setPerPerson = pct(times, 50) / last!.consented;
  console.log(`  seed per-person loop: ${loop.persons} persons in ${(loop.ms / 1000).toFixed(2)} s (${(perPerson * 1000).toFixed(0)} µs/person → ${((perPerson * last!.consented) / 1000).toFixed(0)} s for ${last!.consented}); set-based ${(setPerPerson * 1000).toFixed(2)} µs/person; ratio ${(perPerson / setPerPerson).toFixed(0)}×`);
}

async function main(): Promise<void> {
  console.log(`audiences bench: ${N} persons, ${AFFINITY} affinity rows, ${PREFS} ticket preferences; ${os.cpus().length} × ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GB, node ${process.version}, ${new Date().toISOString()}`);
  if (STORES.includes('embedded')) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-aud-'));
    const db = await openEmbedded(dir, log);
    try {
      await run('embedded (PGlite + TimescaleDB, worker thread)', db);
    } finally {
      await db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  if (STORES.includes('postgres')) {
    const name = `bench_aud_${crypto.randomBytes(4).toString('hex')}`;
    const root = new pg.Client({ connectionString: PG_ADMIN });
    await root.connect();
    await root.query(`CREATE DATABASE ${name}`);
    const url = new URL(PG_ADMIN);
    url.pathname = `/${name}`;
    const db = await openPostgres(url.toString(), 4, log, { plain: true });
    try {
      await run('PostgreSQL 15 over the wire (plain mode)', { ...db, plain: true });
    } finally {
      await db.close();
      await root.query(`DROP DATABASE ${name}`);
      await root.end();
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
