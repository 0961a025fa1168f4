// Experiment results (server/experiments/results.ts) from the store and from the funnel index, in ONE run on the
// same data on the embedded store (PGlite: one session, so every store funnel holds it for its whole length):
//   before   what results did until commit f552460: one exposure funnel plus one funnel per metric, on the store
//   store    results through analytics' funnel entry point with no index: one funnel per metric
//   index    the same entry point once the tenant's funnel index is read (FUNNEL_INDEX_MIN_QUERY_MS=0): the
//            catch-up read and the erasure check included, as the route pays them
// The three answers are checked equal. Median of --runs each; wall and this process's CPU time (PGlite runs in its
// worker thread), after one untimed warm-up. Prints a Markdown section for bench/RESULTS.md.
//
//   npx tsx bench/experiment-results.ts [--events 200000] [--visitors 40000] [--runs 3]
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { funnelRows } from '../server/analytics/funnels.js';
import { createAnalytics } from '../server/analytics/index.js';
import { countsByVariant, experimentResults, resultsBody, resultsRange, resultsSpec, type FunnelSource } from '../server/experiments/results.js';
import type { Experiment } from '../server/experiments/store.js';
import { openEmbedded } from '../server/store/db.js';
import { migrate } from '../server/store/migrate.js';
import { silent, tmpDir } from '../test/helpers.js';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const EVENTS = Number(arg('events', '200000'));
const VISITORS = Number(arg('visitors', '40000'));
const RUNS = Number(arg('runs', '3'));
const FROM = Date.parse('2026-11-01T00:00:00Z');
const DAYS = 14;
const uptime = () => execSync('uptime').toString().trim();
const startLoad = uptime();

const dir = tmpDir('bench-xp-results-');
const db = await openEmbedded(dir, silent);
await migrate(db, silent);
const tenant = Number((await db.query<{ tenant_id: string }>("INSERT INTO tenants (name) VALUES ('xp-bench') RETURNING tenant_id")).rows[0].tenant_id);

// One exposure per visitor (variant by a hash of the visitor), and the rest of the rows a mix of the funnel's
// names over the same visitors and 14 days; deterministic, set-based.
const seedStarted = performance.now();
await db.query(
  `INSERT INTO tx_events (event_id, event_name, occurred_at, tenant_id, source_system, visitor_id, session_id, consent_snapshot, context, entities, payload)
   SELECT md5('x' || v)::uuid, 'experiment_exposure', $2::timestamptz + ((hashint4(v) & 1048575) / 1048576.0) * interval '${DAYS} days', $1, 'web', 'v' || v, 's' || v,
          '{"analytics":true}', '{}', '{}', jsonb_build_object('experiment_id', 'xp_bench', 'variant', CASE WHEN hashint4(v + 7) & 1 = 0 THEN 'control' ELSE 'green' END)
   FROM generate_series(0, $3::int - 1) AS v`,
  [tenant, new Date(FROM), VISITORS],
);
await db.query(
  `INSERT INTO tx_events (event_id, event_name, occurred_at, tenant_id, source_system, visitor_id, session_id, consent_snapshot, context, entities, payload)
   SELECT md5('e' || i)::uuid, (ARRAY['page_view','page_view','event_card_impression','event_card_impression','event_card_click','ticket_link_click','add_to_cart'])[1 + (hashint4(i + 3) & 2147483647) % 7],
          $2::timestamptz + ((hashint4(i) & 1048575) / 1048576.0) * interval '${DAYS} days', $1, 'web', 'v' || ((hashint4(i + 1) & 2147483647) % $3), 's' || i,
          '{"analytics":true}', jsonb_build_object('utm', jsonb_build_object('source', 'google')), '{}', '{}'
   FROM generate_series(1, $4::int) AS i`,
  [tenant, new Date(FROM), VISITORS, Math.max(0, EVENTS - VISITORS)],
);
const seedMs = performance.now() - seedStarted;
const stored = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM tx_events WHERE tenant_id = $1', [tenant])).rows[0].n);

const exp: Experiment = {
  key: 'xp_bench', name: null, variants: [{ key: 'control', weight: 0.5 }, { key: 'green', weight: 0.5 }], coverage: 1,
  start: new Date(FROM).toISOString(), end: new Date(FROM + DAYS * 86_400_000).toISOString(), metric_window_s: 7 * 86_400,
  success_metrics: [
    { name: 'ticket', steps: [{ event_name: 'ticket_link_click', filters: [] }] },
    { name: 'click_to_ticket', steps: [{ event_name: 'event_card_click', filters: [] }, { event_name: 'ticket_link_click', filters: [] }] },
  ],
  created_at: new Date(FROM).toISOString(), updated_at: new Date(FROM).toISOString(),
};
const NOW = new Date(FROM + 30 * 86_400_000);

/** Results as they were computed before: one exposure funnel, then one per metric, on the store. */
async function before() {
  const range = resultsRange(exp, NOW);
  const keys = exp.variants.map((v) => v.key);
  const exposed = countsByVariant(await funnelRows(db, tenant, resultsSpec(exp, range, []), null), keys, 0);
  const conversions = new Map<string, Map<string, number>>();
  for (const m of exp.success_metrics) conversions.set(m.name, countsByVariant(await funnelRows(db, tenant, resultsSpec(exp, range, m.steps), null), keys, m.steps.length));
  return resultsBody(exp, range, exposed, conversions);
}

const storeOnly = createAnalytics({ db, log: silent, overrides: async () => ({}) });
const indexed = createAnalytics({ db, log: silent, overrides: async () => ({}), index: { maxAgeMs: 3_600_000, minQueryMs: 0, maxTenants: 1, maxRows: 100_000_000, pageSize: 20_000, pageTargetMs: 100, pageRest: 0, settleMs: 0 } });
const sources: string[] = [];
const viaIndex: FunnelSource = async (t, s, scope) => {
  const out = await indexed.funnel(t, s, scope);
  sources.push(out.source);
  return out;
};

async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; cpu: number; out: T }[]> {
  const all: { ms: number; cpu: number; out: T }[] = [];
  for (let i = 0; i < RUNS; i++) {
    const c = process.cpuUsage();
    const s = performance.now();
    const out = await run();
    const ms = performance.now() - s;
    const u = process.cpuUsage(c);
    all.push({ ms, cpu: (u.user + u.system) / 1000, out });
  }
  return all;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

await before(); // warm-up: JIT, and the store's first read of the rows
const a = await timed(before);
const b = await timed(() => experimentResults(storeOnly.funnel, tenant, exp, NOW));
const loadStarted = performance.now();
const cols = await indexed.index!.load(tenant);
const loadMs = performance.now() - loadStarted;
const c = await timed(() => experimentResults(viaIndex, tenant, exp, NOW));
const endLoad = uptime();
await db.close();
fs.rmSync(dir, { recursive: true, force: true });

const want = JSON.stringify(a[0].out);
const equal = [...a, ...b, ...c].every((r) => JSON.stringify(r.out) === want);
if (!sources.every((s) => s === 'index')) throw new Error(`index runs read: ${sources.join()}`);
const row = (what: string, funnels: string, rs: { ms: number; cpu: number }[], base: number) =>
  `| ${what} | ${funnels} | ${Math.round(median(rs.map((r) => r.ms)))} | ${Math.round(median(rs.map((r) => r.cpu)))} | ${(base / median(rs.map((r) => r.ms))).toFixed(1)}× |`;
const base = median(a.map((r) => r.ms));
const v = a[0].out.variants;
console.log([
  `Command \`npx tsx bench/experiment-results.ts --events ${EVENTS} --visitors ${VISITORS} --runs ${RUNS}\`, embedded store, ${os.cpus().length} cores (shared), ${new Date().toISOString()}.`,
  `${stored} stored events (${VISITORS} exposures, one per visitor), seeded in ${Math.round(seedMs)} ms; 2 metrics; index read once in ${Math.round(loadMs)} ms (${cols.size} rows).`,
  `Answers equal across the three: ${equal} (control ${v[0].exposures} exposed, ${v[0].metrics.ticket.conversions} / ${v[0].metrics.click_to_ticket.conversions} converted; green ${v[1].exposures}, ${v[1].metrics.ticket.conversions} / ${v[1].metrics.click_to_ticket.conversions}).`,
  '',
  `| results (median of ${RUNS}) | funnels | ms | CPU ms | before ÷ this |`,
  '|---|---|---:|---:|---:|',
  row('before: exposure funnel + one per metric, store', '3 store', a, base),
  row('**store**: one funnel per metric', '2 store', b, base),
  row('**index**: one funnel per metric', '2 index', c, base),
  '',
  '```',
  startLoad,
  endLoad,
  '```',
].join('\n'));
if (!equal) process.exitCode = 1;
