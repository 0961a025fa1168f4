// Ingest latency while a job runs (issue 11 item 5), in ONE run on the default embedded store (PGlite +
// TimescaleDB in a worker thread: one Postgres session, so a long statement makes every commit wait):
//   (a) baseline        ingest alone
//   (b) chunked job     ingest while `ingest.ledger_prune` (POST /api/admin/jobs/…/run) deletes a backlog of
//                       expired tx_event_ids in chunks of 5000
//   (c) one statement   ingest while the same backlog is deleted in ONE DELETE (how the pruning timer did it)
// Each phase: CONN closed-loop clients posting 100-event batches to /api/tx/events/batch; per-request latency
// p50/p99/max and events/s. (b) and (c) last as long as their deletion, (a) as long as (b).
// The clients run in this process next to the server (its HTTP thread); the store is in its worker thread.
//
//   npx tsx bench/jobs-ingest.ts [--write]   (--write appends the markdown section to bench/RESULTS.md)
//   env: BENCH_ROWS (600000 expired ledger ids per phase) BENCH_CONN (4) BENCH_FORCE=1 (run even when the
//        1-minute load average is ≥ 4; otherwise the script only records that it was not run)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { startServer } from '../server/app.js';
import { loadConfig } from '../server/config/index.js';
import { ingestWhile, loopRow } from './closed-loop.js';
import { ADMIN_TOKEN as ADMIN, loadAvg as load, machine } from './ingest.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROWS = Number(process.env.BENCH_ROWS ?? 600_000);
const CONN = Number(process.env.BENCH_CONN ?? 4);
const command = 'npx tsx bench/jobs-ingest.ts';

function write(section: string): void {
  console.log(section);
  if (process.argv.includes('--write')) fs.appendFileSync(path.join(ROOT, 'bench', 'RESULTS.md'), '\n' + section + '\n');
}

const startLoad = os.loadavg()[0];
if (startLoad >= 4 && process.env.BENCH_FORCE !== '1') {
  write([
    '## Ingest while a job runs (bench/jobs-ingest.ts)',
    '',
    `- date: ${new Date().toISOString()}; command: \`${command}\`; machine: ${machine()}`,
    `- **not run**: load average ${load()} at start (≥ 4: the shared machine ran other engineers' tests, so a`,
    '  latency figure would measure the neighbours). Run it on a quiet machine.',
  ].join('\n'));
  process.exit(0);
}

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-jobs-'));
const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_TOKEN: ADMIN, RATE_LIMIT_EVENTS_PER_SEC: '10000000', RATE_LIMIT_BURST: '10000000' });
const server = await startServer(config, { log: pino({ level: 'warn' }) });
const tenant = (await (await fetch(`${server.url}/api/admin/tenants`, {
  method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench' }),
})).json()) as { write_key: string };

async function seed(): Promise<void> {
  await server.db.query(
    "INSERT INTO tx_event_ids (tenant_id, event_id, received_at) SELECT 999, gen_random_uuid(), now() - interval '400 days' FROM generate_series(1, $1)",
    [ROWS],
  );
}

const loop = (stop: Promise<unknown>) => ingestWhile(server.url, tenant.write_key, CONN, stop);

// Warm-up: the first requests pay for JIT and the first chunk of tx_events.
await loop(new Promise((r) => setTimeout(r, 3000)));

await seed();
let jobMs = 0;
let jobRows = 0;
const b = await loop((async () => {
  const s = performance.now();
  const r = await fetch(`${server.url}/api/admin/jobs/ingest.ledger_prune/run`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });
  const run = (await r.json()) as { rows: number; status: string };
  jobMs = performance.now() - s;
  jobRows = run.rows;
})());
const a = await loop(new Promise((r) => setTimeout(r, Math.max(3000, jobMs))));
await seed();
let oneMs = 0;
const c = await loop((async () => {
  const s = performance.now();
  await server.db.query('DELETE FROM tx_event_ids WHERE received_at < $1', [new Date(Date.now() - 30 * 86_400_000).toISOString()]);
  oneMs = performance.now() - s;
})());
const endLoad = load();
await server.close();
fs.rmSync(dataDir, { recursive: true, force: true });

write([
  '## Ingest while a job runs (bench/jobs-ingest.ts)',
  '',
  `- date: ${new Date().toISOString()}; command: \`${command}\`; store: embedded (PGlite + TimescaleDB in a worker thread)`,
  `- machine: ${machine()}; load average at start ${startLoad.toFixed(2)} (1 min), at end ${endLoad}`,
  `- ${CONN} closed-loop clients in the server's process, 100-event batches; backlog ${ROWS} expired tx_event_ids per phase`,
  '',
  '| phase | duration | requests | latency p50 / p99 / max | events/s | deletion |',
  '|---|---|---|---|---|---|',
  loopRow('(a) ingest alone', a, '—'),
  loopRow('(b) during ingest.ledger_prune (chunks of 5000)', b, `${jobRows} rows in ${jobMs.toFixed(0)} ms`),
  loopRow('(c) during one DELETE (the old timer)', c, `${ROWS} rows in ${oneMs.toFixed(0)} ms`),
].join('\n'));
process.exit(0);
