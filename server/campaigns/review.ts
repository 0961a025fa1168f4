// The marketplace admin's approval queue (README "Campaigns", issue 16 item 2): what a reviewer needs to decide on
// a campaign pending review, across budgets — its budget's totals and pacing, and the daily budget approving it now
// would give it, computed by the same split as the approval itself (startingDailyBudgets, used by service.approve).
// Pure.
import { dailyTarget, startingSplit, type StartingShare } from './allocate.js';
import { decimalsOf, floorTo, roundTo } from './model.js';
import { hash32, prng } from './rng.js';
import { platformStats, type Budget, type Campaign } from './store.js';

/**
 * Daily budgets for campaigns of budget `b` approved now: their share of the day next to the running and waiting
 * ones (allocate.ts startingSplit), in whole minor units of the budget's currency, with the budget's own seed so a
 * preview and the approval agree.
 */
export function startingDailyBudgets(b: Budget, all: Campaign[], starting: Campaign[], now: number): Map<number, number> {
  return new Map([...startingShares(b, all, starting, now)].map(([id, s]) => [id, s.daily]));
}

function startingShares(b: Budget, all: Campaign[], starting: Campaign[], now: number): Map<number, StartingShare> {
  const arm = (c: Campaign) => ({ id: c.id, platform: c.platform, stats: platformStats(c) });
  const isStarting = (c: Campaign) => starting.some((s) => s.id === c.id);
  return startingSplit({
    strategy: b.allocation_strategy, platformAllocations: b.platform_allocations, rand: prng(hash32(`start:${b.id}`)),
    dayTarget: dayTargetOf(b, now), decimals: decimalsOf(b.currency),
    running: all.filter((c) => holdsDaily(c) && !isStarting(c)).map((c) => ({ ...arm(c), daily: c.daily_budget })),
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

/**
 * The 409 of approving a campaign that is not pending review (nor scheduled or being published, which have their own):
 * its id, its status and the step it needs, as reject names them. Before, "None of these campaigns is pending review."
 */
export function notPending(c: Pick<Campaign, 'id' | 'budget_id' | 'status' | 'status_reason' | 'last_error'>): string {
  const submit = `(POST /api/v1/campaigns/budgets/${c.budget_id}/submit), then approve it`;
  switch (c.status) {
    case 'draft': return `Campaign ${c.id} is a draft, not pending review: submit it first ${submit}.`;
    case 'failed': return `Campaign ${c.id} failed${c.last_error ? ` (${c.last_error.slice(0, 300)})` : ''}, so it is not pending review: submit it again ${submit}.`;
    case 'active': return `Campaign ${c.id} is active: it was approved and published already.`;
    case 'paused': return `Campaign ${c.id} is paused: it was approved and published already; POST /api/v1/campaigns/${c.id}/resume runs it again.`;
    case 'completed': return `Campaign ${c.id} is completed${c.status_reason === 'budget_ended' ? ' (its budget ended)' : ''}: there is nothing left to approve.`;
    default: return `Campaign ${c.id} is ${c.status.replace('_', ' ')}, not pending review.`;
  }
}

/**
 * The 409 of resuming by hand a campaign whose budget is not active, saying what reopens it: only a raise of an
 * exhausted budget's total does (PATCH), which also resumes the campaigns its exhaustion paused. No route resumes a
 * budget (before, the message asked for that).
 */
export function resumeRefusal(b: Pick<Budget, 'id' | 'status' | 'ends_at'>): string {
  if (b.status === 'exhausted') return `Budget ${b.id} is exhausted: raise its total above what it spent (PATCH /api/v1/campaigns/budgets/${b.id} {"total_budget": …}); that resumes the campaigns its exhaustion paused.`;
  if (b.status === 'ended') return `Budget ${b.id} ended${b.ends_at ? ` at ${b.ends_at}` : ''}: its campaigns are no longer resumed.`;
  return `Budget ${b.id} is ${b.status}: its campaigns are resumed only while it is active.`;
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
 * refuses a zero daily budget (and one below its minimum, `minimum` when configured). A zero says which bound took
 * it: its platform's daily_limit, held by that platform's running campaigns; the budget's day, held by its running
 * campaigns; or its own share of the day, below the currency's smallest amount (too many campaigns for the day:
 * JPY 7 over 12 campaigns is 0.58 yen each, and no API call drops a campaign from the split); else the campaigns approved with it took the rest. Amounts are written
 * with the currency's own decimals. For a budget that starts later `daily` is its share of the budget's first day
 * (paced from its start), and the advice is what can change before it.
 */
export function startingRefusal(b: Budget, all: Campaign[], c: Campaign, daily: number, now: number, minimum: number | null): string | null {
  const floor = minimum ?? 0;
  if (daily > 0 && daily >= floor) return null;
  const d = decimalsOf(b.currency);
  const unit = 10 ** -d;
  const amount = (x: number) => `${roundTo(x, d)} ${b.currency}`;
  const later = startsLater(b, now);
  const day = later ? "its budget's first day" : 'today';
  const target = dayTargetOf(b, now);
  const raise = "raise the budget's total or daily limit";
  const plain = (why: string, advice: string) => `Campaign ${c.id} is not published: ${why}. ${advice}`;
  if (daily > 0) {
    return plain(`its share of the day, ${amount(daily)}, is below the ${c.platform} minimum daily budget of ${amount(floor)}`,
      later ? `Raise the budget's total or daily limit, then approve it again.` : `Lower a running campaign's daily budget, ${raise}, or approve it after the next daily rebalance.`);
  }
  const s = startingShares(b, all, [c], now).get(c.id)!;
  const running = all.filter((x) => holdsDaily(x) && x.id !== c.id);
  const held = (xs: Campaign[]) => amount(xs.reduce((t, x) => t + x.daily_budget, 0));
  const limit = b.platform_allocations[c.platform]?.daily_limit;
  if (s.platformRoom !== null && s.platformRoom < unit && limit !== undefined) {
    const same = running.filter((x) => x.platform === c.platform);
    return plain(`no ${c.platform} budget is left for it ${day}: the budget's ${same.length} running ${c.platform} campaign(s) take ${held(same)} of platform_allocations.${c.platform}.daily_limit ${amount(limit)}`,
      `Lower or pause a running ${c.platform} campaign first, then approve it again.`);
  }
  if (s.budgetRoom < unit) {
    return plain(`no daily budget is left for it ${day}: the budget's ${running.length} running campaign(s) take ${held(running)} of the day's ${amount(target)}`,
      later ? `Raise the budget's total or daily limit, then approve it again.` : `Lower a running campaign's daily budget, ${raise}, or approve it after the next daily rebalance.`);
  }
  if (s.share < unit) {
    const sharing = all.filter((x) => holdsDaily(x) || x.status === 'pending_review' || x.status === 'draft' || x.status === 'scheduled').length;
    const capped = limit !== undefined ? ` and ${c.platform}'s daily_limit of ${amount(limit)}` : '';
    return plain(`its share of the day is less than ${amount(unit)}, the smallest amount in ${b.currency}: the day's ${amount(target)} is split ${b.allocation_strategy === 'equal_split' ? 'evenly' : `by ${b.allocation_strategy}`} over the budget's ${sharing} campaign(s) that run or may still start${capped}`,
      `Raise the budget's total or daily limit so that its day is at least ${amount(unit * sharing)} (${amount(unit)} for each campaign), or use a budget that names fewer platforms in platform_allocations (a smaller suite).`);
  }
  return plain(`the campaigns approved with it take what was left ${day} (${amount(s.budgetRoom)} of the day's ${amount(target)}${s.platformRoom !== null ? `, ${amount(s.platformRoom)} of platform_allocations.${c.platform}.daily_limit ${amount(limit!)}` : ''})`,
    `Approve it on its own, or ${raise}.`);
}

/** Running, or approved and being published with the daily budget it starts with (README "Publishing"). */
const isRunning = (c: Campaign) => c.status === 'active' || c.status === 'publishing';
/** Holds its daily budget against the day: running, or paused by the daily-limit rule, which resumes it (daily-budgets.ts spendsDaily). */
const holdsDaily = (c: Campaign) => isRunning(c) || (c.status === 'paused' && c.status_reason === 'daily_limit');

/**
 * The day's target in the currency's minor units (JPY 7, not 7.14); a budget that starts later is paced from its
 * start (days counted from max(now, start)).
 */
const dayTargetOf = (b: Budget, now: number): number => {
  const from = Math.max(now, b.started_at ? Date.parse(b.started_at) : now);
  const target = dailyTarget({ total: b.total_budget, spent: b.spent_budget, dailyLimit: b.daily_budget_limit, endsAt: b.ends_at ? Date.parse(b.ends_at) : null, now: from });
  return floorTo(target, decimalsOf(b.currency));
};

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

/**
 * The queue's entries in the order given; a campaign whose budget is missing from `budgets` is left out. Each
 * proposal is what approving the budget's pending campaigns in the queue's order (oldest first) gives it: they share
 * the day as those approvals would, so together they never take more than what the running campaigns leave of
 * day_target (before, each was computed as if it alone were starting: 0.15 + 0.09 + 0.06 per platform added up to
 * 1.20 of a 1.16 day).
 */
export function queueEntries(pending: Campaign[], budgets: Map<number, BudgetContext>, now: number): QueueEntry[] {
  const shaped = new Map<number, { budget: QueueBudget; proposals: Map<number, number> }>();
  const out: QueueEntry[] = [];
  for (const c of pending) {
    const ctx = budgets.get(c.budget_id);
    if (!ctx) continue;
    if (!shaped.has(c.budget_id)) {
      // Every pending campaign of the budget, not only this page's: a later page's proposals follow on from these.
      const queued = ctx.campaigns.filter((x) => x.status === 'pending_review').sort((x, y) => x.id - y.id);
      shaped.set(c.budget_id, { budget: queueBudget(ctx, now), proposals: startingDailyBudgets(ctx.budget, ctx.campaigns, queued, now) });
    }
    const { budget, proposals } = shaped.get(c.budget_id)!;
    const proposed = proposals.get(c.id) ?? startingDailyBudgets(ctx.budget, ctx.campaigns, [c], now).get(c.id) ?? 0;
    out.push({ ...c, event_title: ctx.event_title, organizer_name: ctx.organizer_name ?? null, budget, proposed_daily_budget: proposed });
  }
  return out;
}
