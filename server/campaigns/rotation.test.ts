// Creative rotation as a pure rule (rotation.ts; README "Campaigns" → "Creative rotation"): the winner is chosen
// only 48 h after the start and with the minimum data, never on a tie, the losers' ads are paused by one decision,
// the variants are looked at at most once a day up to 14 days, against a per-look boundary shared by the
// comparisons, and only ads Meta reports delivering are compared (a deleted one is out, the last delivering ad is
// never paused).
import { describe, expect, it } from 'vitest';
import { HOUR_MS } from './model.js';
import { delivering, inRotation, normalCdf, NOT_LISTED, ROTATION, rotationDecision, twoProportion, type RotationView, type VariantView } from './rotation.js';
import { hourlyDecisions, type BudgetView, type CampaignView } from './rules.js';
import { mergeVariants } from './jobs.js';

const START = Date.UTC(2026, 2, 2);
const v = (variant: number, impressions: number, clicks: number, conversions: number, running = true, metaStatus: string | null = 'ACTIVE'): VariantView => ({
  variant, adId: `ad${variant}`, running, metaStatus, stats: { impressions, clicks, spend: impressions / 200, conversions, revenue: conversions * 60 },
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

  it('looks at most once per 24 h (each look logs one decision), and not after 14 days', () => {
    const tie = [v(0, 20_000, 400, 40), v(1, 20_000, 400, 40)];
    const at = START + 72 * HOUR_MS;
    expect(rotationDecision(campaign(tie, { lastRotationAt: at - 23 * HOUR_MS }), at)).toBeNull();
    expect(rotationDecision(campaign(tie, { lastRotationAt: at - 24 * HOUR_MS }), at)!.action.kind).toBe('keep_rotating');
    // However clear the data, a look within a day of the last one decides nothing: no hourly re-testing.
    expect(rotationDecision(campaign(clear, { lastRotationAt: at - HOUR_MS }), at)).toBeNull();
    expect(rotationDecision(campaign(clear, { lastRotationAt: at - 23 * HOUR_MS }), at)).toBeNull();
    expect(rotationDecision(campaign(clear, { lastRotationAt: at - 24 * HOUR_MS }), at)!.action.kind).toBe('pause_ads');
    // The last look is at 14 days (13 looks at most from 48 h); after it the variants keep rotating, undecided.
    expect(ROTATION.lastLookMs).toBe(14 * 24 * HOUR_MS);
    expect(rotationDecision(campaign(clear), START + 14 * 24 * HOUR_MS)!.action.kind).toBe('pause_ads');
    expect(rotationDecision(campaign(clear), START + 14 * 24 * HOUR_MS + HOUR_MS)).toBeNull();
    // Hour by hour for 14 days with a tie: one note a day, 13 in all.
    let last: number | null = null;
    let looks = 0;
    for (let t = START + HOUR_MS; t <= START + 20 * 24 * HOUR_MS; t += HOUR_MS) {
      const d = rotationDecision(campaign(tie, { lastRotationAt: last }), t);
      if (!d) continue;
      if (last !== null) expect(t - last).toBeGreaterThanOrEqual(24 * HOUR_MS);
      last = t;
      looks++;
    }
    expect(looks).toBe(13);
  });

  it('the boundary: a loser needs p < 0.005 per look, shared by the comparisons (Bonferroni)', () => {
    expect(ROTATION.alphaPerLook).toBe(0.005);
    const at = START + 48 * HOUR_MS;
    // 100 vs 67 purchases in 40 000 impressions each: p ≈ 0.011 — a loser at the old p < 0.05, not now.
    const mid = twoProportion({ n: 40_000, k: 100 }, { n: 40_000, k: 67 });
    expect(mid.p).toBeGreaterThan(0.005);
    expect(mid.p).toBeLessThan(0.05);
    const d = rotationDecision(campaign([v(0, 40_000, 1200, 100), v(1, 40_000, 1200, 67)]), at)!;
    expect(d.action.kind).toBe('keep_rotating');
    expect(d.reason).toMatch(/no clear winner \(no variant is worse than the best at p < 0\.005\)/);
    // 100 vs 63: p ≈ 0.0037 < 0.005, a loser with two variants …
    const two = twoProportion({ n: 40_000, k: 100 }, { n: 40_000, k: 63 });
    expect(two.p).toBeLessThan(0.005);
    expect(two.p).toBeGreaterThan(0.0025);
    expect(rotationDecision(campaign([v(0, 40_000, 1200, 100), v(1, 40_000, 1200, 63)]), at)!.action).toEqual({ kind: 'pause_ads', ad_ids: ['ad1'], winner_ad_id: 'ad0' });
    // … but not with three: each of the two comparisons then needs p < 0.0025.
    const three = rotationDecision(campaign([v(0, 40_000, 1200, 100), v(1, 40_000, 1200, 63), v(2, 40_000, 1200, 95)]), at)!;
    expect(three.action.kind).toBe('keep_rotating');
    expect(three.reason).toMatch(/p < 0\.0025/);
    expect(three.inputs.test).toMatch(/p < 0\.005 \/ 2/);
  });

  it('compares only ads Meta reports ACTIVE: a disapproved or paused-on-Meta winner is not kept, the delivering ad is not paused', () => {
    const at = START + 60 * HOUR_MS;
    // The clearly better variant 1 was disapproved (or paused in Ads Manager): only variant 2 delivers.
    for (const status of ['DISAPPROVED', 'PAUSED', 'PENDING_REVIEW', 'WITH_ISSUES', null]) {
      const d = rotationDecision(campaign([v(0, 20_000, 400, 60, true, status), v(1, 20_000, 390, 20)]), at)!;
      expect(d.action).toEqual({ kind: 'keep_rotating' });
      expect(d.reason).toMatch(/only variant 2 delivers on Meta \(variant 1 (\w+|not read yet)\), so none is paused/);
      expect(d.inputs.not_delivering).toEqual([{ variant: 0, ad_id: 'ad0', effective_status: status }]);
      // noted at most once a day
      expect(rotationDecision(campaign([v(0, 20_000, 400, 60, true, status), v(1, 20_000, 390, 20)], { lastRotationAt: at - 23 * HOUR_MS }), at)).toBeNull();
    }
    const none = rotationDecision(campaign([v(0, 20_000, 400, 60, true, 'DISAPPROVED'), v(1, 20_000, 390, 20, true, 'CAMPAIGN_PAUSED')]), at)!;
    expect(none.action.kind).toBe('keep_rotating');
    expect(none.reason).toMatch(/no variant delivers on Meta/);
    // Three variants, the best disapproved: the two delivering are compared; a pause never names a non-delivering ad.
    const three = rotationDecision(campaign([v(0, 20_000, 400, 90, true, 'DISAPPROVED'), v(1, 20_000, 400, 60), v(2, 20_000, 400, 15)]), at)!;
    expect(three.action).toEqual({ kind: 'pause_ads', ad_ids: ['ad2'], winner_ad_id: 'ad1' });
    // The whole hour by hour: whatever the statuses, the winner kept is always one Meta reports ACTIVE.
    for (const statuses of [['ACTIVE', 'PAUSED'], ['DISAPPROVED', 'ACTIVE'], ['ACTIVE', 'ACTIVE', 'DISAPPROVED'], ['PAUSED', 'ACTIVE', 'ACTIVE']]) {
      const vs = statuses.map((s, i) => v(i, 20_000, 400, 90 - 35 * i, true, s));
      const d = rotationDecision(campaign(vs), at);
      if (d?.action.kind === 'pause_ads') {
        expect(statuses[vs.findIndex((x) => x.adId === (d.action as { winner_ad_id: string }).winner_ad_id)]).toBe('ACTIVE');
        for (const id of d.action.ad_ids) expect(statuses[vs.findIndex((x) => x.adId === id)]).toBe('ACTIVE');
      }
    }
  });

  it('an ad Meta no longer lists (deleted or archived) is out of the rotation: with one variant left, nothing more is decided', () => {
    const at = START + 72 * HOUR_MS;
    for (const gone of [NOT_LISTED, 'DELETED', 'ARCHIVED']) {
      expect(rotationDecision(campaign([v(0, 20_000, 400, 60), v(1, 20_000, 390, 20, true, gone)]), at)).toBeNull();
      expect(rotationDecision(campaign([v(0, 20_000, 400, 60, true, gone), v(1, 20_000, 390, 20)]), at)).toBeNull();
      // With three, the two left are compared; the deleted one is neither a candidate nor paused.
      const d = rotationDecision(campaign([v(0, 20_000, 400, 60), v(1, 20_000, 400, 90, true, gone), v(2, 20_000, 390, 15)]), at)!;
      expect(d.action).toEqual({ kind: 'pause_ads', ad_ids: ['ad2'], winner_ad_id: 'ad0' });
      expect(d.inputs.variants).toHaveLength(2);
    }
    expect(inRotation(v(0, 1, 1, 1, true, 'DISAPPROVED'))).toBe(true);
    expect(delivering(v(0, 1, 1, 1, true, 'DISAPPROVED'))).toBe(false);
    expect(inRotation(v(0, 1, 1, 1, true, NOT_LISTED))).toBe(false);
    expect(delivering(v(0, 1, 1, 1, false, 'ACTIVE'))).toBe(false);
  });

  it('the sync\'s per-ad merge: a missing insights row keeps the last figures, an ad not listed is NOT_LISTED, a failed read keeps the last', () => {
    const ads = [{ variant: 0, creative_id: 'c0', ad_id: 'ad0', status: 'ACTIVE' as const }, { variant: 1, creative_id: 'c1', ad_id: 'ad1', status: 'ACTIVE' as const }];
    const at = new Date(START + 30 * HOUR_MS);
    const prev = [
      { variant: 0, ad_id: 'ad0', impressions: 5000, clicks: 150, spend: 25, conversions: 9, revenue: 540, effective_status: 'ACTIVE' },
      { variant: 1, ad_id: 'ad1', impressions: 4800, clicks: 140, spend: 24, conversions: 7, revenue: 420, effective_status: 'ACTIVE' },
    ];
    const now = new Map([['ad0', { impressions: 6000, clicks: 180, spend: 30, conversions: 11, revenue: 660 }]]);
    // ad1 deleted on Meta: no insights row and not listed.
    const m = mergeVariants(ads, prev, now, new Map([['ad0', 'ACTIVE']]), at);
    expect(m).toEqual([
      { variant: 0, ad_id: 'ad0', impressions: 6000, clicks: 180, spend: 30, conversions: 11, revenue: 660, effective_status: 'ACTIVE', status_read_at: at.toISOString() },
      { variant: 1, ad_id: 'ad1', impressions: 4800, clicks: 140, spend: 24, conversions: 7, revenue: 420, effective_status: NOT_LISTED, status_read_at: at.toISOString() },
    ]);
    // Both reads failed for this campaign's ads (null): everything as it was.
    expect(mergeVariants(ads, m, null, null, new Date(at.getTime() + HOUR_MS))).toEqual(m);
    // Never read before: zeros and no status.
    expect(mergeVariants(ads, undefined, new Map(), null, at).map((x) => [x.impressions, x.effective_status])).toEqual([[0, null], [0, null]]);
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
