// Derived event genres on the embedded store: a tenant syncs 200 artists (50 genres each), 2000 events that each
// list all 200 (genres derived from them), then the artists twice more with new genres (every event re-derived).
// Prints each sync's status and milliseconds; while one runs, the one database session is held for all tenants.
//
//   npx tsx bench/catalog-genres.ts
import { benchServer, loadAvg, machine } from './ingest.js';

async function main() {
  const server = await benchServer();
  try {
    const t = await server.tenant('genres');
    const put = async (kind: string, items: unknown[]) => {
      const t0 = performance.now();
      const r = await fetch(`${server.base}/api/v1/catalog/${kind}`, { method: 'PUT', headers: { authorization: `Bearer ${t.secret_key}`, 'content-type': 'application/json' }, body: JSON.stringify({ items }) });
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
    await server.close();
  }
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
