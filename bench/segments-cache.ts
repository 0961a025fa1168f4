// The segments cache (README "Segments"): reads of GET /api/v1/segments/{id} and GET /api/v1/segments from the
// store alone (no REDIS_URL) against the Redis entry (REDIS_URL, a random key prefix removed at the end), and a
// miss on every request (the key deleted before each one, outside the timing: the store's snapshot of the
// tenant plus the save). One tenant with --segments segments; the embedded store unless DATABASE_URL is set.
// Sequential requests from this process, each path warmed with as many requests first. Prints a markdown section (command, date, machine, load average at
// start and end); --write appends it to bench/RESULTS.md.
//
//   npx tsx bench/segments-cache.ts [--requests 1000] [--segments 50] [--write]   (Redis on REDIS_URL or 127.0.0.1:6379)
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { createClient } from 'redis';
import { loadConfig } from '../server/config/index.js';
import { startServer } from '../server/app.js';
import { cacheKey } from '../server/segments/cache-map.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => Number(args[args.indexOf(name) + 1]) || def;
const N = opt('--requests', 1000);
const SEGMENTS = opt('--segments', 50);
const ADMIN = 'bench-admin-token-0123456789';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' / ');
const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

type Row = { name: string; rps: number; p50: number; p99: number };

async function measure(redis: { prefix: string } | null): Promise<{ rows: Row[]; store: string }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'txl-bench-segments-'));
  const env: Record<string, string | undefined> = { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_TOKEN: ADMIN, REDIS_URL: undefined };
  if (redis) Object.assign(env, { REDIS_URL, LIVE_REDIS_PREFIX: redis.prefix, LIVE_TOKEN_SECRET: crypto.randomBytes(32).toString('hex') });
  const config = loadConfig(env);
  const server = await startServer(config, { log: pino({ level: 'silent' }) });
  const rc = redis ? createClient({ url: REDIS_URL }) : null;
  await rc?.connect();
  try {
    const call = async (method: string, p: string, body?: unknown, headers: Record<string, string> = {}) => {
      const r = await fetch(server.url + p, { method, headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
      const json = (await r.json()) as any;
      if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(json)}`);
      return json;
    };
    const t = await call('POST', '/api/admin/tenants', { name: 'bench', allowed_origins: [] }, { authorization: `Bearer ${ADMIN}` });
    const sk = { authorization: `Bearer ${t.secret_key}` };
    const ids: number[] = [];
    for (let i = 0; i < SEGMENTS; i++) {
      const filters = { and: [{ attribute: 'city', op: 'eq', value: `City ${i}` }, { affinity: 'genre', id: `genre-${i}`, gte: 50 }, { not: { did: 'order_completed', within_days: 14 } }] };
      ids.push((await call('POST', '/api/v1/segments', { name: `segment ${i}`, filters }, sk)).id);
    }
    const run = async (name: string, p: (i: number) => string, before?: () => Promise<unknown>): Promise<Row> => {
      const ms: number[] = [];
      let total = 0;
      for (let i = 0; i < N; i++) {
        if (before) await before();
        const s = performance.now();
        const r = await fetch(server.url + p(i), { headers: sk });
        await r.text();
        if (r.status !== 200) throw new Error(`${name}: ${r.status}`);
        const d = performance.now() - s;
        ms.push(d);
        total += d;
      }
      ms.sort((x, y) => x - y);
      return { name, rps: (N / total) * 1000, p50: pct(ms, 50), p99: pct(ms, 99) };
    };
    const one = (i: number) => `/api/v1/segments/${ids[i % ids.length]}`;
    const list = () => '/api/v1/segments?limit=100';
    const tier = redis ? 'Redis entry' : 'store (no REDIS_URL)';
    // Each path warmed first (JIT, pool, the entry), so the order of the two servers matters less.
    const rows = [];
    for (const [name, p] of [[`GET /segments/{id}, ${tier}`, one], [`GET /segments?limit=100, ${tier}`, list]] as const) {
      await run('warm', p);
      rows.push(await run(name, p));
    }
    if (redis && rc) {
      const del = () => rc.del(cacheKey(redis.prefix, t.tenant_id));
      rows.push(await run('GET /segments/{id}, miss each time (snapshot + save)', one, del));
    }
    return { rows, store: config.databaseUrl ? 'DATABASE_URL' : 'embedded PGlite' };
  } finally {
    if (rc && redis) {
      for await (const key of rc.scanIterator({ MATCH: `${redis.prefix}*`, COUNT: 1000 })) await rc.del(key);
      await rc.quit();
    }
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main() {
  const loadStart = load();
  const plain = await measure(null);
  const cached = await measure({ prefix: `txbench:${crypto.randomBytes(4).toString('hex')}:` });
  const rows = [...plain.rows, ...cached.rows].map((r) => `| ${r.name} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms |`);
  const cpu = os.cpus();
  const out = [
    '## Segments cache (bench/segments-cache.ts, issue 14 item 3)',
    '',
    `- date: ${new Date().toISOString()}; command: \`npx tsx bench/segments-cache.ts --requests ${N} --segments ${SEGMENTS}\``,
    `- machine: ${cpu.length} cores (${cpu[0]?.model.trim()}), ${Math.round(os.totalmem() / 2 ** 30)} GB RAM, Node ${process.version}, store: ${plain.store}, Redis on ${new URL(REDIS_URL).host}; one tenant with ${SEGMENTS} segments (3-leaf filters), no persons; sequential requests from the same process; load average at start ${loadStart}, at end ${load()}`,
    '',
    '| requests | req/s (sum of request times) | p50 | p99 |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
  console.log(out);
  if (args.includes('--write')) fs.appendFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'RESULTS.md'), `\n${out}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
