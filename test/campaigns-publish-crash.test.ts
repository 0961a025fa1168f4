// Crash-safe publishing (README "Campaigns" → "Publishing"), on the embedded store and on PostgreSQL, against the
// mock ad platforms: an approval cut short right after a platform acted (the answer never comes: the process died
// there; or the connection drops) must end, after a "restart" (a new core on the same store), the resume job and
// approvals repeated at will, with exactly one campaign and one ad set / ad group / budget per campaign row on the
// platform, each started once. Concurrent approvals of one campaign publish it once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaignsCore, type CampaignsCore } from '../server/campaigns/index.js';
import type { Campaign } from '../server/campaigns/store.js';
import type { Db } from '../server/store/db.js';
import { campaignStore, mockPlatformsConfig, type CampaignStore } from './campaigns-stores.js';
import { jobContext, silent } from './helpers.js';
import { startMockPlatforms, type MockCall, type MockPlatforms } from './mock-ad-platforms/index.js';

const TENANT = 1;
/** Past any publishing lease (60 s): a crashed attempt's campaigns are free to resume. */
const AFTER_LEASE_MS = 5 * 60_000;

describe.each(['embedded', 'postgres'] as const)('crash-safe publishing (%s store)', (kind) => {
  let store: CampaignStore;
  let mock: MockPlatforms;
  const clock = { now: Date.now() };
  const abandoned: Promise<unknown>[] = [];

  /**
   * A server process: its own adapters and jobs on the shared store and platforms. kill() is kill -9: from then on
   * nothing it still has in flight reaches the store.
   */
  const node = (): CampaignsCore & { kill(): void } => {
    let dead = false;
    const gone = () => Promise.reject(new Error('process killed'));
    const db: Db = {
      ...store.db,
      query: (sql, params) => (dead ? gone() : store.db.query(sql, params)),
      exec: (sql) => (dead ? gone() : store.db.exec(sql)),
      tx: (fn) => (dead ? gone() : store.db.tx(fn)),
    };
    return Object.assign(core(db), { kill: () => void (dead = true) });
  };
  const core = (db: Db): CampaignsCore => createCampaignsCore({
    db, log: silent, now: () => clock.now, credits: { pull: async () => 0 },
    config: mockPlatformsConfig(mock.url),
  });

  beforeAll(async () => {
    store = await campaignStore(kind, 'pubcrash', 4);
    mock = await startMockPlatforms({ seed: 3, startMs: Date.now(), rates: () => ({ cpm: 5, ctr: 0.01, cvr: 0.03, aov: 60, claimFactor: 1.2 }) });
  }, 300_000);
  afterAll(async () => {
    await mock?.close();
    await Promise.allSettled(abandoned);
    await store?.drop();
  });

  /** A budget with its suite (4 types on each of the 3 platforms) submitted for review. */
  async function pendingSuite(core: CampaignsCore, platforms: ('meta' | 'google_ads' | 'tiktok')[] = ['meta', 'google_ads', 'tiktok']): Promise<{ budgetId: number; campaigns: Campaign[] }> {
    const b = await core.service.createBudget(TENANT, {
      organizer_id: 'O1', event_id: null, total_budget: 1200, currency: 'EUR', daily_budget_limit: 120, allocation_strategy: 'equal_split',
      platform_allocations: Object.fromEntries(platforms.map((p) => [p, { percentage: 100 / platforms.length }])), target_cpa: null, target_roas: null,
      payment_reference: null, paid_at: null, started_at: null, ends_at: null, notes: null,
    });
    const suite = await core.service.createSuite(TENANT, b.id, 1);
    if (!suite.ok) throw new Error(suite.message);
    await core.service.submit(TENANT, b.id);
    return { budgetId: b.id, campaigns: await core.service.campaignsOf(TENANT, b.id) };
  }

  const keyOf = (c: Campaign) => `txc-${c.budget_id}-${c.platform}-${c.campaign_type}`;
  const onPlatform = (c: Campaign) => [...mock.campaigns.values()].filter((m) => m.utm === keyOf(c));
  const setsOf = (c: Campaign) => [...mock.adsets.values()].filter((a) => a.name.includes(`[${keyOf(c)}]`));

  /** Exactly one campaign and one ad set (Google: budget) per row, on the ids stored, running, started once. */
  async function expectOneSetEach(core: CampaignsCore, budgetId: number): Promise<void> {
    const rows = await core.service.campaignsOf(TENANT, budgetId);
    const seen = rows.map((c) => {
      const camps = onPlatform(c);
      const sets = setsOf(c);
      return {
        id: c.id, key: keyOf(c), status: c.status, campaigns: camps.length, adsets: sets.length,
        stored: c.external_campaign_id === camps[0]?.id && c.external_adset_id === sets[0]?.id && sets[0]?.campaignId === camps[0]?.id,
        running: camps[0]?.active ?? false, activations: camps[0]?.activations ?? 0,
      };
    });
    expect(seen).toEqual(rows.map((c) => ({ id: c.id, key: keyOf(c), status: 'active', campaigns: 1, adsets: 1, stored: true, running: true, activations: 1 })));
  }

  const resumeJob = async (core: CampaignsCore) => {
    const job = core.jobs.find((j) => j.name === 'campaigns.resume_publishing');
    expect(job, 'a job resumes campaigns left publishing').toBeDefined();
    return job!.run(jobContext('campaigns.resume_publishing'));
  };

  /** Approves each campaign, awaiting none (some never answer): as the approval page does, one request each. */
  const approveAll = (core: CampaignsCore, ids: number[]) => ids.map((id) => {
    const p = core.service.approve(TENANT, [id]);
    abandoned.push(p.catch(() => undefined));
    return p;
  });

  it('a crash right after the platform created the campaign, the ad set or started it: resumed, never created twice', async () => {
    const first = node();
    const { budgetId, campaigns } = await pendingSuite(first);
    expect(campaigns).toHaveLength(12);
    // Per platform: the process dies right after the platform carried out [create campaign, create ad set (Google:
    // the budget, its first call), start it], and the fourth campaign is published whole.
    const path = { meta: /\/act_1001\/campaigns$/, google_ads: /\/campaigns:mutate$/, tiktok: /\/campaign\/create\/$/ };
    const calls: Record<string, ((c: Campaign) => (k: MockCall) => boolean)[]> = {
      meta: [
        (c) => (k) => k.method === 'POST' && path.meta.test(k.path) && String(k.body?.name).includes(`[${keyOf(c)}]`),
        (c) => (k) => k.method === 'POST' && /\/act_1001\/adsets$/.test(k.path) && String(k.body?.name).includes(`[${keyOf(c)}]`),
        (c) => (k) => k.method === 'POST' && /^\/v25\.0\/\d+$/.test(k.path) && k.body?.status === 'ACTIVE' && mock.campaigns.get(k.path.split('/').pop()!)?.utm === keyOf(c),
      ],
      google_ads: [
        (c) => (k) => /\/campaigns:mutate$/.test(k.path) && String(k.body?.operations?.[0]?.create?.name).includes(`[${keyOf(c)}]`),
        (c) => (k) => /\/campaignBudgets:mutate$/.test(k.path) && String(k.body?.operations?.[0]?.create?.name).includes(`[${keyOf(c)}]`),
        (c) => (k) => /\/campaigns:mutate$/.test(k.path) && k.body?.operations?.[0]?.update?.status === 'ENABLED' && mock.campaigns.get(String(k.body.operations[0].update.resourceName).split('/').pop()!)?.utm === keyOf(c),
      ],
      tiktok: [
        (c) => (k) => path.tiktok.test(k.path) && String(k.body?.campaign_name).includes(`[${keyOf(c)}]`),
        (c) => (k) => /\/adgroup\/create\/$/.test(k.path) && String(k.body?.adgroup_name).includes(`[${keyOf(c)}]`),
        (c) => (k) => /\/campaign\/status\/update\/$/.test(k.path) && k.body?.operation_status === 'ENABLE' && mock.campaigns.get(String(k.body?.campaign_ids?.[0]))?.utm === keyOf(c),
      ],
    };
    const cut: Campaign[] = [];
    const hits: Promise<MockCall>[] = [];
    for (const p of ['meta', 'google_ads', 'tiktok'] as const) {
      const mine = campaigns.filter((c) => c.platform === p);
      calls[p].forEach((match, i) => {
        hits.push(mock.cut(match(mine[i]), 'stall'));
        cut.push(mine[i]);
      });
    }
    const before = mock.calls.length;
    const answers = approveAll(first, campaigns.map((c) => c.id));
    // The nine cut calls reached the platform (which acted on them); the three others were answered.
    await Promise.all(hits);
    const whole = campaigns.filter((c) => !cut.includes(c));
    for (const c of whole) expect((await answers[campaigns.indexOf(c)]).ok).toBe(true);
    first.kill();

    // The process is gone (its nine attempts never come back). What the API shows meanwhile:
    const second = node();
    const during = await second.service.campaignsOf(TENANT, budgetId);
    for (const c of cut) expect(during.find((x) => x.id === c.id)?.status, `campaign ${c.id} during the crash`).toBe('publishing');
    // The admin approves again while the crashed attempts still hold their lease: nothing is created.
    const createdBefore = mock.campaigns.size;
    for (const c of cut) expect((await second.service.approve(TENANT, [c.id])).ok).toBe(false);
    expect(mock.campaigns.size).toBe(createdBefore);

    // Past the lease, the resume job finishes them from what exists on the platform.
    clock.now += AFTER_LEASE_MS;
    expect(await resumeJob(second)).toBe(9);
    // Repeated approvals and job runs change nothing.
    for (const c of campaigns) expect((await second.service.approve(TENANT, [c.id])).ok).toBe(false);
    expect(await resumeJob(second)).toBe(0);
    await expectOneSetEach(second, budgetId);
    // The lookups were the documented calls.
    const looked = mock.calls.slice(before).map((k) => `${k.method} ${k.path}${k.query}`);
    expect(looked.some((l) => /^GET \/v25\.0\/act_1001\/campaigns\?.*filtering=/.test(l) && decodeURIComponent(l).includes('"operator":"CONTAIN"'))).toBe(true);
    expect(looked.some((l) => /^GET \/v25\.0\/\d+\/adsets\?/.test(l))).toBe(true);
    expect(looked.some((l) => /^GET \/open_api\/v1\.3\/campaign\/get\/\?.*filtering=/.test(l))).toBe(true);
    expect(looked.some((l) => /^GET \/open_api\/v1\.3\/adgroup\/get\/\?/.test(l))).toBe(true);
    expect(mock.calls.slice(before).some((k) => /googleAds:search$/.test(k.path) && /FROM campaign WHERE campaign\.name LIKE/.test(String(k.body?.query)))).toBe(true);
  }, 240_000);

  it('the connection drops after the platform created the campaign: it stays publishing, and the job finishes it reusing it', async () => {
    const core = node();
    const { budgetId, campaigns } = await pendingSuite(core);
    for (const c of campaigns.filter((x) => x.campaign_type === 'prospecting')) {
      const k = keyOf(c);
      mock.cut((call) => call.method === 'POST' && /(act_1001\/campaigns|campaignBudgets:mutate|campaign\/create\/)$/.test(call.path) && JSON.stringify(call.body).includes(`[${k}]`), 'drop');
    }
    const first = await Promise.all(approveAll(core, campaigns.map((c) => c.id)));
    // A lost connection is temporary: no longer failed (which took a new submission and approval), but left to the job.
    const left = first.flatMap((r) => (r.ok ? r.value : [])).filter((c) => c.status === 'publishing');
    expect(left.map((c) => c.campaign_type)).toEqual(['prospecting', 'prospecting', 'prospecting']);
    expect(left.every((c) => (c.last_error ?? '').length > 0)).toBe(true);
    expect(await resumeJob(core)).toBe(3);
    await expectOneSetEach(core, budgetId);
  }, 120_000);

  it('a 5xx while creating the ad set / ad group: stays publishing, and the job finishes it reusing the campaign created', async () => {
    // The probe's case: Meta answered POST …/adsets 500 once; the campaign ended failed, its Meta campaign left paused.
    const core = node();
    const { budgetId, campaigns } = await pendingSuite(core, ['meta', 'tiktok']);
    const hit = campaigns.filter((c) => c.campaign_type === 'retargeting');
    for (const c of hit) mock.failOn((k) => k.method === 'POST' && /(act_1001\/adsets|adgroup\/create\/)$/.test(k.path) && JSON.stringify(k.body).includes(`[${keyOf(c)}]`));
    await Promise.all(approveAll(core, campaigns.map((c) => c.id)));
    for (const c of hit) {
      const now = (await core.service.campaign(TENANT, c.id))!;
      expect({ status: now.status, campaign: now.external_campaign_id !== null, adset: now.external_adset_id }).toEqual({ status: 'publishing', campaign: true, adset: null });
      expect(now.last_error).toMatch(/500/);
    }
    expect(await resumeJob(core)).toBe(2);
    await expectOneSetEach(core, budgetId);
  }, 120_000);

  it('the answer to starting it is lost: it stays publishing and the job finishes it without starting it twice', async () => {
    const core = node();
    const { budgetId, campaigns } = await pendingSuite(core, ['meta']);
    const c = campaigns.find((x) => x.campaign_type === 'retargeting')!;
    mock.cut((k) => k.method === 'POST' && /^\/v25\.0\/\d+$/.test(k.path) && k.body?.status === 'ACTIVE' && mock.campaigns.get(k.path.split('/').pop()!)?.utm === keyOf(c), 'drop');
    await Promise.all(approveAll(core, campaigns.map((x) => x.id)));
    const now = (await core.service.campaign(TENANT, c.id))!;
    expect(now.status).toBe('publishing');
    expect(now.last_error).toBeTruthy();
    expect(onPlatform(c)[0].active).toBe(true); // it runs: the platform acted before the connection dropped
    expect(await resumeJob(core)).toBe(1);
    await expectOneSetEach(core, budgetId);
  }, 120_000);

  it('approvals of one campaign at once publish it once', async () => {
    const a = node();
    const b = node();
    const { budgetId, campaigns } = await pendingSuite(a, ['meta', 'tiktok']);
    const answers = await Promise.all(campaigns.flatMap((c) => [a.service.approve(TENANT, [c.id]), b.service.approve(TENANT, [c.id]), a.service.approve(TENANT, [c.id])]));
    expect(answers.filter((r) => r.ok)).toHaveLength(campaigns.length);
    await expectOneSetEach(a, budgetId);
  }, 120_000);
});
