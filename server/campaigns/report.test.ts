import { describe, expect, it } from 'vitest';
import { organizerReport, type ReportCampaign } from './report.js';

const c = (o: Partial<ReportCampaign>): ReportCampaign => ({ id: 1, name: 'Rock — Retargeting (meta)', platform: 'meta', campaign_type: 'retargeting', status: 'active', spend: 100, platform_conversions: 10, platform_revenue: 500, orders: 8, tickets: 14, revenue: 420, ...o });

describe('organizer report', () => {
  it('says what was invested and earned, and recommends raising at ROAS ≥ 2× target', () => {
    const r = organizerReport('EUR', 1000, [c({}), c({ id: 2, name: 'Rock — Prospecting (tiktok)', spend: 100, orders: 1, tickets: 2, revenue: 0 })], 1);
    expect(r).toMatchObject({ invested: 200, sales: 9, tickets: 16, revenue: 420, roas_tracked: 2.1, roas_platform: 5 });
    expect(r.summary).toBe('You invested 200.00 EUR and made 9 sales (16 tickets), ROAS = 2.10×.');
    expect(r.recommendations[0]).toBe('Raise the budget by 20 %: ROAS is 2.1×.');
    expect(r.recommendations).toContain('Rock — Retargeting (meta) sells best (ROAS 4.2×): it gets more of the budget.');
    expect(r.recommendations.some((x) => x.startsWith('The platforms claim ROAS 5.0×'))).toBe(true);
  });
  it('no spend: no ratio and no advice', () => {
    const r = organizerReport('EUR', 1000, [], null);
    expect(r.roas_tracked).toBeNull();
    expect(r.recommendations).toEqual([]);
  });
  it('no budget (an organizer without one): no share of it is left to report, no NaN', () => {
    const r = organizerReport('EUR', 0, [], null);
    expect(r.recommendations).toEqual([]);
    expect(JSON.stringify(r)).not.toContain('NaN');
  });
  it('writes the amount with the currency\'s own decimals (JPY none, KWD three)', () => {
    expect(organizerReport('JPY', 100000, [c({ spend: 41666 })], null).summary).toMatch(/^You invested 41666 JPY /);
    expect(organizerReport('KWD', 1000, [c({ spend: 10.125 })], null).summary).toMatch(/^You invested 10\.125 KWD /);
  });
});
