// A budget's turns across nodes (server/campaigns/budget-turns.ts, migration 043), on the embedded store and on
// PostgreSQL, against the mock ad platforms: two nodes (each its own service and in-memory turns) on one store,
// approving a budget's campaigns and setting their daily budgets by hand at the same time, never take more a day
// than the budget's daily limit (each node alone kept its own requests in turn, the two together did not: two raises
// each within the headroom alone both went through). A turn's lease left by a node that died is taken over once it
// ran out; one that still runs is waited for. The optimiser's daily budgets take the same turns: a rebalance running
// while a hand raise lands (on either node) never leaves the day above the limit (before, 52 of 40 here: the
// rebalance sent and wrote its split, read before the raise, after the raise had taken the room).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { External, PlatformAdapter } from '../server/campaigns/adapters/adapter.js';
import { createGoogleAdapter } from '../server/campaigns/adapters/google.js';
import { createMetaAdapter } from '../server/campaigns/adapters/meta.js';
import { createTiktokAdapter } from '../server/campaigns/adapters/tiktok.js';
import { createCampaignsCore, type CampaignsCore } from '../server/campaigns/index.js';
import type { Platform } from '../server/campaigns/model.js';
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

  /**
   * A node whose platform calls setting a daily budget can be held: `hold(ids)` holds the next such call for one of
   * those external campaign ids until `release()`; `reached` resolves once it is held.
   */
  const heldNode = () => {
    const cfg = mockPlatformsConfig(mock.url);
    let gate: { ids: Set<string>; reached: () => void; release: Promise<void> } | null = null;
    const wrap = (a: PlatformAdapter): PlatformAdapter => ({
      ...a,
      async setDailyBudget(ext: External, amount: number, currency: string) {
        const g = gate;
        if (g && g.ids.has(ext.campaignId)) {
          gate = null;
          g.reached();
          await g.release;
        }
        return a.setDailyBudget(ext, amount, currency);
      },
    });
    const adapters: Record<Platform, PlatformAdapter> = { meta: wrap(createMetaAdapter(cfg)), google_ads: wrap(createGoogleAdapter(cfg)), tiktok: wrap(createTiktokAdapter(cfg)) };
    const core = createCampaignsCore({ db: store.db, log: silent, now: () => clock.now, credits: { pull: async () => 0 }, config: cfg, adapters });
    const hold = (ids: string[]) => {
      let reached!: () => void;
      let release!: () => void;
      const at = new Promise<void>((r) => (reached = r));
      gate = { ids: new Set(ids), reached, release: new Promise<void>((r) => (release = r)) };
      const timeout = new Promise<never>((_, no) => setTimeout(() => no(new Error('no daily budget was sent for the held campaigns')), 20_000).unref());
      return { reached: Promise.race([at, timeout]), release };
    };
    return { core, hold };
  };

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

  it('a rebalance\'s daily budgets take the budget\'s turn: a hand raise landing while it sends them never takes the room they counted on', async () => {
    const a = heldNode();
    const other = node();
    const { budgetId, campaigns } = await pendingSuite(a.core);
    expect((await a.core.service.approve(TENANT, campaigns.map((c) => c.id))).ok).toBe(true);
    const live = (await running(a.core, budgetId)).sort((x, y) => x.id - y.id);
    expect(live).toHaveLength(8);
    const x = live[0];
    const low = live.slice(-3);
    const logOf = async (window: Date) => (await store.db.query<Record<string, unknown>>(
      "SELECT campaign_id, params, outcome FROM campaign_optimization_log WHERE budget_id = $1 AND window_start = $2 AND action = 'set_daily_budget' ORDER BY id",
      [budgetId, window])).rows.map((r) => ({ id: Number(r.campaign_id), outcome: r.outcome, params: (typeof r.params === 'string' ? JSON.parse(r.params) : r.params) as Record<string, unknown> }));
    // Two rounds: the last three lowered to 1 by hand; the rebalance (an equal split, 5 each) is held as it sends the
    // first raise back to 5, and meanwhile the first campaign is raised by hand by the headroom it sees then.
    for (const [round, hand] of [[0, other], [1, a.core]] as const) {
      for (const c of low) expect((await a.core.service.setDailyBudget(TENANT, c.id, 1)).ok).toBe(true);
      const before = sum(await running(a.core, budgetId));
      expect(before).toBeLessThanOrEqual(LIMIT - 11);
      clock.now += 60_000;
      const window = new Date(clock.now);
      const held = a.hold(low.map((c) => c.external_campaign_id!));
      const run = a.core.runners.rebalance(window, true);
      await held.reached;
      // Round 0: the headroom read before the rebalance (the rebalance's first raise already holds part of it: refused).
      // Round 1: the headroom left now (taken: the rebalance's later raises get only what is left).
      const headroom = round === 0 ? LIMIT - before : LIMIT - sum(await running(a.core, budgetId));
      const amount = Math.round((((await a.core.service.campaign(TENANT, x.id))!.daily_budget) + headroom) * 100) / 100;
      const r = await hand.service.setDailyBudget(TENANT, x.id, amount);
      held.release();
      await run;
      expect(sum(await running(a.core, budgetId)), `round ${round}`).toBeLessThanOrEqual(LIMIT);
      const log = await logOf(window);
      expect(log).toHaveLength(8);
      expect(log.every((d) => d.outcome === 'applied')).toBe(true);
      if (round === 0) {
        expect(r.ok).toBe(false);
        expect(log.filter((d) => d.params.applied_daily_budget !== undefined)).toEqual([]);
      } else {
        expect(r.ok).toBe(true);
        // The later raises are capped at what the others leave, and their log says so.
        const capped = log.filter((d) => d.params.applied_daily_budget !== undefined);
        expect(capped.length).toBeGreaterThan(0);
        for (const d of capped) {
          expect(low.map((c) => c.id)).toContain(d.id);
          expect(d.params).toMatchObject({ capped_by: 'daily_budget_limit', note: expect.stringMatching(/^set to [\d.]+ EUR instead of 5: the most it may get now, set by daily_budget_limit/) });
          expect((await a.core.service.campaign(TENANT, d.id))!.daily_budget).toBe(d.params.applied_daily_budget);
        }
      }
    }
    expect(await turnOf(budgetId)).toEqual({ turn_holder: null, turn_until: null });
  }, 120_000);

  it('rebalances and hand raises at once, on one node or two, in varied interleavings, keep the day within the limit', async () => {
    const [a, b] = [node(), node()];
    const { budgetId, campaigns } = await pendingSuite(a);
    expect((await a.service.approve(TENANT, campaigns.map((c) => c.id))).ok).toBe(true);
    // The raise is sent once the rebalance carried out `k` of its decisions (k = 0: at once), or after `ms`.
    const applied = async (window: Date) => Number((await store.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM campaign_optimization_log WHERE budget_id = $1 AND window_start = $2 AND applied_at IS NOT NULL', [budgetId, window])).rows[0].n);
    const after = async (window: Date, k: number, done: () => boolean) => {
      while (!done() && (await applied(window)) < k) await new Promise((r) => setTimeout(r, 1));
    };
    const when = [{ k: 0 }, { k: 1 }, { k: 2 }, { k: 3 }, { k: 4 }, { k: 5 }, { k: 6 }, { k: 7 }, { ms: 5 }, { ms: 20 }, { ms: 60 }];
    for (let round = 0; round < when.length; round++) {
      const live = (await running(a, budgetId)).sort((x, y) => x.id - y.id);
      expect(live).toHaveLength(8);
      // Three to five lowered to 1 by hand (which ones varies), then a rebalance and one raise by the headroom at once.
      const lowered = live.filter((_, i) => (i + round) % 8 < 3 + (round % 3));
      for (const c of lowered) expect((await a.service.setDailyBudget(TENANT, c.id, 1)).ok).toBe(true);
      const x = live.find((c) => !lowered.includes(c))!;
      const headroom = LIMIT - sum(await running(a, budgetId));
      const amount = Math.round((x.daily_budget + headroom) * 100) / 100;
      clock.now += 60_000;
      const window = new Date(clock.now);
      const hand = round % 2 ? b : a;
      const w = when[round];
      let done = false;
      await Promise.all([
        a.runners.rebalance(window, true).finally(() => (done = true)),
        ('ms' in w ? new Promise((r) => setTimeout(r, w.ms)) : after(window, w.k!, () => done)).then(() => hand.service.setDailyBudget(TENANT, x.id, amount)),
      ]);
      expect(sum(await running(a, budgetId)), `round ${round} (raise ${JSON.stringify(w)})`).toBeLessThanOrEqual(LIMIT);
    }
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
