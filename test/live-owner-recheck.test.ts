// An open subscription is checked again when its event changes hands (a secret-key claim moves it, the catalog
// changes its organizer or venue): a connection that may no longer read the event gets `forbidden` and none of
// the new owner's numbers, on /ws and Socket.IO alike.
import crypto from 'node:crypto';
import pino from 'pino';
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../server/config/index.js';
import { createLive } from '../server/live/index.js';
import { deletePrefix, randomPrefix, REDIS_URL } from '../server/live/redis-test-utils.js';
import { bootServer, createTenant, postJson, request, tmpDir, webEvent, type Tenant } from './helpers.js';
import { LiveClient, liveRest, mintToken, sleep, type LiveMessage } from './live-helpers.js';
import { topicKey } from '../server/live/topics.js';

function openIo(base: string, token: string): Promise<Socket & { got: any[] }> {
  const s = connect(base, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true }) as Socket & { got: any[] };
  s.got = [];
  s.on('message', (m) => s.got.push(m));
  return new Promise((resolve, reject) => {
    s.once('connect', () => resolve(s));
    s.once('connect_error', reject);
  });
}

const order = (event: string, org: string, amount: number) => ({
  event_id: crypto.randomUUID(), event_name: 'order_completed', source_system: 'backend', occurred_at: new Date().toISOString(),
  entities: { event_entity_id: event, organizer_id: org, order_id: `o-${crypto.randomUUID().slice(0, 8)}` },
  payload: { gross_amount: amount, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1, price: amount }] },
});

/** Waits until `pred` holds (polling what the clients recorded). */
async function until(pred: () => boolean, what: string, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const forbiddenFor = (topic: string) => (m: Pick<LiveMessage, 'type' | 'code'> & { topic?: string }) => m.type === 'error' && m.code === 'forbidden' && m.topic === topic;

describe('open subscriptions follow an event that changes hands', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  beforeAll(async () => {
    server = await bootServer();
    t = await createTenant(server.url, 'recheck');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('a secret-key claim that moves the event ends the first organizer\'s subscriptions (/ws and Socket.IO)', async () => {
    const r = await postJson(`${server.url}/api/tx/events/batch`, { events: [webEvent({ entities: { event_entity_id: 'E-steal', organizer_id: 'O3' } })] }, { 'x-tx-key': t.write_key });
    expect(r.json.accepted, r.text).toBe(1);
    const o3 = await mintToken(server.url, t, { role: 'organizer', org_id: 'O3' });
    const ws = await LiveClient.open(server.url, o3);
    const s = await openIo(server.url, o3);
    try {
      for (const topic of ['analytics:event:E-steal', 'analytics:event:E-steal:capacity']) {
        expect((await ws.subscribe(topic)).type).toBe('snapshot');
        expect((await s.emitWithAck('subscribe', topic)).type).toBe('snapshot');
      }
      const wsFrom = ws.messages.length;
      const ioFrom = s.got.length;
      const moved = await postJson(`${server.url}/api/v1/server-events`, { events: [order('E-steal', 'O5', 777)] }, { authorization: `Bearer ${t.secret_key}` });
      expect(moved.json.accepted, moved.text).toBe(1);

      for (const topic of ['analytics:event:E-steal', 'analytics:event:E-steal:capacity']) {
        await ws.next(forbiddenFor(topic), 10_000, wsFrom);
        await until(() => s.got.slice(ioFrom).some(forbiddenFor(topic)), `Socket.IO forbidden on ${topic}`);
      }
      expect(ws.messages.slice(wsFrom).find(forbiddenFor('analytics:event:E-steal'))).toMatchObject({ permission: 'view_event_analytics' });
      // More of O5's sales: nothing of them reaches O3.
      await postJson(`${server.url}/api/v1/server-events`, { events: [order('E-steal', 'O5', 999)] }, { authorization: `Bearer ${t.secret_key}` });
      const o5 = await mintToken(server.url, t, { role: 'organizer', org_id: 'O5' });
      const rest = await liveRest(server.url, '/api/v1/live/events/E-steal', o5);
      expect(rest.json.data.revenue).toEqual({ EUR: 1776 });
      await sleep(600); // two coalescing intervals: an update to O3 would have gone out
      const leaked = [...ws.messages.slice(wsFrom), ...s.got.slice(ioFrom)].filter((m: any) => m.type === 'update' || m.type === 'snapshot');
      expect(leaked).toEqual([]);
      expect(server.live.core.hub.entries.get(topicKey(t.tenant_id, { kind: 'event', event: 'E-steal' }))?.subs ?? 0).toBe(0);
      expect(await ws.subscribe('analytics:event:E-steal')).toMatchObject({ type: 'error', code: 'forbidden' });
    } finally {
      ws.close();
      s.close();
    }
  });

  it('a catalog change of the organizer and venue ends the old organizer\'s and the old venue\'s subscriptions', async () => {
    const put = (organizer: string, venue: string) =>
      request('PUT', `${server.url}/api/v1/catalog/events`, { items: [{ id: 'E-cat', organizer_id: organizer, venue_id: venue, title: 'Cat' }] }, { authorization: `Bearer ${t.secret_key}` });
    expect((await put('O1', 'V1')).status).toBe(200);
    const o1 = await LiveClient.open(server.url, await mintToken(server.url, t, { role: 'organizer', org_id: 'O1' }));
    const v1 = await openIo(server.url, await mintToken(server.url, t, { role: 'venue', venue_ids: ['V1'] }));
    const v1ws = await LiveClient.open(server.url, await mintToken(server.url, t, { role: 'venue', venue_ids: ['V1'] }));
    try {
      expect((await o1.subscribe('analytics:event:E-cat')).type).toBe('snapshot');
      expect((await v1.emitWithAck('subscribe', 'analytics:event:E-cat:capacity')).type).toBe('snapshot');
      expect((await v1ws.subscribe('analytics:event:E-cat')).type).toBe('snapshot');
      const from = { o1: o1.messages.length, v1: v1.got.length, v1ws: v1ws.messages.length };
      expect((await put('O2', 'V9')).status).toBe(200);
      await o1.next(forbiddenFor('analytics:event:E-cat'), 10_000, from.o1);
      await v1ws.next(forbiddenFor('analytics:event:E-cat'), 10_000, from.v1ws);
      await until(() => v1.got.slice(from.v1).some(forbiddenFor('analytics:event:E-cat:capacity')), 'Socket.IO forbidden on the capacity topic');
      // O2's sales reach none of them.
      await postJson(`${server.url}/api/v1/server-events`, { events: [order('E-cat', 'O2', 55)] }, { authorization: `Bearer ${t.secret_key}` });
      await sleep(600);
      const leaked = [...o1.messages.slice(from.o1), ...v1.got.slice(from.v1), ...v1ws.messages.slice(from.v1ws)].filter((m: any) => m.type === 'update' || m.type === 'snapshot');
      expect(leaked).toEqual([]);
    } finally {
      o1.close();
      v1ws.close();
      v1.close();
    }
  });
});

describe('two nodes sharing Redis and one store', () => {
  const prefix = randomPrefix();
  afterAll(async () => {
    await deletePrefix(prefix);
  });

  // Boots a server (minutes on a loaded machine) and a second live layer.
  it('a move seen over the bus (secret claim, catalog change) has the other node check its subscriptions again', { timeout: 180_000 }, async () => {
    const env = { REDIS_URL, LIVE_TOKEN_SECRET: crypto.randomBytes(32).toString('hex'), LIVE_REDIS_PREFIX: prefix };
    const a = await bootServer({ ...env, DATA_DIR: tmpDir() });
    const b = await createLive({ config: loadConfig({ ...env, DATA_DIR: tmpDir(), PORT: '0' }), db: a.db, log: pino({ level: 'silent' }) });
    try {
      await b.restore();
      const t = await createTenant(a.url, 'recheck-two-nodes');
      const heard: string[] = [];
      b.core.onOwnerChange!((events) => heard.push(...events.map((e) => e.event)));
      const r = await postJson(`${a.url}/api/tx/events/batch`, { events: [webEvent({ entities: { event_entity_id: 'E-bus', organizer_id: 'O3' } })] }, { 'x-tx-key': t.write_key });
      expect(r.json.accepted, r.text).toBe(1);
      await until(() => b.core.ownerOf(t.tenant_id, 'E-bus')?.org === 'O3', 'node B to learn E-bus');
      await postJson(`${a.url}/api/v1/server-events`, { events: [order('E-bus', 'O5', 5)] }, { authorization: `Bearer ${t.secret_key}` });
      await until(() => heard.includes('E-bus'), 'node B to hear that E-bus moved');
      expect(b.core.ownerOf(t.tenant_id, 'E-bus')?.org).toBe('O5');
      const put = await request('PUT', `${a.url}/api/v1/catalog/events`, { items: [{ id: 'E-bus', organizer_id: 'O7', title: 'Bus' }] }, { authorization: `Bearer ${t.secret_key}` });
      expect(put.status).toBe(200);
      await until(() => heard.filter((e) => e === 'E-bus').length === 2, 'node B to hear the catalog move');
      expect(b.core.ownerOf(t.tenant_id, 'E-bus')?.org).toBe('O7');
    } finally {
      await b.close();
      await a.close();
    }
  });
});
