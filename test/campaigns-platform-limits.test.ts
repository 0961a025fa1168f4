// A platform's daily_limit holds at approval (README "Campaigns" → Strategies, Approval; allocate.ts startingSplit):
// a campaign approved next to running campaigns of its platform gets at most what they leave of the platform's
// daily_limit, and none left is a 409 naming the limit and what takes it. Before, the approval counted only the
// budget's day: TikTok capped at 12 ran 4 + 4 + 4 + 3 = 15 a day after a rebalance, or 6 + 3 + 3 + 3 after a hand raise.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, request, type Tenant } from './helpers.js';
import { startMockPlatforms, type MockPlatforms } from './mock-ad-platforms/index.js';
import { SUITE_DEFAULTS_ENV } from './campaigns-stores.js';

describe("a platform's daily_limit at approval", { timeout: 180_000 }, () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let mock: MockPlatforms;
  let t: Tenant;
  const api = (method: string, p: string, body?: unknown) => request(method, `${server.url}${p}`, body, { authorization: `Bearer ${t.secret_key}` });
  const DAY = 86_400_000;

  /** A manual budget of 700 (50 a day over 14 days) all on TikTok, capped at 12 a day there: its suite submitted. */
  async function tiktokSuite(organizer: string): Promise<{ budget: number; ids: number[] }> {
    const b = await api('POST', '/api/v1/campaigns/budgets', {
      organizer_id: organizer, currency: 'EUR', total_budget: 700, daily_budget_limit: 60, allocation_strategy: 'manual',
      platform_allocations: { tiktok: { percentage: 100, daily_limit: 12 } }, ends_at: new Date(Date.now() + 14 * DAY).toISOString(),
    });
    expect(b.status, b.text).toBe(201);
    const s = await api('POST', `/api/v1/campaigns/budgets/${b.json.id}/suite`, {});
    expect(s.json.campaigns.map((c: any) => c.platform), s.text).toEqual(['tiktok', 'tiktok', 'tiktok', 'tiktok']);
    expect((await api('POST', `/api/v1/campaigns/budgets/${b.json.id}/submit`)).status).toBe(200);
    return { budget: b.json.id, ids: s.json.campaigns.map((c: any) => c.id) };
  }
  const dailies = async (budget: number): Promise<number[]> =>
    (await api('GET', `/api/v1/campaigns?budget_id=${budget}&status=active&limit=100`)).json.campaigns.map((c: any) => c.daily_budget).sort((a: number, b: number) => a - b);
  const approve = (id: number) => api('POST', `/api/v1/campaigns/${id}/approve`);

  beforeAll(async () => {
    mock = await startMockPlatforms({ seed: 7, startMs: Date.now(), rates: () => ({ cpm: 5, ctr: 0.01, cvr: 0.03, aov: 60, claimFactor: 1.2 }) });
    server = await bootServer({ ...SUITE_DEFAULTS_ENV, TIKTOK_API_URL: mock.url, TIKTOK_ADVERTISER_ID: '3003', TIKTOK_ADS_TOKEN: 'tok', TIKTOK_PIXEL_ID: 'CABC123DEF456GHI789J', TIKTOK_LOCATION_IDS: '798549' });
    t = await createTenant(server.url, 'platform-limits');
  });
  afterAll(async () => {
    await server?.close();
    await mock?.close();
  });

  it('refuses a campaign the running ones leave no room of its platform after a rebalance, and the platform stays at its limit', async () => {
    const { budget, ids } = await tiktokSuite('O2');
    for (const id of ids.slice(0, 3)) expect((await approve(id)).json.campaign, id.toString()).toMatchObject({ status: 'active', daily_budget: 3 });
    const reb = await request('POST', `${server.url}/api/admin/jobs/campaigns.rebalance/run`, undefined, { authorization: `Bearer ${server.adminToken}` });
    expect(reb.json.status, reb.text).toBe('succeeded');
    expect(await dailies(budget)).toEqual([4, 4, 4]);
    const queued = (await api('GET', '/api/v1/campaigns/review-queue?limit=100')).json.campaigns.find((c: any) => c.id === ids[3]);
    expect(queued.proposed_daily_budget).toBe(0);
    const fourth = await approve(ids[3]);
    expect({ status: fourth.status, code: fourth.json.error?.code }, fourth.text).toEqual({ status: 409, code: 'conflict' });
    expect(fourth.json.error.message).toBe(
      `Campaign ${ids[3]} is not published: no tiktok budget is left for it today: the budget's 3 running tiktok campaign(s) take 12 EUR of platform_allocations.tiktok.daily_limit 12 EUR. Lower or pause a running tiktok campaign first, then approve it again.`,
    );
    expect(await dailies(budget)).toEqual([4, 4, 4]);
    expect((await api('GET', `/api/v1/campaigns/${ids[3]}`)).json.campaign.status).toBe('pending_review');
  });

  it('refuses a campaign once a hand-raised one takes the rest of its platform', async () => {
    const { budget, ids } = await tiktokSuite('O3');
    for (const id of ids.slice(0, 3)) expect((await approve(id)).json.campaign, id.toString()).toMatchObject({ status: 'active', daily_budget: 3 });
    // The most the hand may give it: 12 less the other two's 3 + 3.
    const raised = await api('PUT', `/api/v1/campaigns/${ids[0]}/daily-budget`, { daily_budget: 6 });
    expect(raised.status, raised.text).toBe(200);
    const fourth = await approve(ids[3]);
    expect({ status: fourth.status, code: fourth.json.error?.code }, fourth.text).toEqual({ status: 409, code: 'conflict' });
    expect(fourth.json.error.message).toMatch(/no tiktok budget is left for it today: the budget's 3 running tiktok campaign\(s\) take 12 EUR of platform_allocations\.tiktok\.daily_limit 12 EUR/);
    expect(await dailies(budget)).toEqual([3, 3, 6]);
  });
});
