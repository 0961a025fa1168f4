// Ingest latency while live connections flood the server with subscribes (README "Limits": a connection's
// messages are rate limited, its subscribes under way bounded, the node's topic checks run 16 at a time).
// The server runs in this process (embedded store); the flooding clients in a child process (this file with
// the argument `client`), so their sending loops do not block the server's event loop. For each load: one event
// posted to /api/tx/events/batch every 100 ms for 3 s, the answer time measured (median and max).
//   npx tsx bench/live-flood.ts
import { fork } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import crypto from 'node:crypto';
import pino from 'pino';
import { io as sioConnect } from 'socket.io-client';
import WebSocket from 'ws';

type Load = { kind: 'ws-one-topic'; n: number } | { kind: 'ws-unknown'; conns: number; per: number } | { kind: 'sio-one-topic'; n: number } | { kind: 'none' };

async function client(url: string, token: string, load: Load): Promise<void> {
  const ws = (u: string) =>
    new Promise<WebSocket>((resolve, reject) => {
      const s = new WebSocket(u, { perMessageDeflate: false });
      s.once('open', () => resolve(s));
      s.once('error', reject);
      s.on('error', () => undefined);
    });
  const wsUrl = `${url.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(token)}`;
  if (load.kind === 'ws-one-topic') {
    const s = await ws(wsUrl);
    const frame = JSON.stringify({ op: 'subscribe', topic: 'analytics:event:E1' });
    for (let i = 0; i < load.n && s.readyState === WebSocket.OPEN; i++) s.send(frame);
  } else if (load.kind === 'ws-unknown') {
    const conns = await Promise.all(Array.from({ length: load.conns }, () => ws(wsUrl)));
    conns.forEach((s, c) => {
      for (let k = 0; k < load.per; k++) s.send(JSON.stringify({ op: 'subscribe', topic: `analytics:event:UNK-${c}-${k}-${crypto.randomUUID()}` }));
    });
  } else if (load.kind === 'sio-one-topic') {
    const s = sioConnect(url, { auth: { token }, transports: ['websocket'], reconnection: false });
    await new Promise<void>((r) => s.once('connect', () => r()));
    for (let i = 0; i < load.n && s.connected; i++) s.emit('subscribe', 'analytics:event:E1');
  }
  process.send!('sent');
  await new Promise((r) => setTimeout(r, 4000));
  process.exit(0);
}

async function main() {
  const { loadConfig } = await import('../server/config/index.js');
  const { startServer } = await import('../server/app.js');
  const dataDir = `${os.tmpdir()}/live-flood-${process.pid}`;
  const ADMIN = 'bench-admin-token-0123456789abcdef';
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_TOKEN: ADMIN, DEMO_TENANT: '0' });
  const server = await startServer(config, { log: pino({ level: 'silent' }) });
  const base = server.url;
  const post = async (path: string, body: unknown, headers: Record<string, string>) => {
    const r = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return { status: r.status, json: (await r.json()) as any };
  };
  const tenant = (await post('/api/admin/tenants', { name: 'flood' }, { authorization: `Bearer ${ADMIN}` })).json;
  const token = (await post('/api/v1/tokens', { role: 'organizer', org_id: 'O1', ttl_s: 3600 }, { authorization: `Bearer ${tenant.secret_key}` })).json.token;
  const event = () => ({
    event_id: crypto.randomUUID(), event_name: 'event_view', occurred_at: new Date().toISOString(), source_system: 'web', visitor_id: 'v1', session_id: 's1',
    consent_snapshot: { analytics: true, marketing: false, data_processing: true }, entities: { event_entity_id: 'E1', organizer_id: 'O1' }, payload: {},
  });
  await post('/api/tx/events/batch', { events: [event()] }, { 'x-tx-key': tenant.write_key });

  const loads: Load[] = [{ kind: 'none' }, { kind: 'ws-one-topic', n: 50_000 }, { kind: 'sio-one-topic', n: 30_000 }, { kind: 'ws-unknown', conns: 50, per: 200 }];
  const rows: string[] = [];
  for (const load of loads) {
    const child = fork(fileURLToPath(import.meta.url), ['client', base, token, JSON.stringify(load)], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    await new Promise<void>((r) => child.once('message', () => r()));
    const ms: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      const r = await post('/api/tx/events/batch', { events: [event()] }, { 'x-tx-key': tenant.write_key });
      ms.push(performance.now() - t0);
      if (r.status !== 200) throw new Error(`ingest ${r.status}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    await new Promise((r) => child.once('exit', r));
    ms.sort((a, b) => a - b);
    const label = load.kind === 'none' ? 'no flood' : load.kind === 'ws-unknown' ? `/ws: ${load.conns} connections × ${load.per} subscribes to unknown events` : `${load.kind === 'ws-one-topic' ? '/ws' : 'Socket.IO'}: one connection, ${load.n} subscribes to one topic`;
    rows.push(`| ${label} | ${ms[15].toFixed(1)} ms | ${ms[ms.length - 1].toFixed(1)} ms |`);
  }
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' / ');
  console.log(`## Ingest latency under a subscribe flood (bench/live-flood.ts)\n`);
  console.log(`- date: ${new Date().toISOString().slice(0, 10)}; command: \`npx tsx bench/live-flood.ts\``);
  console.log(`- machine: ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), Node ${process.version}, embedded store, no Redis; load average at the end ${load}\n`);
  console.log('| load (sent at once, then one event posted every 100 ms, 30 times) | ingest median | ingest max |\n|---|---|---|');
  console.log(rows.join('\n'));
  await server.close();
}

if (process.argv[2] === 'client') void client(process.argv[3], process.argv[4], JSON.parse(process.argv[5]) as Load);
else void main();
