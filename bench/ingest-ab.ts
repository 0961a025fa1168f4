// Side by side: the same ingest load against two (or more) checkouts of the server, interleaved round by round
// (A B, B A, …), so a slow patch of the machine hits both. For each: the closed-loop rate ((c) of
// bench/ingest-stores.ts: BENCH_CONN connections posting 100-event batches), the commit cost per row from
// /metrics (split into the writer hooks' time, tx_writer_hook_seconds, and the rest: the insert statement,
// BEGIN/COMMIT), and the half-load latency ((d): open loop at half of that rate).
//
//   git worktree add /tmp/base <commit> && ln -s "$PWD/node_modules" /tmp/base/node_modules
//   TREES=.,/tmp/base npx tsx bench/ingest-ab.ts
//   env: TREES (., comma-separated checkouts) STORE (embedded | postgres) ROUNDS (3) SECS (10) BENCH_CONN (16)
//        BENCH_PG_URL (postgres://postgres@127.0.0.1:5432/postgres: a throwaway database per server)
//        AB_LOG (a log level: the servers' job and checkpoint log lines are printed)
//        BENCH_ORDERS (0: web events only) share 0..1 of each connection's batches (and of the half load's
//          requests) that are instead 100 order_completed server events posted with the tenant's secret key to
//          /api/v1/server-events (bench/ingest.ts orderBodyMaker: fresh order ids, half with customer + consent,
//          so the order ledger's insert_events_orders and the identity links run in the commit)
// After each run the server is stopped and what it stored is counted (tx_events, its orders, persons, the order
// ledger where the tree has one): acknowledged (the answers' accepted, warm-up included) must equal stored.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ADMIN_TOKEN, bodyMaker, closedLoop, loadAvg, median, openLoop, orderBodyMaker, pct, quietLog, stop, throwawayDb, UAS, waitFor, type AltLoad, type Target } from './ingest.js';

const trees = (process.env.TREES ?? '.').split(',').map((t) => path.resolve(t));
const rounds = Number(process.env.ROUNDS ?? 3);
const secs = Number(process.env.SECS ?? 10);
const conns = Number(process.env.BENCH_CONN ?? 16);
const store = process.env.STORE === 'postgres' ? 'postgres' : 'embedded';
const pgUrl = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const orders = Number(process.env.BENCH_ORDERS ?? 0);
if (!(orders >= 0 && orders <= 1)) throw new Error(`BENCH_ORDERS must be a share from 0 to 1; got ${process.env.BENCH_ORDERS}`);
const body = bodyMaker();
const orderBody = orders > 0 ? orderBodyMaker() : null;

interface Check {
  acked: number;
  /** tx_writer_committed_rows_total at the end of the load. */
  committed: number;
  stored: number;
  ordersAcked: number;
  ordersStored: number;
  /** Orders stored with a person (the consented half, linked in the commit). */
  ordersWithPerson: number;
  persons: number;
  /** tx_order_ids rows (null: the tree has no order ledger). */
  ledger: number | null;
  errors: string;
}
interface Run { eps: number; usPerRow: number; rowsPerCommit: number; hooks: (readonly [string, number])[]; p50: number; p99: number; check: Check }

async function metrics(port: number) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
  const v = (n: string) => Number(new RegExp(`^${n} ([0-9.eE+-]+)$`, 'm').exec(text)?.[1]);
  // Time in each writer hook (inside the commit): what of a commit is not the insert statement itself.
  const hooks = new Map<string, number>();
  for (const m of text.matchAll(/^tx_writer_hook_seconds_sum\{hook="([^"]+)",stage="([^"]+)"\} ([0-9.eE+-]+)$/gm)) hooks.set(`${m[1]}/${m[2]}`, Number(m[3]));
  return { seconds: v('tx_writer_commit_seconds_sum'), commits: v('tx_writer_commit_seconds_count'), rows: v('tx_writer_committed_rows_total'), hooks };
}

/** µs per committed row of each writer hook between two readings, the largest first (those above 1 µs/row). */
function hookCost(before: Awaited<ReturnType<typeof metrics>>, after: Awaited<ReturnType<typeof metrics>>) {
  const rows = after.rows - before.rows;
  return [...after.hooks]
    .map(([k, s]) => [k, (1e6 * (s - (before.hooks.get(k) ?? 0))) / rows] as const)
    .filter(([, us]) => us >= 1)
    .sort((a, b) => b[1] - a[1]);
}

/** What the stopped server stored, read from its store (its DATA_DIR, or its throwaway database). */
async function storedCounts(dataDir: string, pgUrlOfRun: string | null) {
  const sql = {
    stored: 'SELECT count(*)::text AS n FROM tx_events',
    orders: "SELECT count(*)::text AS n FROM tx_events WHERE event_name = 'order_completed'",
    withPerson: "SELECT count(*)::text AS n FROM tx_events WHERE event_name = 'order_completed' AND person_id IS NOT NULL",
    persons: 'SELECT count(*)::text AS n FROM persons',
    hasLedger: "SELECT (to_regclass('tx_order_ids') IS NOT NULL)::text AS n",
    ledger: 'SELECT count(*)::text AS n FROM tx_order_ids',
  };
  let query: (q: string) => Promise<string>;
  let close: () => Promise<void>;
  if (pgUrlOfRun) {
    const client = new (await import('pg')).default.Client({ connectionString: pgUrlOfRun });
    await client.connect();
    query = async (q) => (await client.query<{ n: string }>(q)).rows[0].n;
    close = () => client.end();
  } else {
    const { openEmbedded } = await import('../server/store/db.js');
    const db = await openEmbedded(dataDir, await quietLog());
    query = async (q) => (await db.query<{ n: string }>(q)).rows[0].n;
    close = () => db.close();
  }
  try {
    const hasLedger = (await query(sql.hasLedger)) === 'true';
    return {
      stored: Number(await query(sql.stored)),
      ordersStored: Number(await query(sql.orders)),
      ordersWithPerson: Number(await query(sql.withPerson)),
      persons: Number(await query(sql.persons)),
      ledger: hasLedger ? Number(await query(sql.ledger)) : null,
    };
  } finally {
    await close();
  }
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
    if (created.status !== 201) throw new Error(`create tenant: ${created.status} ${await created.text()}`);
    // The tenant's first write key and secret key, both in the creation answer (README "Tenants").
    const tenant = (await created.json()) as { write_key: string; secret_key: string };
    const t: Target = { port, path: '/api/tx/events/batch', headers: { 'content-type': 'application/json', 'x-tx-key': tenant.write_key, 'user-agent': UAS[1] } };
    const alt: AltLoad | undefined = orderBody
      ? { share: orders, body: orderBody, t: { port, path: '/api/v1/server-events', headers: { 'content-type': 'application/json', authorization: `Bearer ${tenant.secret_key}` } } }
      : undefined;
    const warm = await closedLoop(t, conns, 3, body, true, alt);
    const before = await metrics(port);
    const sat = await closedLoop(t, conns, secs, body, true, alt);
    const after = await metrics(port);
    const half = await openLoop(t, sat.ok / sat.seconds / 2, secs, body, true, alt);
    const end = await metrics(port);
    await stop(c, 60_000);
    const counts = await storedCounts(dataDir, tmp?.url ?? null);
    const errs = [warm, sat, half].flatMap((r) => Object.entries(r.errors).map(([k, n]) => `${n}× ${k}`));
    return {
      eps: sat.accepted / sat.seconds,
      usPerRow: (1e6 * (after.seconds - before.seconds)) / (after.rows - before.rows),
      rowsPerCommit: (after.rows - before.rows) / (after.commits - before.commits),
      hooks: hookCost(before, after),
      p50: pct(half.latencies, 50),
      p99: pct(half.latencies, 99),
      check: {
        acked: warm.accepted + sat.accepted + half.accepted,
        committed: end.rows,
        ordersAcked: warm.altAccepted + sat.altAccepted + half.altAccepted,
        ...counts,
        errors: errs.join('; ').slice(0, 400),
      },
    };
  } finally {
    if (c.exitCode === null) await stop(c, 60_000);
    await tmp?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main() {
  console.log(`# ingest A/B (${store})  node ${process.version}  nproc ${os.availableParallelism()}  loadavg ${loadAvg()}`);
  console.log(orderBody
    ? `# BENCH_ORDERS=${orders}: ${orders * 100}% of each connection's batches are ${orderBody.bytes}-byte bodies of 100 order_completed (half with customer + consent) to /api/v1/server-events, the rest ${body.bytes}-byte web batches`
    : `# web events only (${body.bytes}-byte batches of 100 to /api/tx/events/batch)`);
  const runs = new Map<string, Run[]>(trees.map((t) => [t, []]));
  for (let r = 0; r < rounds; r++) {
    for (const tree of r % 2 ? [...trees].reverse() : trees) {
      const o = await one(tree);
      runs.get(tree)!.push(o);
      const k = o.check;
      const ok = k.acked === k.stored && k.ordersAcked === k.ordersStored && k.acked === k.committed;
      console.log(`round ${r + 1} ${tree}: ${o.eps.toFixed(0)} events/s, commit ${o.usPerRow.toFixed(1)} µs/row, half load p50 ${o.p50.toFixed(1)} ms p99 ${o.p99.toFixed(1)} ms, load ${os.loadavg()[0].toFixed(2)}`);
      const hooksUs = o.hooks.reduce((a, [, us]) => a + us, 0);
      console.log(`  ${o.rowsPerCommit.toFixed(0)} rows per commit; of the commit's ${o.usPerRow.toFixed(1)} µs/row: writer hooks ${hooksUs.toFixed(1)} (${o.hooks.map(([k, us]) => `${k} ${us.toFixed(1)}`).join(', ') || 'none'}), the rest (insert statement, rejected rows, BEGIN/COMMIT) ${(o.usPerRow - hooksUs).toFixed(1)}`);
      console.log(`  acknowledged ${k.acked} (orders ${k.ordersAcked}), committed ${k.committed} (metrics), stored ${k.stored} (orders ${k.ordersStored}, ${k.ordersWithPerson} with a person; persons ${k.persons}; order ledger ${k.ledger ?? 'none'}) ${ok ? 'OK' : 'MISMATCH'}${k.errors ? ` errors: ${k.errors}` : ''}`);
    }
  }
  console.log('\n| tree | events/s (median) | commit µs/row | of which hooks / rest | half-load p50 ms | half-load p99 ms | runs (events/s) | acknowledged = stored |');
  console.log('|:---|---:|---:|---:|---:|---:|:---|:---|');
  for (const [tree, xs] of runs) {
    const m = (f: (r: Run) => number) => median(xs.map(f)).toFixed(1);
    const same = xs.map((x) => `${x.check.acked} = ${x.check.stored} ${x.check.acked === x.check.stored && x.check.ordersAcked === x.check.ordersStored ? '✓' : '✗'}`).join(', ');
    const hooksUs = (x: Run) => x.hooks.reduce((a, [, us]) => a + us, 0);
    console.log(`| ${tree} | ${median(xs.map((x) => x.eps)).toFixed(0)} | ${m((x) => x.usPerRow)} | ${m(hooksUs)} / ${m((x) => x.usPerRow - hooksUs(x))} | ${m((x) => x.p50)} | ${m((x) => x.p99)} | ${xs.map((x) => x.eps.toFixed(0)).join(', ')} | ${same} |`);
  }
  console.log(`\nload average at the end ${loadAvg()}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
