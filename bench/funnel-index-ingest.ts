// Ingest latency while a funnel index is read (server/analytics/funnel-index.ts), in ONE run on the default
// embedded store (PGlite in a worker thread: one Postgres session, so every page read makes commits wait):
//   (a) baseline          ingest alone, as long as (b)
//   (b) paced pages       ingest while the index of a tenant with BENCH_ROWS stored events is read in pages sized
//                         to take ~100 ms, resting as long after each (the embedded store's default)
//   (c) same, no rest     pages sized to ~100 ms, the next one at once
//   (d) fixed pages       the same read in fixed pages of 50,000 ids, no rest
// After seeding, every job is run once to completion (so the feature store's backlog does not run during a phase).
// Each phase: CONN closed-loop clients posting 100-event batches to /api/tx/events/batch of another tenant;
// per-request latency p50/p99/max and events/s. The index is read in the server's process on the server's own
// store handle, as the server's analytics module reads it.
//
//   npx tsx bench/funnel-index-ingest.ts [--write]   (--write appends the markdown section to bench/RESULTS.md)
//   env: BENCH_ROWS (1000000 stored events of the indexed tenant) BENCH_CONN (4)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { createAnalytics } from '../server/analytics/index.js';
import { benchServer, ingestWhile, loopRow, seedFunnelHistory } from './closed-loop.js';
import { loadAvg as load, machine } from './ingest.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const CONN = Number(process.env.BENCH_CONN ?? 4);
const startLoad = load();
const log = pino({ level: 'warn' });

const { server, tenant, close } = await benchServer('bench-funnel-index-', log);
const writer = await tenant('ingest');
const indexed = await tenant('indexed');
const indexedId = Number(indexed.tenant_id);
// The indexed tenant's history: 30 days of the seed 003 funnel's names over 100k visitors.
await seedFunnelHistory(server, indexedId, ROWS, 100_000);

/** Reads the indexed tenant's funnel index once with these page settings; its time and rows. */
async function readIndex(pages: { pageSize: number; pageTargetMs: number; pageRest: number }): Promise<{ ms: number; rows: number }> {
  const a = createAnalytics({ db: server.db, log, overrides: async () => ({}), index: { maxAgeMs: 3_600_000, minQueryMs: 0, maxTenants: 1, maxRows: 100_000_000, ...pages } });
  const s = performance.now();
  const cols = await a.index!.load(indexedId);
  return { ms: performance.now() - s, rows: cols.size };
}

const loop = (stop: Promise<unknown>) => ingestWhile(server.url, writer.write_key, CONN, stop);

// Warm-up: the first requests pay for JIT and the first chunk of tx_events.
await loop(new Promise((r) => setTimeout(r, 3000)));

let paced = { ms: 0, rows: 0 };
const b = await loop(readIndex({ pageSize: 20_000, pageTargetMs: 100, pageRest: 1 }).then((r) => (paced = r)));
const a = await loop(new Promise((r) => setTimeout(r, Math.max(3000, paced.ms))));
let timed = { ms: 0, rows: 0 };
const c = await loop(readIndex({ pageSize: 20_000, pageTargetMs: 100, pageRest: 0 }).then((r) => (timed = r)));
let fixed = { ms: 0, rows: 0 };
const d = await loop(readIndex({ pageSize: 50_000, pageTargetMs: 0, pageRest: 0 }).then((r) => (fixed = r)));
const endLoad = load();
await close();

const section = [
  '## Ingest while a funnel index is read (bench/funnel-index-ingest.ts)',
  '',
  `- date: ${new Date().toISOString()}; command: \`npx tsx bench/funnel-index-ingest.ts\`; store: embedded (PGlite + TimescaleDB in a worker thread)`,
  `- machine: ${machine()}; load average at start ${startLoad}, at end ${endLoad}`,
  `- ${CONN} closed-loop clients in the server's process, 100-event batches to another tenant; the indexed tenant holds ${ROWS.toLocaleString('en')} events`,
  '',
  '| phase | duration | requests | latency p50 / p99 / max | events/s | index read |',
  '|---|---|---|---|---|---|',
  loopRow('(a) ingest alone', a, '—'),
  loopRow('(b) during a read in ~100 ms pages, resting as long after each (default)', b, `${paced.rows.toLocaleString('en')} rows in ${(paced.ms / 1000).toFixed(1)} s`),
  loopRow('(c) during a read in ~100 ms pages, no rest', c, `${timed.rows.toLocaleString('en')} rows in ${(timed.ms / 1000).toFixed(1)} s`),
  loopRow('(d) during a read in fixed pages of 50,000 ids, no rest', d, `${fixed.rows.toLocaleString('en')} rows in ${(fixed.ms / 1000).toFixed(1)} s`),
].join('\n');
console.log(section);
if (process.argv.includes('--write')) fs.appendFileSync(path.join(ROOT, 'bench', 'RESULTS.md'), '\n' + section + '\n');
process.exit(0);
