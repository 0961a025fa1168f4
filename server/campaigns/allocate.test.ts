import { describe, expect, it } from 'vitest';
import { allocate, clampShares, dailyTarget, startingBudgets, winProbabilities, DEFAULT_BANDIT, type Arm } from './allocate.js';
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
});
