// The relay between nodes (bus-relay.ts) over in-memory buses whose publish can be made to fail like a bus
// without Redis: facts reach the other node at least once and are applied exactly once.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createMemoryBus, MemoryNetwork, type LiveBus } from './bus.js';
import { createRelay, FACTS, SYNC, type FactsMessage, type SyncMessage } from './bus-relay.js';
import type { Fact } from './facts.js';

const log = pino({ level: 'silent' });
const fact = (id: string) => ({ tenant: 1, id }) as unknown as Fact;
const until = async (pred: () => boolean) => {
  for (const end = Date.now() + 5000; !pred(); await new Promise((r) => setTimeout(r, 5))) if (Date.now() > end) throw new Error('timed out');
};

/** A node: its bus (publish fails while `down`), its relay, and the fact ids it applied (in order). */
function node(network: MemoryNetwork, nodeId: string, clock: () => number, maxKept?: number) {
  const inner = createMemoryBus(network);
  let down = false;
  const bus: LiveBus = { ...inner, publish: (t, m) => (down ? Promise.reject(new Error('Redis away')) : inner.publish(t, m)) };
  const relay = createRelay({ bus, nodeId, log, clock, retryMs: 10, maxKept });
  const applied: string[] = [];
  let subscribed = true;
  bus.subscribe((topic, msg) => {
    if (!subscribed) return;
    if (topic === SYNC && (msg as SyncMessage).n !== nodeId) relay.resend((msg as SyncMessage).since);
    if (topic === FACTS && (msg as FactsMessage).n !== nodeId) for (const f of relay.fresh((msg as FactsMessage).f)) applied.push(f.id);
  });
  return {
    relay,
    applied,
    setDown: (v: boolean) => (down = v),
    setSubscribed: (v: boolean) => (subscribed = v),
  };
}

describe('bus relay', () => {
  it('sends again, oldest first, the facts whose publish failed, once the bus works', async () => {
    const net = new MemoryNetwork();
    const a = node(net, 'a', Date.now);
    const b = node(net, 'b', Date.now);
    a.relay.send([fact('1')]);
    await until(() => b.applied.length === 1);
    a.setDown(true);
    a.relay.send([fact('2')]);
    a.relay.send([fact('3'), fact('4')]);
    await new Promise((r) => setTimeout(r, 50));
    expect(b.applied).toEqual(['1']);
    a.setDown(false);
    await until(() => b.applied.length === 4);
    expect(b.applied).toEqual(['1', '2', '3', '4']);
  });

  it('sends again what a node missed while unsubscribed when it asks; what it already applied counts once', async () => {
    const net = new MemoryNetwork();
    let t = 1_000_000;
    const a = node(net, 'a', () => t);
    const b = node(net, 'b', () => t);
    a.relay.send([fact('old')]);
    await until(() => b.applied.length === 1);
    t += 10 * 60_000; // older than the skew margin (and no longer kept): not sent again
    a.relay.send([fact('before')]);
    await until(() => b.applied.length === 2);
    t += 1000;
    const wentAway = t;
    b.setSubscribed(false);
    a.relay.send([fact('missed-1')]);
    t += 1000;
    a.relay.send([fact('missed-2')]);
    await new Promise((r) => setTimeout(r, 20));
    b.setSubscribed(true);
    b.relay.ask(wentAway);
    await until(() => b.applied.length === 4);
    await new Promise((r) => setTimeout(r, 50));
    // "before" was within the margin and sent again, but b had applied it: dropped.
    expect(b.applied).toEqual(['old', 'before', 'missed-1', 'missed-2']);
  });

  it('after a Redis restart cut every node off, each node gets the others\' facts whichever resubscribes first', async () => {
    const net = new MemoryNetwork();
    let t = 1_000_000;
    const a = node(net, 'a', () => t);
    const b = node(net, 'b', () => t);
    const wentAway = t;
    a.setSubscribed(false);
    b.setSubscribed(false);
    t += 1000;
    a.relay.send([fact('a-1')]);
    b.relay.send([fact('b-1')]);
    await new Promise((r) => setTimeout(r, 20)); // delivered (to nobody) before anyone is back
    // a resubscribes first: its ask reaches nobody (b is still unsubscribed)...
    a.setSubscribed(true);
    a.relay.resubscribed(wentAway);
    await new Promise((r) => setTimeout(r, 20));
    t += 1000;
    b.relay.send([fact('b-2')]);
    // ...so b, once back, sends again what it shared since it went away, and asks for what it missed.
    b.setSubscribed(true);
    b.relay.resubscribed(wentAway);
    await until(() => a.applied.length === 2 && b.applied.length === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(a.applied.sort()).toEqual(['b-1', 'b-2']);
    expect(b.applied).toEqual(['a-1']);
  });

  it('keeps only the newest maxKept facts to send again (memory stays bounded)', async () => {
    const net = new MemoryNetwork();
    const a = node(net, 'a', () => 1000, 3);
    const b = node(net, 'b', () => 1000);
    b.setSubscribed(false);
    for (const id of ['1', '2', '3', '4', '5']) a.relay.send([fact(id)]);
    await new Promise((r) => setTimeout(r, 20));
    b.setSubscribed(true);
    b.relay.ask(0);
    await until(() => b.applied.length === 3);
    expect(b.applied).toEqual(['3', '4', '5']);
  });

  it('a fact this node applied from the store is not counted again when another node sends it', async () => {
    const net = new MemoryNetwork();
    const a = node(net, 'a', Date.now);
    const b = node(net, 'b', Date.now);
    b.relay.markSeen([fact('from-store')]);
    a.relay.send([fact('from-store'), fact('new')]);
    await until(() => b.applied.length === 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(b.applied).toEqual(['new']);
  });

  it('forgets a rebuilt tenant: its kept facts are neither sent again on failure nor when asked', async () => {
    const net = new MemoryNetwork();
    const a = node(net, 'a', Date.now);
    const b = node(net, 'b', Date.now);
    const of = (tenant: number, id: string) => ({ tenant, id }) as unknown as Fact;
    b.setSubscribed(false);
    a.relay.send([of(1, 'kept-1'), of(2, 'kept-2')]);
    a.setDown(true);
    a.relay.send([of(1, 'unsent-1'), of(2, 'unsent-2')]);
    a.relay.forget(2);
    await new Promise((r) => setTimeout(r, 30));
    b.setSubscribed(true);
    a.setDown(false);
    b.relay.ask(0);
    await new Promise((r) => setTimeout(r, 100));
    expect(b.applied.sort()).toEqual(['kept-1', 'unsent-1']);
  });

  it('drops a fact delivered twice (a publish that timed out but arrived, then sent again)', async () => {
    const net = new MemoryNetwork();
    const b = node(net, 'b', Date.now);
    const raw = createMemoryBus(net);
    await raw.publish(FACTS, { n: 'a', f: [fact('x')] });
    await raw.publish(FACTS, { n: 'a', f: [fact('x'), fact('y')] });
    await until(() => b.applied.length === 2);
    expect(b.applied).toEqual(['x', 'y']);
  });

  it('a recompute from the store applies each row once: not the ones the bus delivered since its reset, even past the remembered generations', () => {
    const bus = createMemoryBus(new MemoryNetwork());
    const relay = createRelay({ bus, nodeId: 'b', log, seenGeneration: 10 });
    // Delivered before the restart's reset: the state that applied it was emptied, so its row counts.
    expect(relay.fresh([fact('before')])).toHaveLength(1);
    const rc = relay.recompute(1000);
    // Delivered during the recompute, before its row is read: applied now, so the row is not.
    expect(relay.fresh([fact('early'), fact('bus-only')])).toHaveLength(2);
    const day = Array.from({ length: 100 }, (_, i) => fact(`old${i}`));
    const taken = rc.take([fact('before'), ...day, fact('early'), fact('recent')], [0, ...day.map(() => 0), 2000, 2000]).map((f) => f.id);
    expect(taken).toEqual(['before', ...day.map((f) => f.id), 'recent']);
    // The row of a recent fact was read first; its bus copy comes after 100 more rows turned the generations over.
    expect(relay.fresh(Array.from({ length: 30 }, (_, i) => fact(`more${i}`)))).toHaveLength(30);
    expect(relay.fresh([fact('recent'), fact('early'), fact('bus-only')])).toEqual([]);
    rc.end();
    // Afterwards too (they joined the newest generation), until newer facts push them out as ever.
    expect(relay.fresh([fact('recent'), fact('early')])).toEqual([]);
  });
});
