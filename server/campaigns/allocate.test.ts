import { describe, expect, it } from 'vitest';
import { allocate, clampShares, dailyTarget, ignoredPercentages, startingBudgets, startingSplit, winProbabilities, DEFAULT_BANDIT, type Arm } from './allocate.js';
import { ZERO_STATS, DAY_MS } from './model.js';
import { prng } from './rng.js';

const T0 = Date.UTC(2026, 2, 2);
const arm = (id: number, clicks: number, conversions: number, spend: number, revenue: number, platform: Arm['platform'] = 'meta'): Arm => ({ id, platform, stats: { impressions: clicks * 100, clicks, conversions, spend, revenue } });

describe('dailyTarget (pacing)', () => {
  it('spreads what is left over the days left', () => {
    expect(dailyTarget({ total: 1400, spent: 400, dailyLimit: null, endsAt: T0 + 10 * DAY_MS, now: T0 })).toBe(100);
  });
  it('never above the daily limit nor what is left', () => {
    expect(dailyTarget({ total: 1400, spent: 0, dailyLimit: 50, endsAt: T0 + 2 * DAY_MS, now: T0 })).toBe(50);
    expect(dailyTarget({ total: 100, spent: 99.5, dailyLimit: null, endsAt: T0 + 12 * 3_600_000, now: T0 })).toBe(0.5);
    expect(dailyTarget({ total: 100, spent: 120, dailyLimit: null, endsAt: null, now: T0 })).toBe(0);
  });
  it('an open-ended budget is paced over 14 days', () => {
    expect(dailyTarget({ total: 1400, spent: 0, dailyLimit: null, endsAt: null, now: T0 })).toBe(100);
  });
});

describe('clampShares', () => {
  it('keeps shares inside [min, max] and summing to 1', () => {
    const out = clampShares(new Map([[1, 0.97], [2, 0.03], [3, 0]]), 0.05, 0.6);
    const sum = [...out.values()].reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(1, 9);
    expect(out.get(1)).toBeCloseTo(0.6, 9);
    expect(out.get(3)).toBeGreaterThanOrEqual(0.05 - 1e-9);
  });
});

describe('allocate', () => {
  it('equal_split gives each campaign the same and never more than the day', () => {
    const a = allocate({ strategy: 'equal_split', platformAllocations: {}, dayTarget: 100, rand: prng(1), arms: [arm(1, 0, 0, 0, 0), arm(2, 0, 0, 0, 0), arm(3, 0, 0, 0, 0)] });
    expect([...a.daily.values()]).toEqual([33.33, 33.33, 33.33]);
  });
  it('manual follows the platform percentages and caps a platform at its daily limit', () => {
    const a = allocate({
      strategy: 'manual', platformAllocations: { meta: { percentage: 60 }, tiktok: { percentage: 40, daily_limit: 10 } }, dayTarget: 100, rand: prng(1),
      arms: [arm(1, 0, 0, 0, 0, 'meta'), arm(2, 0, 0, 0, 0, 'meta'), arm(3, 0, 0, 0, 0, 'tiktok')],
    });
    expect(a.daily.get(1)).toBe(30);
    expect(a.daily.get(2)).toBe(30);
    expect(a.daily.get(3)).toBe(10);
  });
  it('performance_based puts most of the day on the arm with clearly more value per euro, within the max share', () => {
    const arms = [arm(1, 2000, 100, 400, 6000), arm(2, 2000, 20, 400, 1200), arm(3, 2000, 10, 400, 600)];
    const a = allocate({ strategy: 'performance_based', platformAllocations: {}, dayTarget: 100, rand: prng(42), arms });
    expect(a.winProbabilities!.get(1)).toBeGreaterThan(0.99);
    expect(a.daily.get(1)).toBe(85);
    expect(a.daily.get(2)! + a.daily.get(3)!).toBeLessThanOrEqual(15);
    expect(a.daily.get(3)).toBeGreaterThanOrEqual(2 - 0.01);
  });
  it('without data the bandit explores evenly', () => {
    const wp = winProbabilities([1, 2, 3, 4].map((id) => ({ id, platform: 'meta' as const, stats: ZERO_STATS })), { ...DEFAULT_BANDIT, draws: 4000 }, prng(3));
    for (const p of wp.values()) expect(p).toBeGreaterThan(0.2);
  });
  it('performance_based holds each platform at its stated percentage and runs the bandit between its campaigns', () => {
    // Google's campaigns clearly convert best: without percentages the bandit would give them most of the day.
    const arms = [
      arm(1, 2000, 10, 400, 600, 'meta'), arm(2, 2000, 12, 400, 720, 'meta'),
      arm(3, 2000, 100, 400, 6000, 'google_ads'), arm(4, 2000, 20, 400, 1200, 'google_ads'),
      arm(5, 2000, 15, 400, 900, 'tiktok'),
    ];
    const pa = { meta: { percentage: 50 }, google_ads: { percentage: 30 }, tiktok: { percentage: 20 } };
    const free = allocate({ strategy: 'performance_based', platformAllocations: {}, dayTarget: 100, rand: prng(42), arms });
    expect(free.daily.get(3)! + free.daily.get(4)!).toBeGreaterThan(80);
    const a = allocate({ strategy: 'performance_based', platformAllocations: pa, dayTarget: 100, rand: prng(42), arms });
    const byPlatform = (p: Arm['platform']) => arms.filter((x) => x.platform === p).reduce((s, x) => s + a.daily.get(x.id)!, 0);
    expect(byPlatform('meta')).toBeCloseTo(50, 1);
    expect(byPlatform('google_ads')).toBeCloseTo(30, 1);
    expect(byPlatform('tiktok')).toBeCloseTo(20, 1);
    // Inside Google, the better campaign takes the platform's max share (85 % of its 30).
    expect(a.daily.get(3)).toBeCloseTo(25.5, 1);
    expect(a.winProbabilities!.get(3)).toBeGreaterThan(0.99);
    expect(a.winProbabilities!.get(5)).toBe(1);
  });
  it('performance_based gives the share of a platform without campaigns to the others, in proportion', () => {
    const arms = [arm(1, 0, 0, 0, 0, 'meta'), arm(2, 0, 0, 0, 0, 'tiktok')];
    const a = allocate({ strategy: 'performance_based', platformAllocations: { meta: { percentage: 50 }, google_ads: { percentage: 30 }, tiktok: { percentage: 20 } }, dayTarget: 70, rand: prng(1), arms });
    expect(a.daily.get(1)).toBeCloseTo(50, 1);
    expect(a.daily.get(2)).toBeCloseTo(20, 1);
  });
  it('is deterministic for a seed', () => {
    const arms = [arm(1, 100, 5, 50, 300), arm(2, 100, 4, 50, 240)];
    const a = allocate({ strategy: 'performance_based', platformAllocations: {}, dayTarget: 80, rand: prng(9), arms });
    const b = allocate({ strategy: 'performance_based', platformAllocations: {}, dayTarget: 80, rand: prng(9), arms });
    expect([...a.daily]).toEqual([...b.daily]);
  });
});

describe('startingBudgets (approval)', () => {
  const fresh = (id: number, platform: Arm['platform'] = 'meta'): Arm => ({ id, platform, stats: ZERO_STATS });
  const base = { strategy: 'equal_split' as const, platformAllocations: {}, dayTarget: 100, rand: prng(1) };
  it('approving a suite one campaign at a time gives each its share, not the whole day to the first', () => {
    const first = startingBudgets({ ...base, running: [], starting: [fresh(1)], waiting: [fresh(2), fresh(3), fresh(4)] });
    expect([...first]).toEqual([[1, 25]]);
    const second = startingBudgets({ ...base, running: [{ ...fresh(1), daily: 25 }], starting: [fresh(2)], waiting: [fresh(3), fresh(4)] });
    expect([...second]).toEqual([[2, 25]]);
  });
  it('approving the whole suite at once splits the day between all of them', () => {
    const all = startingBudgets({ ...base, running: [], starting: [1, 2, 3, 4].map((id) => fresh(id)), waiting: [] });
    expect([...all.values()]).toEqual([25, 25, 25, 25]);
  });
  it('never gives the starting campaigns more than the running ones leave free', () => {
    const r = startingBudgets({ ...base, running: [{ ...fresh(1), daily: 90 }], starting: [fresh(2), fresh(3)], waiting: [] });
    expect(r.get(2)! + r.get(3)!).toBeLessThanOrEqual(10);
    expect(r.get(2)).toBe(10);
    expect(r.get(3)).toBe(0);
  });
  it("never gives a starting campaign more than its platform's running campaigns leave of the platform's daily_limit", () => {
    // Issue: TikTok's daily_limit 12 held in full by three running campaigns at 4 (after a rebalance); the day has room.
    const pa = { tiktok: { percentage: 100, daily_limit: 12 } };
    const tk = (id: number) => fresh(id, 'tiktok');
    const input = { strategy: 'manual' as const, platformAllocations: pa, dayTarget: 50, rand: prng(1) };
    const full = startingSplit({ ...input, running: [1, 2, 3].map((id) => ({ ...tk(id), daily: 4 })), starting: [tk(4)], waiting: [] });
    expect(full.get(4)).toEqual({ daily: 0, share: 3, budgetRoom: 38, platformRoom: 0 });
    // Some room left: the starting campaign gets that room, not its share.
    const some = startingBudgets({ ...input, running: [{ ...tk(1), daily: 4 }, { ...tk(2), daily: 4 }, { ...tk(3), daily: 3 }], starting: [tk(4)], waiting: [] });
    expect(some.get(4)).toBe(1);
    // Campaigns started together share the platform's room, another platform's campaigns are not held by it.
    const together = startingBudgets({
      ...input, platformAllocations: { tiktok: { percentage: 50, daily_limit: 12 }, meta: { percentage: 50 } },
      running: [{ ...tk(1), daily: 10 }], starting: [tk(2), tk(3), fresh(4, 'meta')], waiting: [],
    });
    expect(together.get(2)! + together.get(3)!).toBeLessThanOrEqual(2);
    expect(together.get(4)).toBe(25);
  });
  it('gives whole minor units of a currency without decimals', () => {
    // JPY 7 a day over 12 campaigns is 0.58 yen each: nothing a platform can take.
    const s = startingSplit({ ...base, dayTarget: 7, decimals: 0, running: [], starting: [fresh(1)], waiting: [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((id) => fresh(id)) });
    expect(s.get(1)).toEqual({ daily: 0, share: 0, budgetRoom: 7, platformRoom: null });
    expect(startingBudgets({ ...base, dayTarget: 1190, decimals: 0, running: [], starting: [fresh(1)], waiting: [fresh(2), fresh(3)] }).get(1)).toBe(396);
  });
});

describe('ignoredPercentages (budget validation)', () => {
  it('refuses platform percentages equal_split would ignore, naming the field', () => {
    expect(ignoredPercentages('equal_split', { meta: { percentage: 70 }, tiktok: { percentage: 30 } })).toEqual({
      field: 'platform_allocations.meta.percentage', message: expect.stringMatching(/^platform_allocations\.meta\.percentage 70 is not an even share of meta, tiktok \(50 each\): equal_split splits the day evenly/),
    });
  });
  it('accepts what equal_split does with them: the same percentage for each platform named, 0 leaving one out', () => {
    expect(ignoredPercentages('equal_split', {})).toBeNull();
    expect(ignoredPercentages('equal_split', { meta: { percentage: 50 }, tiktok: { percentage: 50, daily_limit: 10 }, google_ads: { percentage: 0 } })).toBeNull();
    expect(ignoredPercentages('equal_split', { meta: { percentage: 33.33 }, tiktok: { percentage: 33.33 }, google_ads: { percentage: 33.34 } })).toBeNull();
    expect(ignoredPercentages('manual', { meta: { percentage: 70 }, tiktok: { percentage: 30 } })).toBeNull();
    expect(ignoredPercentages('performance_based', { meta: { percentage: 70 }, tiktok: { percentage: 30 } })).toBeNull();
  });
});
