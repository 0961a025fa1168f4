import { describe, expect, it } from 'vitest';
import { Hub } from './hub.js';
import { changesWithTime } from './topic-build.js';
import type { Topic } from './topics.js';

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
    expect(sent).toEqual([{ key: '1|analytics:event:E1', msg: { topic: 'analytics:event:E1', type: 'update', seq: 1, ts: 1250, data: { v: 5, updated_at: expect.any(String) } } }]);
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
    expect(sent[0].key).toBe('1|analytics:dashboard:O');
    const e = hub.entries.get('1|analytics:dashboard:O')!;
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
