// The same live topics over Socket.IO on the same port: rooms, same token, same payloads.
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, webEvent, type Tenant } from './helpers.js';
import { LiveClient, mintToken, sendEvents, sleep } from './live-helpers.js';
import { parseTopic, topicKey } from '../server/live/topics.js';

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

  it('ends a long-polling session that keeps posting and never polls, once LIVE_WS_MAX_BACKPRESSURE bytes wait for it', { timeout: 60_000 }, async () => {
    const token = await mintToken(server.url, t, { role: 'organizer', org_id: 'ORG-S' });
    const url = (sid?: string) => `${server.url}/socket.io/?EIO=4&transport=polling&token=${encodeURIComponent(token)}${sid ? `&sid=${sid}` : ''}`;
    const open = await (await fetch(url())).text();
    const sid = JSON.parse(open.slice(1)).sid as string;
    const post = (body: string) => fetch(url(sid), { method: 'POST', body, headers: { 'content-type': 'text/plain;charset=UTF-8' } });
    expect((await post('40')).status).toBe(200);
    // The namespace's answer first, as a Socket.IO client waits for it: the handshake reads the token's key before
    // it answers, and a packet sent before that answer ends the session (socket.io: "invalid state").
    expect(await (await fetch(url(sid))).text()).toMatch(/^40\{/);
    // Each subscribe is answered with a snapshot (~0.7 KB) that waits for a GET that never comes: ~2.8 MB in all.
    const batch = Array(400).fill('42["subscribe","analytics:event:S1"]').join('\x1e');
    // Posted until the server ends the session (a POST to it is refused): snapshots are built asynchronously, so on
    // a busy machine the queue may pass the limit only after more batches or some time (a fixed count and a 200 ms
    // wait failed under the full suite's load). A poll before that would drain the queue, so none is made.
    for (let i = 0; i < 200; i++) {
      const r = await post(batch);
      if (r.status !== 200) break; // ended
      await sleep(50);
    }
    const poll = await fetch(url(sid));
    const text = await poll.text();
    // The session is gone (engine.io: "Session ID unknown"), not answered with megabytes of queued snapshots.
    expect(poll.status).toBe(400);
    expect(text.length).toBeLessThan(1000);
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
      // The acknowledgement is Socket.IO's last argument, whatever came before it: every call is answered.
      expect(await s.timeout(10_000).emitWithAck('subscribe')).toMatchObject({ type: 'error', code: 'invalid_topic' });
      expect(await s.timeout(10_000).emitWithAck('subscribe', 'analytics:event:S1', 'extra')).toMatchObject({ type: 'snapshot', topic: 'analytics:event:S1' });
      s.send({ op: 'ping' });

      const before = snap.data.funnel.views;
      await sendEvents(server.url, t, [webEvent({ visitor_id: `x${transports[0]}`, entities: { event_entity_id: 'S1', organizer_id: 'ORG-S' } })]);
      const wsUpdate = await ws.next((m) => m.type === 'update' && m.data.funnel.views === before + 1);
      // Over long-polling the update waits for the client's next poll: on a loaded machine, seconds.
      for (const end = Date.now() + 20_000; !got.some((m) => m.type === 'update') && Date.now() < end; ) await sleep(50);
      // ...and then the pong, sent before it, has arrived too.
      const update = got.find((m) => m.type === 'update');
      const { receivedAt: _r, ...wsMsg } = wsUpdate;
      expect(update).toEqual(wsMsg);
      expect(got.some((m) => m.type === 'pong')).toBe(true);
      expect(server.live.stats().socketIo).toBe(1);
      s.close();
      ws.close();
    });
  }

  it('a refused subscribe cancelled by an unsubscribe right after it sends nothing of the topic after "unsubscribed", as on /ws', async () => {
    // The venue's events are looked up before the subscribe is decided: the unsubscribe arrives meanwhile.
    const s = await open(server.url, await mintToken(server.url, t, { role: 'venue', venue_ids: ['V-NONE'] }));
    const topic = 'analytics:event:S1:capacity'; // S1 is at no venue of this token: forbidden
    const got: any[] = [];
    let arrived = () => undefined as void;
    s.on('message', (m) => {
      got.push(m);
      arrived();
    });
    try {
      for (let round = 0; round < 5; round++) {
        const from = got.length;
        const of = () => got.slice(from).filter((m) => m.topic === topic);
        s.send({ op: 'subscribe', topic });
        s.send({ op: 'unsubscribe', topic });
        // Two answers: the unsubscribe's, and the subscribe's (refused if decided first, else "unsubscribed").
        while (of().length < 2) await new Promise<void>((r) => (arrived = r));
        const after = of().slice(of().findIndex((m) => m.type === 'unsubscribed') + 1);
        expect(after.filter((m) => m.type !== 'unsubscribed'), JSON.stringify(of())).toEqual([]);
      }
    } finally {
      s.close();
    }
  });

  it('at the topic limit (200) /ws and Socket.IO both refuse a new topic and answer a resubscribe with a snapshot', async () => {
    // 100 events of one organizer: their event and capacity topics make 200; the dashboard is one too many.
    const events = Array.from({ length: 100 }, (_, i) => `LIM${i}`);
    await sendEvents(server.url, t, events.map((e) => webEvent({ entities: { event_entity_id: e, organizer_id: 'ORG-LIM' } })));
    const topics = events.flatMap((e) => [`analytics:event:${e}`, `analytics:event:${e}:capacity`]);
    const token = await mintToken(server.url, t, { role: 'organizer', org_id: 'ORG-LIM' });
    const ws = await LiveClient.open(server.url, token);
    const s = await open(server.url, token);
    try {
      for (const topic of topics) {
        expect((await ws.subscribe(topic)).type).toBe('snapshot');
        expect((await s.emitWithAck('subscribe', topic)).type).toBe('snapshot');
      }
      const more = 'analytics:dashboard:ORG-LIM';
      expect(await ws.subscribe(more)).toMatchObject({ type: 'error', code: 'too_many_topics', topic: more });
      expect(await s.emitWithAck('subscribe', more)).toMatchObject({ type: 'error', code: 'too_many_topics', topic: more });
      expect(await ws.subscribe(topics[0])).toMatchObject({ type: 'snapshot', topic: topics[0] });
      expect(await s.emitWithAck('subscribe', topics[0])).toMatchObject({ type: 'snapshot', topic: topics[0] });
      // Still one subscription each: the resubscribe added none.
      expect(server.live.core.hub.entries.get(topicKey(t.tenant_id, parseTopic(topics[0])!))?.subs).toBe(2);
    } finally {
      s.close();
      ws.close();
    }
  });
});
