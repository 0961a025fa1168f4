// client/live without a server: backoff, the state machine, token claims, and the client's reconnect,
// resubscribe, heartbeat and seq-gap logic against a scripted transport under fake timers.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, BACKOFF_DEFAULTS } from '../client/live/backoff.js';
import { LiveClient, type CloseInfo, type Connection, type StateInfo, type Transport, type TransportHandlers } from '../client/live/client.js';
import { transition, type ConnectionState, type MachineEvent } from '../client/live/machine.js';
import { decodeToken, tokenExpired } from '../client/live/token.js';
import { baseUrls } from '../client/live/ws.js';

describe('backoffDelay', () => {
  it('grows exponentially up to the cap, with equal jitter', () => {
    const o = { baseMs: 100, maxMs: 1000, factor: 2, jitter: 0.5 };
    // random 0 → half the step; random 1 → the whole step
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, o, () => 0))).toEqual([50, 100, 200, 400, 500, 500]);
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, o, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelay(3, o, () => 0.5)).toBe(300);
  });

  it('stays inside [step·(1−jitter), step] for any random value and spreads clients out', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) {
      const d = backoffDelay(4, {}, Math.random);
      const step = BACKOFF_DEFAULTS.baseMs * 8;
      expect(d).toBeGreaterThanOrEqual(step / 2);
      expect(d).toBeLessThanOrEqual(step);
      seen.add(d);
    }
    expect(seen.size).toBeGreaterThan(100);
    expect(backoffDelay(1000, {}, () => 1)).toBe(BACKOFF_DEFAULTS.maxMs); // no overflow
    expect(backoffDelay(0, { baseMs: 10, jitter: 0 })).toBe(10); // attempt < 1 counts as 1
    expect(backoffDelay(2, { baseMs: 10, jitter: 0 }, () => 0.9)).toBe(20); // jitter 0: deterministic
  });
});

describe('connection state machine', () => {
  const run = (from: ConnectionState, ...evs: MachineEvent[]) => evs.reduce(transition, from);

  it('walks the normal life of a connection', () => {
    expect(run('idle', { type: 'connect' })).toBe('connecting');
    expect(run('idle', { type: 'connect' }, { type: 'open' })).toBe('open');
    expect(run('open', { type: 'close', retry: true })).toBe('reconnecting');
    expect(run('reconnecting', { type: 'retry' }, { type: 'open' })).toBe('open');
    expect(run('connecting', { type: 'close', retry: true }, { type: 'retry' }, { type: 'close', retry: true })).toBe('reconnecting');
    expect(run('open', { type: 'close', retry: false })).toBe('closed');
    expect(run('reconnecting', { type: 'close', retry: false })).toBe('closed');
    expect(run('closed', { type: 'connect' })).toBe('connecting');
    for (const s of ['idle', 'connecting', 'open', 'reconnecting', 'closed'] as const) expect(transition(s, { type: 'stop' })).toBe('closed');
  });

  it('ignores events that do not apply', () => {
    expect(transition('closed', { type: 'open' })).toBe('closed'); // a late open after stop
    expect(transition('open', { type: 'open' })).toBe('open');
    expect(transition('open', { type: 'connect' })).toBe('open');
    expect(transition('idle', { type: 'retry' })).toBe('idle');
    expect(transition('closed', { type: 'close', retry: true })).toBe('closed');
    expect(transition('idle', { type: 'close', retry: true })).toBe('idle');
  });
});

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const fakeToken = (claims: Record<string, unknown>) => `v1.${b64(claims)}.c2ln`;

describe('token claims', () => {
  it('reads organizer and gate tokens and their expiry', () => {
    expect(decodeToken(fakeToken({ t: 3, r: 'organizer', o: 'O1', iat: 10, exp: 20 }))).toEqual({ tenant: 3, role: 'organizer', org: 'O1', iat: 10, exp: 20 });
    expect(decodeToken(fakeToken({ t: 3, r: 'gate', e: ['E1', 'É2'], iat: 10, exp: 20 }))).toMatchObject({ role: 'gate', events: ['E1', 'É2'] });
    expect(decodeToken('nope')).toBeNull();
    expect(decodeToken('v1.!!!.x')).toBeNull();
    expect(decodeToken(fakeToken({ t: 3, r: 'admin', exp: 1 }))).toBeNull();
    expect(tokenExpired(fakeToken({ t: 1, r: 'organizer', o: 'O', exp: 100 }), 100_000)).toBe(true);
    expect(tokenExpired(fakeToken({ t: 1, r: 'organizer', o: 'O', exp: 101 }), 100_000)).toBe(false);
    expect(tokenExpired('garbage', 1)).toBe(false);
  });

  it('knows the expiry of every role\'s token, not only organizer and gate (the client would reconnect with an expired admin token)', () => {
    for (const r of ['admin', 'venue', 'venue_manager', 'artist', 'promoter', 'ad_account', 'media']) {
      expect(tokenExpired(fakeToken({ t: 1, r, exp: 100 }), 100_000), r).toBe(true);
      expect(tokenExpired(fakeToken({ t: 1, r, exp: 101 }), 100_000), r).toBe(false);
    }
    expect(tokenExpired(fakeToken({ t: 1, r: 'admin' }), 100_000)).toBe(false);
    expect(tokenExpired('v1.bnVsbA.x', 100_000)).toBe(false); // "null" as claims
  });

  it('derives the websocket and http bases', () => {
    expect(baseUrls('http://h:8080/dashboard?x')).toEqual({ http: 'http://h:8080', ws: 'ws://h:8080' });
    expect(baseUrls('wss://live.example.com')).toEqual({ http: 'https://live.example.com', ws: 'wss://live.example.com' });
  });
});

/** A transport whose connections the test opens, feeds and drops by hand. */
class FakeTransport implements Transport {
  readonly name = 'fake';
  conns: { token: string; h: TransportHandlers; sent: unknown[]; closed: boolean }[] = [];
  probeResult: 'unauthorized' | 'ok' | 'unknown' = 'ok';
  connect(token: string, h: TransportHandlers): Connection {
    const c = { token, h, sent: [] as unknown[], closed: false };
    this.conns.push(c);
    return {
      subscribe: (topic) => c.sent.push({ op: 'subscribe', topic }),
      unsubscribe: (topic) => c.sent.push({ op: 'unsubscribe', topic }),
      ping: () => c.sent.push({ op: 'ping' }),
      close: () => {
        c.closed = true;
      },
    };
  }
  async probe() {
    return this.probeResult;
  }
  get last() {
    return this.conns[this.conns.length - 1];
  }
}

const snap = (topic: string, seq: number, data: unknown = { n: seq }) => ({ topic, type: 'snapshot' as const, seq, ts: Date.now(), data });
const upd = (topic: string, seq: number, data: unknown = { n: seq }) => ({ topic, type: 'update' as const, seq, ts: Date.now(), data });

describe('LiveClient', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const make = (extra: Partial<ConstructorParameters<typeof LiveClient>[1]> = {}) => {
    const t = new FakeTransport();
    const states: StateInfo[] = [];
    const c = new LiveClient(t, { token: 'tok', backoff: { baseMs: 100, maxMs: 800, jitter: 0 }, pingIntervalMs: 0, stableAfterMs: 1000, ...extra });
    c.on('state', (s) => states.push(s));
    return { t, c, states, seen: () => states.map((s) => s.state) };
  };

  it('subscribes on open, delivers snapshot then updates, unsubscribes when the last handler leaves', async () => {
    const { t, c, seen } = make();
    const got: unknown[] = [];
    const sub = c.subscribe('analytics:event:E1', (m) => got.push([m.type, m.seq]));
    c.connect();
    await vi.advanceTimersByTimeAsync(0);
    expect(t.conns).toHaveLength(1);
    expect(t.last.token).toBe('tok');
    t.last.h.open();
    expect(t.last.sent).toEqual([{ op: 'subscribe', topic: 'analytics:event:E1' }]);
    t.last.h.message(snap('analytics:event:E1', 4));
    t.last.h.message(upd('analytics:event:E1', 5));
    expect(got).toEqual([['snapshot', 4], ['update', 5]]);
    expect(sub.latest?.seq).toBe(5);

    // a second handler on the same topic gets the newest message at once, and no second subscribe goes out
    const late: unknown[] = [];
    const sub2 = c.subscribe('analytics:event:E1', (m) => late.push(m.seq));
    await vi.advanceTimersByTimeAsync(0);
    expect(late).toEqual([5]);
    expect(t.last.sent).toHaveLength(1);
    sub.unsubscribe();
    expect(t.last.sent).toHaveLength(1);
    sub2.unsubscribe();
    expect(t.last.sent).toEqual([{ op: 'subscribe', topic: 'analytics:event:E1' }, { op: 'unsubscribe', topic: 'analytics:event:E1' }]);
    t.last.h.message(upd('analytics:event:E1', 6)); // after unsubscribing: ignored
    expect(got).toHaveLength(2);
    expect(seen()).toEqual(['connecting', 'open']);
  });

  it('emits a notice of a watched topic without touching its data or seq, and ignores one of a topic it does not watch', async () => {
    const { t, c } = make();
    const got: unknown[] = [];
    const notices: unknown[] = [];
    const sub = c.subscribe('analytics:dashboard:O1', (m) => got.push(m.seq));
    c.on('notice', (n) => notices.push([n.topic, n.data.kind]));
    c.connect();
    await vi.advanceTimersByTimeAsync(0);
    t.last.h.open();
    t.last.h.message(snap('analytics:dashboard:O1', 3));
    t.last.h.message({ topic: 'analytics:dashboard:O1', type: 'notice', ts: Date.now(), data: { kind: 'campaign_budget_low', budget_id: 1 } });
    t.last.h.message({ topic: 'analytics:dashboard:O2', type: 'notice', ts: Date.now(), data: { kind: 'campaign_budget_low', budget_id: 2 } });
    t.last.h.message(upd('analytics:dashboard:O1', 4));
    expect(notices).toEqual([['analytics:dashboard:O1', 'campaign_budget_low']]);
    expect(got).toEqual([3, 4]);
    expect(sub.latest?.type).toBe('update');
  });

  it('reconnects with growing backoff, resubscribes everything, and resets the backoff once stable', async () => {
    const { t, c, states } = make();
    c.subscribe('analytics:dashboard:O1');
    c.subscribe('analytics:event:E1:capacity');
    c.connect();
    await vi.advanceTimersByTimeAsync(0);
    t.last.h.open();
    t.last.h.message(snap('analytics:dashboard:O1', 7));

    // the server goes away; every attempt fails during the handshake
    t.last.h.close({ code: 1006 });
    expect(c.state).toBe('reconnecting');
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = c.stateInfo;
      delays.push(s.retryAt! - Date.now());
      await vi.advanceTimersByTimeAsync(s.retryAt! - Date.now());
      expect(c.state).toBe('connecting');
      t.last.h.close({ code: 1006, handshake: true });
    }
    expect(delays).toEqual([100, 200, 400, 800, 800]);
    expect(t.conns).toHaveLength(6);

    // it comes back: both topics are subscribed again; the new node's snapshot resets the seq baseline
    await vi.advanceTimersByTimeAsync(c.stateInfo.retryAt! - Date.now());
    t.last.h.open();
    expect(t.last.sent).toEqual([
      { op: 'subscribe', topic: 'analytics:dashboard:O1' },
      { op: 'subscribe', topic: 'analytics:event:E1:capacity' },
    ]);
    const gaps: unknown[] = [];
    c.on('gap', (g) => gaps.push(g));
    t.last.h.message(snap('analytics:dashboard:O1', 0));
    t.last.h.message(upd('analytics:dashboard:O1', 1));
    expect(gaps).toEqual([]);

    // stable for stableAfterMs: the next drop starts the backoff again from the base
    await vi.advanceTimersByTimeAsync(1000);
    t.last.h.close({ code: 1001 });
    expect(c.stateInfo.retryAt! - Date.now()).toBe(100);
    expect(states.filter((s) => s.state === 'reconnecting').map((s) => s.attempt)).toEqual([1, 2, 3, 4, 5, 6, 1]);
    // retryNow skips the wait (the browser's online event)
    c.retryNow();
    expect(c.state).toBe('connecting');
    await vi.advanceTimersByTimeAsync(0);
    expect(t.conns).toHaveLength(8);
  });

  it('reports seq gaps, applies the newer state, drops stale updates, and resyncs when asked', async () => {
    for (const resyncOnGap of [false, true]) {
      const { t, c } = make({ resyncOnGap });
      const gaps: unknown[] = [];
      const got: number[] = [];
      c.on('gap', (g) => gaps.push(g));
      c.subscribe('analytics:event:E1', (m) => got.push(m.seq));
      c.connect();
      await vi.advanceTimersByTimeAsync(0);
      t.last.h.open();
      t.last.h.message(snap('analytics:event:E1', 10));
      t.last.h.message(upd('analytics:event:E1', 11));
      t.last.h.message(upd('analytics:event:E1', 14)); // 12 and 13 were lost
      t.last.h.message(upd('analytics:event:E1', 13)); // stale: older than what we hold
      expect(gaps).toEqual([{ topic: 'analytics:event:E1', expected: 12, got: 14 }]);
      expect(got).toEqual([10, 11, 14]);
      expect(c.stats.gaps).toBe(1);
      const subs = t.last.sent.filter((m: any) => m.op === 'subscribe');
      expect(subs).toHaveLength(resyncOnGap ? 2 : 1);
      if (resyncOnGap) {
        t.last.h.message(snap('analytics:event:E1', 15));
        t.last.h.message(upd('analytics:event:E1', 16));
        expect(got).toEqual([10, 11, 14, 15, 16]);
        expect(gaps).toHaveLength(1);
      }
      c.close();
    }
  });

  it('replaces a half-open connection found by the heartbeat', async () => {
    const { t, c } = make({ pingIntervalMs: 1000, pongTimeoutMs: 500 });
    const rtts: number[] = [];
    c.on('pong', (p) => rtts.push(p.rtt));
    c.connect();
    await vi.advanceTimersByTimeAsync(0);
    t.last.h.open();
    await vi.advanceTimersByTimeAsync(1000);
    expect(t.last.sent).toEqual([{ op: 'ping' }]);
    await vi.advanceTimersByTimeAsync(20);
    t.last.h.message({ type: 'pong', ts: Date.now() });
    expect(rtts).toEqual([20]);
    await vi.advanceTimersByTimeAsync(480);
    expect(c.state).toBe('open');
    // now the network silently drops everything
    await vi.advanceTimersByTimeAsync(1000); // ping at 2000 ms, nothing back by 2500 ms
    expect(c.state).toBe('reconnecting');
    expect(c.stateInfo.reason).toMatch(/no answer to a ping/);
    expect(t.conns[0].closed).toBe(true);
    await vi.advanceTimersByTimeAsync(100);
    expect(t.conns).toHaveLength(2);
  });

  it('stops on a refused or expired static token, keeps going with a token function', async () => {
    // 401 seen by the transport
    let m = make();
    m.c.connect();
    await vi.advanceTimersByTimeAsync(0);
    m.t.last.h.close({ handshake: true, status: 401 });
    expect(m.c.stateInfo).toMatchObject({ state: 'closed', error: 'unauthorized' });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(m.t.conns).toHaveLength(1);

    // browser: the handshake fails without a status; the probe says the token is the reason
    m = make();
    m.t.probeResult = 'unauthorized';
    m.c.connect();
    await vi.advanceTimersByTimeAsync(0);
    m.t.last.h.close({ handshake: true, code: 1006 });
    expect(m.c.state).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(0);
    expect(m.c.stateInfo).toMatchObject({ state: 'closed', error: 'unauthorized' });

    // the probe says the token is fine: a network problem, keep retrying
    m = make();
    m.t.probeResult = 'ok';
    m.c.connect();
    await vi.advanceTimersByTimeAsync(0);
    m.t.last.h.close({ handshake: true, code: 1006 });
    await vi.advanceTimersByTimeAsync(100);
    expect(m.t.conns).toHaveLength(2);

    // the server ends the connection when the token expires (4001)
    m = make();
    m.c.connect();
    await vi.advanceTimersByTimeAsync(0);
    m.t.last.h.open();
    m.t.last.h.message({ type: 'error', code: 'token_expired' });
    m.t.last.h.close({ code: 4001 });
    expect(m.c.stateInfo).toMatchObject({ state: 'closed', error: 'token_expired' });

    // an expired token is not even tried
    m = make({ token: fakeToken({ t: 1, r: 'organizer', o: 'O', iat: 0, exp: Math.floor(Date.now() / 1000) - 1 }) });
    m.c.connect();
    await vi.advanceTimersByTimeAsync(0);
    expect(m.t.conns).toHaveLength(0);
    expect(m.c.stateInfo).toMatchObject({ state: 'closed', error: 'token_expired' });

    // a token function is asked again before each attempt
    let n = 0;
    m = make({ token: async () => `tok-${++n}` });
    m.c.connect();
    await vi.advanceTimersByTimeAsync(0);
    m.t.last.h.close({ code: 4001 } as CloseInfo);
    expect(m.c.state).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(100);
    expect(m.t.conns.map((x) => x.token)).toEqual(['tok-1', 'tok-2']);
  });

  it('routes per-topic errors to the subscriber and retries an unavailable topic', async () => {
    const { t, c } = make({ resubscribeMs: 300 });
    const errors: string[] = [];
    c.subscribe('analytics:dashboard:OTHER', undefined, (e) => errors.push(e.code));
    c.subscribe('analytics:event:E9', undefined, (e) => errors.push(e.code));
    c.connect();
    await vi.advanceTimersByTimeAsync(0);
    t.last.h.open();
    t.last.h.message({ type: 'error', code: 'forbidden', topic: 'analytics:dashboard:OTHER' });
    t.last.h.message({ type: 'error', code: 'unavailable', topic: 'analytics:event:E9' });
    expect(errors).toEqual(['forbidden', 'unavailable']);
    expect(t.last.sent).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(300);
    expect(t.last.sent[2]).toEqual({ op: 'subscribe', topic: 'analytics:event:E9' });
    // close() stops everything; late callbacks of the old connection change nothing
    const old = t.last;
    c.close();
    old.h.open();
    old.h.close({ code: 1006 });
    expect(c.state).toBe('closed');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(t.conns).toHaveLength(1);
  });
});
