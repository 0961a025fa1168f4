// Access checked again when an event changes hands (subscriptions.ts recheck), without a transport: a real hub,
// a fake link, an access check that reads a mutable owner table.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Hub } from './hub.js';
import { createSubscriptions, type Link, type Reply, type Subscriber, type SubscriptionCore } from './subscriptions.js';
import type { Scope } from './token.js';

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
    expect([...o1.sub.topics]).toEqual(['1|analytics:event:E2']);
    expect(hub.entries.get('1|analytics:event:E1')?.subs).toBe(0);
    // E2 did not change: untouched.
    expect(o1.seen.left).toEqual(['1|analytics:event:E1', '1|analytics:event:E1:capacity']);

    await o2.send({ op: 'subscribe', topic: 'analytics:event:E1' });
    await subs.recheck([{ tenant: 1, event: 'E1' }]);
    // Still allowed: left while deciding (no update goes out meanwhile), then joined again with a snapshot.
    expect(o2.seen.left).toEqual(['1|analytics:event:E1']);
    expect(o2.seen.joined).toEqual([{ key: '1|analytics:event:E1', fresh: true }, { key: '1|analytics:event:E1', fresh: true }]);
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
    expect(o1.seen.left).toEqual(['1|analytics:event:E1']);
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
