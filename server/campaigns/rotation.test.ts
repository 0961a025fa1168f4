// Creative rotation as a pure rule (rotation.ts; README "Campaigns" → "Creative rotation"): the winner is chosen
// only 48 h after the start and with the minimum data, never on a tie, the losers' ads are paused by one decision,
// and "keeps rotating" is noted at most once a day.
import { describe, expect, it } from 'vitest';
import { HOUR_MS } from './model.js';
import { normalCdf, ROTATION, rotationDecision, twoProportion, type RotationView, type VariantView } from './rotation.js';
import { hourlyDecisions, type BudgetView, type CampaignView } from './rules.js';

const START = Date.UTC(2026, 2, 2);
const v = (variant: number, impressions: number, clicks: number, conversions: number, running = true): VariantView => ({
  variant, adId: `ad${variant}`, running, stats: { impressions, clicks, spend: impressions / 200, conversions, revenue: conversions * 60 },
});
const campaign = (variants: VariantView[], over: Partial<CampaignView & RotationView> = {}): CampaignView & RotationView => ({
  id: 7, platform: 'meta', status: 'active', statusReason: null, dailyBudget: 50, lastRaiseAt: null,
  stats: variants.reduce((s, x) => ({ impressions: s.impressions + x.stats.impressions, clicks: s.clicks + x.stats.clicks, spend: s.spend + x.stats.spend, conversions: s.conversions + x.stats.conversions, revenue: s.revenue + x.stats.revenue }), { impressions: 0, clicks: 0, spend: 0, conversions: 0, revenue: 0 }),
  startedAt: START, variants, lastRotationAt: null, ...over,
});
const clear = [v(0, 20_000, 400, 60), v(1, 20_000, 390, 20)];

describe('creative rotation (pure)', () => {
  it('the z-test: equal rates give p = 1, a clear difference p < 0.05', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 6);
    expect(normalCdf(1.96)).toBeCloseTo(0.975, 3);
    const same = twoProportion({ n: 1000, k: 10 }, { n: 1000, k: 10 });
    expect(same.z).toBe(0);
    expect(same.p).toBeCloseTo(1, 6);
    expect(twoProportion({ n: 1000, k: 0 }, { n: 1000, k: 0 }).p).toBe(1);
    const t = twoProportion({ n: 20_000, k: 60 }, { n: 20_000, k: 20 });
    expect(t.z).toBeGreaterThan(4);
    expect(t.p).toBeLessThan(0.001);
  });

  it('picks no winner before 48 h, however clear the data', () => {
    expect(rotationDecision(campaign(clear), START + 47 * HOUR_MS)).toBeNull();
    expect(rotationDecision(campaign(clear, { startedAt: null }), START + 100 * HOUR_MS)).toBeNull();
  });

  it('after 48 h with enough data, pauses the worse variant\'s ad and keeps the winner, with the inputs per variant', () => {
    const d = rotationDecision(campaign(clear), START + 48 * HOUR_MS)!;
    expect(d.rule).toBe('creative_rotation');
    expect(d.action).toEqual({ kind: 'pause_ads', ad_ids: ['ad1'], winner_ad_id: 'ad0' });
    expect(d.inputs.variants).toEqual([
      expect.objectContaining({ variant: 0, ad_id: 'ad0', impressions: 20_000, clicks: 400, conversions: 60 }),
      expect.objectContaining({ variant: 1, ad_id: 'ad1', impressions: 20_000, clicks: 390, conversions: 20 }),
    ]);
    expect(d.inputs.best_variant).toBe(0);
    expect(d.reason).toMatch(/variant 2 .*paused, variant 1 kept/);
    // Order does not matter: the better one wins wherever it is.
    expect(rotationDecision(campaign([v(0, 20_000, 400, 20), v(1, 20_000, 390, 60)]), START + 50 * HOUR_MS)!.action).toEqual({ kind: 'pause_ads', ad_ids: ['ad0'], winner_ad_id: 'ad1' });
  });

  it('without the minimum data it keeps rotating (and says why), even with a large gap', () => {
    const few = [v(0, 900, 40, 9), v(1, 900, 40, 0)];
    const d = rotationDecision(campaign(few), START + 60 * HOUR_MS)!;
    expect(d.action).toEqual({ kind: 'keep_rotating' });
    expect(d.reason).toMatch(/not enough data yet/);
    const fewClicks = rotationDecision(campaign([v(0, 5000, 20, 9), v(1, 5000, 40, 0)]), START + 60 * HOUR_MS)!;
    expect(fewClicks.action.kind).toBe('keep_rotating');
    const fewSales = rotationDecision(campaign([v(0, 50_000, 500, 6), v(1, 50_000, 500, 0)]), START + 60 * HOUR_MS)!;
    expect(fewSales.action.kind).toBe('keep_rotating');
    expect(fewSales.reason).toMatch(/too few purchases/);
    expect(ROTATION.minPairConversions).toBeGreaterThan(6);
  });

  it('a tie has no winner', () => {
    for (const tie of [[v(0, 20_000, 400, 40), v(1, 20_000, 400, 40)], [v(0, 20_000, 400, 40), v(1, 20_000, 380, 40), v(2, 20_000, 410, 40)]]) {
      const d = rotationDecision(campaign(tie), START + 72 * HOUR_MS)!;
      expect(d.action).toEqual({ kind: 'keep_rotating' });
      expect(d.reason).toMatch(/no clear winner/);
    }
  });

  it('notes "keeps rotating" at most once a day', () => {
    const tie = [v(0, 20_000, 400, 40), v(1, 20_000, 400, 40)];
    const at = START + 72 * HOUR_MS;
    expect(rotationDecision(campaign(tie, { lastRotationAt: at - 23 * HOUR_MS }), at)).toBeNull();
    expect(rotationDecision(campaign(tie, { lastRotationAt: at - 24 * HOUR_MS }), at)!.action.kind).toBe('keep_rotating');
    // A clear winner is acted on at once, whenever the last note was.
    expect(rotationDecision(campaign(clear, { lastRotationAt: at - HOUR_MS }), at)!.action.kind).toBe('pause_ads');
  });

  it('losers are paused once: with one variant left running, or the campaign not running, nothing more is decided', () => {
    const after = [v(0, 30_000, 600, 90), v(1, 20_000, 390, 20, false)];
    expect(rotationDecision(campaign(after), START + 96 * HOUR_MS)).toBeNull();
    expect(rotationDecision(campaign(clear, { status: 'paused', statusReason: 'manual' }), START + 96 * HOUR_MS)).toBeNull();
    // Three variants: only those clearly worse than the best go; a close one keeps rotating with it.
    const three = rotationDecision(campaign([v(0, 20_000, 400, 60), v(1, 20_000, 400, 55), v(2, 20_000, 400, 15)]), START + 96 * HOUR_MS)!;
    expect(three.action).toEqual({ kind: 'pause_ads', ad_ids: ['ad2'], winner_ad_id: 'ad0' });
  });

  it('runs within the hourly decisions, and not for campaigns without variant ads', () => {
    const budget: BudgetView = { id: 1, total: 10_000, spent: 100, dailyLimit: null, targetCpa: null, targetRoas: null, endsAt: null, strategy: 'equal_split', platformAllocations: {}, lowNotified: false };
    const withAds = campaign(clear);
    const plain: CampaignView = { id: 8, platform: 'google_ads', status: 'active', statusReason: null, dailyBudget: 50, lastRaiseAt: null, stats: withAds.stats };
    const out = hourlyDecisions({ budget, campaigns: [withAds, plain], spentToday: 10, now: START + 49 * HOUR_MS });
    expect(out.filter((d) => d.rule === 'creative_rotation').map((d) => [d.campaignId, d.action.kind])).toEqual([[7, 'pause_ads']]);
  });
});
