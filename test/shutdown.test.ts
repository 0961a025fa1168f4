// A graceful shutdown (SIGTERM → RunningServer.close) while PostgreSQL hangs and clients hold kept-alive
// connections: closing the listen socket stops new connections only, so requests go on arriving on the open
// ones. They are answered 503 shutting_down with the connection closed, never 500 (the closed writer's
// "writer closed" was a 500 logged at error level); the request already in flight is answered once its commit
// ends; the idle connections left are closed by the server before it exits. Plain PostgreSQL behind a proxy
// that can stop forwarding (the database hangs), a scratch database per test.
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { bootServer, createTenant, startChild, tmpDir, until, webEvent, type Tenant } from './helpers.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

const NO_RATE_LIMIT = { RATE_LIMIT_EVENTS_PER_SEC: '10000000', RATE_LIMIT_BURST: '100000000' };

/** A TCP proxy to PostgreSQL that can hold every byte (both ways) until resumed: the database hangs. */
async function hangingProxy(target: string) {
  const u = new URL(target);
  const held: (() => void)[] = [];
  let paused = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const up = net.connect(Number(u.port || 5432), u.hostname);
    for (const s of [client, up]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        up.destroy();
      });
    }
    const forward = (to: net.Socket) => (chunk: Buffer) => (paused ? held.push(() => to.write(chunk)) : to.write(chunk));
    client.on('data', forward(up));
    up.on('data', forward(client));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = new URL(target);
  url.host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    url: url.toString(),
    pause: () => void (paused = true),
    resume() {
      paused = false;
      for (const f of held.splice(0)) f();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One HTTP/1.1 connection kept alive between requests (fetch pools and hides that); sees the server close it. */
async function keptAlive(base: string) {
  const u = new URL(base);
  const socket = net.connect(Number(u.port), u.hostname);
  await new Promise<void>((r, j) => socket.once('connect', () => r()).once('error', j));
  let buf = Buffer.alloc(0);
  let waiting: ((a: Answer | null) => void) | null = null;
  let closed = false;
  const closedP = new Promise<void>((r) => socket.once('close', () => r()));
  const tryParse = () => {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0 || !waiting) return;
    const [line, ...rest] = buf.subarray(0, end).toString().split('\r\n');
    const headers = Object.fromEntries(rest.map((h) => [h.slice(0, h.indexOf(':')).toLowerCase(), h.slice(h.indexOf(':') + 1).trim()]));
    const len = Number(headers['content-length'] ?? 0);
    if (buf.length < end + 4 + len) return;
    const body = buf.subarray(end + 4, end + 4 + len).toString();
    buf = buf.subarray(end + 4 + len);
    const w = waiting;
    waiting = null;
    w({ status: Number(line.split(' ')[1]), headers, body });
  };
  socket.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    tryParse();
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    closed = true;
    waiting?.(null);
  });
  return {
    /** The answer, or null when the connection closed without one. */
    send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer | null> {
      if (closed) return Promise.resolve(null);
      const text = body === undefined ? '' : JSON.stringify(body);
      const head = [`${method} ${path} HTTP/1.1`, `Host: ${u.host}`, 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(text)}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
      return new Promise((resolve) => {
        waiting = resolve;
        socket.write(head.join('\r\n') + '\r\n\r\n' + text);
      });
    },
    closed: () => closed,
    whenClosed: closedP,
    destroy: () => socket.destroy(),
  };
}

const batchOf = (n: number) => ({ events: Array.from({ length: n }, () => webEvent()) });
const post = (c: Awaited<ReturnType<typeof keptAlive>>, t: Tenant, body = batchOf(5)) => c.send('POST', '/api/tx/events/batch', body, { 'X-Tx-Key': t.write_key });

/** Refused while shutting down: 503 shutting_down, Retry-After, and the connection closed after it. */
function expectShuttingDown(a: Answer | null) {
  expect(a).not.toBeNull();
  expect(a!.status).toBe(503);
  expect(JSON.parse(a!.body).error.code).toBe('shutting_down');
  expect(a!.headers['retry-after']).toBe('1');
  expect(a!.headers.connection).toBe('close');
}

async function storedIds(url: string, tenantId: number): Promise<Set<string>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return new Set((await c.query<{ id: string }>('SELECT event_id::text AS id FROM tx_events WHERE tenant_id = $1', [tenantId])).rows.map((r) => r.id));
  } finally {
    await c.end();
  }
}

describe('graceful shutdown with kept-alive connections while PostgreSQL hangs', () => {
  let scratch: ScratchDatabase | undefined;
  let proxy: Awaited<ReturnType<typeof hangingProxy>> | undefined;
  let child: ChildProcess | undefined;
  afterEach(async () => {
    proxy?.resume();
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await proxy?.close();
    await scratch?.drop();
    scratch = proxy = child = undefined;
  });

  it('close(): requests on kept-alive connections get 503 shutting_down and Connection: close; the in-flight one is answered; idle ones are closed', { timeout: 120_000 }, async () => {
    scratch = await scratchDatabase('shutdown_inproc');
    proxy = await hangingProxy(scratch.url);
    const server = await bootServer({ DATABASE_URL: proxy.url, ...NO_RATE_LIMIT });
    const t = await createTenant(server.url, 'shutdown');
    const [a, b, c] = await Promise.all([keptAlive(server.url), keptAlive(server.url), keptAlive(server.url)]);
    for (const conn of [a, b, c]) expect((await post(conn, t))?.status).toBe(200);

    proxy.pause();
    const inFlight = batchOf(5);
    const aAnswer = post(a, t, inFlight);
    await new Promise((r) => setTimeout(r, 300));
    const closing = server.close();
    // Well into the shutdown: the writer waits for the hung commit of `a`'s batch and takes nothing new.
    await new Promise((r) => setTimeout(r, 500));
    expectShuttingDown(await post(b, t));
    await b.whenClosed;
    expectShuttingDown(await c.send('GET', '/health'));
    await c.whenClosed;

    proxy.resume();
    expect((await aAnswer)?.status).toBe(200);
    await closing;
    // The connection left idle after its answer is closed by the server, not left to a reset at exit.
    await a.whenClosed;
    expect(a.closed()).toBe(true);
    const stored = await storedIds(scratch.url, t.tenant_id);
    expect(inFlight.events.filter((e) => !stored.has(e.event_id))).toEqual([]);
  });

  it('SIGTERM (server/main.ts): a request on a kept-alive connection after the signal gets 503 or a closed connection, never 500', { timeout: 240_000 }, async () => {
    scratch = await scratchDatabase('shutdown_sigterm');
    proxy = await hangingProxy(scratch.url);
    const started = await startChild(tmpDir(), { DATABASE_URL: proxy.url, LOG_LEVEL: 'info', ...NO_RATE_LIMIT });
    child = started.child;
    const exited = new Promise<number | null>((r) => started.child.once('exit', (code) => r(code)));
    let stderr = '';
    started.child.stdout!.on('data', (d: Buffer) => (stderr += d.toString()));
    started.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = await createTenant(started.base, 'sigterm');
    const conns = await Promise.all(Array.from({ length: 4 }, () => keptAlive(started.base)));
    for (const conn of conns) expect((await post(conn, t))?.status).toBe(200);

    proxy.pause();
    const inFlight = post(conns[0], t);
    await new Promise((r) => setTimeout(r, 300));
    started.child.kill('SIGTERM');
    await until(async () => /shutting down/.test(stderr), 10_000, 20);
    await new Promise((r) => setTimeout(r, 300));
    const after = await Promise.all(conns.slice(1).map((conn) => post(conn, t)));
    for (const answer of after) {
      if (answer !== null) expectShuttingDown(answer);
    }
    expect(after.filter((x) => x !== null)).not.toHaveLength(0);
    proxy.resume();
    expect((await inFlight)?.status).toBe(200);
    expect(await exited).toBe(0);
    expect(stderr).not.toMatch(/writer closed|"level":50/);
  });
});
