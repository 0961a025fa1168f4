import { describe, expect, it } from 'vitest';
import { DAY_MS } from './model.js';
import { approvalRefusal, queueEntries, scheduledNote, startingDailyBudgets, startingRefusal, startsLater, type BudgetContext } from './review.js';
import type { Budget, Campaign } from './store.js';

const T0 = Date.UTC(2026, 2, 2);
const budget = (o: Partial<Budget> = {}): Budget => ({
  id: 1, tenant_id: 1, organizer_id: 'O1', event_id: 'E1', total_budget: 300, spent_budget: 0, currency: 'EUR', daily_budget_limit: 30, status: 'active',
  allocation_strategy: 'equal_split', platform_allocations: {}, target_cpa: null, target_roas: null, payment_reference: null, paid_at: null,
  started_at: null, ends_at: new Date(T0 + 10 * DAY_MS).toISOString(), notes: null, low_notified_at: null, created_at: '', updated_at: '', ...o,
});
const campaign = (id: number, o: Partial<Campaign> = {}): Campaign => ({
  id, tenant_id: 1, budget_id: 1, organizer_id: 'O1', event_id: 'E1', platform: 'meta', campaign_type: 'prospecting', external_campaign_id: null,
  external_adset_id: null, name: `C${id}`, status: 'pending_review', status_reason: null, objective: 'conversions', targeting: {}, creative: {},
  budget_allocated: 0, budget_spent: 0, daily_budget: 0, bid_strategy: 'lowest_cost', bid_amount: null, performance_metrics: {}, last_error: null,
  started_at: null, ends_at: null, created_at: '', updated_at: '', ...o,
});
const ctx = (b: Budget, campaigns: Campaign[], event_title: string | null = 'Rock Night'): Map<number, BudgetContext> => new Map([[b.id, { budget: b, event_title, campaigns }]]);

describe('approval queue entries', () => {
  it('proposes the share of the day approving the campaign now gives it, next to running and waiting ones', () => {
    const running = campaign(1, { status: 'active', daily_budget: 10, external_campaign_id: 'x1' });
    const [a, b] = [campaign(2), campaign(3)];
    const out = queueEntries([a, b], ctx(budget(), [running, a, b]), T0);
    // Day target min(300 / 10 days, limit 30) = 30, split equally over three campaigns.
    expect(out.map((e) => e.proposed_daily_budget)).toEqual([10, 10]);
    // The same figure the approval itself computes.
    expect(startingDailyBudgets(budget(), [running, a, b], [a], T0).get(2)).toBe(10);
  });

  it('shares the day between the proposals as approving them in the queue\'s order would: the README example', () => {
    // README "Campaigns" step 3: 1400 EUR, a limit of 110, performance_based 50 / 30 / 20 with TikTok capped at 25,
    // twelve campaigns pending (1-4 meta, 5-8 google_ads, 9-12 tiktok). Before, each proposal was computed as if it
    // alone were starting (the bandit's draws then went to the arms in another order): 12.87 for every Meta one,
    // 102.96 of a day of 100, and 0.15 / 0.09 / 0.06 each (1.20) of a 1.16 day.
    const ends = Date.UTC(2030, 2, 16);
    const b = budget({ total_budget: 1400, daily_budget_limit: 110, allocation_strategy: 'performance_based', ends_at: new Date(ends).toISOString(),
      platform_allocations: { meta: { percentage: 50 }, google_ads: { percentage: 30 }, tiktok: { percentage: 20, daily_limit: 25 } } });
    const platformOf = (id: number) => (id <= 4 ? 'meta' : id <= 8 ? 'google_ads' : 'tiktok') as Campaign['platform'];
    const cs = Array.from({ length: 12 }, (_, i) => campaign(i + 1, { platform: platformOf(i + 1) }));
    const sum = (xs: number[]) => Math.round(xs.reduce((s, x) => s + x, 0) * 100) / 100;
    for (const [now, dayTarget, proposals] of [
      [ends - 14 * DAY_MS, 100, [12.87, 12.5, 14.5, 10.12, 8.4, 7.05, 8.1, 6.45, 6.25, 5.1, 4.2, 4.45]],
      [Date.UTC(2026, 11, 2, 12), 1.16, [0.14, 0.14, 0.16, 0.11, 0.09, 0.08, 0.09, 0.07, 0.07, 0.05, 0.04, 0.05]],
    ] as [number, number, number[]][]) {
      const out = queueEntries(cs, ctx(b, cs), now);
      expect(out[0].budget.day_target).toBe(dayTarget);
      expect(out.map((e) => e.proposed_daily_budget)).toEqual(proposals);
      expect(sum(proposals)).toBeLessThanOrEqual(dayTarget);
      // Approving them one by one in that order gives each its proposal.
      const state = cs.map((c) => ({ ...c }));
      for (const c of state) {
        const got = startingDailyBudgets(b, state, [c], now).get(c.id)!;
        expect(got).toBe(proposals[c.id - 1]);
        Object.assign(c, { status: 'active', daily_budget: got });
      }
      // A page of the queue proposes what the whole queue does.
      expect(queueEntries(cs.slice(6), ctx(b, cs), now).map((e) => e.proposed_daily_budget)).toEqual(proposals.slice(6));
    }
  });

  it('never proposes more than the running campaigns leave of the day', () => {
    const running = campaign(1, { status: 'active', daily_budget: 25 });
    const out = queueEntries([campaign(2)], ctx(budget(), [running, campaign(2)]), T0);
    expect(out[0].proposed_daily_budget).toBe(5);
  });

  it('carries the budget totals and pacing, shaped once per budget, and the event title', () => {
    const b = budget({ spent_budget: 120.5 });
    const cs = [campaign(1, { status: 'active', daily_budget: 6 }), campaign(2), campaign(3, { status: 'paused' }), campaign(4)];
    const out = queueEntries([cs[1], cs[3]], ctx(b, cs), T0);
    expect(out[0].budget).toEqual({
      id: 1, status: 'active', currency: 'EUR', total_budget: 300, spent_budget: 120.5, remaining: 179.5, daily_budget_limit: 30,
      day_target: 17.95, allocation_strategy: 'equal_split', ends_at: b.ends_at, running: 1, running_daily: 6, pending_review: 2,
    });
    expect(out[1].budget).toBe(out[0].budget);
    expect(out[0]).toMatchObject({ id: 2, event_title: 'Rock Night', name: 'C2' });
  });

  it('leaves out a campaign whose budget was not loaded, and proposes nothing from a spent budget', () => {
    expect(queueEntries([campaign(9, { budget_id: 99 })], ctx(budget(), []), T0)).toEqual([]);
    const spent = budget({ spent_budget: 300 });
    expect(queueEntries([campaign(2)], ctx(spent, [campaign(2)]), T0)[0]).toMatchObject({ proposed_daily_budget: 0, budget: { remaining: 0, day_target: 0 } });
  });
});

describe('approval against the budget', () => {
  it('paces a budget that starts later from its start, not from now', () => {
    // 300 over the 10 days from its start (T0 + 4 days to T0 + 14 days), not over the 14 days from now.
    const later = budget({ daily_budget_limit: null, started_at: new Date(T0 + 4 * DAY_MS).toISOString(), ends_at: new Date(T0 + 14 * DAY_MS).toISOString() });
    expect(queueEntries([campaign(2)], ctx(later, [campaign(2)]), T0)[0].budget.day_target).toBe(30);
    expect(startsLater(later, T0)).toBe(true);
    expect(startsLater(later, T0 + 4 * DAY_MS)).toBe(false);
    expect(startsLater(budget(), T0)).toBe(false);
  });

  it('refuses a budget that is not active or has ended', () => {
    expect(approvalRefusal(budget(), T0)).toBeNull();
    expect(approvalRefusal(budget({ status: 'exhausted' }), T0)).toMatch(/^Budget 1 is exhausted: .*raise its total/);
    expect(approvalRefusal(budget({ status: 'paused' }), T0)).toMatch(/is paused/);
    expect(approvalRefusal(budget({ ends_at: new Date(T0 - 1).toISOString() }), T0)).toMatch(/ended at/);
  });

  it('refuses a zero share of the day, and one below the platform minimum when there is one', () => {
    const running = campaign(1, { status: 'active', daily_budget: 30 });
    const c = campaign(2);
    expect(startingRefusal(budget(), [running, c], c, 0, T0, null)).toMatch(/no daily budget is left for it today: the budget's 1 running campaign\(s\) take 30 EUR of the day's 30 EUR/);
    expect(startingRefusal(budget(), [c], c, 0.09, T0, null)).toBeNull();
    expect(startingRefusal(budget(), [c], c, 0.09, T0, 1)).toMatch(/0\.09 EUR, is below the meta minimum daily budget of 1 EUR/);
    expect(startingRefusal(budget(), [c], c, 1, T0, 1)).toBeNull();
  });

  it("refuses a campaign its platform's daily_limit has no room for, naming the limit and what takes it", () => {
    // TikTok capped at 12 a day, three running TikTok campaigns at 4 (after a rebalance); the budget's day has 38 left.
    const b = budget({ total_budget: 700, daily_budget_limit: 60, allocation_strategy: 'manual', platform_allocations: { tiktok: { percentage: 100, daily_limit: 12 } }, ends_at: new Date(T0 + 14 * DAY_MS).toISOString() });
    const running = [1, 2, 3].map((id) => campaign(id, { platform: 'tiktok', status: 'active', daily_budget: 4 }));
    const c = campaign(4, { platform: 'tiktok' });
    expect(startingDailyBudgets(b, [...running, c], [c], T0).get(4)).toBe(0);
    expect(queueEntries([c], ctx(b, [...running, c]), T0)[0].proposed_daily_budget).toBe(0);
    expect(startingRefusal(b, [...running, c], c, 0, T0, null)).toBe(
      'Campaign 4 is not published: no tiktok budget is left for it today: the budget\'s 3 running tiktok campaign(s) take 12 EUR of platform_allocations.tiktok.daily_limit 12 EUR. Lower or pause a running tiktok campaign first, then approve it again.',
    );
    // One a day under the limit: it starts with that room, not its share of 3.
    const under = running.map((x, i) => (i === 2 ? { ...x, daily_budget: 3 } : x));
    expect(startingDailyBudgets(b, [...under, c], [c], T0).get(4)).toBe(1);
  });

  it('counts a campaign the daily-limit rule paused (it resumes with its daily budget) against the day', () => {
    const held = campaign(1, { status: 'paused', status_reason: 'daily_limit', daily_budget: 30 });
    const c = campaign(2);
    expect(startingDailyBudgets(budget(), [held, c], [c], T0).get(2)).toBe(0);
    expect(startingRefusal(budget(), [held, c], c, 0, T0, null)).toMatch(/the budget's 1 running campaign\(s\) take 30 EUR of the day's 30 EUR/);
    const manual = campaign(1, { status: 'paused', status_reason: 'manual', daily_budget: 30 });
    expect(startingDailyBudgets(budget(), [manual, c], [c], T0).get(2)).toBe(30);
  });

  it('says a share below the currency\'s smallest amount is the cause of a zero, with amounts in the currency\'s own digits', () => {
    // JPY 100 over 14 days is 7 yen a day; 12 campaigns would get 0.58 yen each. Nothing runs.
    const b = budget({ currency: 'JPY', total_budget: 100, daily_budget_limit: null, ends_at: new Date(T0 + 14 * DAY_MS).toISOString() });
    const cs = Array.from({ length: 12 }, (_, i) => campaign(i + 1));
    expect(startingDailyBudgets(b, cs, [cs[0]], T0).get(1)).toBe(0);
    expect(queueEntries([cs[0]], ctx(b, cs), T0)[0]).toMatchObject({ proposed_daily_budget: 0, budget: { day_target: 7 } });
    const refusal = startingRefusal(b, cs, cs[0], 0, T0, null)!;
    expect(refusal).toBe(
      "Campaign 1 is not published: its share of the day is less than 1 JPY, the smallest amount in JPY: the day's 7 JPY is split evenly over the budget's 12 campaign(s) that run or may still start. " +
      "Raise the budget's total or daily limit so that its day is at least 12 JPY (1 JPY for each campaign), or use a budget that names fewer platforms in platform_allocations (a smaller suite).",
    );
    expect(refusal).not.toMatch(/running|7\.14/);
  });

  it('says the campaigns approved in the same call took the rest when none of the bounds alone leaves it nothing', () => {
    const cs = [campaign(2), campaign(3)];
    // Approved together with campaign 2, which took the 15 EUR the running one left.
    const running = campaign(1, { status: 'active', daily_budget: 15 });
    expect(startingRefusal(budget(), [running, ...cs], cs[1], 0, T0, null)).toMatch(/^Campaign 3 is not published: the campaigns approved with it take what was left today \(15 EUR of the day's 30 EUR\)\. Approve it on its own/);
  });

  it('paces the refusal of a budget that starts later from its start, with advice that fits before the start', () => {
    const later = budget({ daily_budget_limit: null, total_budget: 100, started_at: new Date(T0 + DAY_MS).toISOString(), ends_at: new Date(T0 + 8 * DAY_MS).toISOString() });
    const cs = [campaign(2, { platform: 'tiktok' }), campaign(3, { platform: 'tiktok' })];
    const daily = startingDailyBudgets(later, cs, cs, T0);
    // 100 over the 7 days from its start: 14.28 a day, 7.14 each.
    expect(daily.get(2)).toBeCloseTo(7.14, 2);
    const refusal = startingRefusal(later, cs, cs[0], 7.14, T0, 20);
    expect(refusal).toMatch(/7\.14 EUR, is below the tiktok minimum daily budget of 20 EUR\. Raise the budget's total or daily limit, then approve it again\.$/);
    expect(refusal).not.toMatch(/rebalance/);
  });

  it('says where an approved (scheduled) campaign stands when it is approved again', () => {
    const c = campaign(5, { status: 'scheduled' });
    const start = new Date(T0 + DAY_MS).toISOString();
    expect(scheduledNote(c, budget({ started_at: start }), T0)).toBe(`Campaign 5 is already approved: it is published when its budget starts (${start}).`);
    expect(scheduledNote(c, budget({ started_at: start }), T0 + 2 * DAY_MS)).toBe('Campaign 5 is already approved and its budget has started: the campaigns.resume_publishing job publishes it within a minute.');
    expect(scheduledNote(c, budget({ started_at: start, status: 'paused' }), T0)).toBe('Campaign 5 is already approved: it is published once budget 1 is resumed (and has started).');
  });
});
