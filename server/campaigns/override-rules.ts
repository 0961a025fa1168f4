// The rules of a budget override (PATCH /api/v1/campaigns/budgets/{id}, override.ts) as pure functions: the hourly
// stop rules with the new figures at once (rules.ts guards), a daily limit cut below what the running campaigns take
// (daily_limit_lowered: each lowered in proportion, together at most the limit, none below its least daily budget),
// and a top-up that reopened an exhausted budget (the day split across the campaigns its exhaustion paused, then
// budget_reopened resumes them). `now` is passed in.
import type { BanditOpts } from './allocate.js';
import { floorTo, roundTo, type Platform } from './model.js';
import { hash32, prng } from './rng.js';
import { guards, lowBudgetDecisions, money, pausedBy, reopenDecisions, reopened, running, spending, splitDecisions, type BudgetView, type CampaignView, type Decision } from './rules.js';

export interface OverrideInput {
  /** The budget with its new total and daily limit. */
  budget: BudgetView;
  campaigns: CampaignView[];
  now: number;
  /** The reopened budget's split of the day (allocate.ts): its draws; by default seeded by the budget and `now`. */
  rand?: () => number;
  bandit?: BanditOpts;
  /** The smallest daily budget each platform takes (config.ts minDaily); the currency's minor unit without. */
  minDaily?: Partial<Record<Platform, number>>;
}

/** The least daily budget a campaign of `platform` can be given: its platform's minimum, at least one minor unit. */
const leastDaily = (b: Pick<BudgetView, 'decimals'>, platform: Platform, minDaily: OverrideInput['minDaily']) =>
  Math.max(roundTo(10 ** -(b.decimals ?? 2), b.decimals ?? 2), minDaily?.[platform] ?? 0);

/**
 * The least a daily limit may be for the budget's spending campaigns (running, or paused by the daily-limit rule):
 * each at its least daily budget (the currency's minor unit, or its platform's minimum). A lower limit cannot be
 * kept without pausing some of them, so a PATCH asking for it is refused with this figure (override.ts). Pure.
 */
export function limitFloor(b: BudgetView, campaigns: CampaignView[], minDaily?: OverrideInput['minDaily']): { floor: number; count: number; platformMin: boolean } {
  const live = campaigns.filter((c) => running(c) || pausedBy(c, 'daily_limit'));
  const floor = roundTo(live.reduce((s, c) => s + leastDaily(b, c.platform, minDaily), 0), b.decimals ?? 2);
  return { floor, count: live.length, platformMin: live.some((c) => (minDaily?.[c.platform] ?? 0) > 0) };
}

/**
 * Daily budgets cut in proportion to fit `limit`, each at least its `least`: those the proportion would take below
 * it are held there and the rest share what is left, so the sum never passes the limit (floored to the currency's
 * minor unit). Null when even every one at its least does not fit. Pure.
 */
export function cutInProportion(items: { id: number; daily: number; least: number }[], limit: number, decimals: number): Map<number, number> | null {
  if (items.reduce((s, x) => s + x.least, 0) > limit + 1e-9) return null;
  const held = new Set<number>();
  for (;;) {
    const free = items.filter((x) => !held.has(x.id));
    const room = limit - items.filter((x) => held.has(x.id)).reduce((s, x) => s + x.least, 0);
    const sum = free.reduce((s, x) => s + x.daily, 0);
    const next = new Map(free.map((x) => [x.id, sum > 0 ? floorTo((x.daily * room) / sum, decimals) : 0]));
    const below = free.filter((x) => next.get(x.id)! < x.least);
    if (below.length === 0) return new Map(items.map((x) => [x.id, held.has(x.id) ? x.least : next.get(x.id)!]));
    for (const x of below) held.add(x.id);
  }
}

/**
 * A daily limit lowered by hand below what the budget's spending campaigns (running, or paused by the daily-limit
 * rule, which resumes them) take a day: each daily budget lowered in proportion, so that together they take at
 * most the new limit, none below its least daily budget (the currency's minor unit or its platform's minimum); the
 * next rebalance splits the day afresh. None while they fit. A PATCH whose limit cannot give each its least is
 * refused (limitFloor); should campaigns have started since that check, the smallest ones that no longer fit are
 * paused for the day (`daily_limit`, resumed by the daily-limit rule) rather than the promise broken.
 */
function limitCutDecisions(b: BudgetView, campaigns: CampaignView[], minDaily: OverrideInput['minDaily']): Decision[] {
  if (b.dailyLimit === null) return [];
  const fmt = money(b);
  const d = b.decimals ?? 2;
  const live = campaigns.filter((c) => running(c) || pausedBy(c, 'daily_limit'));
  const sum = roundTo(live.reduce((s, c) => s + c.dailyBudget, 0), d);
  if (sum <= b.dailyLimit) return [];
  const inputs = (c: CampaignView) => ({ daily_limit: b.dailyLimit, daily_budgets: sum, previous_daily_budget: c.dailyBudget });
  // The largest daily budgets are kept first (ties: the older campaign).
  const ranked = [...live].sort((x, y) => y.dailyBudget - x.dailyBudget || x.id - y.id);
  let kept = ranked;
  let next = cutInProportion(kept.map((c) => ({ id: c.id, daily: c.dailyBudget, least: leastDaily(b, c.platform, minDaily) })), b.dailyLimit, d);
  while (next === null && kept.length > 0) {
    kept = kept.slice(0, -1);
    next = cutInProportion(kept.map((c) => ({ id: c.id, daily: c.dailyBudget, least: leastDaily(b, c.platform, minDaily) })), b.dailyLimit, d);
  }
  return live.map((c): Decision => {
    const amount = next?.get(c.id);
    if (amount === undefined) {
      return {
        campaignId: c.id, rule: 'daily_limit_lowered', action: { kind: 'pause', reason: 'daily_limit' }, inputs: { ...inputs(c), least_daily_budget: leastDaily(b, c.platform, minDaily) },
        reason: `The daily limit is now ${fmt(b.dailyLimit!)}, too little for each of the budget's ${live.length} campaigns to keep its least daily budget of ${fmt(leastDaily(b, c.platform, minDaily))}: paused until the next day, the smallest first.`,
      };
    }
    return {
      campaignId: c.id, rule: 'daily_limit_lowered', action: { kind: 'set_daily_budget', daily_budget: amount }, inputs: inputs(c),
      reason: `The daily limit is now ${fmt(b.dailyLimit!)}, below the ${fmt(sum)} a day the budget's campaigns take: daily budget ${fmt(c.dailyBudget)} → ${fmt(amount)} (each lowered in proportion until the next rebalance).`,
    };
  });
}

/**
 * A budget's total or daily limit changed by hand (PATCH …/budgets/{id}), decided at once rather than at the next
 * hourly window: the hourly stop rules with the new figures (budget_ended; budget_exhausted when one more hour of the
 * spending campaigns' daily budgets could reach the new total, with the organizer's notice), the daily budgets
 * counted as lowered to a new daily limit below them; else those lowerings (daily_limit_lowered) and the
 * low-budget notice when the new total leaves less than 20 %. A top-up that reopened an exhausted budget (active
 * again with campaigns its exhaustion paused) splits the day across every campaign that runs again, those included
 * (rebalance_{strategy}, amounts set before they resume), and resumes them (budget_reopened); the stop rules weigh
 * the split, so a top-up too small for another hour stops the budget again and resumes nothing.
 */
export function overrideDecisions(inp: OverrideInput): Decision[] {
  const b = inp.budget;
  if (inp.campaigns.some((c) => reopened(b, c))) {
    const eligible = inp.campaigns.filter(spending(b));
    // No campaign is split below its least daily budget (the currency's minor unit, its platform's minimum): the
    // platforms refuse less, and a refused amount would leave it resuming at the larger one it had. A day too small
    // for them all is passed by those few minor units at most; the total is still held by the stop rules below.
    const split = splitDecisions(b, eligible, inp.now, inp.rand ?? prng(hash32(`reopen:${b.id}:${inp.now}`)), inp.bandit, (c) => leastDaily(b, c.platform, inp.minDaily));
    const amounts = new Map(split.map((x) => [x.campaignId, (x.action as { daily_budget: number }).daily_budget]));
    // Weighed at the larger of the split and what each has now (a lowering the platform refuses leaves the latter):
    // a top-up too small for another hour at those amounts stops the budget again and resumes nothing.
    const stop = guards({ budget: b, campaigns: inp.campaigns.map((c) => (amounts.has(c.id) ? { ...c, dailyBudget: Math.max(c.dailyBudget, amounts.get(c.id)!) } : c)), now: inp.now });
    if (stop) return stop;
    return [...lowBudgetDecisions(b, false), ...split, ...reopenDecisions(b, inp.campaigns)];
  }
  const cut = limitCutDecisions(b, inp.campaigns, inp.minDaily);
  const lowered = new Map(cut.map((x) => [x.campaignId, x.action.kind === 'set_daily_budget' ? x.action.daily_budget : 0]));
  const campaigns = inp.campaigns.map((c) => (lowered.has(c.id) ? { ...c, dailyBudget: lowered.get(c.id)! } : c));
  const stop = guards({ budget: b, campaigns, now: inp.now });
  if (stop) return stop;
  return [...lowBudgetDecisions(b, false), ...cut];
}
