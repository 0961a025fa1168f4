// A budget's turns across nodes (server/campaigns/budget-turns.ts, migration 043), on the embedded store and on
// PostgreSQL, against the mock ad platforms: two nodes (each its own service and in-memory turns) on one store,
// approving a budget's campaigns and setting their daily budgets by hand at the same time, never take more a day
// than the budget's daily limit (each node alone kept its own requests in turn, the two together did not: two raises
// each within the headroom alone both went through). A turn's lease left by a node that died is taken over once it
// ran out; one that still runs is waited for.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaignsCore, type CampaignsCore } from '../server/campaigns/index.js';
import type { Campaign } from '../server/campaigns/store.js';
import { campaignStore, mockPlatformsConfig, type CampaignStore } from './campaigns-stores.js';
import { silent } from './helpers.js';
import { startMockPlatforms, type MockPlatforms } from './mock-ad-platforms/index.js';

const TENANT = 1;
const LIMIT = 40;

describe.each(['embedded', 'postgres'] as const)('a budget\'s turns on two nodes (%s store)', (kind) => {
  let store: CampaignStore;
  let mock: MockPlatforms;
  const clock = { now: Date.now() };

  /** A server process on the shared store and platforms: its own service, its own turns. */
  const node = (): CampaignsCore => createCampaignsCore({
    db: store.db, log: silent, now: () => clock.now, credits: { pull: async () => 0 },
    config: mockPlatformsConfig(mock.url),
  });

  beforeAll(async () => {
    store = await campaignStore(kind, 'turns', 8);
    mock = await startMockPlatforms({ seed: 5, startMs: Date.now(), rates: () => ({ cpm: 5, ctr: 0.01, cvr: 0.03, aov: 60, claimFactor: 1.2 }) });
  }, 300_000);
  afterAll(async () => {
    await mock?.close();
    await store?.drop();
  });

  /** A budget (daily limit 40) with its suite on Meta and TikTok (8 campaigns) submitted for review. */
  async function pendingSuite(core: CampaignsCore): Promise<{ budgetId: number; campaigns: Campaign[] }> {
    const b = await core.service.createBudget(TENANT, {
      organizer_id: 'O1', event_id: null, total_budget: 1200, currency: 'EUR', daily_budget_limit: LIMIT, allocation_strategy: 'equal_split',
      platform_allocations: { meta: { percentage: 50 }, tiktok: { percentage: 50 } }, target_cpa: null, target_roas: null,
      payment_reference: null, paid_at: null, started_at: null, ends_at: null, notes: null,
    });
    const suite = await core.service.createSuite(TENANT, b.id, 1);
    if (!suite.ok) throw new Error(suite.message);
    await core.service.submit(TENANT, b.id);
    return { budgetId: b.id, campaigns: await core.service.campaignsOf(TENANT, b.id) };
  }
  const running = async (core: CampaignsCore, budgetId: number) => (await core.service.campaignsOf(TENANT, budgetId)).filter((c) => c.status === 'active');
  const sum = (cs: Campaign[]) => Math.round(cs.reduce((n, c) => n + c.daily_budget, 0) * 100) / 100;
  const turnOf = async (budgetId: number) => (await store.db.query('SELECT turn_holder, turn_until FROM ad_campaign_budgets WHERE id = $1', [budgetId])).rows[0];

  it('approvals and hand-set daily budgets of one budget sent to two nodes at once stay within its daily limit', async () => {
    const [a, b] = [node(), node()];
    const { budgetId, campaigns } = await pendingSuite(a);
    expect(campaigns).toHaveLength(8);
    // Eight approvals at once, alternately to each node: each starts with its share of what the others took.
    const approvals = await Promise.all(campaigns.map((c, i) => (i % 2 ? b : a).service.approve(TENANT, [c.id])));
    expect(approvals.filter((r) => r.ok).length).toBeGreaterThan(0);
    expect(sum(await running(a, budgetId))).toBeLessThanOrEqual(LIMIT);
    // Three rounds: two lowered by hand leave some headroom; then four raises at once, two on each node, each alone
    // within it: only one is taken.
    for (let round = 0; round < 3; round++) {
      const live = await running(a, budgetId);
      expect(live.length).toBeGreaterThanOrEqual(6);
      const [low1, low2, ...rest] = live.sort((x, y) => y.daily_budget - x.daily_budget);
      for (const c of [low1, low2]) expect((await a.service.setDailyBudget(TENANT, c.id, 1)).ok).toBe(true);
      const headroom = Math.round((LIMIT - sum(await running(a, budgetId))) * 100) / 100;
      expect(headroom).toBeGreaterThan(1);
      const four = rest.slice(0, 4);
      const set = await Promise.all(four.map((c, i) => (i % 2 ? b : a).service.setDailyBudget(TENANT, c.id, Math.round((c.daily_budget + headroom) * 100) / 100)));
      expect(set.filter((r) => r.ok), `round ${round}`).toHaveLength(1);
      for (const r of set) if (!r.ok) expect([r.code, r.ok ? null : (r as { field?: string }).field]).toEqual(['invalid', 'daily_budget']);
      expect(sum(await running(a, budgetId)), `round ${round}`).toBeLessThanOrEqual(LIMIT);
    }
    // Every turn gave its lease back.
    expect(await turnOf(budgetId)).toEqual({ turn_holder: null, turn_until: null });
  }, 180_000);

  it('a lease left by a node that died in its turn is taken over once it ran out; one that still runs is waited for', async () => {
    const a = node();
    const { budgetId, campaigns } = await pendingSuite(a);
    expect((await a.service.approve(TENANT, [campaigns[0].id])).ok).toBe(true);
    const c = campaigns[0];
    // A dead node's lease that ran out a second ago: the next turn takes it at once.
    await store.db.query("UPDATE ad_campaign_budgets SET turn_holder = 'dead node', turn_until = $2 WHERE id = $1", [budgetId, new Date(clock.now - 1000)]);
    const t0 = Date.now();
    expect((await node().service.setDailyBudget(TENANT, c.id, 2)).ok).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(await turnOf(budgetId)).toEqual({ turn_holder: null, turn_until: null });
    // A live holder's lease: the turn waits for it (here until it runs out, as the clock passes it).
    await store.db.query("UPDATE ad_campaign_budgets SET turn_holder = 'other node', turn_until = $2 WHERE id = $1", [budgetId, new Date(clock.now + 30_000)]);
    let done = false;
    const waiting = node().service.setDailyBudget(TENANT, c.id, 3).finally(() => (done = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(done).toBe(false);
    expect((await a.service.campaign(TENANT, c.id))!.daily_budget).toBe(2);
    clock.now += 31_000;
    expect((await waiting).ok).toBe(true);
    expect((await a.service.campaign(TENANT, c.id))!.daily_budget).toBe(3);
    expect(await turnOf(budgetId)).toEqual({ turn_holder: null, turn_until: null });
  }, 120_000);
});
