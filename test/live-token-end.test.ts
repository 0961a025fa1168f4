// A connection ended for its token is told why first (README "Websocket /ws": after token_expired the connection
// ends with 4001, after token_revoked with 4003), on /ws and Socket.IO; Socket.IO refuses an expired token with the
// same code as /ws and REST (token_expired).
import { io as connect, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, postJson, request, type Tenant } from './helpers.js';
import { mintToken, sleep } from './live-helpers.js';

/** A /ws connection that records its frames and its close, in order. */
function openWs(base: string, token: string): Promise<{ ws: WebSocket; log: string[]; closed: Promise<void> }> {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(token)}`);
  const log: string[] = [];
  let done!: () => void;
  const closed = new Promise<void>((r) => (done = r));
  ws.on('message', (m) => log.push(`frame ${JSON.parse(m.toString()).code ?? JSON.parse(m.toString()).type}`));
  ws.on('close', (code) => {
    log.push(`close ${code}`);
    done();
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, log, closed }));
    ws.once('error', reject);
  });
}

function openIo(base: string, token: string): Promise<{ s: Socket; log: string[]; gone: Promise<void> }> {
  const s = connect(base, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  const log: string[] = [];
  let done!: () => void;
  const gone = new Promise<void>((r) => (done = r));
  s.on('message', (m) => log.push(`message ${m.code ?? m.type}`));
  s.on('disconnect', (why) => {
    log.push(`disconnect ${why}`);
    done();
  });
  return new Promise((resolve, reject) => {
    s.once('connect', () => resolve({ s, log, gone }));
    s.once('connect_error', reject);
  });
}

const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, sleep(ms).then(() => Promise.reject(new Error(`${what} did not happen`)))]);

describe('connections ended for their token', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  beforeAll(async () => {
    server = await bootServer();
    t = await createTenant(server.url, 'token-end');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('at expiry: token_expired, then close 4001 (/ws) or a disconnect (Socket.IO); an expired token is token_expired on Socket.IO too', async () => {
    // Lives 5-6 s (exp is in whole seconds): both handshakes fit in it on a loaded machine, where 1-2 s
    // (ttl_s 2) did not always.
    const token = await mintToken(server.url, t, { role: 'gate', event_ids: ['E1'], ttl_s: 6 });
    const ws = await openWs(server.url, token);
    const io = await openIo(server.url, token);
    await within(Promise.all([ws.closed, io.gone]), 20_000, 'the end of both connections');
    expect(ws.log).toEqual(['frame token_expired', 'close 4001']);
    expect(io.log).toEqual(['message token_expired', 'disconnect io server disconnect']);
    await expect(openIo(server.url, token)).rejects.toMatchObject({ message: 'unauthorized', data: { code: 'token_expired', reason: 'expired' } });
  });

  it('at revocation: token_revoked, then close 4003 (/ws) or a disconnect (Socket.IO)', async () => {
    const key = await postJson(`${server.url}/api/v1/keys`, { role: 'admin', name: 'minting' }, { authorization: `Bearer ${t.secret_key}` });
    expect(key.status, key.text).toBe(201);
    const token = await mintToken(server.url, { ...t, secret_key: key.json.key }, { role: 'organizer', org_id: 'O1' });
    const ws = await openWs(server.url, token);
    const io = await openIo(server.url, token);
    expect((await request('DELETE', `${server.url}/api/v1/keys/${key.json.id}`, undefined, { authorization: `Bearer ${t.secret_key}` })).status).toBe(200);
    await within(Promise.all([ws.closed, io.gone]), 20_000, 'the end of both connections');
    expect(ws.log).toEqual(['frame token_revoked', 'close 4003']);
    expect(io.log).toEqual(['message token_revoked', 'disconnect io server disconnect']);
  });
});
