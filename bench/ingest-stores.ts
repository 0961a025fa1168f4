// Issue 12 benchmark: the durable ingest path against the engine's best case, on BOTH stores in one run.
//   (a) JSON.parse + validation of the 100-event body                       (tinybench, this process)
//   (b) the engine's best case: the same rows into a plain table with every tx_events column and no index, key
//       or ledger, jsonb_to_recordset, 1000 rows per transaction, on the same engine (embedded: one session;
//       PostgreSQL: BENCH_B_CONNS connections, 4 by default)
//   (c) the server end to end, BENCH_CONN (16) keep-alive connections posting 100-event batches
//   (d) half of (c)'s rate, open loop: p50/p99 from each request's scheduled start
// For each store: the machine's CPU use and load average during (c) and (d), and after the server stopped,
// acknowledged (sum of `accepted`) = stored (count of tx_events).
//
//   npx tsx bench/ingest-stores.ts [--write]     (npm run bench:stores; --write appends the section to RESULTS.md)
//   env: BENCH_ROUNDS (1) BENCH_SECONDS (10) BENCH_HALF_SECONDS (10) BENCH_CONN (16) BENCH_B_CONNS (4)
//        BENCH_STORES (embedded,postgres)  BENCH_PG_URL (postgres://postgres@127.0.0.1:5432/postgres)
//        BENCH_SERVER_ENV (extra server env, e.g. "WRITER_LANES=1")  BENCH_NODE_FLAGS (the server's node flags, e.g.
//        "--cpu-prof --cpu-prof-dir=/tmp/prof" for a profile of the main thread and the store's worker)
// One round on both stores takes about 2 minutes.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import {
  ADMIN_TOKEN, bodyMaker, closedLoop, errText, fmt, fmt2, fmtMs, loadAvg, median, openLoop, pct, phaseB, quietLog, spawnNode, stop, throwawayDb, UAS, waitFor,
  type BodyMaker, type Opts, type Target,
} from './ingest.js';
import { cpuSplit, fmtSplit, perThousand, type CpuSplit } from './proc-cpu.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
type Store = 'embedded' | 'postgres';

interface Cfg {
  rounds: number;
  seconds: number;
  halfSeconds: number;
  conns: number;
  bConns: number;
  stores: Store[];
  pgUrl: string;
  serverEnv: Record<string, string>;
}

/** Machine CPU busy share over an interval, from os.cpus() tick counters (all cores). */
function cpuMeter() {
  const ticks = () => os.cpus().reduce((a, c) => {
    const t = c.times;
    a.busy += t.user + t.nice + t.sys + t.irq;
    a.all += t.user + t.nice + t.sys + t.irq + t.idle;
    return a;
  }, { busy: 0, all: 0 });
  const start = ticks();
  return () => {
    const end = ticks();
    return (end.busy - start.busy) / Math.max(1, end.all - start.all);
  };
}

const PLAIN_TABLE = `CREATE TABLE bench_plain (
  id bigserial, event_id uuid NOT NULL, event_name varchar(100) NOT NULL, event_version smallint NOT NULL DEFAULT 1,
  occurred_at timestamptz NOT NULL, received_at timestamptz NOT NULL DEFAULT now(), sent_at timestamptz, tenant_id bigint NOT NULL,
  site_id varchar(50), source_system varchar(20) NOT NULL, visitor_id varchar(64), session_id varchar(64), sequence_no int,
  prev_event_id uuid, person_id bigint, consent_snapshot jsonb NOT NULL, context jsonb NOT NULL DEFAULT '{}',
  entities jsonb NOT NULL DEFAULT '{}', payload jsonb NOT NULL DEFAULT '{}', idempotency_key varchar(255), is_bot boolean NOT NULL DEFAULT false)`;

const PLAIN_INSERT = `INSERT INTO bench_plain (event_id, event_name, event_version, occurred_at, received_at, sent_at, tenant_id, site_id,
  source_system, visitor_id, session_id, sequence_no, prev_event_id, person_id, consent_snapshot, context, entities, payload, idempotency_key, is_bot)
SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(event_id uuid, event_name text, event_version smallint, occurred_at timestamptz,
  received_at timestamptz, sent_at timestamptz, tenant_id bigint, site_id text, source_system text, visitor_id text, session_id text,
  sequence_no int, prev_event_id uuid, person_id bigint, consent_snapshot jsonb, context jsonb, entities jsonb, payload jsonb,
  idempotency_key text, is_bot boolean)`;

/** Validated rows of the bench body, as the server would store them. */
async function templateRows(body: BodyMaker) {
  const { createValidation } = await import('../server/ingest/validate.js');
  const { loadConfig } = await import('../server/config/index.js');
  const validation = createValidation();
  const limits = loadConfig({}).limits;
  const parsed = JSON.parse(body.make().toString()) as { events: unknown[] };
  const req = { tenantId: 1, receivedAt: new Date(), ip: '127.0.0.1', userAgent: UAS[1], channel: 'public' as const };
  return parsed.events.map((e) => {
    const out = validation.check(e, req, limits);
    if (out.kind !== 'ok') throw new Error('template event invalid');
    return out.row;
  });
}

async function phaseEngine(cfg: Cfg, store: Store, body: BodyMaker) {
  const { openEmbedded, openPostgres } = await import('../server/store/db.js');
  const log = await quietLog();
  const template = await templateRows(body);
  const rowsOf = (n: number) => JSON.stringify(Array.from({ length: n }, (_, i) => ({ ...template[i % template.length], event_id: crypto.randomUUID() })));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'txl-bench-b-'));
  const tmp = store === 'postgres' ? await throwawayDb(cfg.pgUrl) : null;
  const db = tmp ? await openPostgres(tmp.url, cfg.bConns, log) : await openEmbedded(dir, log);
  try {
    await db.exec(PLAIN_TABLE);
    const lanes = store === 'postgres' ? cfg.bConns : 1;
    const one = () => db.tx((q) => q.query(PLAIN_INSERT, [rowsOf(1000)]));
    for (let i = 0; i < 3; i++) await one();
    let n = 0;
    const split = cpuSplit(undefined);
    const start = performance.now();
    const end = start + cfg.seconds * 1000;
    await Promise.all(Array.from({ length: lanes }, async () => {
      while (performance.now() < end) {
        await one();
        n += 1000;
      }
    }));
    const secs = (performance.now() - start) / 1000;
    // The engine's CPU: PostgreSQL's processes, or this process (PGlite runs in its worker; nothing else runs).
    const used = split();
    const engineCores = used ? (store === 'postgres' ? used.postgres : used.loadGenerator) / used.seconds : NaN;
    const stored = Number((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM bench_plain')).rows[0].n);
    if (stored !== n + 3000) throw new Error(`engine phase: ${stored} rows stored of ${n + 3000}`);
    return { eps: n / secs, lanes, engineCores };
  } finally {
    await db.close();
    await tmp?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Scrapes a few writer figures from /metrics (commits, rows per commit, projector lag when exposed). */
async function writerFigures(port: number) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
  const val = (name: string) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
    return m ? Number(m[1]) : NaN;
  };
  const hooks: Record<string, number> = {};
  for (const m of text.matchAll(/^tx_writer_hook_seconds_sum\{hook="([^"]+)",stage="(enrich|project|deferred)"\} ([0-9.eE+-]+)$/gm)) hooks[m[1]] = Number(m[3]);
  return { commits: val('tx_writer_commit_seconds_count'), commitSeconds: val('tx_writer_commit_seconds_sum'), rows: val('tx_writer_committed_rows_total'), lagMax: val('tx_projector_lag_seconds_max'), hooks };
}

async function phaseServer(cfg: Cfg, store: Store, body: BodyMaker) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'txl-bench-srv-'));
  const tmp = store === 'postgres' ? await throwawayDb(cfg.pgUrl) : null;
  const env: Record<string, string> = {
    PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_TOKEN, RATE_LIMIT_EVENTS_PER_SEC: '10000000', RATE_LIMIT_BURST: '100000000',
    LOG_LEVEL: 'warn', DEMO_TENANT: '0', ...(tmp ? { DATABASE_URL: tmp.url } : {}), ...cfg.serverEnv,
  };
  const c = spawnNode(['server/main.ts'], env, (process.env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean));
  try {
    const m = await waitFor(c, /listening on http:\/\/localhost:(\d+)/, 120_000);
    const port = Number(m[1]);
    const created = await fetch(`http://127.0.0.1:${port}/api/admin/tenants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench', allowed_origins: [] }),
    });
    if (created.status !== 201) throw new Error(`create tenant: ${created.status} ${await created.text()}`);
    const tenant = (await created.json()) as { tenant_id: number; write_key: string };
    const t: Target = { port, path: '/api/tx/events/batch', headers: { 'content-type': 'application/json', 'x-tx-key': tenant.write_key, 'user-agent': UAS[1] } };

    const warm = await closedLoop(t, cfg.conns, 3, body, true);
    let cpu = cpuMeter();
    const split = cpuSplit(c.pid);
    const sat = await closedLoop(t, cfg.conns, cfg.seconds, body, true);
    const satSplit = split();
    const satCpu = cpu();
    const satLoad = os.loadavg()[0];
    const before = await writerFigures(port);
    const satRps = sat.ok / sat.seconds;
    cpu = cpuMeter();
    const half = await openLoop(t, satRps / 2, cfg.halfSeconds, body, true);
    const halfCpu = cpu();
    const halfLoad = os.loadavg()[0];
    const after = await writerFigures(port);
    const code = await stop(c, 60_000);
    // Count what the store really holds once the server has shut down.
    let stored: number;
    if (tmp) {
      const cl = new pg.Client({ connectionString: tmp.url });
      await cl.connect();
      stored = Number((await cl.query<{ n: string }>('SELECT count(*)::text AS n FROM tx_events')).rows[0].n);
      await cl.end();
    } else {
      const { openEmbedded } = await import('../server/store/db.js');
      const db = await openEmbedded(dataDir, await quietLog());
      stored = Number((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM tx_events')).rows[0].n);
      await db.close();
    }
    return {
      eps: sat.accepted / sat.seconds,
      satP99: pct(sat.latencies, 99),
      halfTarget: satRps / 2,
      halfRps: half.ok / half.seconds,
      p50: pct(half.latencies, 50),
      p99: pct(half.latencies, 99),
      satCpu,
      satSplit,
      satLoad,
      halfCpu,
      halfLoad,
      rowsPerCommit: before.rows / before.commits,
      msPerCommit: (1000 * before.commitSeconds) / before.commits,
      // Where the commits' time went (warm-up and saturation phases): each hook's share, the rest is the insert.
      hookShare: Object.fromEntries(Object.entries(before.hooks).map(([k, v]) => [k, v / before.commitSeconds])),
      lagMax: after.lagMax,
      acked: warm.accepted + sat.accepted + half.accepted,
      stored,
      exit: code,
      errors: [errText(warm), errText(sat), errText(half)].filter(Boolean).join(' '),
    };
  } finally {
    if (c.exitCode === null) await stop(c, 30_000);
    await tmp?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * Core-ms per 1000 events of each component in (c) against the engine's in (b), and what (c)'s cost per event
 * makes of the target: the cores 0.7 × b would need on this machine (load generator included, as it runs here).
 */
function cpuLine(split: CpuSplit | null, eps: number, b: { eps: number; engineCores: number }): string {
  const k = perThousand(split, eps * (split?.seconds ?? 0));
  if (!k) return 'n/a (needs Linux /proc)';
  const total = k.main + k.worker + k.otherThreads + k.postgres + k.loadGenerator;
  const engine = (b.engineCores * 1e6) / b.eps;
  const parts = Object.entries(k).map(([name, v]) => `${name} ${v.toFixed(0)}`).join(', ');
  return `${parts}; total ${total.toFixed(0)} vs (b) engine ${engine.toFixed(0)}; 0.7 × b would need ${((0.7 * b.eps * total) / 1e6).toFixed(2)} cores`;
}

/** What the server's busiest thread besides the main one is: the embedded store runs PGlite in it. */
const workerLabel = (s: Store) => (s === 'embedded' ? 'store worker' : 'busiest other thread');

type Engine = Awaited<ReturnType<typeof phaseEngine>>;
type Server = Awaited<ReturnType<typeof phaseServer>>;
interface Round {
  a: number;
  per: Partial<Record<Store, { b: Engine; s: Server }>>;
}

function config(): Cfg {
  const serverEnv: Record<string, string> = {};
  for (const kv of (process.env.BENCH_SERVER_ENV ?? '').split(/\s+/).filter(Boolean)) {
    const i = kv.indexOf('=');
    if (i > 0) serverEnv[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return {
    rounds: Number(process.env.BENCH_ROUNDS ?? 1),
    seconds: Number(process.env.BENCH_SECONDS ?? 10),
    halfSeconds: Number(process.env.BENCH_HALF_SECONDS ?? 10),
    conns: Number(process.env.BENCH_CONN ?? 16),
    bConns: Number(process.env.BENCH_B_CONNS ?? 4),
    stores: (process.env.BENCH_STORES ?? 'embedded,postgres').split(',').filter((s): s is Store => s === 'embedded' || s === 'postgres'),
    pgUrl: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    serverEnv,
  };
}

function table(cfg: Cfg, rounds: Round[]): string {
  const head = ['measure', ...rounds.map((_, i) => `run ${i + 1}`), 'median'];
  const rows: string[][] = [];
  const line = (label: string, f: (r: Round) => number, fm: (n: number) => string = fmt) => rows.push([label, ...rounds.map((r) => fm(f(r))), fm(median(rounds.map(f)))]);
  const pctFmt = (n: number) => (Number.isFinite(n) ? `${Math.round(n * 100)} %` : 'n/a');
  line('(a) JSON.parse + validate — events/s', (r) => r.a);
  for (const s of cfg.stores) {
    const P = (r: Round) => r.per[s]!;
    line(`[${s}] (b) engine best case, 1000 rows/tx, ${s === 'postgres' ? cfg.bConns : 1} session(s) — events/s`, (r) => P(r).b.eps);
    line(`[${s}] (c) server e2e, ${cfg.conns} conns — events/s`, (r) => P(r).s.eps);
    line(`[${s}] c / b`, (r) => P(r).s.eps / P(r).b.eps, fmt2);
    line(`[${s}] (c) rows per commit (mean)`, (r) => P(r).s.rowsPerCommit);
    line(`[${s}] (c) ms per commit (mean)`, (r) => P(r).s.msPerCommit, fmtMs);
    line(`[${s}] (c) saturation p99 — ms`, (r) => P(r).s.satP99, fmtMs);
    rows.push([`[${s}] (d) half load: req/s achieved (target)`, ...rounds.map((r) => `${fmt(P(r).s.halfRps)} (${fmt(P(r).s.halfTarget)})`), '']);
    line(`[${s}] (d) half load p50 — ms`, (r) => P(r).s.p50, fmtMs);
    line(`[${s}] (d) half load p99 — ms`, (r) => P(r).s.p99, fmtMs);
    rows.push([`[${s}] (b) engine CPU — cores`, ...rounds.map((r) => P(r).b.engineCores.toFixed(2)), '']);
    rows.push([`[${s}] (c) CPU by component — cores`, ...rounds.map((r) => fmtSplit(P(r).s.satSplit, workerLabel(s))), '']);
    rows.push([`[${s}] (c) core-ms per 1000 events, by component`, ...rounds.map((r) => cpuLine(P(r).s.satSplit, P(r).s.eps, P(r).b)), '']);
    line(`[${s}] machine CPU busy during (c) / loadavg 1m`, (r) => P(r).s.satCpu, pctFmt);
    rows[rows.length - 1] = [rows[rows.length - 1][0], ...rounds.map((r) => `${pctFmt(P(r).s.satCpu)} / ${P(r).s.satLoad.toFixed(2)}`), ''];
    rows.push([`[${s}] machine CPU busy during (d) / loadavg 1m`, ...rounds.map((r) => `${pctFmt(P(r).s.halfCpu)} / ${P(r).s.halfLoad.toFixed(2)}`), '']);
    line(`[${s}] projector lag, max seen — s`, (r) => P(r).s.lagMax, (n) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a (no projector)'));
    rows.push([`[${s}] acknowledged = stored`, ...rounds.map((r) => `${P(r).s.acked} = ${P(r).s.stored} ${P(r).s.acked === P(r).s.stored ? '✓' : '✗'}`), rounds.every((r) => P(r).s.acked === P(r).s.stored) ? '✓' : '✗']);
  }
  return [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? ':---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

async function main() {
  const cfg = config();
  const body = bodyMaker();
  const started = new Date();
  const startLoad = loadAvg();
  console.log(`# ingest bench (issue 12)  node ${process.version}  nproc ${os.availableParallelism()}  loadavg ${startLoad}`);
  console.log(`options: ${JSON.stringify(cfg)}\n`);
  const aOpts: Opts = { rounds: 1, seconds: Math.min(cfg.seconds, 5), halfSeconds: 0, conns: 0, profile: false, instrument: false, experiments: [] };
  const rounds: Round[] = [];
  for (let i = 1; i <= cfg.rounds; i++) {
    const a = (await phaseB(aOpts, body)).eps;
    console.log(`[round ${i}] (a) JSON.parse+validate ${fmt(a)} events/s`);
    const round: Round = { a, per: {} };
    for (const s of cfg.stores) {
      const b = await phaseEngine(cfg, s, body);
      console.log(`[round ${i}] [${s}] (b) engine ${fmt(b.eps)} events/s (${b.lanes} session(s)), ${b.engineCores.toFixed(2)} cores`);
      const sv = await phaseServer(cfg, s, body);
      console.log(`[round ${i}] [${s}] (c) ${fmt(sv.eps)} events/s  c/b ${fmt2(sv.eps / b.eps)}  ${fmt(sv.rowsPerCommit)} rows/commit, ${fmtMs(sv.msPerCommit)} ms/commit, CPU ${Math.round(sv.satCpu * 100)} %, load ${sv.satLoad.toFixed(2)}`);
      console.log(`[round ${i}] [${s}] (c) CPU by component: ${fmtSplit(sv.satSplit, workerLabel(s))}`);
      console.log(`[round ${i}] [${s}] (c) core-ms per 1000 events: ${cpuLine(sv.satSplit, sv.eps, b)}`);
      console.log(`[round ${i}] [${s}] (c) commit time by hook: ${Object.entries(sv.hookShare).map(([k, v]) => `${k} ${Math.round(v * 100)} %`).join(', ')}; the rest is the insert`);
      console.log(`[round ${i}] [${s}] (d) ${fmt(sv.halfRps)} req/s (target ${fmt(sv.halfTarget)}) p50 ${fmtMs(sv.p50)} ms p99 ${fmtMs(sv.p99)} ms, CPU ${Math.round(sv.halfCpu * 100)} %, lag max ${sv.lagMax}`);
      console.log(`[round ${i}] [${s}] acknowledged ${sv.acked} stored ${sv.stored} ${sv.acked === sv.stored ? 'OK' : 'MISMATCH'} exit ${sv.exit} ${sv.errors}`);
      round.per[s] = { b, s: sv };
    }
    rounds.push(round);
  }
  const env = Object.entries(process.env).filter(([k]) => k.startsWith('BENCH_')).map(([k, v]) => `${k}='${v}' `).join('');
  const section = [
    `### Ingest on both stores (issue 12) — ${started.toISOString()}`,
    '',
    `- command: \`${env}npx tsx bench/ingest-stores.ts\` (${cfg.rounds} round(s), ${cfg.seconds} s closed loop, ${cfg.halfSeconds} s half load, ${cfg.conns} connections)`,
    `- machine: ${os.availableParallelism()} cores (${os.cpus()[0]?.model.trim()}), Node ${process.version}; load average at start ${startLoad}, at the end ${loadAvg()}; PostgreSQL at ${cfg.pgUrl.replace(/\/[^/]*$/, '')}`,
    `- body: ${body.bytes} bytes / 100 events; server env: ${JSON.stringify(cfg.serverEnv)}`,
    '',
    table(cfg, rounds),
  ].join('\n');
  console.log('\n' + section);
  if (process.argv.includes('--write')) {
    fs.appendFileSync(path.join(ROOT, 'bench', 'RESULTS.md'), '\n' + section + '\n');
    console.log('appended to bench/RESULTS.md');
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
