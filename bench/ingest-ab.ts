// Side by side: the same ingest load against two (or more) checkouts of the server, interleaved round by round
// (A B, B A, …), so a slow patch of the machine hits both. For each: the closed-loop rate ((c) of
// bench/ingest-stores.ts: BENCH_CONN connections posting 100-event batches), the commit cost per row from
// /metrics, and the half-load latency ((d): open loop at half of that rate).
//
//   git worktree add /tmp/base <commit> && ln -s "$PWD/node_modules" /tmp/base/node_modules
//   TREES=.,/tmp/base npx tsx bench/ingest-ab.ts
//   env: TREES (., comma-separated checkouts) STORE (embedded | postgres) ROUNDS (3) SECS (10) BENCH_CONN (16)
//        BENCH_PG_URL (postgres://postgres@127.0.0.1:5432/postgres: a throwaway database per server)
//        AB_LOG (a log level: the servers' job and checkpoint log lines are printed)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ADMIN_TOKEN, bodyMaker, closedLoop, loadAvg, median, openLoop, pct, stop, throwawayDb, UAS, waitFor, type Target } from './ingest.js';

const trees = (process.env.TREES ?? '.').split(',').map((t) => path.resolve(t));
const rounds = Number(process.env.ROUNDS ?? 3);
const secs = Number(process.env.SECS ?? 10);
const conns = Number(process.env.BENCH_CONN ?? 16);
const store = process.env.STORE === 'postgres' ? 'postgres' : 'embedded';
const pgUrl = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const body = bodyMaker();

interface Run { eps: number; usPerRow: number; p50: number; p99: number }

async function metrics(port: number) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
  const v = (n: string) => Number(new RegExp(`^${n} ([0-9.eE+-]+)$`, 'm').exec(text)?.[1]);
  return { seconds: v('tx_writer_commit_seconds_sum'), rows: v('tx_writer_committed_rows_total') };
}

async function one(tree: string): Promise<Run> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'txl-bench-ab-'));
  const tmp = store === 'postgres' ? await throwawayDb(pgUrl) : null;
  const env = {
    ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_TOKEN, RATE_LIMIT_EVENTS_PER_SEC: '10000000',
    RATE_LIMIT_BURST: '100000000', LOG_LEVEL: process.env.AB_LOG ?? 'warn', DEMO_TENANT: '0', ...(tmp ? { DATABASE_URL: tmp.url } : {}),
  };
  const c = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], { cwd: tree, env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (process.env.AB_LOG) {
    c.stdout!.on('data', (d: Buffer) => {
      for (const l of d.toString().split('\n')) if (/"(job|mod)":"(store\.checkpoint|checkpoint)"|job run/.test(l)) console.log(`  log ${l.slice(0, 240)}`);
    });
  }
  try {
    const port = Number((await waitFor(c, /listening on http:\/\/localhost:(\d+)/, 120_000))[1]);
    const created = await fetch(`http://127.0.0.1:${port}/api/admin/tenants`, {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'ab', allowed_origins: [] }),
    });
    const tenant = (await created.json()) as { write_key: string };
    const t: Target = { port, path: '/api/tx/events/batch', headers: { 'content-type': 'application/json', 'x-tx-key': tenant.write_key, 'user-agent': UAS[1] } };
    await closedLoop(t, conns, 3, body, true);
    const before = await metrics(port);
    const sat = await closedLoop(t, conns, secs, body, true);
    const after = await metrics(port);
    const half = await openLoop(t, sat.ok / sat.seconds / 2, secs, body, true);
    return {
      eps: sat.accepted / sat.seconds,
      usPerRow: (1e6 * (after.seconds - before.seconds)) / (after.rows - before.rows),
      p50: pct(half.latencies, 50),
      p99: pct(half.latencies, 99),
    };
  } finally {
    if (c.exitCode === null) await stop(c, 60_000);
    await tmp?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main() {
  console.log(`# ingest A/B (${store})  node ${process.version}  nproc ${os.availableParallelism()}  loadavg ${loadAvg()}`);
  const runs = new Map<string, Run[]>(trees.map((t) => [t, []]));
  for (let r = 0; r < rounds; r++) {
    for (const tree of r % 2 ? [...trees].reverse() : trees) {
      const o = await one(tree);
      runs.get(tree)!.push(o);
      console.log(`round ${r + 1} ${tree}: ${o.eps.toFixed(0)} events/s, commit ${o.usPerRow.toFixed(1)} µs/row, half load p50 ${o.p50.toFixed(1)} ms p99 ${o.p99.toFixed(1)} ms, load ${os.loadavg()[0].toFixed(2)}`);
    }
  }
  console.log('\n| tree | events/s (median) | commit µs/row | half-load p50 ms | half-load p99 ms | runs (events/s) |');
  console.log('|:---|---:|---:|---:|---:|:---|');
  for (const [tree, xs] of runs) {
    const m = (f: (r: Run) => number) => median(xs.map(f)).toFixed(1);
    console.log(`| ${tree} | ${median(xs.map((x) => x.eps)).toFixed(0)} | ${m((x) => x.usPerRow)} | ${m((x) => x.p50)} | ${m((x) => x.p99)} | ${xs.map((x) => x.eps.toFixed(0)).join(', ')} |`);
  }
  console.log(`\nload average at the end ${loadAvg()}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
