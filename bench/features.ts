// The feature store's jobs and read API at scale (issue 13), in ONE run on the embedded store (PGlite +
// TimescaleDB in a worker thread) or, with BENCH_STORE=plain, on a fresh database of the local PostgreSQL:
//   1. generated data: BENCH_EVENTS raw events over 30 days (written with SQL), BENCH_PERSONS persons,
//      BENCH_ENTITIES events, BENCH_ARTISTS artists with genres, two ticket types per event;
//   2. each job's time from nothing (features.refresh, .timings, .persons, .attendance, .scores) and features.full;
//   3. 10,000 new events through the ingest API, then each incremental job's time;
//   4. GET /api/v1/analytics/events/{id} over 30 days (by hour: 720 points; by day), p50/p99 of 50 requests;
//   5. ingest latency (4 closed-loop clients, 100-event batches) idle, then while features.persons recomputes
//      every person (its watermark reset): p99 ratio in the same run.
//
//   npx tsx bench/features.ts [--write]    (--write appends the markdown section to bench/RESULTS.md)
//   env: BENCH_EVENTS (1000000) BENCH_PERSONS (100000) BENCH_ENTITIES (5000) BENCH_ARTISTS (2000) BENCH_STORE (embedded|plain)
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import pino from 'pino';
import { startServer } from '../server/app.js';
import { loadConfig } from '../server/config/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ADMIN = 'bench-admin-token-0123456789abcdef';
const N = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const PERSONS = Number(process.env.BENCH_PERSONS ?? 100_000);
const ENTITIES = Number(process.env.BENCH_ENTITIES ?? 5000);
const ARTISTS = Number(process.env.BENCH_ARTISTS ?? 2000);
const STORE = process.env.BENCH_STORE === 'plain' ? 'plain' : 'embedded';
const CONN = 4;
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' / ');
const machine = `${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), ${Math.round(os.totalmem() / 2 ** 30)} GB RAM, Node ${process.version}`;
const startLoad = load();
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};

let dropDb: (() => Promise<void>) | null = null;
const env: Record<string, string> = { PORT: '0', HOST: '127.0.0.1', ADMIN_TOKEN: ADMIN, DEMO_TENANT: '0', RATE_LIMIT_EVENTS_PER_SEC: '10000000', RATE_LIMIT_BURST: '10000000', LOG_LEVEL: 'warn' };
if (STORE === 'plain') {
  const root = new pg.Client({ connectionString: process.env.PLAIN_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' });
  await root.connect();
  const name = `bench_fs_${crypto.randomBytes(4).toString('hex')}`;
  await root.query(`CREATE DATABASE ${name}`);
  const u = new URL(process.env.PLAIN_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  u.pathname = `/${name}`;
  env.DATABASE_URL = u.toString();
  dropDb = async () => {
    await root.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await root.end();
  };
}
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-fs-'));
const server = await startServer(loadConfig({ ...env, DATA_DIR: dataDir }), { log: pino({ level: 'warn' }), jobRunWaitMs: 3_600_000 });
const tenant = (await (await fetch(`${server.url}/api/admin/tenants`, {
  method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench' }),
})).json()) as { tenant_id: number; write_key: string; secret_key: string };
const T = tenant.tenant_id;
// No scheduled runs during the measurement (windows of 300 s are claimable all along): only the runs below.
await server.jobs.runner.close();
const db = server.db;

async function seed(): Promise<number> {
  const s = performance.now();
  await db.query(`INSERT INTO catalog_artists (tenant_id, id, name, genres) SELECT $1, 'A' || i, 'Artist ' || i, ARRAY['g' || (i % 20), 'g' || ((i * 7) % 20)] FROM generate_series(1, $2) i`, [T, ARTISTS]);
  await db.query(`INSERT INTO catalog_events (tenant_id, id, organizer_id, artist_ids, genres, title)
    SELECT $1, 'E' || i, 'O' || (i % 50), ARRAY['A' || (1 + i % $3), 'A' || (1 + (i * 13) % $3)], ARRAY['g' || (i % 20)], 'Event ' || i FROM generate_series(1, $2) i`, [T, ENTITIES, ARTISTS]);
  await db.query(`INSERT INTO catalog_ticket_types (tenant_id, id, event_id, category, price, currency)
    SELECT $1, t || '-E' || i, 'E' || i, t, CASE t WHEN 'GA' THEN 20 + i % 80 ELSE 100 + i % 300 END, 'EUR' FROM generate_series(1, $2) i, unnest(ARRAY['GA', 'VIP']) t`, [T, ENTITIES]);
  await db.query(`INSERT INTO persons (tenant_id, external_id) SELECT $1, 'c' || i FROM generate_series(1, $2) i`, [T, PERSONS]);
  const firstPerson = Number((await db.query<{ p: string }>('SELECT min(person_id)::text AS p FROM persons WHERE tenant_id = $1', [T])).rows[0].p);
  // Visitor v{k} is person firstPerson + k (k < persons), as the generated rows say, so new events of those
  // visitors get their person at ingest (the identity enricher) and the incremental person jobs have work.
  await db.query(`INSERT INTO tx_identity_links (tenant_id, visitor_id, person_id, link_source)
    SELECT $1, 'v' || k, $2 + k, 'login' FROM generate_series(0, $3 - 1) k`, [T, firstPerson, PERSONS]);
  // Events: 60% views, 5% selections, 10% carts, 7% checkouts, 5% payments, 5% orders, 3% entries, 5% impressions;
  // 70% of rows carry a person; visitors = persons × 1.5; entities skewed (i² mod) so some events are popular.
  const STEP = 50_000;
  for (let a = 0; a < N; a += STEP) {
    await db.query(`INSERT INTO tx_events (event_id, event_name, occurred_at, tenant_id, source_system, visitor_id, session_id, person_id, consent_snapshot, entities, payload)
      SELECT gen_random_uuid(), k.name, now() - (((i::bigint * 7919) % 2592000) || ' seconds')::interval, $1, 'web', 'v' || (i % $4), 's' || (i % ($4 * 3)),
        CASE WHEN i % 10 < 7 THEN $6 + (i % $4) % $5 END, '{}'::jsonb,
        jsonb_build_object('event_entity_id', 'E' || (1 + ((i::bigint * i) % $7)), 'order_id', 'o' || i, 'ticket_id', 't' || i),
        CASE WHEN k.name = 'order_completed' THEN jsonb_build_object('gross_amount', 50 + i % 200, 'net_amount', 45 + i % 180, 'currency', 'EUR',
          'items', jsonb_build_array(jsonb_build_object('ticket_type_id', (CASE WHEN i % 3 = 0 THEN 'VIP' ELSE 'GA' END) || '-E' || (1 + ((i::bigint * i) % $7)), 'qty', 1 + i % 3)))
          WHEN k.name = 'capacity_snapshot' THEN jsonb_build_object('gate_id', 'G' || (i % 3), 'current_inside', i % 500) ELSE '{}'::jsonb END
      FROM generate_series($2::int, $3::int) i
      CROSS JOIN LATERAL (SELECT CASE WHEN i % 100 < 60 THEN 'event_view' WHEN i % 100 < 65 THEN 'ticket_type_selected' WHEN i % 100 < 75 THEN 'add_to_cart'
        WHEN i % 100 < 82 THEN 'checkout_started' WHEN i % 100 < 87 THEN 'payment_attempted' WHEN i % 100 < 92 THEN 'order_completed'
        WHEN i % 100 < 95 THEN 'entry_granted' ELSE 'event_card_impression' END AS name) k`,
    [T, a + 1, Math.min(N, a + STEP), Math.round(PERSONS * 1.5), PERSONS, firstPerson, ENTITIES]);
  }
  return performance.now() - s;
}

/** A manual run through the runner (as POST /api/admin/jobs/{name}/run, without HTTP's header timeout on long runs). */
async function runJob(name: string): Promise<{ ms: number; rows: number }> {
  const s = performance.now();
  const { finished, run } = await server.jobs.runner.runNow(name, 4 * 3_600_000);
  if (!finished || run.status !== 'succeeded') throw new Error(`${name}: ${run.status} ${run.error}`);
  return { ms: performance.now() - s, rows: Number(run.rows) };
}

const batch = (n: number, offset: number) => JSON.stringify({
  events: Array.from({ length: n }, (_, i) => ({
    event_id: crypto.randomUUID(), event_name: i % 5 === 0 ? 'add_to_cart' : 'event_view', occurred_at: new Date().toISOString(), source_system: 'web',
    visitor_id: `v${(offset + i) % Math.round(PERSONS * 1.5)}`, session_id: `s-${i % 5}`, consent_snapshot: { analytics: true, marketing: true, data_processing: true },
    entities: { event_entity_id: `E${1 + ((offset + i) % ENTITIES)}`, cart_id: `c${i}` },
    payload: i % 5 === 0 ? { items: [{ ticket_type_id: 'GA-E1', qty: 1 }], cart_value: 50, currency: 'EUR' } : {},
  })),
});
const post = (body: string) => fetch(`${server.url}/api/tx/events/batch`, { method: 'POST', headers: { 'x-tx-key': tenant.write_key, 'content-type': 'application/json' }, body });

async function ingestWhile(stop: Promise<unknown>): Promise<number[]> {
  let done = false;
  void stop.then(() => (done = true));
  const lat: number[] = [];
  let k = 0;
  await Promise.all(Array.from({ length: CONN }, async () => {
    while (!done) {
      const body = batch(100, (k++) * 100);
      const s = performance.now();
      await (await post(body)).json();
      lat.push(performance.now() - s);
    }
  }));
  return lat;
}

async function readLatency(q: string): Promise<number[]> {
  const lat: number[] = [];
  for (let i = 0; i < 50; i++) {
    const s = performance.now();
    const r = await fetch(`${server.url}/api/v1/analytics/events/E1?${q}`, { headers: { authorization: `Bearer ${tenant.secret_key}` } });
    if (r.status !== 200) throw new Error(`read: ${r.status}`);
    await r.json();
    lat.push(performance.now() - s);
  }
  return lat;
}

const JOBS = ['features.refresh', 'features.timings', 'features.persons', 'features.attendance', 'features.scores'];
const seedMs = await seed();
const cold: Record<string, { ms: number; rows: number }> = {};
for (const j of JOBS) cold[j] = await runJob(j);
const full = await runJob('features.full');
// 10,000 new events through the real write path, then the incremental runs.
for (let i = 0; i < 100; i++) {
  const j = (await (await post(batch(100, i * 100))).json()) as { accepted?: number };
  if (j.accepted !== 100) throw new Error(`ingest: ${JSON.stringify(j).slice(0, 300)}`);
}
const inc: Record<string, { ms: number; rows: number }> = {};
for (const j of JOBS) inc[j] = await runJob(j);
const byHour = await readLatency('bucket=hour&from=' + (Date.now() - 30 * 86_400_000));
const byDay = await readLatency('bucket=day&from=' + (Date.now() - 30 * 86_400_000));
// Ingest idle, then during a features.persons run over every person (watermark reset), same duration.
await ingestWhile(new Promise((r) => setTimeout(r, 2000)));
await db.query("DELETE FROM fs_job_state WHERE job = 'features.persons'");
let affinity = { ms: 0, rows: 0 };
const busy = await ingestWhile((async () => (affinity = await runJob('features.persons')))());
const idle = await ingestWhile(new Promise((r) => setTimeout(r, Math.max(3000, affinity.ms))));
const endLoad = load();
await server.close();
await dropDb?.();
fs.rmSync(dataDir, { recursive: true, force: true });

const ms = (x: number) => (x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${x.toFixed(0)} ms`);
const section = [
  `## Feature store jobs and read API (bench/features.ts, ${STORE})`,
  '',
  `- date: ${new Date().toISOString()}; command: \`BENCH_EVENTS=${N} BENCH_PERSONS=${PERSONS} BENCH_ENTITIES=${ENTITIES} BENCH_ARTISTS=${ARTISTS} BENCH_STORE=${STORE} npx tsx bench/features.ts\``,
  `- machine: ${machine}; load average at start ${startLoad}, at end ${endLoad} (1 / 5 / 15 min)`,
  `- store: ${STORE === 'plain' ? 'plain PostgreSQL 15 (tables refreshed by the job)' : 'embedded PGlite + TimescaleDB in a worker thread (continuous aggregates)'}; data written with SQL in ${ms(seedMs)}`,
  '',
  '| job | from nothing | incremental after 10,000 new events |',
  '|---|---|---|',
  ...JOBS.map((j) => `| \`${j}\` | ${ms(cold[j].ms)} (${cold[j].rows} rows) | ${ms(inc[j].ms)} (${inc[j].rows} rows) |`),
  `| \`features.full\` | ${ms(full.ms)} (${full.rows} keys) | — |`,
  '',
  `- \`GET /api/v1/analytics/events/E1\` over 30 days (50 sequential requests): by hour (720 points) p50 ${pct(byHour, 50).toFixed(1)} ms, p99 ${pct(byHour, 99).toFixed(1)} ms; by day p50 ${pct(byDay, 50).toFixed(1)} ms, p99 ${pct(byDay, 99).toFixed(1)} ms`,
  `- ingest (${CONN} closed-loop clients, 100-event batches): idle p50 ${pct(idle, 50).toFixed(1)} ms, p99 ${pct(idle, 99).toFixed(1)} ms (${idle.length} requests); during \`features.persons\` over every person (${ms(affinity.ms)}, ${affinity.rows} persons) p50 ${pct(busy, 50).toFixed(1)} ms, p99 ${pct(busy, 99).toFixed(1)} ms (${busy.length} requests): **p99 ratio ${(pct(busy, 99) / pct(idle, 99)).toFixed(2)}**`,
].join('\n');
console.log(section);
if (process.argv.includes('--write')) fs.appendFileSync(path.join(ROOT, 'bench', 'RESULTS.md'), '\n' + section + '\n');
process.exit(0);
