// Limits of a live connection (README "Limits"): a frame over 16 KB is refused with close code 1009, and a
// connection that floods messages is answered rate_limited, then ended (/ws: 1008; Socket.IO: disconnected).
import { io as connect } from 'socket.io-client';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, type Tenant } from './helpers.js';
import { mintToken, sleep } from './live-helpers.js';
import { OPS_BURST, OPS_PER_S } from '../server/live/rate.js';

function openWs(base: string, token: string): Promise<{ ws: WebSocket; codes: string[]; closed: Promise<number> }> {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(token)}`);
  const codes: string[] = [];
  ws.on('message', (m) => {
    const msg = JSON.parse(m.toString());
    codes.push(msg.code ?? msg.type);
  });
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  ws.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, codes, closed }));
    ws.once('unexpected-response', () => reject(new Error('refused')));
  });
}

const within = <T>(p: Promise<T>, ms: number, what: string) => Promise.race([p, sleep(ms).then(() => Promise.reject(new Error(`${what} did not happen`)))]);

describe('live connection limits', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  let token: string;
  beforeAll(async () => {
    server = await bootServer();
    t = await createTenant(server.url, 'limits');
    token = await mintToken(server.url, t, { role: 'organizer', org_id: 'O1' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('a frame over 16 KB closes the /ws connection with 1009', async () => {
    const c = await openWs(server.url, token);
    c.ws.send(JSON.stringify({ op: 'ping', pad: 'x'.repeat(16 * 1024) }));
    expect(await within(c.closed, 10_000, 'the close')).toBe(1009);
  });

  it('a /ws flood of subscribes is answered rate_limited, then closed with 1008', async () => {
    const c = await openWs(server.url, token);
    const frame = JSON.stringify({ op: 'subscribe', topic: 'analytics:dashboard:O1' });
    const opened = Date.now();
    for (let i = 0; i < 5000 && c.ws.readyState === WebSocket.OPEN; i++) c.ws.send(frame);
    expect(await within(c.closed, 20_000, 'the close')).toBe(1008);
    // The bucket refills at OPS_PER_S while the server reads the flood: a slow machine earns a few more.
    const refilled = Math.ceil(((Date.now() - opened) / 1000) * OPS_PER_S);
    expect(c.codes.filter((x) => x === 'rate_limited').length).toBeGreaterThan(0);
    expect(c.codes.filter((x) => x === 'snapshot').length).toBeLessThanOrEqual(OPS_BURST + refilled);
  });

  it('a Socket.IO flood is answered rate_limited, then disconnected', async () => {
    const s = connect(server.url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
    const codes: string[] = [];
    s.on('message', (m) => codes.push(m.code ?? m.type));
    const gone = new Promise<string>((r) => s.on('disconnect', (why) => r(why)));
    await new Promise<void>((r) => s.once('connect', () => r()));
    for (let i = 0; i < 5000 && s.connected; i++) s.emit('subscribe', 'analytics:dashboard:O1');
    expect(['io server disconnect', 'transport close']).toContain(await within(gone, 20_000, 'the disconnect'));
    expect(codes.filter((x) => x === 'rate_limited').length).toBeGreaterThan(0);
    s.close();
  });
});
