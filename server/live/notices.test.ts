import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createMemoryBus, MemoryNetwork } from './bus.js';
import { Hub } from './hub.js';
import { createNotices, NOTICE, type NoticeData, type NoticeMessage } from './notices.js';
import { parseTopic, topicKey, type Topic } from './topics.js';
import { noticeKey } from './notice-channels.js';

/** A topic's key inside the server (topics.ts topicKey), from its name; `revenue: false` for an event topic's revenue-free variant. */
const key = (tenant: number, name: string, revenue?: false): string => topicKey(tenant, { ...parseTopic(name)!, ...(revenue === false ? { revenue } : {}) } as Topic);

const log = pino({ level: 'silent' });
const DASH = { kind: 'dashboard', org: 'O1' } as const;

/** One node: a hub whose sends are recorded, its notices on a shared memory bus. */
function node(network: MemoryNetwork, id: string) {
  const sent: { key: string; msg: any }[] = [];
  const hub = new Hub({ build: () => ({ data: {}, updatedAt: 0 }), send: (key, m) => sent.push({ key, msg: JSON.parse(m) }) });
  const bus = createMemoryBus(network);
  const notices = createNotices({ hub, bus, nodeId: id, now: () => 1_000, log });
  bus.subscribe((topic, m) => topic === NOTICE && notices.onMessage(m as NoticeMessage));
  return { hub, notices, sent };
}

describe('live notices', () => {
  it('reach the topic\'s subscribers on every node once, and nobody who does not watch it', async () => {
    const net = new MemoryNetwork();
    const [a, b, c] = [node(net, 'a'), node(net, 'b'), node(net, 'c')];
    a.hub.add(7, DASH);
    b.hub.add(7, DASH);
    c.hub.add(8, DASH); // same organizer id, another tenant
    await a.notices.send(7, DASH, 'view_ad_analytics', { kind: 'campaign_budget_low', budget_id: 3 });
    await new Promise((r) => setTimeout(r, 10));
    const want = { topic: 'analytics:dashboard:O1', type: 'notice', ts: 1_000, data: { kind: 'campaign_budget_low', budget_id: 3 } };
    expect(a.sent.map((s) => s.msg)).toEqual([want]);
    expect(b.sent.map((s) => s.msg)).toEqual([want]);
    expect(c.sent).toEqual([]);
    // To the topic's channel of subscribers holding the permission, not to the topic itself.
    expect(a.sent[0].key).toBe(noticeKey(key(7, 'analytics:dashboard:O1'), 'view_ad_analytics'));
    // Not state: a topic's seq and last data are untouched, so the next update's seq is still +1.
    expect([...a.hub.entries.values()][0]).toMatchObject({ seq: 0, last: null });
  });

  it('without a bus are delivered on this node alone; a malformed bus message is ignored', async () => {
    const sent: string[] = [];
    const hub = new Hub({ build: () => ({ data: {}, updatedAt: 0 }), send: (_k, m) => sent.push(m) });
    const notices = createNotices({ hub, bus: null, nodeId: 'x', now: () => 5, log });
    hub.add(1, DASH);
    await notices.send(1, DASH, 'view_ad_analytics', { kind: 'k' });
    notices.onMessage({ n: 'y', t: 1, topic: DASH, p: 'view_ad_analytics', d: null as unknown as NoticeData });
    notices.onMessage({ n: 'y', t: '1' as unknown as number, topic: DASH, p: 'view_ad_analytics', d: { kind: 'k' } });
    notices.onMessage({ n: 'y', t: 1, topic: DASH, p: 'view_revenue' as 'view_ad_analytics', d: { kind: 'k' } });
    notices.onMessage({ n: 'y', t: 1, topic: DASH, p: 'view_ad_analytics', d: { remaining: 1 } as unknown as NoticeData });
    expect(sent).toEqual(['{"topic":"analytics:dashboard:O1","type":"notice","ts":5,"data":{"kind":"k"}}']);
  });
});
