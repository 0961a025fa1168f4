// Live-layer benchmark: `node --expose-gc --import tsx bench/live.ts [--quick]`
//  1. memory per 1k idle subscribers (/ws and Socket.IO), measured in the server process
//  2. maximum ingest rate, then event → subscriber latency (p50/p99) with 1k and 5k /ws subscribers on one
//     topic while ingest runs at half that maximum. Latency = receive time − occurred_at of the newest
//     batch a message includes (events are stamped with their send time), so it counts the ingest commit,
//     the 250 ms coalescing tick and the fan-out.
//  3. fan-out of one ~1 KB payload to 1k subscribers: bare uWS publish vs Socket.IO rooms (as the live layer
//     runs them, and with socket.io's own uWS fast-publish adapter); delivered messages per second.
// Clients run in a child process (bench/live-clients.ts) so the server process measures only the server.
import { fork, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Server } from 'socket.io';
import { loadConfig } from '../server/config/index.js';
import { startServer } from '../server/app.js';
import { loadUws } from '../server/http/uws.js';
import { RoomAdapter } from '../server/live/socketio.js';

const QUICK = process.argv.includes('--quick');
/** --store=embedded runs PGlite inside the server process (its WASM then blocks the event loop). */
const EMBEDDED = process.argv.includes('--store=embedded');
const ADMIN = 'bench-admin-token-0123456789';
const gc = (globalThis as { gc?: () => void }).gc;
const clock = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => (xs.length ? xs[Math.min(xs.length - 1, Math.floor(xs.length * p))] : NaN);
const mb = (b: number) => Math.round((b / 1024 / 1024) * 10) / 10;
const lines: string[] = [];
const out = (s: string) => {
  console.log(s);
  lines.push(s);
};

class Clients {
  private child: ChildProcess;
  private waiting: ((m: any) => void)[] = [];
  private constructor(child: ChildProcess) {
    this.child = child;
    child.on('message', (m) => this.waiting.shift()?.(m));
  }
  static async start(): Promise<Clients> {
    const child = fork(path.join(import.meta.dirname, 'live-clients.ts'), [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    const c = new Clients(child);
    await new Promise((r) => c.waiting.push(r));
    return c;
  }
  call(cmd: Record<string, unknown>): Promise<any> {
    return new Promise((resolve, reject) => {
      this.waiting.push((m) => (m.ok ? resolve(m) : reject(new Error(m.error))));
      this.child.send(cmd);
    });
  }
  async stop() {
    this.child.send({ cmd: 'exit' });
    await new Promise((r) => this.child.once('exit', r));
  }
}

async function post(url: string, body: unknown, headers: Record<string, string>) {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  if (r.status >= 300) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return r.json() as Promise<any>;
}

const view = (at: number) => ({
  event_id: crypto.randomUUID(), event_name: 'event_view', occurred_at: new Date(at).toISOString(), source_system: 'web',
  visitor_id: `v${crypto.randomInt(1e9)}`, session_id: 's', consent_snapshot: { analytics: true, marketing: false, data_processing: true },
  entities: { event_entity_id: 'BENCH', organizer_id: 'ORG-BENCH' }, payload: {},
});

async function main() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'txl-bench-'));
  let dbChild: ChildProcess | null = null;
  const storeEnv: Record<string, string> = {};
  if (!EMBEDDED) {
    dbChild = fork(path.join(import.meta.dirname, 'live-db.ts'), [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    const { url } = await new Promise<{ url: string }>((r) => dbChild!.once('message', (m) => r(m as { url: string })));
    Object.assign(storeEnv, { DATABASE_URL: url, DATABASE_POOL_MAX: '1' });
  }
  const config = loadConfig({ ...storeEnv, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_TOKEN: ADMIN, DEMO_TENANT: '0', RATE_LIMIT_EVENTS_PER_SEC: '10000000', RATE_LIMIT_BURST: '10000000', LIVE_WS_MAX_BACKPRESSURE: String(16 * 1024 * 1024) });
  // Commit time of each batch (its events share one occurred_at): splits latency into ingest and live parts.
  const committed = new Map<number, number>();
  const server = await startServer(config, {
    log: pino({ level: 'silent' }),
    onCommitted: (rows) => {
      const t = clock();
      for (const r of rows) {
        const at = Date.parse(r.occurred_at);
        if (!committed.has(at)) committed.set(at, t);
      }
    },
  });
  const base = server.url;
  const wsUrl = base.replace('http', 'ws');
  const tenant = await post(`${base}/api/admin/tenants`, { name: 'bench' }, { authorization: `Bearer ${ADMIN}` });
  const key = { 'x-tx-key': tenant.write_key };
  await post(`${base}/api/tx/events/batch`, { events: [view(Date.now())] }, key);
  const { token } = await post(`${base}/api/v1/tokens`, { role: 'organizer', org_id: 'ORG-BENCH', ttl_s: 86400 }, { authorization: `Bearer ${tenant.secret_key}` });
  const topic = 'analytics:event:BENCH';
  const clients = await Clients.start();
  // When the server published each update of the topic (newest event stamp → publish time): the live
  // layer's own latency, whatever the clients' speed.
  const published: [number, number][] = [];
  server.live.core.addSender((k, m) => {
    if (!k.endsWith(`|${topic}`) || !m.includes('"type":"update"')) return;
    const i = m.lastIndexOf('"updated_at":"');
    published.push([Date.parse(m.slice(i + 14, i + 38)), clock()]);
  });

  out(`## Live layer (bench/live.ts)`);
  out('');
  // Every figure in RESULTS.md comes from this output: the header names the exact command, date, machine and load.
  const flags = process.argv.slice(2).filter((a) => a !== '--write');
  out(`- date: ${new Date().toISOString()}; command: \`node --expose-gc --import tsx bench/live.ts${flags.map((f) => ' ' + f).join('')}\``);
  out(`- machine: ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), ${mb(os.totalmem()) / 1024 > 1 ? Math.round(os.totalmem() / 2 ** 30) + ' GB' : ''} RAM, Node ${process.version}, store: ${EMBEDDED ? 'embedded PGlite + TimescaleDB in a worker thread of the server process' : 'PGlite over the Postgres wire protocol in a separate process (pg pool of 1)'}, no Redis; clients in a child process on the same machine; load average at start ${os.loadavg().map((x) => x.toFixed(1)).join(' / ')} (the machine is shared)`);
  out('');

  // 1. Memory per 1k idle subscribers.
  const mem = async () => {
    for (let i = 0; i < 3; i++) {
      gc?.();
      await sleep(200);
    }
    return process.memoryUsage();
  };
  out('### Memory per 1k idle subscribers (server process)');
  out('');
  out('| transport | RSS / 1k | heap / 1k |');
  out('|---|---|---|');
  for (const kind of ['ws', 'sio'] as const) {
    const m0 = await mem();
    await clients.call({ cmd: 'open', kind, url: kind === 'ws' ? `${wsUrl}/ws?token=${token}` : base, token, n: 1000, topic });
    const m1 = await mem();
    out(`| ${kind === 'ws' ? '/ws (uWS)' : 'Socket.IO'} | ${mb(m1.rss - m0.rss)} MB | ${mb(m1.heapUsed - m0.heapUsed)} MB |`);
    await clients.call({ cmd: 'closeAll' });
    await sleep(500);
  }
  out('');
  if (!gc) out('(run with --expose-gc for stable memory numbers)\n');

  // 2. Maximum ingest, then latency under half of it.
  const measureMax = async (seconds: number) => {
    let n = 0;
    const end = Date.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (Date.now() < end) {
          await post(`${base}/api/tx/events/batch`, { events: Array.from({ length: 100 }, () => view(Date.now())) }, key);
          n += 100;
        }
      }),
    );
    return n / seconds;
  };
  const max = await measureMax(QUICK ? 3 : 6);
  out(`### Event → subscriber latency (/ws, one topic, ingest at half its maximum)`);
  out('');
  out(`Maximum ingest measured first: **${Math.round(max)} events/s** (batches of 100, 8 concurrent requests). Load during the runs: ${Math.round(max / 2)} events/s.`);
  out('');
  out('Latency is sampled on every 5th subscriber (all of them receive every update).');
  out('Two latencies per delivered batch and subscriber: from the client sending the events (includes the HTTP request and the group commit into the store) and from the commit (the live layer alone: hot state, coalescing, fan-out, client receive).');
  out('');
  out('| subscribers | updates received | send→subscriber p50 / p99 / max | commit→subscriber p50 / p99 / max | commit→publish (server) p50 / p99 / max | ingest ack p50 / p99 | updates/s per subscriber |');
  out('|---|---|---|---|---|---|---|');
  for (const n of QUICK ? [1000] : [1000, 5000]) {
    await clients.call({ cmd: 'open', kind: 'ws', url: `${wsUrl}/ws?token=${token}`, n, topic });
    await sleep(500);
    await clients.call({ cmd: 'reset' });
    published.length = 0;
    const rate = max / 2;
    const batch = 100;
    const sent: number[] = [];
    const seconds = QUICK ? 5 : 10;
    const start = clock();
    let k = 0;
    const inflight: Promise<unknown>[] = [];
    const acks: number[] = [];
    while (clock() - start < seconds * 1000) {
      const due = start + (k * batch * 1000) / rate;
      const wait = due - clock();
      if (wait > 0) await sleep(wait);
      const at = Date.now();
      sent.push(at);
      const s0 = clock();
      inflight.push(post(`${base}/api/tx/events/batch`, { events: Array.from({ length: batch }, () => view(at)) }, key).then(() => acks.push(clock() - s0)));
      if (inflight.length > 16) await inflight.shift();
      k++;
    }
    await Promise.all(inflight);
    await sleep(800);
    const { samples } = (await clients.call({ cmd: 'report' })) as { samples: number[] };
    // Per subscriber: the first update whose newest event is at or after a batch's stamp delivered that batch.
    const lat: number[] = [];
    const live: number[] = [];
    let updates = 0;
    const byClient = new Map<number, [number, number][]>();
    for (let i = 0; i < samples.length; i += 3) {
      const list = byClient.get(samples[i]) ?? [];
      list.push([samples[i + 1], samples[i + 2]]);
      byClient.set(samples[i], list);
      updates++;
    }
    for (const list of byClient.values()) {
      let j = 0;
      for (const at of sent) {
        while (j < list.length && list[j][0] < at) j++;
        if (j === list.length) break;
        lat.push(list[j][1] - at);
        const c = committed.get(at);
        if (c !== undefined) live.push(list[j][1] - c);
      }
    }
    const pub: number[] = [];
    let j = 0;
    for (const at of sent) {
      while (j < published.length && published[j][0] < at) j++;
      const c = committed.get(at);
      if (j < published.length && c !== undefined) pub.push(published[j][1] - c);
    }
    for (const xs of [lat, live, acks, pub]) xs.sort((a, b) => a - b);
    const trio = (xs: number[]) => `${Math.round(pct(xs, 0.5))} / ${Math.round(pct(xs, 0.99))} / ${Math.round(xs[xs.length - 1] ?? NaN)} ms`;
    out(`| ${n} | ${updates * 5} | ${trio(lat)} | ${trio(live)} | ${trio(pub)} | ${Math.round(pct(acks, 0.5))} / ${Math.round(pct(acks, 0.99))} ms | ${((updates * 5) / n / seconds).toFixed(1)} |`);
    await clients.call({ cmd: 'closeAll' });
    await sleep(1000);
  }
  out('');

  // 3. Fan-out: bare uWS publish vs Socket.IO rooms, same payload, 1k subscribers.
  const { uws } = loadUws(false);
  const snapshot = (await (await fetch(`${base}/api/v1/live/events/BENCH`, { headers: { authorization: `Bearer ${tenant.secret_key}` } })).text()).replace('"snapshot"', '"update"');
  const payloadObj = JSON.parse(snapshot);
  const app = uws.App();
  app.ws('/bare', { maxBackpressure: 64 * 1024 * 1024, open: (ws) => void ws.subscribe('T') });
  const ioLive = new Server({ serveClient: false, adapter: RoomAdapter as never, path: '/sio-live/' });
  ioLive.attachApp(app, { maxBackpressure: 64 * 1024 * 1024 } as never);
  const ioFast = new Server({ serveClient: false, path: '/sio-fast/' });
  ioFast.attachApp(app, { maxBackpressure: 64 * 1024 * 1024 } as never);
  for (const io of [ioLive, ioFast]) {
    io.on('connection', (s) => s.on('subscribe', (_t: unknown, ack: (m: unknown) => void) => {
      s.join('T');
      ack({ type: 'snapshot' });
    }));
  }
  const fanPort = await new Promise<number>((resolve) => app.listen('127.0.0.1', 0, (s) => resolve(uws.us_socket_local_port(s as never))));
  const N = 1000;
  const M = QUICK ? 50 : 200;
  const modes = [
    { name: 'bare uWS publish', kind: 'bare', url: `ws://127.0.0.1:${fanPort}/bare`, publish: () => app.publish('T', snapshot) },
    { name: 'Socket.IO rooms (live layer: per-socket adapter)', kind: 'sio', url: `http://127.0.0.1:${fanPort}`, path: '/sio-live/', publish: () => ioLive.to('T').emit('message', payloadObj) },
    { name: "Socket.IO rooms (socket.io's uWS fast-publish adapter)", kind: 'sio', url: `http://127.0.0.1:${fanPort}`, path: '/sio-fast/', publish: () => ioFast.to('T').emit('message', payloadObj) },
  ];
  out(`### Fan-out of one ${snapshot.length}-byte update to ${N} subscribers (${M} updates back to back)`);
  out('');
  out('Delivered msgs/s is bounded by the single client process parsing; the server-side columns are the JS time the server spends per update (uWS writes happen in native code inside `publish`).');
  out('');
  out('| path | delivered msgs/s (client-bound) | server time per update | server-side msgs/s (N / time) | delivered vs bare | server-side vs bare |');
  out('|---|---|---|---|---|---|');
  let bare = 0;
  let bareServer = 0;
  for (const m of modes) {
    await clients.call({ cmd: 'open', kind: m.kind, url: m.url, path: m.path, token: 'x', n: N, topic: 'T' });
    await sleep(300);
    await clients.call({ cmd: 'reset' });
    const t0 = clock();
    let busy = 0;
    for (let i = 0; i < M; i++) {
      const s = clock();
      m.publish();
      busy += clock() - s;
      if (i % 10 === 9) await new Promise((r) => setImmediate(r));
    }
    let received = 0;
    while (clock() - t0 < 120_000) {
      received = (await clients.call({ cmd: 'report' })).received;
      if (received >= N * M) break;
      await sleep(20);
    }
    const rate = received / ((clock() - t0) / 1000);
    const serverRate = (N * M) / (busy / 1000);
    if (!bare) {
      bare = rate;
      bareServer = serverRate;
    }
    const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
    out(`| ${m.name} | ${fmt(rate)} | ${(busy / M).toFixed(3)} ms | ${fmt(serverRate)} | ${(bare / rate).toFixed(1)}× | ${(bareServer / serverRate).toFixed(1)}× |`);
    await clients.call({ cmd: 'closeAll' });
    await sleep(500);
  }
  out('');

  await clients.stop();
  ioLive.close();
  ioFast.close();
  await server.close();
  if (dbChild) {
    dbChild.send({ cmd: 'exit' });
    await new Promise((r) => dbChild!.once('exit', r));
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
  out(`- load average at the end: ${os.loadavg().map((x) => x.toFixed(1)).join(' / ')}`);
  if (process.argv.includes('--write')) {
    fs.appendFileSync(path.join(import.meta.dirname, 'RESULTS.md'), '\n' + lines.join('\n') + '\n');
    console.log('appended to bench/RESULTS.md');
  }
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
