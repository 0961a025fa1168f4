// Creative rotation against the mock platforms (README "Campaigns" → "Creative rotation"), on the local
// PostgreSQL: with META_PAGE_ID, publishing a Meta campaign creates one ad per creative variant under its ad set
// (the documented adcreatives / ads calls), idempotently — a publish cut off after Meta created an ad adopts it
// (no duplicate); the 30-minute sync reads the ads' figures; the hourly optimiser pauses the worse variant's ad
// only 48 h after the start, keeps the winner, logs it once with its inputs, and a window run again sends nothing.
// The sync also reads each ad's effective_status (GET act_{id}/ads): a better variant disapproved on Meta is not
// kept and the only delivering ad is not paused; an ad deleted on Meta keeps its last figures and leaves the
// rotation (a campaign left with one variant is decided on no more).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaignsCore, type CampaignsCore } from '../server/campaigns/index.js';
import type { Db } from '../server/store/db.js';
import { campaignStore, mockPlatformsConfig, type CampaignStore } from './campaigns-stores.js';
import { silent } from './helpers.js';
import { startMockPlatforms, type MockPlatforms } from './mock-ad-platforms/index.js';
import { variantOf } from './mock-ad-platforms/meta-ads.js';

const TENANT = 1;
const HOUR = 3_600_000;

describe('creative rotation on Meta', { timeout: 240_000 }, () => {
  let store: CampaignStore | undefined;
  let db: Db;
  let mock: MockPlatforms;
  const t0 = Date.UTC(2026, 2, 5, 12);
  const clock = { now: t0 };
  const core = (pageId: string | null): CampaignsCore => createCampaignsCore({
    db, log: silent, now: () => clock.now, credits: { pull: async () => 0 },
    config: mockPlatformsConfig(mock.url, ['meta'], pageId ? { META_PAGE_ID: pageId } : {}),
  });
  const suiteOf = async (c: CampaignsCore) => {
    const b = await c.service.createBudget(TENANT, {
      organizer_id: 'O1', event_id: null, total_budget: 20_000, currency: 'EUR', daily_budget_limit: null, allocation_strategy: 'equal_split',
      platform_allocations: { meta: { percentage: 100 } }, target_cpa: null, target_roas: null, payment_reference: null, paid_at: null, started_at: null, ends_at: null, notes: null,
    });
    const suite = await c.service.createSuite(TENANT, b.id, 1);
    if (!suite.ok) throw new Error(suite.message);
    await c.service.submit(TENANT, b.id);
    return { budgetId: b.id, campaigns: suite.value };
  };

  beforeAll(async () => {
    store = await campaignStore('postgres', 'rotate', 2);
    db = store.db;
    // Variant 1 converts at 1.5× its campaign's rate, variant 2 at 0.4×: a winner to find.
    mock = await startMockPlatforms({ seed: 9, startMs: t0, rates: () => ({ cpm: 5, ctr: 0.03, cvr: 0.06, aov: 60, claimFactor: 1 }), variantFactor: (adName) => (variantOf(adName) === 0 ? 1.5 : 0.4) });
  }, 120_000);
  afterAll(async () => {
    await mock?.close();
    await store?.drop();
  });

  it('without META_PAGE_ID a Meta campaign is published as before, with no ads', async () => {
    const c = core(null);
    const { campaigns } = await suiteOf(c);
    const one = campaigns.find((x) => x.campaign_type === 'prospecting')!;
    expect((await c.service.approve(TENANT, [one.id])).ok).toBe(true);
    const after = (await c.service.campaign(TENANT, one.id))!;
    expect(after.status).toBe('active');
    expect(after.external_ads).toEqual([]);
    expect([...mock.metaAds.values()].filter((a) => a.campaignId === after.external_campaign_id)).toEqual([]);
  });

  it('publishes one ad per variant, idempotently, and the optimiser keeps the winner after 48 h', async () => {
    const c = core('104123456789012');
    const { budgetId, campaigns } = await suiteOf(c);
    const retarget = campaigns.find((x) => x.campaign_type === 'retargeting')!;
    const key = `txc-${budgetId}-meta-retargeting`;
    // The connection drops right after Meta created the retargeting campaign's second ad: its answer is lost.
    const cut = mock.cut((k) => k.method === 'POST' && k.path === '/v25.0/act_1001/ads' && String(k.body?.name).includes(`[${key}:v1]`), 'drop');
    const approved = await c.service.approve(TENANT, campaigns.map((x) => x.id));
    expect(approved.ok).toBe(true);
    await cut;
    const left = (await c.service.campaign(TENANT, retarget.id))!;
    expect(left.status).toBe('publishing');
    expect(left.last_error).toMatch(/^creating its ads: /);
    expect(left.external_ads!.map((a) => [a.variant, a.ad_id !== null])).toEqual([[0, true], [1, false]]);
    // The job finishes it: the ad Meta created is found by its name (GET {adset}/ads) and adopted, not made again.
    expect(await c.service.resumePublishing(10)).toBe(1);
    const list = await c.service.campaignsOf(TENANT, budgetId);
    expect(list.map((x) => x.status)).toEqual(['active', 'active', 'active', 'active']);
    for (const x of list) {
      const ads = [...mock.metaAds.values()].filter((a) => a.campaignId === x.external_campaign_id);
      expect(ads.map((a) => variantOf(a.name)).sort()).toEqual([0, 1]);
      expect(ads.every((a) => a.adsetId === x.external_adset_id && a.active)).toBe(true);
      expect(x.external_ads!.map((a) => a.ad_id).sort()).toEqual(ads.map((a) => a.id).sort());
    }
    expect(mock.calls.some((k) => k.method === 'GET' && /^\/v25\.0\/as\d+(-\d+)?\/ads$/.test(k.path))).toBe(true);
    // The documented creative: a link ad on the Page to the landing URL, with a ticket call to action.
    const creative = [...mock.calls].reverse().find((k) => k.method === 'POST' && k.path === '/v25.0/act_1001/adcreatives' && String(k.body?.name).includes(`[${key}:v1]`))!.body;
    const link = (retarget.creative as { landing_page_url: string }).landing_page_url;
    expect(creative.object_story_spec).toEqual({
      page_id: '104123456789012',
      link_data: { link, message: 'Secure your seat today.', name: expect.any(String), call_to_action: { type: 'BUY_TICKETS', value: { link } } },
    });
    expect(link).toContain(`utm_campaign=${key}`);

    // Hourly windows: the sync reads the ads' figures, the rules decide.
    const rotations = async () => (await db.query<Record<string, unknown>>("SELECT campaign_id, window_start, action, inputs, applied_at FROM campaign_optimization_log WHERE budget_id = $1 AND rule = 'creative_rotation' ORDER BY id", [budgetId])).rows;
    const pausesOf = (adId: string) => mock.calls.filter((k) => k.method === 'POST' && k.path === `/v25.0/${adId}` && k.body?.status === 'PAUSED').length;
    for (let t = t0 + HOUR; t < t0 + 48 * HOUR; t += HOUR) {
      mock.advanceTo(t);
      clock.now = t;
      await c.runners.optimize(new Date(t));
    }
    expect(await rotations()).toEqual([]);
    const synced = (await c.service.campaign(TENANT, retarget.id))!;
    const variants = synced.performance_metrics.variants as { variant: number; ad_id: string; impressions: number; conversions: number }[];
    expect(variants.map((v) => v.variant)).toEqual([0, 1]);
    expect(variants.every((v) => v.impressions > 1000)).toBe(true);
    for (let t = t0 + 48 * HOUR; t <= t0 + 60 * HOUR; t += HOUR) {
      mock.advanceTo(t);
      clock.now = t;
      await c.runners.optimize(new Date(t));
    }
    const log = await rotations();
    const paused = log.filter((r) => r.action === 'pause_ads' && Number(r.campaign_id) === retarget.id);
    expect(paused).toHaveLength(1);
    expect(new Date(String(paused[0].window_start)).getTime()).toBeGreaterThanOrEqual(t0 + 48 * HOUR);
    expect(paused[0].applied_at).not.toBeNull();
    const inputs = paused[0].inputs as { variants: { variant: number; impressions: number; clicks: number; conversions: number }[]; tests: { p_value: number }[] };
    expect(inputs.variants.map((v) => v.variant)).toEqual([0, 1]);
    expect(inputs.tests[0].p_value).toBeLessThan(0.05);
    // The loser's ad is paused once on Meta, the winner's runs; the campaign keeps running.
    const after = (await c.service.campaign(TENANT, retarget.id))!;
    const [win, lose] = [0, 1].map((i) => after.external_ads!.find((a) => a.variant === i)!);
    expect([win.status, lose.status]).toEqual(['ACTIVE', 'PAUSED']);
    expect(mock.metaAds.get(lose.ad_id!)!.active).toBe(false);
    expect(mock.metaAds.get(win.ad_id!)!.active).toBe(true);
    expect(pausesOf(lose.ad_id!)).toBe(1);
    expect(pausesOf(win.ad_id!)).toBe(0);
    expect(after.status).toBe('active');
    // The paused ad delivers no more.
    const before = mock.metaAds.get(lose.ad_id!)!.impressions;
    // A window run again (a restart, a lease taken over) logs and sends nothing twice; later windows decide nothing more for it.
    const window = new Date(String(paused[0].window_start));
    const n = log.length;
    await c.runners.optimize(window);
    for (let t = t0 + 61 * HOUR; t <= t0 + 64 * HOUR; t += HOUR) {
      mock.advanceTo(t);
      clock.now = t;
      await c.runners.optimize(new Date(t));
    }
    expect(pausesOf(lose.ad_id!)).toBe(1);
    expect((await rotations()).filter((r) => Number(r.campaign_id) === retarget.id && r.action === 'pause_ads')).toHaveLength(1);
    expect((await rotations()).length).toBeGreaterThanOrEqual(n);
    expect(mock.metaAds.get(lose.ad_id!)!.impressions).toBe(before);
    expect(mock.metaAds.get(win.ad_id!)!.impressions).toBeGreaterThan(0);
  });

  /** Hourly optimiser windows from `from` to `to` (inclusive), the mock and the clock moved along. */
  const hours = async (c: CampaignsCore, from: number, to: number, each?: (t: number) => void) => {
    for (let t = from; t <= to; t += HOUR) {
      mock.advanceTo(t);
      clock.now = t;
      each?.(t);
      await c.runners.optimize(new Date(t));
    }
  };
  const rotationLog = async (budgetId: number) => (await db.query<Record<string, unknown>>("SELECT campaign_id, window_start, action, reason, inputs, applied_at FROM campaign_optimization_log WHERE budget_id = $1 AND rule = 'creative_rotation' ORDER BY id", [budgetId])).rows;
  type Fig = { variant: number; ad_id: string; impressions: number; clicks: number; conversions: number; spend: number; effective_status: string | null };

  /** A suite with the Page set (one ad per variant), approved at the next whole hour: its campaigns and their ads. */
  const approvedSuite = async () => {
    const c = core('104123456789012');
    const start = Math.ceil(clock.now / HOUR) * HOUR + HOUR;
    mock.advanceTo(start);
    clock.now = start;
    const { budgetId, campaigns } = await suiteOf(c);
    expect((await c.service.approve(TENANT, campaigns.map((x) => x.id))).ok).toBe(true);
    const list = await c.service.campaignsOf(TENANT, budgetId);
    const adOf = (x: (typeof list)[number], v: number) => x.external_ads!.find((a) => a.variant === v)!.ad_id!;
    return { c, start, budgetId, list, adOf };
  };

  it('a better variant disapproved on Meta is not kept, and the only delivering ad is not paused', async () => {
    const { c, start, budgetId, list, adOf } = await approvedSuite();
    await hours(c, start + HOUR, start + 20 * HOUR);
    // At 20 h Meta disapproves variant 1 (the one converting at 1.5×) of every campaign: only variant 2 delivers.
    for (const x of list) {
      const ad = mock.metaAds.get(adOf(x, 0))!;
      ad.active = false;
      ad.review = 'DISAPPROVED';
    }
    const before = mock.calls.length;
    await hours(c, start + 21 * HOUR, start + 74 * HOUR);
    // The sync read the ads' statuses (the documented list, filtered by campaign id) and stored them per variant.
    const lists = mock.calls.slice(before).filter((k) => k.method === 'GET' && k.path === '/v25.0/act_1001/ads');
    expect(lists.length).toBeGreaterThanOrEqual(54);
    const log = await rotationLog(budgetId);
    for (const x of list) {
      const now = (await c.service.campaign(TENANT, x.id))!;
      expect(now.status).toBe('active');
      const figs = now.performance_metrics.variants as Fig[];
      expect(figs.map((f) => [f.variant, f.effective_status])).toEqual([[0, 'DISAPPROVED'], [1, 'ACTIVE']]);
      // Nothing paused: not the delivering ad (the probe saw it paused at 48 h, leaving the campaign without one).
      expect(now.external_ads!.map((a) => a.status)).toEqual(['ACTIVE', 'ACTIVE']);
      expect(mock.metaAds.get(adOf(x, 1))!.active).toBe(true);
      expect(mock.calls.filter((k) => k.method === 'POST' && k.path === `/v25.0/${adOf(x, 1)}`)).toEqual([]);
      // One note per look, a day apart (48 h and 72 h), saying why.
      const mine = log.filter((r) => Number(r.campaign_id) === x.id);
      expect(mine.map((r) => r.action)).toEqual(['keep_rotating', 'keep_rotating']);
      expect(mine.map((r) => new Date(String(r.window_start)).getTime() - start)).toEqual([48 * HOUR, 72 * HOUR]);
      for (const r of mine) expect(r.reason).toMatch(/only variant 2 delivers on Meta \(variant 1 DISAPPROVED\), so none is paused/);
    }
    // The delivering ad kept delivering after the last look.
    const imp = mock.metaAds.get(adOf(list[0], 1))!.impressions;
    await hours(c, start + 75 * HOUR, start + 76 * HOUR);
    expect(mock.metaAds.get(adOf(list[0], 1))!.impressions).toBeGreaterThan(imp);
  });

  it('an ad deleted on Meta keeps its last figures and leaves the rotation', async () => {
    const { c, start, budgetId, list, adOf } = await approvedSuite();
    await hours(c, start + HOUR, start + 10 * HOUR);
    // At 10 h variant 2's ad (the worse one) is deleted in Ads Manager: Meta lists it no more and has no insights row.
    const last = new Map<number, Fig>();
    for (const x of list) {
      const figs = (await c.service.campaign(TENANT, x.id))!.performance_metrics.variants as Fig[];
      const f = figs.find((y) => y.variant === 1)!;
      expect(f.impressions).toBeGreaterThan(0);
      expect(f.effective_status).toBe('ACTIVE');
      last.set(x.id, f);
      mock.metaAds.delete(adOf(x, 1));
    }
    await hours(c, start + 11 * HOUR, start + 74 * HOUR);
    for (const x of list) {
      const now = (await c.service.campaign(TENANT, x.id))!;
      const figs = now.performance_metrics.variants as Fig[];
      const gone = figs.find((y) => y.variant === 1)!;
      // Its figures stay as last read (not zeros), and it is marked as not listed.
      expect([gone.impressions, gone.clicks, gone.conversions, gone.spend]).toEqual([last.get(x.id)!.impressions, last.get(x.id)!.clicks, last.get(x.id)!.conversions, last.get(x.id)!.spend]);
      expect(gone.effective_status).toBe('NOT_LISTED');
      const kept = figs.find((y) => y.variant === 0)!;
      expect(kept.effective_status).toBe('ACTIVE');
      expect(kept.impressions).toBe(mock.metaAds.get(adOf(x, 0))!.impressions);
      expect(now.status).toBe('active');
      expect(now.external_ads!.map((a) => a.status)).toEqual(['ACTIVE', 'ACTIVE']);
    }
    // One variant left in each campaign: nothing to decide (no "not enough data" notes that never end, no pause).
    expect(await rotationLog(budgetId)).toEqual([]);
  });
});
