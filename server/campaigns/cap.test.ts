import { describe, expect, it } from 'vitest';
import { dailyBudgetCap } from './allocate.js';

describe('dailyBudgetCap (a daily budget set by hand)', () => {
  const base = { total: 200, spent: 27.6, dailyLimit: 50, platformAllocations: {}, platform: 'meta' as const, others: Array.from({ length: 11 }, () => ({ platform: 'meta' as const, daily: 2.38 })) };
  it('is the daily limit minus what the other spending campaigns take a day', () => {
    // The tester's case: 12 campaigns at 2.38 on a 200 total with a 50 limit; 5000 was accepted.
    const cap = dailyBudgetCap(base);
    expect(cap).toMatchObject({ max: 23.82, by: 'daily_budget_limit' });
    expect(cap.detail[0]).toContain('daily_budget_limit 50');
  });
  it('is what is left of the total when that is less', () => {
    expect(dailyBudgetCap({ ...base, spent: 190 })).toMatchObject({ max: 0, by: 'total_budget' });
    expect(dailyBudgetCap({ ...base, spent: 160, others: [{ platform: 'meta', daily: 10 }] })).toMatchObject({ max: 30, by: 'total_budget' });
    expect(dailyBudgetCap({ ...base, dailyLimit: null, others: [] })).toMatchObject({ max: 172.4, by: 'total_budget' });
  });
  it('keeps a platform within its own daily_limit', () => {
    const cap = dailyBudgetCap({ ...base, platform: 'tiktok', platformAllocations: { tiktok: { percentage: 20, daily_limit: 5 } }, others: [{ platform: 'tiktok', daily: 1.25 }, { platform: 'meta', daily: 12.5 }] });
    expect(cap).toMatchObject({ max: 3.75, by: 'platform_allocations.tiktok.daily_limit' });
  });
  it('floors to the currency\'s minor unit', () => {
    expect(dailyBudgetCap({ total: 150000, spent: 0, dailyLimit: 15000, platformAllocations: {}, platform: 'meta', others: [{ platform: 'meta', daily: 1000.5 }], decimals: 0 }).max).toBe(13999);
  });
});
