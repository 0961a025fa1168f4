// The subscription protocol without a transport: a real hub, a fake link that records what the transport
// would do. The transports themselves (/ws, Socket.IO) are tested end to end in test/live*.test.ts.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Hub, type HubDeps } from './hub.js';
import { createSubscriptions, decodeFrame, parseOp, type Link, type Reply, type Subscriber, type SubscriptionCore } from './subscriptions.js';
import type { Scope } from './token.js';
import { limitedAccess } from './access.js';
import { limitConcurrency } from './rate.js';
import { parseTopic, topicKey, type Topic } from './topics.js';

/** A topic's key inside the server (topics.ts topicKey), from its name; `revenue: false` for an event topic's revenue-free variant. */
const key = (tenant: number, name: string, revenue?: false): string => topicKey(tenant, { ...parseTopic(name)!, ...(revenue === false ? { revenue } : {}) } as Topic);

const NOW = Date.parse('2026-11-21T19:00:00Z');
const ORG: Scope = { role: 'organizer', tenant: 1, org: 'O1' };

function setup(
  o: { prepare?: () => Promise<void>; access?: SubscriptionCore['access']; subscribing?: SubscriptionCore['subscribing']; maxTopics?: number; expS?: number; build?: HubDeps['build'] } = {},
) {
  const hub = new Hub({ build: o.build ?? (() => ({ data: { n: 1 }, updatedAt: 0 })), send: () => undefined, intervalMs: 0 });
  const core: SubscriptionCore = {
    hub,
    log: pino({ level: 'silent' }),
    now: () => NOW,
    // O1 may read its dashboard and the events E*; nothing else.
    allowed: (_scope, t) => (t.kind === 'dashboard' ? t.org === 'O1' : t.kind !== 'venue' && t.event.startsWith('E')),
    prepare: o.prepare ?? (async () => undefined),
    ...(o.access ? { access: o.access } : {}),
    ...(o.subscribing ? { subscribing: o.subscribing } : {}),
  };
  const subs = createSubscriptions(core, o.maxTopics);
  const sub: Subscriber = { scope: ORG, exp: o.expS ?? NOW / 1000 + 60, topics: new Set() };
  const seen = { sent: [] as Reply[], joined: [] as { key: string; fresh: boolean; snapshot: Reply }[], left: [] as string[], expired: 0, open: true };
  const link: Link = {
    isOpen: () => seen.open,
    join: (key, fresh, snapshot) => seen.joined.push({ key, fresh, snapshot: JSON.parse(snapshot) }),
    leave: (key) => seen.left.push(key),
    send: (r) => seen.sent.push(r),
    expire: () => seen.expired++,
  };
  const send = (msg: unknown) => subs.handle(sub, link, msg);
  return { hub, subs, sub, seen, send };
}

describe('subscription protocol', () => {
  it('runs a storm of subscribes a few at a time; those of a connection that closed meanwhile check nothing', async () => {
    let checks = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const { seen, send } = setup({
      subscribing: limitConcurrency(2, (run: () => Promise<'stale' | void>) => run()),
      access: limitedAccess(16, async (_scope, topic) => (checks++, { ok: true, topic, notices: [] })),
      prepare: () => gate,
    });
    const all = Array.from({ length: 50 }, (_, i) => send({ op: 'subscribe', topic: `analytics:event:E${i}` }));
    await new Promise((r) => setImmediate(r));
    // Two under way (checked, waiting on the store); the other 48 wait their turn without a check.
    expect(checks).toBe(2);
    seen.open = false;
    release();
    await Promise.all(all);
    expect(checks).toBe(2);
    expect(seen.joined).toEqual([]);
  });

  it('answers a ping, and refuses what is not JSON or not an op', async () => {
    const { seen, send } = setup();
    await send({ op: 'ping' });
    await send({ op: 'dance' });
    await send(null);
    expect(seen.sent).toEqual([
      { type: 'pong', ts: NOW },
      expect.objectContaining({ type: 'error', code: 'invalid_message' }),
      expect.objectContaining({ type: 'error', code: 'invalid_message' }),
    ]);
    expect(decodeFrame('{nope')).toMatchObject({ error: { type: 'error', code: 'invalid_message' } });
    expect(decodeFrame('{"op":"ping"}')).toEqual({ msg: { op: 'ping' } });
    expect(parseOp({ op: 'subscribe', topic: 'x' })).toEqual({ op: 'subscribe', topic: 'x' });
  });

  it('subscribes with a snapshot, once per topic, and unsubscribes', async () => {
    const { hub, sub, seen, send } = setup();
    await send({ op: 'subscribe', topic: 'analytics:event:E1' });
    await send({ op: 'subscribe', topic: 'analytics:event:E1' });
    expect(seen.joined.map((j) => [j.key, j.fresh, j.snapshot.type, j.snapshot.topic])).toEqual([
      [key(1, 'analytics:event:E1'), true, 'snapshot', 'analytics:event:E1'],
      [key(1, 'analytics:event:E1'), false, 'snapshot', 'analytics:event:E1'],
    ]);
    expect(hub.entries.get(key(1, 'analytics:event:E1'))?.subs).toBe(1);
    await send({ op: 'unsubscribe', topic: 'analytics:event:E1' });
    await send({ op: 'unsubscribe', topic: 'analytics:event:E1' });
    expect(seen.left).toEqual([key(1, 'analytics:event:E1')]);
    expect(seen.sent).toEqual([
      { type: 'unsubscribed', topic: 'analytics:event:E1' },
      { type: 'unsubscribed', topic: 'analytics:event:E1' },
    ]);
    expect(hub.entries.get(key(1, 'analytics:event:E1'))?.subs).toBe(0);
    expect(sub.topics.size).toBe(0);
  });

  it('counts subscribes still waiting (on Redis) against the topic limit: a burst cannot pass it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { sub, seen, send } = setup({ maxTopics: 3, prepare: () => gate });
    const burst = ['E1', 'E2', 'E3', 'E4', 'E5', 'E1'].map((e) => send({ op: 'subscribe', topic: `analytics:event:${e}` }));
    await new Promise((r) => setImmediate(r));
    release();
    await Promise.all(burst);
    expect(seen.sent.map((r) => [r.code, r.topic])).toEqual([
      ['too_many_topics', 'analytics:event:E4'],
      ['too_many_topics', 'analytics:event:E5'],
    ]);
    // The repeated E1 waited with the first: a second snapshot, no second topic.
    expect(seen.joined.map((j) => [j.key, j.fresh])).toEqual([[key(1, 'analytics:event:E1'), true], [key(1, 'analytics:event:E2'), true], [key(1, 'analytics:event:E3'), true], [key(1, 'analytics:event:E1'), false]]);
    expect(sub.topics.size).toBe(3);
  });

  it('an unsubscribe sent while the subscribe still waits cancels it: no join, no updates after "unsubscribed"', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { hub, sub, seen, send } = setup({ prepare: () => gate });
    const subscribing = send({ op: 'subscribe', topic: 'analytics:event:E1' });
    await send({ op: 'unsubscribe', topic: 'analytics:event:E1' });
    release();
    await subscribing;
    expect(seen.joined).toEqual([]);
    expect(seen.sent).toEqual([{ type: 'unsubscribed', topic: 'analytics:event:E1' }, { type: 'unsubscribed', topic: 'analytics:event:E1' }]);
    expect(sub.topics.size).toBe(0);
    expect(hub.entries.get(key(1, 'analytics:event:E1'))?.subs ?? 0).toBe(0);
    // A later subscribe to it is not cancelled by the old unsubscribe.
    await send({ op: 'subscribe', topic: 'analytics:event:E1' });
    expect(seen.joined.map((j) => j.key)).toEqual([key(1, 'analytics:event:E1')]);
  });

  it('an unsubscribe that arrives while the access check still runs cancels the subscribe too', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const access: SubscriptionCore['access'] = async (_scope, topic) => {
      await gate;
      return { ok: true, topic };
    };
    const { sub, seen, send } = setup({ access });
    const subscribing = send({ op: 'subscribe', topic: 'analytics:event:E1' });
    await send({ op: 'unsubscribe', topic: 'analytics:event:E1' });
    release();
    await subscribing;
    expect(seen.joined).toEqual([]);
    expect(sub.topics.size).toBe(0);
  });

  it('a cancelled subscribe is answered "unsubscribed" whatever it would have been: no forbidden or unavailable after the unsubscribe', async () => {
    const topic = 'analytics:event:E1:capacity';
    for (const outcome of ['forbidden', 'access failed', 'prepare failed'] as const) {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      // The wait is in the access check (refused, or the store away), or in the snapshot's preparation (Redis away).
      const access: SubscriptionCore['access'] = async (_scope, t) => {
        if (outcome === 'prepare failed') return { ok: true, topic: t };
        await gate;
        if (outcome === 'access failed') throw new Error('store away');
        return { ok: false, permission: 'view_capacity' };
      };
      let preparing!: () => void;
      const prepared = new Promise<void>((r) => (preparing = r));
      const prepare = async () => {
        preparing();
        await gate;
        throw new Error('redis away');
      };
      const { sub, seen, send } = setup({ access, prepare });
      const subscribing = send({ op: 'subscribe', topic });
      if (outcome === 'prepare failed') await prepared; // access decided: the unsubscribe comes during the wait for the snapshot
      await send({ op: 'unsubscribe', topic });
      release();
      await subscribing;
      expect(seen.sent, outcome).toEqual([{ type: 'unsubscribed', topic }, { type: 'unsubscribed', topic }]);
      expect(seen.joined).toEqual([]);
      expect(sub.topics.size).toBe(0);
    }
  });

  it('refuses a bad topic name and a topic outside the scope', async () => {
    const { seen, send } = setup();
    await send({ op: 'subscribe', topic: 'analytics:nothing' });
    await send({ op: 'subscribe', topic: 42 });
    await send({ op: 'unsubscribe', topic: 'x'.repeat(300) });
    await send({ op: 'subscribe', topic: 'analytics:dashboard:O2' });
    expect(seen.sent.map((r) => [r.code, r.topic])).toEqual([
      ['invalid_topic', 'analytics:nothing'],
      ['invalid_topic', null],
      ['invalid_topic', 'x'.repeat(200)],
      ['forbidden', 'analytics:dashboard:O2'],
    ]);
    expect(seen.joined).toEqual([]);
  });

  it('at the topic limit refuses a new topic but answers a resubscribe (idempotent)', async () => {
    const { sub, seen, send } = setup({ maxTopics: 2 });
    await send({ op: 'subscribe', topic: 'analytics:event:E1' });
    await send({ op: 'subscribe', topic: 'analytics:event:E2' });
    await send({ op: 'subscribe', topic: 'analytics:event:E3' });
    await send({ op: 'subscribe', topic: 'analytics:event:E1' });
    expect(seen.sent).toEqual([expect.objectContaining({ type: 'error', code: 'too_many_topics', topic: 'analytics:event:E3' })]);
    expect(seen.joined.map((j) => [j.key, j.fresh])).toEqual([
      [key(1, 'analytics:event:E1'), true],
      [key(1, 'analytics:event:E2'), true],
      [key(1, 'analytics:event:E1'), false],
    ]);
    expect([...sub.topics]).toEqual([key(1, 'analytics:event:E1'), key(1, 'analytics:event:E2')]);
  });

  it('ends the connection on an expired token (a ping needs no check: the sweep ends it)', async () => {
    const { sub, seen, send } = setup({ expS: NOW / 1000 });
    await send({ op: 'ping' });
    await send({ op: 'subscribe', topic: 'analytics:event:E1' });
    expect(seen.sent).toEqual([{ type: 'pong', ts: NOW }, expect.objectContaining({ type: 'error', code: 'token_expired' })]);
    expect(seen.expired).toBe(1);
    expect(seen.joined).toEqual([]);
    expect(sub.topics.size).toBe(0);
  });

  it('answers unavailable when the snapshot cannot be prepared, and nothing to a connection that closed meanwhile', async () => {
    const failing = setup({ prepare: () => Promise.reject(new Error('redis away')) });
    await failing.send({ op: 'subscribe', topic: 'analytics:event:E1' });
    expect(failing.seen.sent).toEqual([expect.objectContaining({ type: 'error', code: 'unavailable', topic: 'analytics:event:E1' })]);
    expect(failing.sub.topics.size).toBe(0);

    const closing = setup({ prepare: async () => void (closing.seen.open = false) });
    await closing.send({ op: 'subscribe', topic: 'analytics:event:E1' });
    expect(closing.seen.sent).toEqual([]);
    expect(closing.seen.joined).toEqual([]);
    expect(closing.hub.entries.size).toBe(0);
  });

  it('drop() takes the connection off every topic', async () => {
    const { hub, subs, sub, send } = setup();
    await send({ op: 'subscribe', topic: 'analytics:event:E1' });
    await send({ op: 'subscribe', topic: 'analytics:dashboard:O1' });
    subs.drop(sub);
    expect([...hub.entries.values()].map((e) => e.subs)).toEqual([0, 0]);
    expect(sub.topics.size).toBe(0);
  });
});

describe('invalid_topic says what is wrong', () => {
  it('names the field and the rule each bad topic breaks, never printing a missing value', async () => {
    const { seen, send } = setup();
    const cases: [unknown, RegExp][] = [
      [{ op: 'subscribe', topics: ['analytics:event:E1'] }, /"topic" field is missing.*"topics" instead/],
      [{ op: 'subscribe' }, /"topic" field is missing/],
      [{ op: 'subscribe', topic: 42 }, /"topic" must be a string .*not a number/],
      [{ op: 'subscribe', topic: ['analytics:event:E1'] }, /not an array/],
      [{ op: 'subscribe', topic: `analytics:event:${'x'.repeat(129)}` }, /event id in "topic" is 129 characters; an id is at most 128/],
      [{ op: 'subscribe', topic: 'x'.repeat(300) }, /"topic" is 300 characters; a topic name is at most 200/],
      [{ op: 'subscribe', topic: 'analytics:event:E\u00011' }, /event id in "topic" contains a control character/],
      [{ op: 'subscribe', topic: 'analytics:dashboard:' }, /organizer id in "topic" is empty/],
      [{ op: 'subscribe', topic: 'analytics:venue:V1' }, /venue topic ends in ":capacity"/],
      [{ op: 'unsubscribe', topic: 'analytics:nothing' }, /must start with analytics:event:, analytics:dashboard: or analytics:venue:/],
    ];
    for (const [msg] of cases) await send(msg);
    expect(seen.sent).toHaveLength(cases.length);
    seen.sent.forEach((r, i) => {
      expect(r).toMatchObject({ type: 'error', code: 'invalid_topic' });
      expect(r.message).toMatch(cases[i][1]);
      expect(r.message).toContain('Topics: analytics:event:{event_id}');
      expect(r.message).not.toMatch(/undefined|null/);
    });
  });
});

describe('resubscribing to a held topic', () => {
  it('answers from the built snapshot: no second subscription, nothing loaded or built again', async () => {
    let builds = 0;
    let prepares = 0;
    const { hub, sub, seen, send } = setup({ prepare: async () => void prepares++, build: () => (builds++, { data: { n: 1 }, updatedAt: 0 }) });
    for (let i = 0; i < 50; i++) await send({ op: 'subscribe', topic: 'analytics:dashboard:O1' });
    expect(seen.joined).toHaveLength(50);
    expect(seen.joined.filter((j) => j.fresh)).toHaveLength(1);
    expect(new Set(seen.joined.map((j) => JSON.stringify(j.snapshot.data)))).toEqual(new Set(['{"n":1,"updated_at":null}']));
    expect([builds, prepares]).toEqual([1, 1]);
    expect(hub.entries.get(key(1, 'analytics:dashboard:O1'))?.subs).toBe(1);
    expect(sub.topics.size).toBe(1);
  });
});
