// Campaign replies without the money (issue 18): revenue and ROAS go at any depth, spend and counts stay. Pure.
import { describe, expect, it } from 'vitest';
import { organizerReport } from './report.js';
import { revenueFree, ROAS_REASON } from './revenue.js';

describe('revenueFree', () => {
  it('drops revenue and ROAS at any depth and keeps spend, counts and targets', () => {
    const detail = {
      budget: { id: 1, total_budget: 500, spent_budget: 20, target_roas: 2 },
      campaigns: [{ id: 7, performance_metrics: { spend: 20, clicks: 10, conversions: 2, revenue_generated: 777, roas: 38.85, cpa: 10 } }],
      optimization_log: [{ rule: 'roas_above_target', inputs: { roas: 16.65, target_roas: 2, conversions: 2, revenue: 333 }, params: { daily_budget: 12 }, reason: 'ROAS 16.65× is above 2× the target of 2×: daily budget 10 → 12.' },
        { rule: 'cpa_above_limit', inputs: { cpa: 30 }, reason: 'CPA 30 is above 1.5× the target: paused.' }],
      series: [{ at: 't', spend: 20, clicks: 10, sales: 1, revenue: 333, conversions_platform: 2, revenue_platform: 777 }],
    };
    expect(revenueFree(detail)).toEqual({
      budget: { id: 1, total_budget: 500, spent_budget: 20, target_roas: 2 },
      campaigns: [{ id: 7, performance_metrics: { spend: 20, clicks: 10, conversions: 2, cpa: 10 } }],
      optimization_log: [{ rule: 'roas_above_target', inputs: { target_roas: 2, conversions: 2 }, params: { daily_budget: 12 }, reason: ROAS_REASON },
        { rule: 'cpa_above_limit', inputs: { cpa: 30 }, reason: 'CPA 30 is above 1.5× the target: paused.' }],
      series: [{ at: 't', spend: 20, clicks: 10, sales: 1, conversions_platform: 2 }],
    });
  });

  it('the report without revenue: spend, sales and tickets, no ROAS in its summary or advice', () => {
    const c = { id: 1, name: 'A', platform: 'meta', campaign_type: 'prospecting', status: 'active', spend: 450, platform_conversions: 9, platform_revenue: 5000, orders: 9, tickets: 12, revenue: 3000 };
    const full = organizerReport('EUR', 500, [c], 2);
    expect(full.recommendations.some((r) => r.includes('ROAS'))).toBe(true);
    const free = organizerReport('EUR', 500, [c], 2, false);
    expect(free).toEqual({ currency: 'EUR', budget_total: 500, invested: 450, remaining: 50, sales: 9, tickets: 12, summary: 'You invested 450.00 EUR and made 9 sales (12 tickets).', recommendations: ['10 % of the budget is left: top it up to keep the campaigns running.'] });
  });
});
