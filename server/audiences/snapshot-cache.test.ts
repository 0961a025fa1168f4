// When a node keeps, serves, reloads and drops estimate snapshots: only large tenants, never past the maximum
// age, reloaded ahead of it, one load at a time per tenant, erasures applied even to a load in flight, the
// least recently used dropped first, and a failed load retried only after a pause.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createSnapshotCache, type SnapshotCacheOptions } from './snapshot-cache.js';
import type { SnapshotRow } from './snapshot.js';

const row = (id: number): SnapshotRow => ({ person_id: id, city: 'x', aov: 50, last_purchase_s: null, total_orders: 1, events_attended: 1, discount_rate: null });

function setup(opts: Partial<SnapshotCacheOptions> = {}, persons = 5) {
  let t = 1_000_000;
  const calls: { tenant: number; after: number }[] = [];
  let fail = false;
  const gates: (() => void)[] = [];
  let gated = false;
  const source = {
    async erasedSince() {
      return [] as string[];
    },
    async snapshotPage(tenant: number, after: number, limit: number) {
      calls.push({ tenant, after });
      if (gated) await new Promise<void>((r) => gates.push(r));
      if (fail) throw new Error('store away');
      const ids = Array.from({ length: persons }, (_, i) => i + 1).filter((id) => id > after).slice(0, limit);
      return ids.map(row);
    },
  };
  const cache = createSnapshotCache({
    source, log: pino({ level: 'silent' }), now: () => t,
    options: { maxAgeMs: 60_000, minPersons: 3, maxTenants: 2, pageSize: 2, ...opts },
  });
  const settle = () => new Promise((r) => setTimeout(r, 0));
  return {
    cache, calls, settle,
    advance: (ms: number) => (t += ms),
    failLoads: (v: boolean) => (fail = v),
    gate: (v: boolean) => (gated = v),
    open: () => gates.splice(0).forEach((g) => g()),
  };
}

describe('estimate snapshot cache', () => {
  it('reads every page in id order and keeps a tenant only once it counted at least minPersons', async () => {
    const s = setup();
    s.cache.consider(1, 2);
    await s.settle();
    expect(s.calls).toEqual([]);
    s.cache.consider(1, 3);
    const cols = await s.cache.load(1);
    expect([...cols.ids]).toEqual([1, 2, 3, 4, 5]);
    expect(s.calls.map((c) => c.after)).toEqual([0, 2, 4]);
    expect(s.cache.get(1)).toBe(cols);
  });

  it('serves until half its age, then reloads in the background; past the maximum age it is never served', async () => {
    const s = setup();
    const first = await s.cache.load(1);
    s.calls.length = 0;
    s.advance(29_000);
    expect(s.cache.get(1)).toBe(first);
    expect(s.calls).toEqual([]);
    s.advance(2_000);
    expect(s.cache.get(1)).toBe(first); // still served while the reload runs
    await s.settle();
    await s.settle();
    expect(s.calls.length).toBeGreaterThan(0);
    const second = s.cache.get(1);
    expect(second).not.toBe(first);
    s.advance(60_001);
    expect(s.cache.get(1)).toBeNull();
  });

  it('loads a tenant once however many estimates ask at the same time', async () => {
    const s = setup();
    s.gate(true);
    const a = s.cache.load(1);
    const b = s.cache.load(1);
    s.cache.consider(1, 100);
    s.open();
    await s.settle();
    s.gate(false);
    s.open();
    expect(await a).toBe(await b);
    expect(s.calls.filter((c) => c.after === 0)).toHaveLength(1);
  });

  it('an erasure removes the person from the snapshot and from a load still in flight', async () => {
    const s = setup();
    await s.cache.load(1);
    expect(await s.cache.erase({ tenantId: 1, personId: 2 })).toEqual({ audience_snapshot: 1 });
    expect(await s.cache.erase({ tenantId: 2, personId: 2 })).toEqual({ audience_snapshot: 0 });
    expect(s.cache.get(1)!.live[1]).toBe(0);
    s.gate(true);
    const reload = s.cache.load(1);
    await s.cache.erase({ tenantId: 1, personId: 4 });
    s.gate(false);
    s.open();
    const cols = await reload;
    expect([...cols.live]).toEqual([1, 1, 1, 0, 1]);
  });

  it('keeps at most maxTenants snapshots, dropping the least recently used', async () => {
    const s = setup();
    await s.cache.load(1);
    s.advance(10);
    await s.cache.load(2);
    s.advance(10);
    s.cache.get(1);
    s.advance(10);
    await s.cache.load(3);
    expect(s.cache.get(2)).toBeNull();
    expect(s.cache.get(1)).not.toBeNull();
    expect(s.cache.get(3)).not.toBeNull();
    expect(s.cache.stats().tenants).toBe(2);
  });

  it('after a failed load, estimates read the store and no reload is tried for a minute', async () => {
    const s = setup();
    s.failLoads(true);
    await expect(s.cache.load(1)).rejects.toThrow('store away');
    s.calls.length = 0;
    s.cache.consider(1, 100);
    await s.settle();
    expect(s.calls).toEqual([]);
    expect(s.cache.stats().failures).toBe(1);
    s.advance(60_001);
    s.failLoads(false);
    s.cache.consider(1, 100);
    await s.settle();
    await s.settle();
    await s.settle();
    expect(s.calls.length).toBeGreaterThan(0);
  });

  it('with a maximum age of 0 nothing is ever served', async () => {
    const s = setup({ maxAgeMs: 0 });
    s.cache.consider(1, 100);
    await s.settle();
    expect(s.calls).toEqual([]);
    expect(s.cache.get(1)).toBeNull();
  });
});
