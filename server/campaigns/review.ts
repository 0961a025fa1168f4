// The marketplace admin's approval queue (README "Campaigns", issue 16 item 2): what a reviewer needs to decide on
// a campaign pending review, across budgets — its budget's totals and pacing, and the daily budget approving it now
// would give it, computed by the same split as the approval itself (startingDailyBudgets, used by service.approve).
// Pure.
import { dailyTarget, startingBudgets } from './allocate.js';
import { hash32, prng } from './rng.js';
import { platformStats, type Budget, type Campaign } from './store.js';

/**
 * Daily budgets for campaigns of budget `b` approved now: their share of the day next to the running and waiting
 * ones (allocate.ts startingBudgets), with the budget's own seed so a preview and the approval agree.
 */
export function startingDailyBudgets(b: Budget, all: Campaign[], starting: Campaign[], now: number): Map<number, number> {
  const arm = (c: Campaign) => ({ id: c.id, platform: c.platform, stats: platformStats(c) });
  const isStarting = (c: Campaign) => starting.some((s) => s.id === c.id);
  return startingBudgets({
    strategy: b.allocation_strategy, platformAllocations: b.platform_allocations, rand: prng(hash32(`start:${b.id}`)),
    dayTarget: dayTargetOf(b, now),
    running: all.filter((c) => isRunning(c) && !isStarting(c)).map((c) => ({ ...arm(c), daily: c.daily_budget })),
    starting: starting.map(arm),
    waiting: all.filter((c) => (c.status === 'pending_review' || c.status === 'draft' || c.status === 'scheduled') && !isStarting(c)).map(arm),
  });
}

/**
 * Why campaigns of budget `b` cannot be approved now (409), or null: a budget not active (exhausted, paused,
 * cancelled: approving would publish campaigns nothing pays for, and the jobs skip such budgets) or whose end has
 * passed (its whole remainder would become one day's target).
 */
export function approvalRefusal(b: Budget, now: number): string | null {
  if (b.status === 'ended') return `Budget ${b.id} ended${b.ends_at ? ` at ${b.ends_at}` : ''}: its campaigns are no longer published.`;
  if (b.status !== 'active') return `Budget ${b.id} is ${b.status}: its campaigns are approved only while it is active${b.status === 'exhausted' ? ' (raise its total above what was spent first)' : ''}.`;
  if (b.ends_at && Date.parse(b.ends_at) <= now) return `Budget ${b.id} ended at ${b.ends_at}: its campaigns are no longer published.`;
  return null;
}

/** Whether the budget starts later: its campaigns approved now are scheduled, published once it starts. */
export const startsLater = (b: Budget, now: number): boolean => b.started_at !== null && Date.parse(b.started_at) > now;

/**
 * The 409 of approving again a campaign approved already and waiting (`scheduled`): when it is published — at the
 * budget's start, once the budget is resumed, or by the next campaigns.resume_publishing run when the start has come.
 */
export function scheduledNote(c: Pick<Campaign, 'id'>, b: Budget | null, now: number): string {
  if (b && b.status === 'paused') return `Campaign ${c.id} is already approved: it is published once budget ${b.id} is resumed (and has started).`;
  if (!b || startsLater(b, now)) return `Campaign ${c.id} is already approved: it is published when its budget starts${b ? ` (${b.started_at})` : ''}.`;
  return `Campaign ${c.id} is already approved and its budget has started: the campaigns.resume_publishing job publishes it within a minute.`;
}

/**
 * Why campaign `c` may not start with daily budget `daily` (already in whole minor units), or null. A platform
 * refuses a zero daily budget (and one below its minimum, `minimum` when configured); a zero means the budget's
 * running campaigns already take the day's target. For a budget that starts later `daily` is its share of the
 * budget's first day (paced from its start), and the advice is what can change before it.
 */
export function startingRefusal(b: Budget, all: Campaign[], c: Campaign, daily: number, now: number, minimum: number | null): string | null {
  const floor = minimum ?? 0;
  if (daily > 0 && daily >= floor) return null;
  const running = all.filter(isRunning);
  const held = cents(running.reduce((s, x) => s + x.daily_budget, 0));
  const target = dayTargetOf(b, now);
  const why = daily <= 0
    ? `no daily budget is left for it ${startsLater(b, now) ? 'on its budget\'s first day' : 'today'}: the budget's ${running.length} running campaign(s) take ${held} of the day's ${target} ${b.currency}`
    : `its share of the day, ${daily} ${b.currency}, is below the ${c.platform} minimum daily budget of ${floor} ${b.currency}`;
  const advice = startsLater(b, now)
    ? "Raise the budget's total or daily limit, then approve it again."
    : "Lower a running campaign's daily budget, raise the budget's total or daily limit, or approve it after the next daily rebalance.";
  return `Campaign ${c.id} is not published: ${why}. ${advice}`;
}

/** Running, or approved and being published with the daily budget it starts with (README "Publishing"). */
const isRunning = (c: Campaign) => c.status === 'active' || c.status === 'publishing';

/** The day's target; a budget that starts later is paced from its start (days counted from max(now, start)). */
const dayTargetOf = (b: Budget, now: number): number =>
  dailyTarget({ total: b.total_budget, spent: b.spent_budget, dailyLimit: b.daily_budget_limit, endsAt: b.ends_at ? Date.parse(b.ends_at) : null, now: Math.max(now, b.started_at ? Date.parse(b.started_at) : now) });

export interface QueueBudget {
  id: number;
  status: Budget['status'];
  currency: string;
  total_budget: number;
  spent_budget: number;
  remaining: number;
  daily_budget_limit: number | null;
  /** What the budget may spend today (what is left over the days left, within the daily limit). */
  day_target: number;
  allocation_strategy: Budget['allocation_strategy'];
  ends_at: string | null;
  /** The budget's campaigns running now (their daily budgets come first out of day_target). */
  running: number;
  running_daily: number;
  pending_review: number;
}

export interface QueueEntry extends Campaign {
  event_title: string | null;
  /** The organizer's name in the catalog, null when the catalog does not name it. */
  organizer_name: string | null;
  budget: QueueBudget;
  /** The daily budget this campaign starts with if approved now (alone or with others of its budget). */
  proposed_daily_budget: number;
}

export interface BudgetContext {
  budget: Budget;
  event_title: string | null;
  organizer_name?: string | null;
  campaigns: Campaign[];
}

const cents = (x: number) => Math.round(x * 100) / 100;

function queueBudget(ctx: BudgetContext, now: number): QueueBudget {
  const b = ctx.budget;
  const running = ctx.campaigns.filter(isRunning);
  return {
    id: b.id, status: b.status, currency: b.currency, total_budget: b.total_budget, spent_budget: b.spent_budget,
    remaining: Math.max(0, cents(b.total_budget - b.spent_budget)), daily_budget_limit: b.daily_budget_limit, day_target: dayTargetOf(b, now),
    allocation_strategy: b.allocation_strategy, ends_at: b.ends_at, running: running.length,
    running_daily: cents(running.reduce((s, c) => s + c.daily_budget, 0)), pending_review: ctx.campaigns.filter((c) => c.status === 'pending_review').length,
  };
}

/** The queue's entries in the order given; a campaign whose budget is missing from `budgets` is left out. */
export function queueEntries(pending: Campaign[], budgets: Map<number, BudgetContext>, now: number): QueueEntry[] {
  const shaped = new Map<number, QueueBudget>();
  const out: QueueEntry[] = [];
  for (const c of pending) {
    const ctx = budgets.get(c.budget_id);
    if (!ctx) continue;
    if (!shaped.has(c.budget_id)) shaped.set(c.budget_id, queueBudget(ctx, now));
    const proposed = startingDailyBudgets(ctx.budget, ctx.campaigns, [c], now).get(c.id) ?? 0;
    out.push({ ...c, event_title: ctx.event_title, organizer_name: ctx.organizer_name ?? null, budget: shaped.get(c.budget_id)!, proposed_daily_budget: proposed });
  }
  return out;
}
