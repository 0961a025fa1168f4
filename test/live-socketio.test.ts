// The same live topics over Socket.IO on the same port: rooms, same token, same payloads.
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, webEvent, type Tenant } from './helpers.js';
import { LiveClient, mintToken, sendEvents, sleep } from './live-helpers.js';

function open(base: string, token: string, transports = ['websocket']): Promise<Socket> {
  const s = connect(base, { auth: { token }, transports, reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    s.once('connect', () => resolve(s));
    s.once('connect_error', (err) => {
      s.close();
      reject(err);
    });
  });
}

describe('Socket.IO', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  beforeAll(async () => {
    server = await bootServer();
    t = await createTenant(server.url, 'sio');
    await sendEvents(server.url, t, [webEvent({ entities: { event_entity_id: 'S1', organizer_id: 'ORG-S' } })]);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('refuses a connection without a valid token', async () => {
    await expect(open(server.url, 'nope')).rejects.toMatchObject({ message: 'unauthorized', data: { code: 'invalid_token' } });
    await expect(open(server.url, '')).rejects.toMatchObject({ data: { code: 'missing_token' } });
  });

  for (const transports of [['websocket'], ['polling']]) {
    it(`rooms deliver the same snapshots and updates as /ws (${transports[0]})`, async () => {
      const token = await mintToken(server.url, t, { role: 'organizer', org_id: 'ORG-S' });
      const s = await open(server.url, token, transports);
      const ws = await LiveClient.open(server.url, token);
      const got: any[] = [];
      s.on('message', (m) => got.push(m));

      const snap = await s.emitWithAck('subscribe', 'analytics:event:S1');
      const wsSnap = await ws.subscribe('analytics:event:S1');
      expect(snap).toMatchObject({ topic: 'analytics:event:S1', type: 'snapshot', seq: wsSnap.seq, data: { event_id: 'S1', organizer_id: 'ORG-S' } });
      expect(snap.data).toEqual(wsSnap.data);
      expect(await s.emitWithAck('subscribe', { topic: 'analytics:dashboard:OTHER' })).toMatchObject({ type: 'error', code: 'forbidden' });
      s.send({ op: 'ping' });

      const before = snap.data.funnel.views;
      await sendEvents(server.url, t, [webEvent({ visitor_id: `x${transports[0]}`, entities: { event_entity_id: 'S1', organizer_id: 'ORG-S' } })]);
      const wsUpdate = await ws.next((m) => m.type === 'update' && m.data.funnel.views === before + 1);
      for (let i = 0; i < 50 && !got.some((m) => m.type === 'update'); i++) await sleep(50);
      const update = got.find((m) => m.type === 'update');
      const { receivedAt: _r, ...wsMsg } = wsUpdate;
      expect(update).toEqual(wsMsg);
      expect(got.some((m) => m.type === 'pong')).toBe(true);
      expect(server.live.stats().socketIo).toBe(1);
      s.close();
      ws.close();
    });
  }
});
