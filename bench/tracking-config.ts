// GET /api/tx/tracking-config: what the 5-min resolution cache saves. One server (embedded store, or
// DATABASE_URL), one tenant with 200 organizers × 3 codes, 50 events each, plus the marketplace's codes.
// Sequential requests from this process over HTTP, three ways, in one run:
//   cached   the same event again and again (memory hits; the fingerprint re-read every 5 s)
//   cold     a different event each time (each one resolved from the store once: organizer + codes)
//   html     cached, format=html with a nonce (the snippets are rendered per request)
// Prints a markdown section (command, date, machine, load average at start and end); --write appends it to
// bench/RESULTS.md.
//
//   npx tsx bench/tracking-config.ts [--requests 2000] [--write]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { loadConfig } from '../server/config/index.js';
import { startServer } from '../server/app.js';

const args = process.argv.slice(2);
const N = Number(args[args.indexOf('--requests') + 1]) || 2000;
const ADMIN = 'bench-admin-token-0123456789';
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' / ');

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function main() {
  const loadStart = load();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'txl-bench-tracking-'));
  const config = loadConfig({ ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_TOKEN: ADMIN });
  const server = await startServer(config, { log: pino({ level: 'silent' }) });
  const base = server.url;
  const call = async (method: string, p: string, body?: unknown, headers: Record<string, string> = {}) => {
    const r = await fetch(base + p, { method, headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
    const json = (await r.json()) as any;
    if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(json)}`);
    return json;
  };
  const t = await call('POST', '/api/admin/tenants', { name: 'bench', allowed_origins: [] }, { authorization: `Bearer ${ADMIN}` });
  const sk = { authorization: `Bearer ${t.secret_key}` };
  const ORGS = 200;
  const events = Array.from({ length: ORGS * 50 }, (_, i) => ({ id: `E${i}`, organizer_id: `O${i % ORGS}` }));
  for (let i = 0; i < events.length; i += 1000) await call('PUT', '/api/v1/catalog/events', { items: events.slice(i, i + 1000) }, sk);
  for (let o = 0; o < ORGS; o++) {
    await call('POST', '/api/v1/tracking-codes', { provider: 'meta', organizer_id: `O${o}`, settings: { pixel_id: String(100000000000000 + o) } }, sk);
    await call('POST', '/api/v1/tracking-codes', { provider: 'ga4', organizer_id: `O${o}`, settings: { measurement_id: `G-ORG${String(o).padStart(5, '0')}` } }, sk);
    await call('POST', '/api/v1/tracking-codes', { provider: 'tiktok', organizer_id: `O${o}`, event_id: `E${o}`, settings: { pixel_id: `C${String(o).padStart(19, '0')}` } }, sk);
  }
  await call('POST', '/api/v1/tracking-codes', { provider: 'meta', settings: { pixel_id: '999999999999999' } }, sk);
  await call('POST', '/api/v1/tracking-codes', { provider: 'ga4', settings: { measurement_id: 'G-MARKET01' } }, sk);
  const wk = { 'x-tx-key': t.write_key };

  const run = async (name: string, q: (i: number) => string) => {
    const ms: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      const s = performance.now();
      const r = await fetch(`${base}/api/tx/tracking-config?${q(i)}`, { headers: wk });
      await r.text();
      if (r.status !== 200) throw new Error(`${name}: ${r.status}`);
      ms.push(performance.now() - s);
    }
    const total = performance.now() - t0;
    ms.sort((x, y) => x - y);
    return { name, rps: (N / total) * 1000, p50: pct(ms, 50), p99: pct(ms, 99) };
  };
  // Warm the connection and the fingerprint.
  await run('warm', () => 'event_id=E1');
  const cached = await run('cached (same event)', () => 'event_id=E1');
  const cold = await run('cold (a new event each request)', (i) => `event_id=E${(i * 7919) % events.length}`);
  const html = await run('cached, format=html', () => 'event_id=E1&format=html&nonce=bench0nce12345');
  await server.close();
  fs.rmSync(dataDir, { recursive: true, force: true });

  const rows = [cached, cold, html].map((r) => `| ${r.name} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms |`);
  const cpu = os.cpus();
  const out = [
    '## Tracking config resolution (bench/tracking-config.ts)',
    '',
    `- date: ${new Date().toISOString()}; command: \`npx tsx bench/tracking-config.ts --requests ${N}\``,
    `- machine: ${cpu.length} cores (${cpu[0]?.model.trim()}), ${Math.round(os.totalmem() / 2 ** 30)} GB RAM, Node ${process.version}, store: ${config.databaseUrl ? 'DATABASE_URL' : 'embedded PGlite'}, no Redis; ${ORGS} organizers × 3 codes, ${events.length} events; sequential requests from the same process; load average at start ${loadStart}, at end ${load()}`,
    '',
    '| requests | req/s | p50 | p99 |',
    '|---|---|---|---|',
    ...rows,
    '',
    `Ratio cached / cold (req/s): ${(cached.rps / cold.rps).toFixed(1)}×.`,
    '',
  ].join('\n');
  console.log(out);
  if (args.includes('--write')) fs.appendFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'RESULTS.md'), `\n${out}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
