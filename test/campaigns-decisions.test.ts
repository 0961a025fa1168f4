// The optimiser's decisions as carried out (README "Campaigns" → "Once per window"), on the local PostgreSQL and
// the mock platforms: a stronger pause replaces a weaker one (a CPA pause of a campaign the daily limit paused
// stores cpa_above_limit, so the next day's resume leaves it paused), and a decision that changes nothing is logged
// `superseded` with why, never applied. The probe's case: in one window campaign 1 got daily_limit/pause (applied)
// and cpa_above_limit/pause, marked applied too while nothing changed; status_reason stayed daily_limit, the next
// day resumed it and it spent an hour before CPA paused it again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaignsCore, type CampaignsCore } from '../server/campaigns/index.js';
import type { Decision } from '../server/campaigns/rules.js';
import type { Db } from '../server/store/db.js';
import { campaignStore, mockPlatformsConfig, type CampaignStore } from './campaigns-stores.js';
import { silent } from './helpers.js';
import { startMockPlatforms, type MockPlatforms } from './mock-ad-platforms/index.js';

const TENANT = 1;
const HOUR = 3_600_000;

describe('optimiser decisions as carried out', { timeout: 120_000 }, () => {
  let store: CampaignStore | undefined;
  let db: Db;
  let mock: MockPlatforms;
  let core: CampaignsCore;
  const t0 = Date.UTC(2026, 2, 5, 12);

  beforeAll(async () => {
    store = await campaignStore('postgres', 'decide', 2);
    db = store.db;
    mock = await startMockPlatforms({ seed: 5, startMs: t0, rates: () => ({ cpm: 5, ctr: 0.01, cvr: 0.03, aov: 60, claimFactor: 1.2 }) });
    core = createCampaignsCore({
      db, log: silent, now: () => t0, credits: { pull: async () => 0 },
      config: mockPlatformsConfig(mock.url, ['meta']),
    });
  }, 120_000);
  afterAll(async () => {
    await mock?.close();
    await store?.drop();
  });

  it('a CPA pause replaces a daily-limit pause; a pause or resume that changes nothing is superseded, not applied', async () => {
    const s = core.service;
    const b = await s.createBudget(TENANT, {
      organizer_id: 'O1', event_id: null, total_budget: 1400, currency: 'EUR', daily_budget_limit: 110, allocation_strategy: 'equal_split',
      platform_allocations: { meta: { percentage: 100 } }, target_cpa: 10, target_roas: null, payment_reference: null, paid_at: null, started_at: null, ends_at: null, notes: null,
    });
    const suite = await s.createSuite(TENANT, b.id, 1);
    if (!suite.ok) throw new Error(suite.message);
    await s.submit(TENANT, b.id);
    expect((await s.approve(TENANT, suite.value.map((c) => c.id))).ok).toBe(true);
    const [c1, c2] = await s.campaignsOf(TENANT, b.id);
    expect([c1.status, c2.status]).toEqual(['active', 'active']);
    const budget = (await s.budget(TENANT, b.id))!;
    const pause = (id: number, reason: 'daily_limit' | 'cpa_above_limit'): Decision => ({ campaignId: id, rule: reason, action: { kind: 'pause', reason }, inputs: { x: 1 }, reason: `paused: ${reason}` });
    const log = async () => (await db.query<Record<string, unknown>>('SELECT window_start, campaign_id, rule, action, applied_at, outcome, outcome_note FROM campaign_optimization_log WHERE budget_id = $1 ORDER BY id', [b.id])).rows
      .map((r) => ({ at: new Date(String(r.window_start)).getTime() - t0, id: Number(r.campaign_id), rule: r.rule, action: r.action, applied: r.applied_at !== null, outcome: r.outcome, note: r.outcome_note }));
    const pauses = () => mock.calls.filter((k) => k.method === 'POST' && k.body?.status === 'PAUSED').length;

    // The probe's window: the daily limit pauses campaign 1, the CPA rule pauses it too.
    const p0 = pauses();
    expect(await s.decide(budget, new Date(t0), 'campaigns.optimize', [pause(c1.id, 'daily_limit'), pause(c1.id, 'cpa_above_limit')])).toEqual({ applied: 2, failed: 0 });
    expect(pauses() - p0).toBe(1);
    expect(await s.campaign(TENANT, c1.id)).toMatchObject({ status: 'paused', status_reason: 'cpa_above_limit' });
    // The next day the daily-limit rule would resume what it paused: campaign 1 is the CPA rule's now, and stays.
    const resume: Decision = { campaignId: c1.id, rule: 'daily_limit', action: { kind: 'resume' }, inputs: { x: 1 }, reason: 'A new day under the daily limit: resumed.' };
    expect(await s.decide(budget, new Date(t0 + 24 * HOUR), 'campaigns.optimize', [resume])).toEqual({ applied: 0, failed: 0 });
    expect(await s.campaign(TENANT, c1.id)).toMatchObject({ status: 'paused', status_reason: 'cpa_above_limit' });
    expect(mock.campaigns.get(c1.external_campaign_id!)!.active).toBe(false);
    // A weaker pause of a campaign already paused for CPA changes nothing.
    expect(await s.decide(budget, new Date(t0 + 25 * HOUR), 'campaigns.optimize', [pause(c1.id, 'daily_limit')])).toEqual({ applied: 0, failed: 0 });
    // Run again, a window carries out nothing twice (superseded decisions included).
    const p1 = pauses();
    await s.decide(budget, new Date(t0 + 25 * HOUR), 'campaigns.optimize', [pause(c1.id, 'daily_limit')]);
    expect(pauses()).toBe(p1);
    expect(await log()).toEqual([
      { at: 0, id: c1.id, rule: 'daily_limit', action: 'pause', applied: true, outcome: 'applied', note: null },
      { at: 0, id: c1.id, rule: 'cpa_above_limit', action: 'pause', applied: true, outcome: 'applied', note: null },
      { at: 24 * HOUR, id: c1.id, rule: 'daily_limit', action: 'resume', applied: false, outcome: 'superseded', note: 'not resumed: it is paused (cpa_above_limit)' },
      { at: 25 * HOUR, id: c1.id, rule: 'daily_limit', action: 'pause', applied: false, outcome: 'superseded', note: 'not paused for daily_limit: it is paused (cpa_above_limit)' },
    ]);
  });
});
