// client/live against a real server, over /ws and over Socket.IO: snapshot then updates equal to the REST
// mirror, reconnect after the server restarts (resubscribed, numbers restored from the store), after a
// cut connection and after a silently stalled one (heartbeat), and refused tokens.
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiveClient, StateInfo } from '../client/live/index.js';
import { connectLive, createSocketIoLiveClient, topics, wsTransport, type DashboardData, type EventData, type WebSocketCtor } from '../client/live/node.js';
import { startProxy } from './dashboard-helpers.js';
import { bootServer, createTenant, tmpDir, webEvent, type Tenant } from './helpers.js';
import { liveRest, mintToken, sendEvents } from './live-helpers.js';
import { clearOfMidnight } from './midnight.js';

type Server = Awaited<ReturnType<typeof bootServer>>;

const ORG = 'ORG-LC';
const view = (visitor: string, event = 'LC1') => webEvent({ visitor_id: visitor, session_id: `s-${visitor}`, entities: { event_entity_id: event, organizer_id: ORG } });

async function waitState(c: LiveClient, state: StateInfo['state'], timeoutMs = 20_000): Promise<StateInfo> {
  if (c.state === state) return c.stateInfo;
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      off();
      reject(new Error(`state ${state} not reached; now ${JSON.stringify(c.stateInfo)}`));
    }, timeoutMs);
    const off = c.on('state', (s) => {
      if (s.state === state) {
        clearTimeout(t);
        off();
        resolve(s);
      }
    });
  });
}

const variants = [
  { name: 'websocket', make: (url: string, token: string, extra = {}) => connectLive({ url, token, backoff: { baseMs: 100, maxMs: 1000 }, ...extra }) },
  { name: 'Socket.IO', make: (url: string, token: string, extra = {}) => createSocketIoLiveClient({ url, token, backoff: { baseMs: 100, maxMs: 1000 }, ...extra }) },
];

/** The restart test boots the server again: minutes on a loaded machine. */
const RESTART_TEST_MS = 180_000;
/** The whole file after its first boot: the tests' budgets (the restart's, and four of the default minute). */
const FILE_MS = RESTART_TEST_MS + 4 * 60_000;
const BACK_MS = 90_000;

describe('client/live against the server', () => {
  let server: Server;
  let dataDir: string;
  let t: Tenant;
  let token: string;
  const clients: LiveClient[] = [];

  beforeAll(async () => {
    // Live numbers are per UTC day: the run, as long as the file's tests may take, must not straddle midnight.
    await clearOfMidnight(BACK_MS, FILE_MS);
    dataDir = tmpDir();
    server = await bootServer({ DATA_DIR: dataDir });
    t = await createTenant(server.url, 'live-client');
    await sendEvents(server.url, t, [view('v0'), view('v0', 'LC2')]);
    token = await mintToken(server.url, t, { role: 'organizer', org_id: ORG, ttl_s: 3600 });
  }, BACK_MS + FILE_MS + 120_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await server?.close();
  });

  for (const v of variants) {
    it(`${v.name}: snapshot, then updates equal to the REST mirror`, async () => {
      const c = v.make(server.url, token, { connect: false });
      clients.push(c);
      const states: string[] = [];
      c.on('state', (s) => states.push(s.state));
      c.connect();
      const ev = topics.event('LC1');
      const keep = c.subscribe(ev);
      const snap = await c.waitFor(ev);
      expect(snap.type).toBe('snapshot');
      expect(snap.data).toMatchObject({ event_id: 'LC1', organizer_id: ORG });
      const before = snap.data.funnel.views;

      const dash = c.subscribe(topics.dashboard(ORG));
      const forbidden = new Promise((r) => c.subscribe(topics.dashboard('SOMEONE-ELSE'), undefined, (e) => r(e.code)));
      await sendEvents(server.url, t, [view(`${v.name}-a`), view(`${v.name}-b`)]);
      const upd = await c.waitFor(ev, (m) => m.data.funnel.views === before + 2);
      expect(upd.type).toBe('update');
      expect(upd.seq).toBeGreaterThan(snap.seq);
      const rest = await liveRest(server.url, '/api/v1/live/events/LC1', token);
      expect(upd.data).toEqual(rest.json.data);
      await c.waitFor(topics.dashboard(ORG), (m) => m.data.totals.funnel.views === rest.json.data.funnel.views + 1);
      expect((dash.latest?.data as DashboardData).events.map((e) => e.event_id)).toEqual(['LC1', 'LC2']);
      expect(await forbidden).toBe('forbidden');
      expect(states).toEqual(['connecting', 'open']);
      keep.unsubscribe();
      c.close();
      expect(c.state).toBe('closed');
    });
  }

  it('both variants reconnect after the server restarts, resubscribe, and resume updates', { timeout: RESTART_TEST_MS }, async () => {
    const proxy = await startProxy(() => server.port);
    const cs = variants.map((v) => v.make(proxy.url, token));
    clients.push(...cs);
    const latest: EventData[][] = cs.map(() => []);
    cs.forEach((c, i) => c.subscribe(topics.event('LC1'), (m) => latest[i].push(m.data)));
    expect(latest.length).toBe(2);
    await Promise.all(cs.map((c) => c.waitFor(topics.event('LC1'))));
    const views = (await liveRest(server.url, '/api/v1/live/events/LC1', token)).json.data.funnel.views;
    const drops = cs.map((c) => waitState(c, 'reconnecting'));

    await server.close();
    await Promise.all(drops);
    server = await bootServer({ DATA_DIR: dataDir });
    // The same DATA_DIR keeps the token secret: the old token is still good; numbers are recomputed from the store.
    await Promise.all(cs.map((c) => waitState(c, 'open')));
    const resnap = await Promise.all(cs.map((c) => c.waitFor(topics.event('LC1'), (m) => m.type === 'snapshot')));
    for (const s of resnap) expect(s.data.funnel.views).toBe(views);

    await sendEvents(server.url, t, [view('after-restart')]);
    const after = await Promise.all(cs.map((c) => c.waitFor(topics.event('LC1'), (m) => m.data.funnel.views === views + 1)));
    for (const a of after) expect(a.type).toBe('update');
    for (const c of cs) {
      expect(c.stats.drops).toBeGreaterThanOrEqual(1);
      c.close();
    }
    await proxy.close();
  });

  it('websocket: reconnects through a cut connection, and replaces a stalled one found by the heartbeat', async () => {
    const proxy = await startProxy(() => server.port);
    const startedAt = Date.now();
    const c = connectLive({ url: proxy.url, token, backoff: { baseMs: 100, maxMs: 500 }, pingIntervalMs: 300, pongTimeoutMs: 300 });
    clients.push(c);
    try {
      const pong = new Promise<{ rtt: number; at: number }>((r) => c.on('pong', (p) => r({ rtt: p.rtt, at: Date.now() })));
      c.subscribe(topics.event('LC1'));
      await c.waitFor(topics.event('LC1'));
      // The heartbeat was answered, and the round trip it reports is a real one: it fits inside the time this
      // test waited for it (a bogus figure, e.g. from a pong with no ping sent, or NaN, fails here).
      const { rtt, at } = await pong;
      expect(rtt).toBeGreaterThanOrEqual(0);
      expect(rtt).toBeLessThanOrEqual(at - startedAt);
      expect(c.state).toBe('open');

      proxy.cut();
      const s = await waitState(c, 'reconnecting');
      expect(s.reason).toBeTruthy();
      await waitState(c, 'open');
      const views = (await liveRest(server.url, '/api/v1/live/events/LC1', token)).json.data.funnel.views;
      await sendEvents(server.url, t, [view('after-cut')]);
      await c.waitFor(topics.event('LC1'), (m) => m.data.funnel.views === views + 1);

      // The network eats packets but nothing closes: only the heartbeat can tell.
      proxy.stall();
      const dead = await waitState(c, 'reconnecting', 5000);
      expect(dead.reason).toMatch(/no answer to a ping/);
      proxy.cut();
      proxy.resume();
      await waitState(c, 'open');
      await sendEvents(server.url, t, [view('after-stall')]);
      await c.waitFor(topics.event('LC1'), (m) => m.data.funnel.views === views + 2);
      expect(c.stats.connects).toBeGreaterThanOrEqual(3);
    } finally {
      c.close();
      await proxy.close();
    }
  });

  it('a refused token ends in state closed with error unauthorized, without retrying', async () => {
    const bad = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    for (const v of variants) {
      const c = v.make(server.url, bad);
      clients.push(c);
      const s = await waitState(c, 'closed');
      expect(s.error).toBe('unauthorized');
      expect(c.stats.connects).toBe(1);
    }
    // A browser WebSocket hides the 401; the probe tells.
    const tr = wsTransport({ url: server.url, WebSocket: WebSocket as unknown as WebSocketCtor });
    expect(await tr.probe!(bad)).toBe('unauthorized');
    expect(await tr.probe!(token)).toBe('ok');
    // Hidden status (browser-like): the client falls back to the probe.
    class Quiet extends (WebSocket as unknown as new (url: string) => any) {
      constructor(url: string) {
        super(url);
        this.on('error', () => undefined);
      }
      set onerror(_fn: unknown) {
        /* a browser's error event carries nothing */
      }
      get onerror() {
        return null;
      }
    }
    const c = connectLive({ url: server.url, token: bad, WebSocket: Quiet as unknown as WebSocketCtor, backoff: { baseMs: 2000 } });
    clients.push(c);
    const s = await waitState(c, 'closed', 5000);
    expect(s.error).toBe('unauthorized');
  });
});
