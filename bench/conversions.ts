// Server-side conversions benchmark (issue 15 part 2), in ONE run of one server (embedded store, in process)
// against the local ad-platform stand-ins (test/mock-platforms):
//   (1) ingest throughput of purchases with conversions off (a tenant with no tracking code: the projector's
//       statement finds no destination) and on (a tenant with an organizer and a marketplace Meta code: two
//       outbox rows per purchase), closed loop, rounds interleaved off/on; the ratio on/off per round;
//   (2) dispatch throughput: the rows queued in (1) sent by the `conversions-dispatch` job to the stand-in
//       (Meta, batches of up to 1000), conversions per second from the first run to the last row marked sent.
//
//   npx tsx bench/conversions.ts [--write]   (--write appends the markdown section it prints to bench/RESULTS.md)
//   env: BENCH_ROUNDS (3) BENCH_SECONDS (10 per phase) BENCH_CONN (4 concurrent requests of 100 purchases)
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { startServer } from '../server/app.js';
import { loadConfig } from '../server/config/index.js';
import { startMockPlatforms } from '../test/mock-platforms/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONN = Number(process.env.BENCH_CONN ?? 4);
const ADMIN = 'bench-admin-token-0123456789abcdef';

const purchase = () => ({
  event_id: crypto.randomUUID(), event_name: 'order_completed', occurred_at: new Date().toISOString(), source_system: 'backend',
  visitor_id: `v-${crypto.randomUUID().slice(0, 8)}`, session_id: null,
  consent_snapshot: { analytics: true, marketing: true, data_processing: true },
  context: { user_agent: 'Mozilla/5.0 bench', ip: '203.0.113.0', page: { url: 'https://tickets.example/e/E1/checkout' } },
  entities: { order_id: `O-${crypto.randomUUID().slice(0, 12)}`, event_entity_id: 'E1', organizer_id: 'O1' },
  payload: { gross_amount: 120, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 2, price: 60 }], consent_marketing: true, consent_data_processing: true,
    customer: { external_id: `C-${crypto.randomUUID().slice(0, 8)}`, email: `buyer${Math.random()}@example.com`, phone: '+40 721 234 567', city: 'Cluj' } },
});

async function post(url: string, body: unknown, headers: Record<string, string>) {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: r.status, json: (await r.json().catch(() => null)) as any };
}

/** Seconds spent so far in group commits and in the conversions.outbox hook (this server's /metrics). */
async function commitSeconds(base: string): Promise<{ commit: number; hook: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const val = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  return { commit: val(/^tx_writer_commit_seconds_sum ([\d.]+)$/m), hook: val(/^tx_writer_hook_seconds_sum\{hook="conversions\.outbox"[^}]*\} ([\d.]+)$/m) };
}

/** Closed loop: CONN workers posting batches of 100 purchases for SECONDS; accepted events per second. */
async function ingestPhase(base: string, secret: string): Promise<number> {
  const end = Date.now() + SECONDS * 1000;
  const start = Date.now();
  let accepted = 0;
  await Promise.all(Array.from({ length: CONN }, async () => {
    while (Date.now() < end) {
      const r = await post(`${base}/api/v1/server-events`, { events: Array.from({ length: 100 }, purchase) }, { authorization: `Bearer ${secret}` });
      if (r.status !== 200) throw new Error(`ingest: ${r.status} ${JSON.stringify(r.json)}`);
      accepted += r.json.accepted;
    }
  }));
  return accepted / ((Date.now() - start) / 1000);
}

async function main() {
  const mock = await startMockPlatforms();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'txl-bench-conv-'));
  const config = loadConfig({
    PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_TOKEN: ADMIN, DEMO_TENANT: '0', LOG_LEVEL: 'error', ENCRYPTION_KEY: 'cd'.repeat(32),
    META_GRAPH_URL: mock.url, TIKTOK_API_URL: mock.url, GOOGLE_DATAMANAGER_URL: mock.url, GA4_MP_URL: mock.url,
    RATE_LIMIT_EVENTS_PER_SEC: '10000000', RATE_LIMIT_BURST: '100000000',
  });
  const server = await startServer(config, { log: pino({ level: 'error' }) });
  const base = server.url;
  const loadStart = os.loadavg().map((x) => x.toFixed(2)).join(' / ');
  const tenant = async (name: string) => (await post(`${base}/api/admin/tenants`, { name }, { authorization: `Bearer ${ADMIN}` })).json;
  const off = await tenant('conversions-off');
  const on = await tenant('conversions-on');
  for (const [pixel, org] of [['100000000000001', 'O1'], ['100000000000002', null]] as const) {
    const r = await post(`${base}/api/v1/tracking-codes`, { provider: 'meta', organizer_id: org, settings: { pixel_id: pixel }, secrets: { access_token: 'bench' } }, { authorization: `Bearer ${on.secret_key}` });
    if (r.status !== 201 && r.status !== 200) throw new Error(`tracking code: ${r.status} ${JSON.stringify(r.json)}`);
  }
  // The dispatcher must not run during the ingest phases: the job's schedule would, so the bench holds the
  // stand-in's answers until (2) (the claimed batches wait, nothing is marked).
  mock.hold('meta');

  type Phase = { rate: number; hookShare: number };
  const phase = async (secret: string): Promise<Phase> => {
    const before = await commitSeconds(base);
    const rate = await ingestPhase(base, secret);
    const after = await commitSeconds(base);
    return { rate, hookShare: (after.hook - before.hook) / Math.max(1e-9, after.commit - before.commit) };
  };
  const rounds: { off: Phase; on: Phase }[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const a = await phase(off.secret_key);
    const b = await phase(on.secret_key);
    rounds.push({ off: a, on: b });
  }
  mock.release();

  // (2) dispatch: every queued row to the stand-in. Leases of batches claimed while held are waited out.
  const count = async () => (await server.db.query<{ pending: number; sent: number }>(
    "SELECT count(*) FILTER (WHERE status IN ('pending','sending'))::int AS pending, count(*) FILTER (WHERE status = 'sent')::int AS sent FROM conversion_outbox")).rows[0];
  await server.db.query("UPDATE conversion_outbox SET status = 'pending', next_at = now(), lease_until = NULL WHERE status = 'sending'");
  const queued = (await count()).pending;
  const sentBefore = (await count()).sent;
  const t0 = performance.now();
  for (;;) {
    await server.jobs.runner.runNow('conversions-dispatch', 600_000);
    const c = await count();
    if (c.pending === 0) break;
  }
  const dispatchS = (performance.now() - t0) / 1000;
  const sent = (await count()).sent - sentBefore;
  const requests = mock.received.filter((r) => r.status === 200).length;
  await server.close();
  await mock.close();

  const loadEnd = os.loadavg().map((x) => x.toFixed(2)).join(' / ');
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  const lines = [
    '## Server-side conversions (bench/conversions.ts)',
    '',
    `- date: ${new Date().toISOString()}; command: \`npx tsx bench/conversions.ts\` (BENCH_ROUNDS=${ROUNDS}, BENCH_SECONDS=${SECONDS}, BENCH_CONN=${CONN})`,
    `- machine: ${os.cpus().length} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GB RAM, Node ${process.version}; embedded store (PGlite), no Redis; stand-ins in the same process; load average at start ${loadStart}, at end ${loadEnd}`,
    '',
    '### Ingest of purchases (batches of 100 on /api/v1/server-events), conversions off vs on',
    '',
    '| round | off (no code): events/s | on (2 Meta codes, 2 outbox rows each): events/s | on / off | commit time in conversions.outbox: off | on |',
    '|---|---|---|---|---|---|',
    ...rounds.map((r, i) => `| ${i + 1} | ${r.off.rate.toFixed(0)} | ${r.on.rate.toFixed(0)} | ${(r.on.rate / r.off.rate).toFixed(2)} | ${(100 * r.off.hookShare).toFixed(1)} % | ${(100 * r.on.hookShare).toFixed(1)} % |`),
    '',
    '### Dispatch to the Meta stand-in (job runs until no row is pending)',
    '',
    '| rows queued | rows sent | requests | seconds | conversions/s |',
    '|---|---|---|---|---|',
    `| ${queued} | ${sent} | ${requests} | ${dispatchS.toFixed(2)} | ${(sent / dispatchS).toFixed(0)} |`,
    '',
  ];
  const md = lines.join('\n');
  process.stdout.write(md + '\n');
  if (process.argv.includes('--write')) fs.appendFileSync(path.join(ROOT, 'bench/RESULTS.md'), '\n' + md);
  process.exit(0);
}

await main();
