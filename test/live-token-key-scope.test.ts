// A token minted by a key limited to some organizers (venues, artists, events) never outlives that key's scope:
// its events are checked against the minting key at every use, with the events' current owners. Before, the
// check ran at minting only: an O1 organizer key minted a 30-day promoter token for E3 while a public write-key
// row claimed E3 for O1; once the catalog gave E3 to O2, the O1 key got 403 but the token kept reading O2's
// funnel and revenue over REST and its open /ws subscription went on receiving them.
import crypto from 'node:crypto';
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, postJson, type Tenant } from './helpers.js';
import { api } from './identity-helpers.js';
import { LiveClient, liveRest, sendEvents, sleep } from './live-helpers.js';

const view = (event: string, org: string) => ({
  event_id: crypto.randomUUID(), event_name: 'event_view', occurred_at: new Date(Date.now() - 1000).toISOString(), source_system: 'web',
  visitor_id: `v-${crypto.randomUUID()}`, session_id: `s-${crypto.randomUUID()}`,
  consent_snapshot: { analytics: true, marketing: true, data_processing: true },
  entities: { event_entity_id: event, organizer_id: org }, payload: {},
});

const order = (event: string, org: string, amount: number) => ({
  event_id: crypto.randomUUID(), event_name: 'order_completed', source_system: 'backend', occurred_at: new Date().toISOString(),
  entities: { event_entity_id: event, organizer_id: org, order_id: `o-${crypto.randomUUID().slice(0, 8)}` },
  payload: { gross_amount: amount, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1, price: amount }] },
});

function openIo(base: string, token: string): Promise<Socket & { got: any[] }> {
  const s = connect(base, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true }) as Socket & { got: any[] };
  s.got = [];
  s.on('message', (m) => s.got.push(m));
  return new Promise((resolve, reject) => {
    s.once('connect', () => resolve(s));
    s.once('connect_error', reject);
  });
}

describe('a token minted by a limited key follows the key\'s scope after the event changes hands', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const mint = async (key: string, body: Record<string, unknown>) => {
    const r = await postJson(`${base}/api/v1/tokens`, body, as(key));
    expect(r.status, r.text).toBe(201);
    return r.json.token as string;
  };

  beforeAll(async () => {
    server = await bootServer();
    base = server.url;
    t = await createTenant(base, 'token-key-scope');
    expect((await api(base, t, 'PUT', '/api/v1/roles/organizer', { permissions: { mint_tokens: true } })).status).toBe(200);
    // E1 is O1's in the catalog; E3 is not in the catalog yet: a page (public write key) claims it for O1.
    expect((await api(base, t, 'PUT', '/api/v1/catalog/events', { items: [{ id: 'E1', organizer_id: 'O1', title: 'Ones' }] })).status).toBe(200);
    await sendEvents(base, t, [view('E3', 'O1'), view('E1', 'O1')]);
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it('refuses the moved event over REST and /ws and drops the open subscriptions; tenant-wide keys\' tokens keep working', async () => {
    const o1Key = (await postJson(`${base}/api/v1/keys`, { role: 'organizer', scope: { organizers: ['O1'] } }, as(t.secret_key))).json.key as string;
    const promoter = await mint(o1Key, { role: 'promoter', event_ids: ['E3', 'E1'], ttl_s: 2_592_000 });
    const gate = await mint(o1Key, { role: 'gate', event_ids: ['E3'] });
    const wide = await mint(t.secret_key, { role: 'promoter', event_ids: ['E3'] });
    expect((await liveRest(base, '/api/v1/live/events/E3', promoter)).status).toBe(200);
    expect((await liveRest(base, '/api/v1/live/events/E3/capacity', gate)).status).toBe(200);

    const ws = await LiveClient.open(base, promoter);
    const gws = await LiveClient.open(base, gate);
    const sio = await openIo(base, promoter);
    try {
      expect((await ws.subscribe('analytics:event:E3')).type).toBe('snapshot');
      expect((await ws.subscribe('analytics:event:E1')).type).toBe('snapshot');
      expect((await gws.subscribe('analytics:event:E3:capacity')).type).toBe('snapshot');
      expect((await sio.emitWithAck('subscribe', 'analytics:event:E3')).type).toBe('snapshot');
      const from = { ws: ws.messages.length, gws: gws.messages.length, sio: sio.got.length };

      // The admin syncs the catalog: E3 is O2's.
      expect((await api(base, t, 'PUT', '/api/v1/catalog/events', { items: [{ id: 'E3', organizer_id: 'O2', title: 'Twos' }] })).status).toBe(200);

      const forbidden = (topic: string) => (m: any) => m.type === 'error' && m.code === 'forbidden' && m.topic === topic;
      await ws.next(forbidden('analytics:event:E3'), 10_000, from.ws);
      await gws.next(forbidden('analytics:event:E3:capacity'), 10_000, from.gws);
      for (let i = 0; i < 200 && !sio.got.slice(from.sio).some(forbidden('analytics:event:E3')); i++) await sleep(25);
      expect(sio.got.slice(from.sio).some(forbidden('analytics:event:E3'))).toBe(true);

      // The minting key and its tokens alike: 403 over REST (live mirror, capacity, history).
      expect((await liveRest(base, '/api/v1/live/events/E3', o1Key)).status).toBe(403);
      expect((await liveRest(base, '/api/v1/live/events/E3', promoter)).status).toBe(403);
      expect((await liveRest(base, '/api/v1/live/events/E3/capacity', promoter)).status).toBe(403);
      expect((await liveRest(base, '/api/v1/live/events/E3/history', promoter)).status).toBe(403);
      expect((await liveRest(base, '/api/v1/live/events/E3/capacity', gate)).status).toBe(403);
      // O2's sales reach none of the open connections; a new subscribe is refused.
      await postJson(`${base}/api/v1/server-events`, { events: [order('E3', 'O2', 321)] }, as(t.secret_key));
      await sleep(600);
      const leaked = [...ws.messages.slice(from.ws), ...gws.messages.slice(from.gws), ...sio.got.slice(from.sio)]
        .filter((m: any) => (m.type === 'update' || m.type === 'snapshot') && String(m.topic).startsWith('analytics:event:E3'));
      expect(leaked).toEqual([]);
      expect(await ws.subscribe('analytics:event:E3')).toMatchObject({ type: 'error', code: 'forbidden' });
      const fresh = await LiveClient.open(base, promoter);
      try {
        expect(await fresh.subscribe('analytics:event:E3')).toMatchObject({ type: 'error', code: 'forbidden' });
      } finally {
        fresh.close();
      }

      // What the key still covers keeps working; a token of a tenant-wide key keeps E3 (its event_ids are its scope).
      expect((await liveRest(base, '/api/v1/live/events/E1', promoter)).status).toBe(200);
      expect(ws.messages.slice(from.ws).some(forbidden('analytics:event:E1'))).toBe(false);
      const still = await liveRest(base, '/api/v1/live/events/E3', wide);
      expect(still.status).toBe(200);
      expect(still.json.data.revenue).toEqual({ EUR: 321 });
    } finally {
      ws.close();
      gws.close();
      sio.close();
    }
  });
});
