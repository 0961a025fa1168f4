// Access checked again when an event changes hands (subscriptions.ts recheck), without a transport: a real hub,
// a fake link, an access check that reads a mutable owner table.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createAuthz, OVERRIDES_TTL_MS } from '../authz/index.js';
import type { Db } from '../store/db.js';
import { topicAccess } from './access.js';
import { Hub } from './hub.js';
import { createSubscriptions, rolesChanged, type Link, type Reply, type Subscriber, type SubscriptionCore } from './subscriptions.js';
import type { Scope } from './token.js';
import { parseTopic, topicKey, type Topic } from './topics.js';

/** A topic's key inside the server (topics.ts topicKey), from its name; `revenue: false` for an event topic's revenue-free variant. */
const key = (tenant: number, name: string, revenue?: false): string => topicKey(tenant, { ...parseTopic(name)!, ...(revenue === false ? { revenue } : {}) } as Topic);

const NOW = Date.parse('2026-11-21T19:00:00Z');

function setup() {
  const owners = new Map<string, string>([['E1', 'O1'], ['E2', 'O1']]);
  let gate: Promise<void> | null = null;
  let listener: ((events: { tenant: number; event: string }[]) => void) | null = null;
  const hub = new Hub({ build: () => ({ data: { n: 1 }, updatedAt: 0 }), send: () => undefined, intervalMs: 0 });
  const core: SubscriptionCore = {
    hub,
    log: pino({ level: 'silent' }),
    now: () => NOW,
    allowed: () => true,
    prepare: async () => undefined,
    access: async (scope, topic) => {
      const org = topic.kind === 'event' || topic.kind === 'capacity' ? owners.get(topic.event) : undefined;
      const verdict = scope.role === 'organizer' && org === scope.org;
      if (gate) await gate;
      return verdict ? { ok: true, topic } : { ok: false, permission: 'view_event_analytics' };
    },
    onOwnerChange: (l) => void (listener = l),
  };
  const subs = createSubscriptions(core);
  const conn = (org: string) => {
    const sub: Subscriber = { scope: { role: 'organizer', tenant: 1, org } as Scope, exp: NOW / 1000 + 60, topics: new Set() };
    const seen = { sent: [] as Reply[], joined: [] as { key: string; fresh: boolean }[], left: [] as string[] };
    const link: Link = {
      isOpen: () => true,
      join: (key, fresh) => seen.joined.push({ key, fresh }),
      leave: (key) => seen.left.push(key),
      send: (r) => seen.sent.push(r),
      expire: () => undefined,
    };
    subs.open(sub, link);
    return { sub, seen, send: (msg: unknown) => subs.handle(sub, link, msg) };
  };
  return { hub, subs, owners, conn, changed: (event: string) => listener!([{ tenant: 1, event }]), hold: (p: Promise<void> | null) => (gate = p) };
}

describe('re-check of open subscriptions when an event changes hands', () => {
  it('takes the topic from a connection that may no longer read it, gives the others a fresh snapshot', async () => {
    const { hub, subs, owners, conn } = setup();
    const o1 = conn('O1');
    const o2 = conn('O2');
    await o1.send({ op: 'subscribe', topic: 'analytics:event:E1' });
    await o1.send({ op: 'subscribe', topic: 'analytics:event:E1:capacity' });
    await o1.send({ op: 'subscribe', topic: 'analytics:event:E2' });
    owners.set('E1', 'O2');
    await subs.recheck([{ tenant: 1, event: 'E1' }]);
    expect(o1.seen.sent).toEqual([
      expect.objectContaining({ type: 'error', code: 'forbidden', topic: 'analytics:event:E1', permission: 'view_event_analytics' }),
      expect.objectContaining({ type: 'error', code: 'forbidden', topic: 'analytics:event:E1:capacity' }),
    ]);
    expect([...o1.sub.topics]).toEqual([key(1, 'analytics:event:E2')]);
    expect(hub.entries.get(key(1, 'analytics:event:E1'))?.subs).toBe(0);
    // E2 did not change: untouched.
    expect(o1.seen.left).toEqual([key(1, 'analytics:event:E1'), key(1, 'analytics:event:E1:capacity')]);

    await o2.send({ op: 'subscribe', topic: 'analytics:event:E1' });
    await subs.recheck([{ tenant: 1, event: 'E1' }]);
    // Still allowed: left while deciding (no update goes out meanwhile), then joined again with a snapshot.
    expect(o2.seen.left).toEqual([key(1, 'analytics:event:E1')]);
    expect(o2.seen.joined).toEqual([{ key: key(1, 'analytics:event:E1'), fresh: true }, { key: key(1, 'analytics:event:E1'), fresh: true }]);
    expect(o2.seen.sent).toEqual([]);
  });

  it('stops delivery before the check answers', async () => {
    const { owners, conn, changed, hold } = setup();
    const o1 = conn('O1');
    await o1.send({ op: 'subscribe', topic: 'analytics:event:E1' });
    let release!: () => void;
    hold(new Promise<void>((r) => (release = r)));
    owners.set('E1', 'O2');
    changed('E1');
    // Synchronously: the transport no longer delivers the topic while access is decided.
    expect(o1.seen.left).toEqual([key(1, 'analytics:event:E1')]);
    release();
    await new Promise((r) => setTimeout(r, 0));
    expect(o1.seen.sent).toEqual([expect.objectContaining({ code: 'forbidden' })]);
  });

  it('decides again a subscribe whose access check ran while the event changed hands', async () => {
    const { owners, conn, changed, hold } = setup();
    const o1 = conn('O1');
    let release!: () => void;
    hold(new Promise<void>((r) => (release = r)));
    const subscribing = o1.send({ op: 'subscribe', topic: 'analytics:event:E1' });
    await new Promise((r) => setImmediate(r));
    owners.set('E1', 'O2');
    changed('E1');
    hold(null);
    release();
    await subscribing;
    expect(o1.seen.joined).toEqual([]);
    expect(o1.seen.sent).toEqual([expect.objectContaining({ type: 'error', code: 'forbidden', topic: 'analytics:event:E1' })]);
    expect(o1.sub.topics.size).toBe(0);
  });
});

// Role overrides changed while subscriptions are open (subscriptions.ts overridesChanged, sweep): the real topic
// check (access.ts) and the real overrides cache (authz createAuthz) over a fake table, with an injected clock.
function rolesSetup() {
  let clock = NOW;
  let rows: { role: string; permission: string; granted: boolean }[] = [];
  let reads = 0;
  const db = {
    query: async () => {
      reads++;
      return { rows: rows.map((r) => ({ ...r })) };
    },
  } as unknown as Db;
  const authz = createAuthz({ db, log: pino({ level: 'silent' }), now: () => clock });
  let gate: Promise<void> | null = null;
  const hub = new Hub({ build: () => ({ data: { n: 1 }, updatedAt: 0 }), send: () => undefined, intervalMs: 0 });
  const core: SubscriptionCore = {
    hub,
    log: pino({ level: 'silent' }),
    now: () => clock,
    allowed: () => true,
    prepare: async () => undefined,
    access: async (scope, topic) => {
      const a = await topicAccess(scope, topic, authz.overrides, () => ({ org: 'O1', venue: 'V1', artists: ['A1'], catalog: true }));
      if (gate) await gate;
      return a;
    },
    overridesOf: authz.overrides,
  };
  const subs = createSubscriptions(core);
  const conn = (scope: Scope) => {
    const sub: Subscriber = { scope, exp: NOW / 1000 + 3600, topics: new Set() };
    const seen = { sent: [] as Reply[], joined: [] as { key: string; fresh: boolean; snapshot: string }[], left: [] as string[] };
    const link: Link = {
      isOpen: () => true,
      join: (key, fresh, snapshot) => seen.joined.push({ key, fresh, snapshot }),
      leave: (key) => seen.left.push(key),
      send: (r) => seen.sent.push(r),
      expire: () => undefined,
    };
    subs.open(sub, link);
    return { sub, seen, send: (msg: unknown) => subs.handle(sub, link, msg) };
  };
  return {
    hub, subs, conn,
    reads: () => reads,
    /** The table as another node (or this one) wrote it. */
    set: (r: typeof rows) => void (rows = r),
    advance: (ms: number) => void (clock += ms),
    hold: (p: Promise<void> | null) => (gate = p),
  };
}

describe('re-check of open subscriptions when the tenant\'s role overrides change', () => {
  const organizer = { role: 'organizer', tenant: 1, org: 'O1' } as Scope;
  const artist = { role: 'artist', tenant: 1, artists: ['A1'] } as Scope;

  it('lists the roles whose permissions differ between two sets of overrides', () => {
    expect(rolesChanged({}, {})).toEqual(new Set());
    expect(rolesChanged({}, { organizer: { view_revenue: false } })).toEqual(new Set(['organizer']));
    // An override that grants what the role has by default changes nothing.
    expect(rolesChanged({}, { organizer: { view_event_analytics: true } })).toEqual(new Set());
    expect(rolesChanged({ artist: { view_revenue: true } }, { organizer: { view_capacity: false } })).toEqual(new Set(['artist', 'organizer']));
  });

  it('this node\'s change reaches the open subscriptions at once', async () => {
    const { hub, subs, conn, set, advance } = rolesSetup();
    const o = conn(organizer);
    const a = conn(artist);
    await o.send({ op: 'subscribe', topic: 'analytics:event:E1' });
    await o.send({ op: 'subscribe', topic: 'analytics:dashboard:O1' });
    await a.send({ op: 'subscribe', topic: 'analytics:event:E1' });
    set([{ role: 'organizer', permission: 'view_revenue', granted: false }]);
    // The write empties this node's cache (authz setOverrides); here the clock does.
    advance(OVERRIDES_TTL_MS + 1);
    await subs.overridesChanged(1);
    expect(o.seen.sent).toEqual([expect.objectContaining({ type: 'error', code: 'forbidden', topic: 'analytics:dashboard:O1', permission: 'view_revenue' })]);
    // The event topic is given again without the money: its revenue-free variant, with a fresh snapshot.
    expect([...o.sub.topics]).toEqual([key(1, 'analytics:event:E1', false)]);
    expect(o.seen.joined.at(-1)).toMatchObject({ key: key(1, 'analytics:event:E1', false), fresh: true });
    expect(hub.entries.get(key(1, 'analytics:event:E1'))?.subs).toBe(0);
    expect(hub.entries.get(key(1, 'analytics:event:E1', false))?.subs).toBe(2);
    expect(hub.entries.get(key(1, 'analytics:dashboard:O1'))?.subs).toBe(0);
    // The artist's permissions did not change: its subscription was not touched.
    expect(a.seen.left).toEqual([]);
    expect(a.seen.sent).toEqual([]);

    // Losing view_event_analytics too: the event topic ends with forbidden naming it.
    set([{ role: 'organizer', permission: 'view_revenue', granted: false }, { role: 'organizer', permission: 'view_event_analytics', granted: false }]);
    advance(OVERRIDES_TTL_MS + 1);
    await subs.overridesChanged(1);
    expect(o.seen.sent.at(-1)).toEqual(expect.objectContaining({ type: 'error', code: 'forbidden', topic: 'analytics:event:E1', permission: 'view_event_analytics' }));
    expect(o.sub.topics.size).toBe(0);
    expect(hub.entries.get(key(1, 'analytics:event:E1', false))?.subs).toBe(1);
  });

  it('the sweep sees a change made on another node once this node\'s overrides cache expires', async () => {
    const { subs, conn, set, advance } = rolesSetup();
    const o = conn(organizer);
    await o.send({ op: 'subscribe', topic: 'analytics:event:E1' });
    await subs.sweep();
    expect(o.seen.left).toEqual([]);
    // Another node writes the table: this node's cache still holds the old overrides.
    set([{ role: 'organizer', permission: 'view_event_analytics', granted: false }]);
    advance(OVERRIDES_TTL_MS - 1);
    await subs.sweep();
    expect(o.seen.sent).toEqual([]);
    expect(o.seen.left).toEqual([]);
    advance(2);
    await subs.sweep();
    expect(o.seen.sent).toEqual([expect.objectContaining({ type: 'error', code: 'forbidden', topic: 'analytics:event:E1', permission: 'view_event_analytics' })]);
    expect(o.sub.topics.size).toBe(0);
    // Seen once: a later sweep with the same overrides checks nothing again.
    await subs.sweep();
    expect(o.seen.sent).toHaveLength(1);
  });

  it('view_revenue granted to a role: its open event topic is given again with the money', async () => {
    const { subs, conn, set, advance } = rolesSetup();
    const a = conn(artist);
    await a.send({ op: 'subscribe', topic: 'analytics:event:E1' });
    expect([...a.sub.topics]).toEqual([key(1, 'analytics:event:E1', false)]);
    set([{ role: 'artist', permission: 'view_revenue', granted: true }]);
    advance(OVERRIDES_TTL_MS + 1);
    await subs.sweep();
    // Checked again (its role changed): now given the variant with the money.
    expect([...a.sub.topics]).toEqual([key(1, 'analytics:event:E1')]);
    expect(a.seen.sent).toEqual([]);
  });

  it('decides again a subscribe whose access check ran while the overrides changed', async () => {
    const { subs, conn, set, advance, hold } = rolesSetup();
    const o = conn(organizer);
    // A first topic, so the tenant's overrides are known here.
    await o.send({ op: 'subscribe', topic: 'analytics:event:E1:capacity' });
    let release!: () => void;
    hold(new Promise<void>((r) => (release = r)));
    const subscribing = o.send({ op: 'subscribe', topic: 'analytics:dashboard:O1' });
    await new Promise((r) => setImmediate(r));
    set([{ role: 'organizer', permission: 'view_revenue', granted: false }]);
    advance(OVERRIDES_TTL_MS + 1);
    const changing = subs.overridesChanged(1);
    // The change is seen (the held topic's re-check started) before the subscribe's access check answers.
    while (!o.seen.left.includes(key(1, 'analytics:event:E1:capacity'))) await new Promise((r) => setImmediate(r));
    hold(null);
    release();
    await changing;
    await subscribing;
    expect(o.seen.sent).toEqual([expect.objectContaining({ type: 'error', code: 'forbidden', topic: 'analytics:dashboard:O1', permission: 'view_revenue' })]);
    expect([...o.sub.topics]).toEqual([key(1, 'analytics:event:E1:capacity')]);
  });

  it('forgets a tenant that holds nothing here: its overrides are not read again', async () => {
    const { subs, conn, advance, reads } = rolesSetup();
    const o = conn(organizer);
    await o.send({ op: 'subscribe', topic: 'analytics:event:E1' });
    await o.send({ op: 'unsubscribe', topic: 'analytics:event:E1' });
    await subs.sweep();
    const n = reads();
    advance(OVERRIDES_TTL_MS + 1);
    await subs.sweep();
    expect(reads()).toBe(n);
  });
});
