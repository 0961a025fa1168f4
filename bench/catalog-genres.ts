// Derived event genres on the embedded store: a tenant syncs 200 artists (50 genres each), 2000 events that each
// list all 200 (genres derived from them), then the artists twice more with new genres (every event re-derived).
// Prints each sync's status and milliseconds; while one runs, the one database session is held for all tenants.
//
//   npx tsx bench/catalog-genres.ts
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ADMIN_TOKEN, loadAvg, machine, stop, waitFor } from './ingest.js';

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'txl-bench-genres-'));
  const c = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: path.resolve(import.meta.dirname, '..'), stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dir, ADMIN_TOKEN, LOG_LEVEL: 'warn', DEMO_TENANT: '0' },
  });
  try {
    const base = `http://127.0.0.1:${(await waitFor(c, /listening on http:\/\/localhost:(\d+)/, 120_000))[1]}`;
    const t = (await (await fetch(`${base}/api/admin/tenants`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'genres' }) })).json()) as { secret_key: string };
    const put = async (kind: string, items: unknown[]) => {
      const t0 = performance.now();
      const r = await fetch(`${base}/api/v1/catalog/${kind}`, { method: 'PUT', headers: { authorization: `Bearer ${t.secret_key}`, 'content-type': 'application/json' }, body: JSON.stringify({ items }) });
      await r.text();
      return `${r.status}, ${Math.round(performance.now() - t0)} ms`;
    };
    const artists = (p: string) => Array.from({ length: 200 }, (_, i) => ({ id: `AR${i}`, name: 'a', genres: Array.from({ length: 50 }, (_, g) => `${p}${g}`) }));
    const events = (b: number) => Array.from({ length: 1000 }, (_, i) => ({ id: `E${b}_${i}`, organizer_id: 'O', title: 't', artist_ids: Array.from({ length: 200 }, (_, a) => `AR${a}`) }));
    console.log(`${machine()}; load average ${loadAvg()}`);
    console.log(`| sync | answer |\n|:---|:---|`);
    console.log(`| 200 artists × 50 genres | ${await put('artists', artists('g1_'))} |`);
    for (const b of [0, 1]) console.log(`| 1000 events × 200 artists (genres derived) | ${await put('events', events(b))} |`);
    for (const p of ['g2_', 'g3_']) console.log(`| the 200 artists, new genres (2000 events re-derived) | ${await put('artists', artists(p))} |`);
  } finally {
    if (c.exitCode === null) await stop(c, 60_000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
