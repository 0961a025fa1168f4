// Funnel query latency (issue 17 item 3; target: 30 days, 10M events, < 2 s on the embedded store).
//
//   npx tsx bench/funnels.ts [--events 10000000] [--store embedded|postgres] [--visitors 500000] [--runs 3]
//                            [--old-runs 1] [--explain] [--work-mem 64MB] [--data DIR]
//
// --data DIR (embedded only) keeps the generated store in DIR and reuses it on the next run with the same
// --events and --visitors (DIR/bench.json records them and the tenant), so the 10M-row load is paid once.
//
// Generates `--events` rows straight into tx_events with one set-based INSERT … SELECT generate_series per
// million (30 days, a mix of page views, engagement, the seed 003 funnel events and carts), then times the seed
// 003 preset (5 steps, 1-day window) over the 30 days, with and without a breakdown by context.utm.source, on
// both engines in the same run on the same data: the one-pass statement (funnels.sql `funnel`) and the
// recursive one it replaced (`funnel_recursive`, `--old-runs` times: it is slow; 0 skips it), and checks that
// their rows are equal. A third reference is the cheapest query that reads the same rows: distinct visitors per
// step name, no ordering. And the funnel index (server/analytics/funnel-index.ts) as the route uses it — its
// catch-up read and erasure check included — after reading it once (time and memory printed), with its answers
// checked equal to the one-pass statement's. Embedded store: the CPU column is this process's CPU time (PGlite runs in its worker
// thread), less sensitive than wall time to other work on a shared machine. Prints a Markdown table for
// bench/RESULTS.md.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { funnelRows, type FunnelEngine } from '../server/analytics/funnels.js';
import { createAnalytics, type Analytics } from '../server/analytics/index.js';
import { funnelBody, parseFunnel, type FunnelSpec } from '../server/analytics/spec.js';
import { openEmbedded, openPostgres, type Db } from '../server/store/db.js';
import { migrate } from '../server/store/migrate.js';
import { silent, tmpDir } from '../test/helpers.js';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const EVENTS = Number(arg('events', '10000000'));
const STORE = arg('store', 'embedded');
const VISITORS = Number(arg('visitors', '500000'));
const RUNS = Number(arg('runs', '3'));
const OLD_RUNS = Number(arg('old-runs', '1'));
const CHUNK = 1_000_000;
const EXPLAIN = process.argv.includes('--explain');
const DATA = arg('data', '');
const WORK_MEM = /^\d+MB$/.test(arg('work-mem', '')) ? arg('work-mem', '') : null;
const FROM = Date.parse('2026-10-01T00:00:00Z');
const DAYS = 30;

// Cumulative shares of the mix: page_view 30 %, page_engagement 20 %, impression 30 %, card click 8 %,
// event view 7 %, interest 2 %, ticket link click 1.5 %, add_to_cart 1.5 %.
const MIX: [string, number][] = [
  ['page_view', 0.3], ['page_engagement', 0.5], ['event_card_impression', 0.8], ['event_card_click', 0.88], ['event_view', 0.95],
  ['event_interest_marked', 0.97], ['ticket_link_click', 0.985], ['add_to_cart', 1],
];
const nameCase = `CASE ${MIX.map(([n, c]) => `WHEN r < ${c} THEN '${n}'`).join(' ')} END`;

// Each row: a visitor, a time in the 30 days and a step by a hash of the row number (deterministic, no JS loop).
const INSERT = `
INSERT INTO tx_events (event_id, event_name, occurred_at, tenant_id, source_system, visitor_id, session_id, consent_snapshot, context, entities, payload)
SELECT md5($1::text || i)::uuid, ${nameCase}, $2::timestamptz + (h2 * interval '${DAYS} days'), $3, 'web', 'v' || (h1 % $4), 's' || (h1 % $4),
       '{"analytics":true}', jsonb_build_object('utm', jsonb_build_object('source', (ARRAY['google','facebook','newsletter','tiktok','direct','partner'])[1 + h1 % 6])),
       jsonb_build_object('event_entity_id', 'E' || (h1 % 500)), '{}'
FROM (SELECT i, abs(hashtext('a' || i)) AS h1, abs(hashtext('b' || i))::float8 / 2147483648 AS h2, abs(hashtext('c' || i))::float8 / 2147483648 AS r
      FROM generate_series($5::bigint, $6::bigint) AS i) g`;

async function open(): Promise<{ db: Db; done: () => Promise<void> }> {
  if (STORE === 'embedded') {
    const db = await openEmbedded(DATA || tmpDir('txl-bench-funnels-'), silent);
    await migrate(db, silent);
    return { db, done: () => db.close() };
  }
  const adminUrl = process.env.PLAIN_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const name = `bench_funnels_${crypto.randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const db = await openPostgres(url.toString(), 2, silent, { plain: true });
  await migrate(db, silent);
  return {
    db,
    done: async () => {
      await db.close();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

const spec = (breakdown: boolean): FunnelSpec => {
  const p = parseFunnel({ preset: 'event_discovery', window_s: 86_400, from: new Date(FROM).toISOString(), to: new Date(FROM + DAYS * 86_400_000).toISOString(), ...(breakdown ? { breakdown: 'context.utm.source' } : {}) });
  if (!p.ok) throw new Error(JSON.stringify(p.error));
  return p.value;
};

const BASELINE = `SELECT event_name, count(DISTINCT visitor_id) AS n FROM tx_events
WHERE tenant_id = $1 AND event_name = ANY($2::text[]) AND occurred_at >= $3 AND occurred_at < $4 AND NOT is_bot GROUP BY event_name`;

interface Timed<T> {
  ms: number;
  cpuMs: number;
  value: T;
}

async function time<T>(fn: () => Promise<T>): Promise<Timed<T>> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const value = await fn();
  const c = process.cpuUsage(c0);
  return { ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000, value };
}

const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : NaN);

const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' / ');

/** Wall and CPU milliseconds of every run of one query. */
class Samples {
  ms: number[] = [];
  cpu: number[] = [];
  add(t: Timed<unknown>) {
    this.ms.push(t.ms);
    this.cpu.push(t.cpuMs);
  }
}

async function loadEvents(db: Db, tenant: number): Promise<number> {
  const seed = crypto.randomBytes(4).toString('hex');
  const loadStart = performance.now();
  for (let lo = 1; lo <= EVENTS; lo += CHUNK) {
    const hi = Math.min(EVENTS, lo + CHUNK - 1);
    const t = await time(() => db.query(INSERT, [seed, new Date(FROM), tenant, VISITORS, lo, hi]));
    console.error(`loaded ${hi.toLocaleString('en')} rows (+${(t.ms / 1000).toFixed(1)} s)`);
  }
  await db.query('ANALYZE tx_events');
  return (performance.now() - loadStart) / 1000;
}

type Case = 'base' | 'new' | 'new_bd' | 'old' | 'old_bd' | 'idx' | 'idx_bd';

/** Runs every query RUNS times (the recursive engine OLD_RUNS times), interleaved so load drifts hit all alike. */
async function measure(db: Db, tenant: number, analytics: Analytics) {
  const s = spec(false);
  const b = spec(true);
  const names = s.steps.map((x) => x.event_name);
  const out: Record<Case, Samples> = {
    base: new Samples(), new: new Samples(), new_bd: new Samples(), old: new Samples(), old_bd: new Samples(), idx: new Samples(), idx_bd: new Samples(),
  };
  const answers: Partial<Record<Case, string>> = {};
  const rows: Partial<Record<Case, string>> = {};
  let counts: number[] = [];
  const funnel = async (c: Case, sp: FunnelSpec, engine: FunnelEngine) => {
    const t = await time(() => funnelRows(db, tenant, sp, null, engine));
    out[c].add(t);
    rows[c] = JSON.stringify(t.value);
    answers[c] = JSON.stringify(funnelBody(sp, t.value));
    return t.value;
  };
  // The funnel index as the route uses it: the catch-up read and the erasure check included.
  const indexed = async (c: Case, sp: FunnelSpec) => {
    const t = await time(() => analytics.funnel(tenant, sp, null));
    if (t.value.source !== 'index') throw new Error('the funnel index did not answer');
    out[c].add(t);
    answers[c] = JSON.stringify(funnelBody(sp, t.value.rows));
  };
  for (let i = 0; i < Math.max(RUNS, OLD_RUNS); i++) {
    if (i < RUNS) {
      out.base.add(await time(() => db.query(BASELINE, [tenant, names, new Date(s.fromMs), new Date(s.toMs)])));
      const r = await funnel('new', s, 'one_pass');
      counts = r.filter((x) => x.total).map((x) => x.actors);
      await funnel('new_bd', b, 'one_pass');
      await indexed('idx', s);
      await indexed('idx_bd', b);
    }
    if (i < OLD_RUNS) {
      await funnel('old', s, 'recursive');
      await funnel('old_bd', b, 'recursive');
    }
  }
  const equal = OLD_RUNS > 0 ? rows.new === rows.old && rows.new_bd === rows.old_bd : null;
  const indexEqual = answers.idx === answers.new && answers.idx_bd === answers.new_bd;
  return { out, counts, equal, indexEqual };
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '–');
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? (a / b).toFixed(a / b < 0.1 ? 3 : 1) : '–');

function table(m: Awaited<ReturnType<typeof measure>>, label: string) {
  const { out } = m;
  const cpu = STORE === 'embedded';
  const line = (name: string, c: Case, old?: Case) => {
    const n = c.startsWith('old') ? OLD_RUNS : RUNS;
    const cells = [name + (n !== RUNS ? ` (${n} run${n === 1 ? '' : 's'})` : ''), fmt(median(out[c].ms)), ...(cpu ? [fmt(median(out[c].cpu))] : []), ratio(median(out[c].ms), median(out.base.ms))];
    cells.push(old ? ratio(median(out[old].ms), median(out[c].ms)) : '');
    return `| ${cells.join(' | ')} |`;
  };
  console.log(`| query${label} (median of ${RUNS}) | ms |${cpu ? ' CPU ms |' : ''} × baseline | old ÷ new |`);
  console.log(`|---|---:|${cpu ? '---:|' : ''}---:|---:|`);
  console.log(line('baseline: distinct visitors per step name, unordered', 'base'));
  console.log(line('**one pass**: seed 003 preset (5 steps, 1-day window)', 'new', OLD_RUNS > 0 ? 'old' : undefined));
  console.log(line('**one pass**: same, breakdown by context.utm.source', 'new_bd', OLD_RUNS > 0 ? 'old_bd' : undefined));
  console.log(line('**funnel index**: seed 003 preset', 'idx'));
  console.log(line('**funnel index**: same, breakdown by context.utm.source', 'idx_bd'));
  if (OLD_RUNS > 0) {
    console.log(line('old recursive statement: preset', 'old'));
    console.log(line('old recursive statement: breakdown', 'old_bd'));
  }
}

/** A fresh tenant with EVENTS generated rows, or the one a previous run left in --data with the same sizes. */
async function dataset(db: Db): Promise<{ tenant: number; loadS: number }> {
  const marker = DATA && STORE === 'embedded' ? path.join(DATA, 'bench.json') : '';
  if (marker && fs.existsSync(marker)) {
    const m = JSON.parse(fs.readFileSync(marker, 'utf8')) as { events: number; visitors: number; tenant: number; loadS: number };
    if (m.events === EVENTS && m.visitors === VISITORS) return m;
    throw new Error(`${DATA} holds ${m.events} events / ${m.visitors} visitors; pass the same sizes or another --data directory`);
  }
  const tenant = Number((await db.query<{ tenant_id: string }>("INSERT INTO tenants (name) VALUES ('bench') RETURNING tenant_id")).rows[0].tenant_id);
  const loadS = await loadEvents(db, tenant);
  if (marker) fs.writeFileSync(marker, JSON.stringify({ events: EVENTS, visitors: VISITORS, tenant, loadS }));
  return { tenant, loadS };
}

async function main() {
  const loadAtStart = load();
  const { db, done } = await open();
  try {
    const { tenant, loadS } = await dataset(db);
    const s = spec(false);
    const names = s.steps.map((x) => x.event_name);
    const stepRows = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM tx_events WHERE tenant_id = $1 AND event_name = ANY($2::text[])', [tenant, names])).rows[0].n);
    if (EXPLAIN) {
      const q = { query: <T>(sql: string, params?: unknown[]) => db.query<T>(`EXPLAIN (ANALYZE, COSTS OFF) ${sql}`, params) };
      const rows = (await funnelRows(q as unknown as Db, tenant, s, null)) as unknown as Record<string, string>[];
      console.log(rows.map((r) => Object.values(r)[0]).join('\n'));
    }
    const analytics = createAnalytics({
      db, log: silent, overrides: async () => ({}), index: { maxAgeMs: 86_400_000, minQueryMs: 0, maxTenants: 1, maxRows: 100_000_000 },
    });
    const heap0 = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const indexLoad = await time(() => analytics.index!.load(tenant));
    const heap1 = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const ist = analytics.index!.stats();
    // The first funnel after the read pays the collection of the read's garbage; reported apart, not in the medians.
    const first = await time(() => analytics.funnel(tenant, spec(false), null));
    const loadBefore = load();
    const m = await measure(db, tenant, analytics);
    // Embedded only (one connection): the same queries again with a larger sort memory for the session.
    const wm = WORK_MEM && STORE === 'embedded' ? (await db.query(`SET work_mem = '${WORK_MEM}'`), await measure(db, tenant, analytics)) : null;
    const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
    console.log(`\n${new Date().toISOString().slice(0, 16)}Z, ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GB, store ${STORE}, node ${process.version}`);
    console.log(`load average at start ${loadAtStart}, before the queries ${loadBefore}, at end ${load()}`);
    console.log(`${EVENTS.toLocaleString('en')} events over ${DAYS} days (${stepRows.toLocaleString('en')} of the 5 step names), ${VISITORS.toLocaleString('en')} visitors; loaded in ${loadS.toFixed(0)} s`);
    console.log(`funnel counts: ${m.counts.join(' → ')}; one-pass rows equal to the recursive statement's: ${m.equal === null ? 'not checked (--old-runs 0)' : m.equal ? 'yes' : 'NO'}`);
    console.log(`funnel index: read in ${(indexLoad.ms / 1000).toFixed(1)} s (CPU ${(indexLoad.cpuMs / 1000).toFixed(1)} s), ${ist.rows.toLocaleString('en')} rows, ${(ist.bytes / 2 ** 20).toFixed(0)} MiB by its own count, heap + buffers +${((heap1 - heap0) / 2 ** 20).toFixed(0)} MiB; first funnel after the read ${first.ms.toFixed(0)} ms; answers equal to the one-pass statement's: ${m.indexEqual ? 'yes' : 'NO'}\n`);
    table(m, '');
    if (wm) {
      console.log('');
      table(wm, `, work_mem ${WORK_MEM}`);
    }
  } finally {
    await done();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
