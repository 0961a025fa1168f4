import { describe, expect, it } from 'vitest';
import { silent } from '../../test/helpers.js';
import { DIMS, type IndexPage } from './columns.js';
import { createFunnelIndex, nextPageSize, type IndexSource } from './funnel-index.js';

/** A store whose rows become visible when the test says (a late commit below the highest id already read). */
function fakeStore() {
  const rows: { id: number; visible: boolean }[] = [];
  let erased: string[] = [];
  const source: IndexSource = {
    async page(_tenant, after, through): Promise<IndexPage> {
      const r = rows.filter((x) => x.visible && x.id > after && x.id <= through).sort((a, b) => a.id - b.id);
      return { id: r.map((x) => x.id), name: r.map(() => 'a'), t: r.map((x) => x.id), visitor: r.map((x) => `v${x.id}`), dims: DIMS.map(() => r.map(() => null)) };
    },
    maxId: async () => Math.max(0, ...rows.map((r) => r.id)),
    erasedSince: async () => erased,
  };
  return { rows, source, erase: (d: string) => (erased = [...erased, d]) };
}

describe('funnel index upkeep', () => {
  it('picks up a commit that lands below ids already read, and holds every row once', async () => {
    const s = fakeStore();
    let now = 0;
    for (let id = 1; id <= 10; id++) s.rows.push({ id, visible: id !== 4 });
    const index = createFunnelIndex({ source: s.source, log: silent, now: () => now, options: { maxAgeMs: 3_600_000, minQueryMs: 0, maxTenants: 1, maxRows: 100, pageSize: 3, settleMs: 5_000 } });
    await index.load(1);
    s.rows.find((r) => r.id === 4)!.visible = true;
    s.rows.push({ id: 11, visible: true });
    now = 1_000;
    const got = await index.acquire(1);
    expect([...got!.cols.id.subarray(0, got!.cols.size)].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    now = 60_000;
    const again = await index.acquire(1);
    expect(again!.cols.size).toBe(11);
  });

  it('an erasure since the read sends funnels to the store and reads the index again', async () => {
    const s = fakeStore();
    s.rows.push({ id: 1, visible: true });
    const index = createFunnelIndex({ source: s.source, log: silent, options: { maxAgeMs: 3_600_000, minQueryMs: 0, maxTenants: 1, maxRows: 100 } });
    await index.load(1);
    s.erase('d1');
    expect(await index.acquire(1)).toBeNull();
    await expect.poll(async () => (await index.acquire(1)) !== null).toBe(true);
  });

  it('does not index a tenant past FUNNEL_INDEX_MAX_ROWS', async () => {
    const s = fakeStore();
    for (let id = 1; id <= 20; id++) s.rows.push({ id, visible: true });
    let now = 0;
    const index = createFunnelIndex({ source: s.source, log: silent, now: () => now, options: { maxAgeMs: 3_600_000, minQueryMs: 0, maxTenants: 1, maxRows: 10, pageSize: 5 } });
    await expect(index.load(1)).rejects.toThrow(/FUNNEL_INDEX_MAX_ROWS=10/);
    expect(await index.acquire(1)).toBeNull();
    expect(index.stats().failures).toBe(1);
    // Not read again on the next slow funnel, even past the retry delay of other failures: every attempt would
    // read FUNNEL_INDEX_MAX_ROWS rows first.
    now = 3_600_000;
    index.consider(1, 60_000);
    await new Promise((r) => setTimeout(r, 20));
    expect(index.stats().failures).toBe(1);
    expect(index.stats().loads).toBe(0);
  });
});

describe('page size by time', () => {
  it('scales the next page toward the target, at most halving or doubling, within bounds', () => {
    expect(nextPageSize(10_000, 100, 100)).toBe(10_000);
    expect(nextPageSize(10_000, 400, 100)).toBe(5_000);
    expect(nextPageSize(10_000, 10, 100)).toBe(20_000);
    expect(nextPageSize(10_000, 80, 100)).toBe(12_500);
    expect(nextPageSize(5_000, 1_000, 100)).toBe(5_000);
    expect(nextPageSize(1_000_000, 1, 100)).toBe(1_000_000);
    expect(nextPageSize(10_000, 0, 100)).toBe(20_000);
  });
});
