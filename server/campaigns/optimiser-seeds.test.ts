// Issue 16's Tests line ("most budget ends on the best campaign, the worst is paused, the limits hold") across 30
// seeds, not one: the optimiser's own rules (rules.ts hourly and daily, allocate.ts) driven hour by hour over 14
// simulated days against delivery like the mock platforms' (test/mock-ad-platforms: spend ±15 % around the daily
// budget, clicks and sales drawn from hidden true rates, scripts/simulate-campaigns.ts trueRates). Pure and fast
// (no store, no HTTP); test/campaigns-sim.test.ts runs the whole loop through the job runner for one seed.
import { describe, expect, it } from 'vitest';
import { trueRates } from '../../scripts/simulate-campaigns.js';
import { startingBudgets } from './allocate.js';
import { CAMPAIGN_TYPES, DAY_MS, HOUR_MS, PLATFORMS, ZERO_STATS } from './model.js';
import { binomial, hash32, poisson, prng } from './rng.js';
import { dailyDecisions, hourlyDecisions, type BudgetView, type CampaignView, type Decision } from './rules.js';

const START = Date.UTC(2026, 2, 2);

function run(seed: number, days = 14) {
  const rates = trueRates(seed);
  const cs = PLATFORMS.flatMap((p) => CAMPAIGN_TYPES.map((t) => ({ p, t }))).map(({ p, t }, i) => ({
    id: i + 1, p, t, r: rates(`Event — ${t} (${p}) [txc-1-${p}-${t}]`, p), status: 'active' as CampaignView['status'], reason: null as string | null,
    daily: 0, lastRaise: null as number | null, clicks: 0, spend: 0, conv: 0, revenue: 0, byDay: new Map<number, number>(),
  }));
  const total = 100 * days;
  const limit = 110;
  const budget = (): BudgetView => ({
    id: 1, total, spent: cs.reduce((s, c) => s + c.spend, 0), dailyLimit: limit, targetCpa: 15, targetRoas: 1.5, endsAt: START + days * DAY_MS,
    strategy: 'performance_based', platformAllocations: {}, lowNotified: true,
  });
  const arms = cs.map((c) => ({ id: c.id, platform: c.p, stats: ZERO_STATS }));
  const start = startingBudgets({ strategy: 'performance_based', platformAllocations: {}, rand: prng(hash32('start:1')), dayTarget: 100, running: [], starting: arms, waiting: [] });
  for (const c of cs) c.daily = start.get(c.id)!;
  const view = (): CampaignView[] => cs.map((c) => ({
    id: c.id, platform: c.p, status: c.status, statusReason: c.reason, dailyBudget: c.daily, lastRaiseAt: c.lastRaise,
    stats: { impressions: 0, clicks: c.clicks, spend: c.spend, conversions: c.conv, revenue: c.revenue },
  }));
  const apply = (ds: Decision[], now: number) => {
    for (const d of ds) {
      const c = cs.find((x) => x.id === d.campaignId);
      const a = d.action;
      if (!c) continue;
      if (a.kind === 'set_daily_budget') [c.daily, c.lastRaise] = [a.daily_budget, d.rule === 'roas_above_target' ? now : c.lastRaise];
      else if (a.kind === 'pause' && c.status === 'active') [c.status, c.reason] = ['paused', a.reason];
      else if (a.kind === 'resume' && c.reason === 'daily_limit') [c.status, c.reason] = ['active', null];
      else if (a.kind === 'complete') c.status = 'completed';
    }
  };
  for (let t = START; t <= START + days * DAY_MS; t += HOUR_MS) {
    const hour = t - HOUR_MS;
    for (const c of t > START ? cs : []) {
      if (c.status !== 'active' || c.daily <= 0) continue;
      const rand = prng(hash32(`${seed}:${c.p}:${c.id}:${hour}`));
      const spend = Math.round((c.daily / 24) * (0.85 + 0.3 * rand()) * 100) / 100;
      const clicks = binomial(Math.round((spend / c.r.cpm) * 1000), c.r.ctr, rand);
      const conv = binomial(clicks, c.r.cvr, rand);
      for (let i = 0; i < conv; i++) c.revenue += (c.r.aov / 1.8) * (1 + poisson(0.8, rand));
      [c.clicks, c.conv, c.spend] = [c.clicks + clicks, c.conv + conv, c.spend + spend];
      c.byDay.set(Math.floor(hour / DAY_MS), (c.byDay.get(Math.floor(hour / DAY_MS)) ?? 0) + spend);
    }
    const spentToday = cs.reduce((s, c) => s + (c.byDay.get(Math.floor(t / DAY_MS)) ?? 0), 0);
    apply(hourlyDecisions({ budget: budget(), campaigns: view(), spentToday, now: t }), t);
    if (t % DAY_MS === 6 * HOUR_MS) apply(dailyDecisions({ budget: budget(), campaigns: view(), now: t, rand: prng(hash32(`rebalance:1:${new Date(t).toISOString()}`)) }), t);
  }
  const value = (c: (typeof cs)[number]) => (c.r.ctr * c.r.cvr) / c.r.cpm;
  const best = cs.reduce((a, c) => (value(c) > value(a) ? c : a));
  const worst = cs.reduce((a, c) => (value(c) < value(a) ? c : a));
  const spend = cs.reduce((s, c) => s + c.spend, 0);
  const perDay = [...new Set(cs.flatMap((c) => [...c.byDay.keys()]))].map((d) => cs.reduce((s, c) => s + (c.byDay.get(d) ?? 0), 0));
  return { share: best.spend / spend, largest: cs.every((c) => best.spend >= c.spend), worstPaused: worst.reason === 'cpa_above_limit', spend, total, maxDay: Math.max(...perDay), limit };
}

describe('the optimiser over 30 seeds (issue 16 Tests line)', () => {
  const runs = Array.from({ length: 30 }, (_, i) => run(i + 1));
  it('most budget ends on the best campaign: the largest share in nearly every seed, over half in most', () => {
    // With the former 60 % cap: over half in 4 of 30 (the largest in 29).
    expect(runs.filter((r) => r.largest).length).toBeGreaterThanOrEqual(28);
    expect(runs.filter((r) => r.share > 0.5).length).toBeGreaterThanOrEqual(18);
    for (const r of runs) expect(r.share).toBeGreaterThan(2 / 12);
  });
  it('the worst campaign is paused and the limits hold in every seed', () => {
    for (const r of runs) {
      expect(r.worstPaused).toBe(true);
      expect(r.spend).toBeLessThanOrEqual(r.total);
      expect(r.maxDay).toBeLessThanOrEqual(r.limit * 1.05);
    }
  });
});
