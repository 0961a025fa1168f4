// Ingest latency while funnels are read from the store (server/analytics/index.ts, slots.ts), in ONE run on the
// default embedded store (PGlite in a worker thread: one Postgres session, in the order statements are queued):
//   (a) baseline            ingest alone
//   (b) in turns (default)  ingest while BENCH_FUNNELS funnels the index cannot answer (a `contains` filter) are
//                           asked at once, read from the store one at a time (FUNNEL_STORE_CONCURRENCY=1)
//   (c) all queued          the same funnels, all queued on the session at once (the behaviour before the turns)
// Each phase: CONN closed-loop clients posting 100-event batches to /api/tx/events/batch of another tenant;
// per-request latency p50/p99/max and events/s. The funnels run in the server's process on the server's own store
// handle, through the analytics module the route uses (only its store concurrency differs between (b) and (c)).
//
//   npx tsx bench/funnels-store-ingest.ts [--write]   (--write appends the markdown section to bench/RESULTS.md)
//   env: BENCH_ROWS (300000 stored events of the analysed tenant) BENCH_FUNNELS (3) BENCH_CONN (4)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { createAnalytics, parseFunnel } from '../server/analytics/index.js';
import { benchServer, ingestWhile, loopRow, seedFunnelHistory } from './closed-loop.js';
import { loadAvg as load, machine } from './ingest.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROWS = Number(process.env.BENCH_ROWS ?? 300_000);
const FUNNELS = Number(process.env.BENCH_FUNNELS ?? 3);
const CONN = Number(process.env.BENCH_CONN ?? 4);
const startLoad = load();
const log = pino({ level: 'warn' });

const { server, tenant, close } = await benchServer('bench-funnels-store-', log);
const writer = await tenant('ingest');
const analysed = Number((await tenant('analysed')).tenant_id);
// The analysed tenant's history: 30 days of the seed 003 funnel's names over 30k visitors.
await seedFunnelHistory(server, analysed, ROWS, 30_000);

const now = Date.now();
const parsed = parseFunnel({
  steps: ['event_card_impression', 'event_card_click', 'event_view', 'ticket_link_click'].map((event_name) => ({
    event_name, filters: [{ field: 'context.utm.source', op: 'contains', value: 'o' }],
  })),
  window_s: 7 * 86_400, from: new Date(now - 31 * 86_400_000).toISOString(), to: new Date(now + 3_600_000).toISOString(),
});
if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
const spec = parsed.value;

/** FUNNELS funnels asked at once through an analytics module with this store concurrency; each one's time. */
async function funnels(storeConcurrency: number): Promise<number[]> {
  const a = createAnalytics({ db: server.db, log, overrides: async () => ({}), storeConcurrency });
  const t0 = performance.now();
  return Promise.all(Array.from({ length: FUNNELS }, async () => {
    const out = await a.funnel(analysed, spec, null);
    if (out.source !== 'store' || out.rows.length === 0) throw new Error('the funnel was not read from the store');
    return performance.now() - t0;
  }));
}

const loop = (stop: Promise<unknown>) => ingestWhile(server.url, writer.write_key, CONN, stop);
await loop(new Promise((r) => setTimeout(r, 3000))); // warm-up: JIT, the first chunk of tx_events

const one = await funnels(1); // the funnels' own time, nothing else running
const single = one[0] / FUNNELS;
const a = await loop(new Promise((r) => setTimeout(r, Math.max(3000, one[FUNNELS - 1]))));
let turns: number[] = [];
const b = await loop(funnels(1).then((r) => (turns = r)));
let queued: number[] = [];
const c = await loop(funnels(FUNNELS).then((r) => (queued = r)));
const endLoad = load();
await close();

const done = (ms: number[]) => ms.map((m) => `${(m / 1000).toFixed(1)}`).join(' / ') + ' s';
const section = [
  '## Ingest while store funnels run (bench/funnels-store-ingest.ts)',
  '',
  `- date: ${new Date().toISOString()}; command: \`npx tsx bench/funnels-store-ingest.ts\`; store: embedded (PGlite + TimescaleDB in a worker thread)`,
  `- machine: ${machine()}; load average at start ${startLoad}, at end ${endLoad}`,
  `- ${CONN} closed-loop clients in the server's process, 100-event batches to another tenant; the analysed tenant holds ${ROWS.toLocaleString('en')} events;`,
  `  ${FUNNELS} four-step funnels with a \`contains\` filter (not from the index) asked at once; one alone took ~${(single / 1000).toFixed(1)} s`,
  '',
  '| phase | duration | requests | latency p50 / p99 / max | events/s | funnels answered after |',
  '|---|---|---|---|---|---|',
  loopRow('(a) ingest alone', a, '—'),
  loopRow(`(b) ${FUNNELS} funnels in turns, one at a time (default)`, b, done(turns)),
  loopRow(`(c) ${FUNNELS} funnels all queued on the session at once (before)`, c, done(queued)),
].join('\n');
console.log(section);
if (process.argv.includes('--write')) fs.appendFileSync(path.join(ROOT, 'bench', 'RESULTS.md'), '\n' + section + '\n');
process.exit(0);
