import { describe, expect, it } from 'vitest';
import { Hub, SNAPSHOT_REUSE_MS } from './hub.js';
import { changesWithTime } from './topic-build.js';
import { parseTopic, topicKey, type Topic } from './topics.js';

/** A topic's key inside the server (topics.ts topicKey), from its name; `revenue: false` for an event topic's revenue-free variant. */
const key = (tenant: number, name: string, revenue?: false): string => topicKey(tenant, { ...parseTopic(name)!, ...(revenue === false ? { revenue } : {}) } as Topic);

function setup(intervalMs = 0) {
  const values = new Map<string, number>();
  const sent: { key: string; msg: any }[] = [];
  const hub = new Hub({
    build: (tenant: number, t: Topic) => ({ data: { v: values.get(`${tenant}:${'event' in t ? t.event : 'org' in t ? t.org : t.venue}`) ?? 0 }, updatedAt: 1_700_000_000_000 }),
    send: (key, m) => sent.push({ key, msg: JSON.parse(m) }),
    intervalMs,
  });
  return { values, sent, hub };
}

describe('hub (coalescing)', () => {
  it('sends a snapshot, then at most one update per topic per flush, only when changed, seq +1 each', () => {
    const { values, sent, hub } = setup();
    const e = hub.add(1, { kind: 'event', event: 'E1' });
    const snap = JSON.parse(hub.snapshot(e, 1000));
    expect(snap).toEqual({ topic: 'analytics:event:E1', type: 'snapshot', seq: 0, ts: 1000, data: { v: 0, updated_at: '2023-11-14T22:13:20.000Z' } });
    for (let i = 1; i <= 5; i++) {
      values.set('1:E1', i);
      hub.touch({ tenant: 1, event: 'E1', org: null, capacity: false, funnel: true });
    }
    expect(hub.flush(1250)).toBe(1);
    expect(sent).toEqual([{ key: key(1, 'analytics:event:E1'), msg: { topic: 'analytics:event:E1', type: 'update', seq: 1, ts: 1250, data: { v: 5, updated_at: expect.any(String) } } }]);
    // Touched but unchanged: nothing.
    hub.touch({ tenant: 1, event: 'E1', org: null, capacity: false, funnel: true });
    expect(hub.flush(1500)).toBe(0);
    values.set('1:E1', 6);
    hub.markAll();
    expect(hub.flush(1750)).toBe(1);
    expect(sent[1].msg.seq).toBe(2);
  });

  it('the periodic refresh rebuilds only topics time can change: not those of events without live state', () => {
    const built: string[] = [];
    const hub = new Hub({ build: (_tenant, t) => (built.push('event' in t ? t.event : 'org' in t ? t.org : t.venue), { data: {}, updatedAt: 0 }), send: () => undefined, intervalMs: 0 });
    for (const event of ['E1', 'X1', 'X2']) hub.add(1, { kind: 'event', event });
    hub.add(1, { kind: 'capacity', event: 'X3' });
    hub.add(1, { kind: 'dashboard', org: 'O1' });
    hub.markAll(changesWithTime({ getEvent: (_tenant: number, event: string) => (event === 'E1' ? ({} as never) : undefined) }));
    hub.flush(1000);
    expect(built.sort()).toEqual(['E1', 'O1']);
  });

  it('ignores topics nobody watches and other tenants', () => {
    const { values, sent, hub } = setup();
    hub.add(1, { kind: 'dashboard', org: 'O' });
    values.set('2:O', 3);
    hub.touch({ tenant: 2, event: 'E', org: 'O', capacity: false, funnel: true });
    hub.touch({ tenant: 1, event: 'E', org: 'O', capacity: true, funnel: false }); // capacity does not change the dashboard
    expect(hub.flush(0)).toBe(0);
    values.set('1:O', 3);
    hub.touch({ tenant: 1, event: 'E', org: 'O', capacity: false, funnel: true });
    expect(hub.flush(0)).toBe(1);
    expect(sent[0].key).toBe(key(1, 'analytics:dashboard:O'));
    const e = hub.entries.get(key(1, 'analytics:dashboard:O'))!;
    hub.remove(e.key);
    values.set('1:O', 4);
    hub.touch({ tenant: 1, event: 'E', org: 'O', capacity: false, funnel: true });
    expect(hub.flush(0)).toBe(0);
  });

  it('throttles per topic: leading edge right away, then at most one update per interval (trailing edge)', () => {
    const { values, sent, hub } = setup(250);
    const e = hub.add(1, { kind: 'event', event: 'E' });
    hub.snapshot(e, 0);
    const change = (v: number) => {
      values.set('1:E', v);
      hub.touch({ tenant: 1, event: 'E', org: null, capacity: false, funnel: true });
    };
    change(1);
    expect(hub.flush(1000)).toBe(1); // quiet topic: goes out at once
    change(2);
    expect(hub.pending(1100)).toEqual([]);
    expect(hub.flush(1100)).toBe(0);
    change(3);
    expect(hub.flush(1249)).toBe(0);
    expect(hub.flush(1250)).toBe(1); // the end of the interval carries the latest value
    expect(sent.map((x) => [x.msg.ts, x.msg.data.v, x.msg.seq])).toEqual([[1000, 1, 1], [1250, 3, 2]]);
    expect(hub.flush(2000)).toBe(0);
  });
});

describe('hub (snapshot reuse)', () => {
  /** A hub whose builds are counted (the probe: 400 subscribes to one dashboard rebuilt and serialised it 400 times). */
  function counted(intervalMs = 0) {
    const values = new Map<string, number>();
    let builds = 0;
    const sent: { key: string; msg: any }[] = [];
    const hub = new Hub({
      build: (tenant: number, t: Topic) => (builds++, { data: { v: values.get(`${tenant}:${'event' in t ? t.event : 'org' in t ? t.org : t.venue}`) ?? 0 }, updatedAt: 1_700_000_000_000 }),
      send: (k, m) => sent.push({ key: k, msg: JSON.parse(m) }),
      intervalMs,
    });
    const change = (event: string, v: number) => {
      values.set(`1:${event}`, v);
      hub.touch({ tenant: 1, event, org: 'O1', capacity: false, funnel: true });
    };
    return { hub, values, sent, change, builds: () => builds };
  }

  it('N subscribes to an unchanged topic build it once; after a change the next snapshot reflects it', () => {
    const { hub, change, builds } = counted();
    const snaps: any[] = [];
    for (let i = 0; i < 400; i++) snaps.push(JSON.parse(hub.snapshot(hub.add(1, { kind: 'dashboard', org: 'O1' }), 1000 + i)));
    expect(builds()).toBe(1);
    expect(snaps.at(-1)).toMatchObject({ topic: 'analytics:dashboard:O1', type: 'snapshot', seq: 0, ts: 1399, data: { v: 0 } });
    change('O1', 7);
    const after = JSON.parse(hub.snapshot(hub.add(1, { kind: 'dashboard', org: 'O1' }), 2000));
    expect(after).toMatchObject({ seq: 0, ts: 2000, data: { v: 7 } });
    expect(builds()).toBe(2);
  });

  it('keeps snapshot-then-update exact: the update after a reused snapshot has the next seq and the new data', () => {
    const { hub, sent, change, builds } = counted();
    const e = hub.add(1, { kind: 'event', event: 'E1' });
    expect(JSON.parse(hub.snapshot(e, 1000))).toMatchObject({ seq: 0, data: { v: 0 } });
    change('E1', 1);
    expect(hub.flush(1100)).toBe(1);
    expect(sent.at(-1)!.msg).toMatchObject({ type: 'update', seq: 1, data: { v: 1 } });
    const built = builds();
    // A subscriber arriving now is answered from what the flush built: same seq, same data, no build.
    const late = JSON.parse(hub.snapshot(hub.add(1, { kind: 'event', event: 'E1' }), 1200));
    expect(late).toMatchObject({ seq: 1, data: { v: 1 } });
    expect(builds()).toBe(built);
    // Unchanged: the next flush sends nothing; changed: seq 2 with the new data.
    hub.touch({ tenant: 1, event: 'E1', org: 'O1', capacity: false, funnel: true });
    expect(hub.flush(1300)).toBe(0);
    change('E1', 2);
    expect(hub.snapshot(e, 1350)).toContain('"v":2');
    expect(hub.flush(1400)).toBe(1);
    expect(sent.at(-1)!.msg).toMatchObject({ type: 'update', seq: 2, data: { v: 2 } });
  });

  it('a topic the clock changes is built again after its refresh marks it; a topic nobody watches keeps nothing', () => {
    const { hub, values, builds } = counted();
    const e = hub.add(1, { kind: 'event', event: 'E1' });
    hub.snapshot(e, 1000);
    values.set('1:E1', 3); // time alone moved it (no touch)
    hub.markAll(() => true);
    expect(hub.snapshot(hub.add(1, { kind: 'event', event: 'E1' }), 6000)).toContain('"v":3');
    expect(builds()).toBe(2);
    // A refresh that leaves it out (changesWithTime false) keeps the built snapshot.
    hub.markAll(() => false);
    hub.snapshot(e, 6100);
    expect(builds()).toBe(2);
    // Everyone left: a change while nobody watches reaches the next subscriber.
    hub.remove(e.key);
    hub.remove(e.key);
    values.set('1:E1', 4);
    hub.touch({ tenant: 1, event: 'E1', org: 'O1', capacity: false, funnel: true });
    expect(hub.snapshot(hub.add(1, { kind: 'event', event: 'E1' }), 7000)).toContain('"v":4');
  });

  it('reuses a built snapshot at most SNAPSHOT_REUSE_MS: a change the hub is not told of reaches new subscribers soon', () => {
    const { hub, values, builds } = counted();
    const e = hub.add(1, { kind: 'event', event: 'E1' });
    hub.snapshot(e, 1000);
    values.set('1:E1', 5);
    expect(hub.snapshot(e, 1000 + SNAPSHOT_REUSE_MS - 1)).toContain('"v":0');
    expect(hub.snapshot(e, 1000 + SNAPSHOT_REUSE_MS)).toContain('"v":5');
    expect(builds()).toBe(2);
  });
});
