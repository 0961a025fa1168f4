// The optimiser's rules (seed 002 §2.4 optimizeCampaigns, §2.7 RebalanceBudgetJob) as pure functions: figures in,
// decisions out. Each decision names its rule, its action, the inputs it saw and a sentence saying why; the jobs
// log it (campaign_optimization_log) and apply it. `now` is passed in.
//
// Hourly (optimise):
//   budget_ended        ends_at passed: every running campaign completes
//   budget_exhausted    spent + the next hour's expected spend would reach the total: pause all, budget exhausted
//   daily_limit         today's spend + the next hour's would pass the daily limit: pause until the next UTC day,
//                       then resume (only the campaigns this rule paused)
//   cpa_above_limit     CPA > 2× target CPA once spend ≥ 2× target CPA (minimum data): pause (never the last
//                       running campaign of the budget); also a campaign the daily-limit rule paused, which would
//                       otherwise resume on the next day: a CPA pause outranks a daily-limit pause (pauseOutcome)
//   roas_above_target   ROAS > 2× target ROAS with ≥ 5 conversions: daily budget +20 %, at most once per 24 h,
//                       and only out of the day's unallocated headroom (the day's target less the daily budgets of
//                       the active campaigns and of those the daily-limit rule paused) and its platform's daily_limit
//   low_budget          below 20 % left, or exhausted, and not yet notified: the organizer's notice (once per fall
//                       below 20 %: a raise of the total that leaves 20 % or more again arms it again, service.ts)
//   creative_rotation   a campaign with ≥ 2 variant ads delivering on Meta, once a day from 48 h to 14 days after its
//                       start: pause the ads of variants clearly worse than the best (rotation.ts), else note why not
// Daily (rebalance): low_budget as above, and the day's target split between the running campaigns by the budget's
// strategy (allocate.ts).
// At a budget override (PATCH …/budgets/{id}, override-rules.ts overrideDecisions): the stop rules above with the new figures at once,
// and daily_limit_lowered when the new daily limit is below what the running campaigns take a day; a top-up that
// reopened an exhausted budget resumes the campaigns its exhaustion paused (budget_reopened) and splits the day
// across them (rebalance_{strategy}), the hourly optimiser resuming any such pause a platform refused then.
import { allocate, dailyTarget, type BanditOpts } from './allocate.js';
import { rotationDecisions, type RotationView } from './rotation.js';
import { cents, floorCents, HOUR_MS, NEVER_RAN, roundTo, type BudgetStatus, type CampaignStatus, type PauseReason, type Platform, type PlatformAllocations, type Stats, type Strategy } from './model.js';

export interface BudgetView {
  id: number;
  total: number;
  spent: number;
  dailyLimit: number | null;
  targetCpa: number | null;
  targetRoas: number | null;
  endsAt: number | null;
  strategy: Strategy;
  platformAllocations: PlatformAllocations;
  lowNotified: boolean;
  /** The currency's minor-unit digits (model.ts decimalsOf: JPY 0, EUR 2, KWD 3) for the amounts in reasons; 2 if absent. */
  decimals?: number;
  /** The budget's status (endDecisions marks it ended once); absent: active. */
  status?: BudgetStatus;
}

/** A campaign as the rules see it; the rotation's fields (rotation.ts) only for a campaign with variant ads. */
export interface CampaignView extends Partial<RotationView> {
  id: number;
  platform: Platform;
  status: CampaignStatus;
  statusReason: string | null;
  dailyBudget: number;
  stats: Stats;
  lastRaiseAt: number | null;
}

export type Action =
  | { kind: 'pause'; reason: PauseReason }
  /** `from`: the pause it lifts (absent: daily_limit); a rule resumes only its own kind of pause (decide.ts). */
  | { kind: 'resume'; from?: 'daily_limit' | 'budget_exhausted' }
  | { kind: 'complete' }
  /** A campaign the budget never ran (NEVER_RAN) closes at the budget's end: completed, nothing sent to a platform. */
  | { kind: 'close' }
  | { kind: 'set_daily_budget'; daily_budget: number }
  | { kind: 'budget_status'; status: 'exhausted' | 'active' | 'ended' }
  | { kind: 'notify_low_budget'; remaining: number; remaining_pct: number }
  /** Creative rotation: pause these variants' ads (the losers), keep the winner's running. */
  | { kind: 'pause_ads'; ad_ids: string[]; winner_ad_id: string }
  /** Creative rotation: nothing to change at this look (a note, at most once a day). */
  | { kind: 'keep_rotating' };

export interface Decision {
  /** 0 = the budget as a whole. */
  campaignId: number;
  rule: string;
  action: Action;
  inputs: Record<string, unknown>;
  reason: string;
}

export const RULES = {
  /** Pause at CPA above this multiple of the target. */
  cpaMultiple: 2,
  /** Judge CPA only once spend reached this multiple of the target CPA. */
  cpaMinSpendMultiple: 2,
  roasMultiple: 2,
  roasMinConversions: 5,
  raiseStep: 0.2,
  raiseEveryMs: 24 * HOUR_MS,
  /** An hour's spend may run this much above its share of the daily budget (the platforms' pacing). */
  hourlyOverdelivery: 1.2,
  lowBudgetShare: 0.2,
} as const;

export const running = (c: CampaignView) => c.status === 'active';
export const pausedBy = (c: CampaignView, r: PauseReason) => c.status === 'paused' && c.statusReason === r;
/**
 * Paused by the budget's exhaustion while the budget is active again (a raise of its total reopened it): such a
 * campaign runs again (budget_reopened), so it counts as spending wherever the rules weigh the day. Nothing else
 * lifts such a pause: before, a top-up left every one of them paused for good.
 */
export const reopened = (b: BudgetView, c: CampaignView) => (b.status ?? 'active') === 'active' && pausedBy(c, 'budget_exhausted');
/** Spends today at its daily budget: running, paused by the daily limit (resumed by itself), or reopened. */
export const spending = (b: BudgetView) => (c: CampaignView) => running(c) || pausedBy(c, 'daily_limit') || reopened(b, c);
/** An amount in a reason, with the budget's currency digits (JPY 1396, not 1396.00). */
export const money = (b: BudgetView) => (x: number) => (Number.isFinite(x) ? x.toFixed(b.decimals ?? 2) : '∞');

export interface HourInput {
  budget: BudgetView;
  campaigns: CampaignView[];
  /** Spend of the budget's campaigns since the start of this UTC day. */
  spentToday: number;
  now: number;
}

/** The next hour's expected spend of these campaigns at their daily budgets, with the pacing margin. */
const nextHour = (cs: CampaignView[]) => cs.reduce((s, c) => s + c.dailyBudget, 0) / 24 * RULES.hourlyOverdelivery;

/**
 * Once the budget's ends_at has passed, every campaign still active or paused completes, every campaign it never ran
 * (draft, pending review, scheduled, failed) closes — out of the approval queue — and the budget reads `ended`
 * (decided last, so it is marked once its campaigns are); null before. A campaign being published is left to finish
 * (and is completed by a later run). Also run every minute by campaigns.end_budgets, so an end takes effect within
 * about a minute, not at the next hour. A budget already ended or cancelled (BudgetView.status) is not marked again.
 */
export function endDecisions(b: BudgetView, campaigns: CampaignView[], now: number): Decision[] | null {
  if (b.endsAt === null || now < b.endsAt) return null;
  const inputs = { ends_at: new Date(b.endsAt).toISOString() };
  const out: Decision[] = campaigns.filter((c) => c.status === 'active' || c.status === 'paused').map((c) => ({
    campaignId: c.id, rule: 'budget_ended', action: { kind: 'complete' }, inputs,
    reason: 'The budget\'s end date has passed: the campaign is complete.',
  }));
  for (const c of campaigns.filter((x) => NEVER_RAN.includes(x.status))) {
    out.push({ campaignId: c.id, rule: 'budget_ended', action: { kind: 'close' }, inputs: { ...inputs, status: c.status }, reason: `The budget's end date has passed before the campaign ran (it was ${c.status.replace('_', ' ')}): closed.` });
  }
  if (b.status !== 'ended' && b.status !== 'cancelled') {
    out.push({ campaignId: 0, rule: 'budget_ended', action: { kind: 'budget_status', status: 'ended' }, inputs, reason: 'The budget\'s end date has passed: the budget has ended.' });
  }
  return out;
}

/**
 * What is left of the budget in its currency's own digits (KWD 0.625, not 0.63), that as a percentage of the total
 * (one decimal, for the notice and the log alike), and whether it is below the low-budget share (20 %).
 */
export function budgetLeft(b: Pick<BudgetView, 'total' | 'spent' | 'decimals'>): { remaining: number; pct: number; low: boolean } {
  const remaining = roundTo(Math.max(0, b.total - b.spent), b.decimals ?? 2);
  const pct = b.total > 0 ? roundTo((remaining / b.total) * 100, 1) : 0;
  return { remaining, pct, low: remaining < RULES.lowBudgetShare * b.total };
}

/**
 * The organizer's notice, once per fall below 20 % (lowNotified; a raise of the total that leaves 20 % or more
 * again clears it): below 20 % of the total left, or when the budget stops exhausted before it was sent (a budget
 * of a few days can run out between two daily rebalances, and an exhausted budget is no longer rebalanced).
 * Checked by the hourly optimiser, the daily rebalance and a budget override.
 */
export function lowBudgetDecisions(b: BudgetView, exhausting: boolean): Decision[] {
  const d = b.decimals ?? 2;
  const { remaining, pct, low } = budgetLeft(b);
  if (b.lowNotified || (!exhausting && !low)) return [];
  return [{
    campaignId: 0, rule: 'low_budget', action: { kind: 'notify_low_budget', remaining, remaining_pct: pct },
    inputs: { total: b.total, spent: roundTo(b.spent, d) },
    reason: exhausting
      ? `The budget is used up (${remaining.toFixed(d)}, ${pct.toFixed(1)} % left): the organizer is told.`
      : `Only ${remaining.toFixed(d)} (${pct.toFixed(1)} %) of the budget is left: the organizer is told.`,
  }];
}

/** The stop rules (budget_ended, budget_exhausted with its notice): the decisions, or null while the budget runs on. */
export function guards(inp: Pick<HourInput, 'budget' | 'campaigns' | 'now'>): Decision[] | null {
  const { budget: b, campaigns, now } = inp;
  const fmt = money(b);
  const live = campaigns.filter(spending(b));
  const ended = endDecisions(b, campaigns, now);
  if (ended) return ended;
  const expected = nextHour(live);
  if (live.length > 0 && b.spent + expected >= b.total) {
    const inputs = { total: b.total, spent: cents(b.spent), next_hour_expected: cents(expected) };
    return [
      ...lowBudgetDecisions(b, true),
      { campaignId: 0, rule: 'budget_exhausted', action: { kind: 'budget_status', status: 'exhausted' }, inputs, reason: `Spent ${fmt(b.spent)} of ${fmt(b.total)}; another hour would reach the total, so the budget stops here.` },
      ...live.filter(running).map((c): Decision => ({ campaignId: c.id, rule: 'budget_exhausted', action: { kind: 'pause', reason: 'budget_exhausted' }, inputs, reason: 'The budget is used up: paused.' })),
    ];
  }
  return null;
}

function dailyLimitDecisions(inp: HourInput): Decision[] {
  const { budget: b, campaigns, spentToday } = inp;
  const fmt = money(b);
  if (b.dailyLimit === null) return [];
  const live = campaigns.filter(spending(b));
  const expected = nextHour(live);
  const inputs = { daily_limit: b.dailyLimit, spent_today: cents(spentToday), next_hour_expected: cents(expected) };
  if (spentToday + expected > b.dailyLimit) {
    return live.filter(running).map((c) => ({
      campaignId: c.id, rule: 'daily_limit', action: { kind: 'pause', reason: 'daily_limit' }, inputs,
      reason: `Spent ${fmt(spentToday)} today; another hour would pass the daily limit of ${fmt(b.dailyLimit!)}: paused until tomorrow.`,
    }));
  }
  return live.filter((c) => pausedBy(c, 'daily_limit')).map((c) => ({
    campaignId: c.id, rule: 'daily_limit', action: { kind: 'resume' }, inputs, reason: 'A new day under the daily limit: resumed.',
  }));
}

function cpaDecisions(inp: HourInput): Decision[] {
  const { budget: b } = inp;
  const fmt = money(b);
  if (b.targetCpa === null) return [];
  const out: Decision[] = [];
  // Running, and paused by the daily limit (which resumes them on the next day) or by an exhaustion the budget's
  // top-up lifts: a CPA pause replaces that one.
  const live = inp.campaigns.filter(spending(b));
  let left = live.length;
  // The worst first: if only one may go (the last running one stays), it is the worst.
  const judged = live
    .map((c) => ({ c, cpa: c.stats.conversions > 0 ? c.stats.spend / c.stats.conversions : Infinity }))
    .filter((x) => x.c.stats.spend >= RULES.cpaMinSpendMultiple * b.targetCpa! && x.cpa > RULES.cpaMultiple * b.targetCpa!)
    .sort((x, y) => y.cpa - x.cpa);
  for (const { c, cpa } of judged) {
    if (left <= 1) break;
    left--;
    out.push({
      campaignId: c.id, rule: 'cpa_above_limit', action: { kind: 'pause', reason: 'cpa_above_limit' },
      inputs: { spend: cents(c.stats.spend), conversions: c.stats.conversions, cpa: Number.isFinite(cpa) ? cents(cpa) : null, target_cpa: b.targetCpa },
      reason: `CPA ${fmt(cpa)} is above ${RULES.cpaMultiple}× the target of ${fmt(b.targetCpa!)} after spending ${fmt(c.stats.spend)}: paused.`,
    });
  }
  return out;
}

function roasDecisions(inp: HourInput, pausedNow: Set<number>): Decision[] {
  const { budget: b, now } = inp;
  const fmt = money(b);
  if (b.targetRoas === null) return [];
  const active = inp.campaigns.filter((c) => running(c) && !pausedNow.has(c.id));
  const target = dailyTarget({ total: b.total, spent: b.spent, dailyLimit: b.dailyLimit, endsAt: b.endsAt, now });
  // The day's headroom is what the campaigns spending at their daily budgets leave of it: the active ones and those
  // the daily-limit rule paused, which resume by themselves (in this very window, on a new day). Counting the active
  // ones only let a raise in the window that resumed the others push the day past its limit.
  const spends = inp.campaigns.filter((c) => !pausedNow.has(c.id) && spending(b)(c));
  let headroom = floorCents(target - spends.reduce((s, c) => s + c.dailyBudget, 0));
  // A platform's own daily_limit caps its campaigns' daily budgets together, as the daily split does (allocate.ts).
  const platformRoom = new Map<Platform, number>();
  for (const [p, a] of Object.entries(b.platformAllocations) as [Platform, { daily_limit?: number } | undefined][]) {
    if (a?.daily_limit !== undefined) platformRoom.set(p, floorCents(a.daily_limit - spends.filter((c) => c.platform === p).reduce((s, c) => s + c.dailyBudget, 0)));
  }
  const candidates = active
    .map((c) => ({ c, roas: c.stats.spend > 0 ? c.stats.revenue / c.stats.spend : 0 }))
    .filter((x) => x.c.stats.conversions >= RULES.roasMinConversions && x.roas > RULES.roasMultiple * b.targetRoas!)
    .filter((x) => x.c.lastRaiseAt === null || now - x.c.lastRaiseAt >= RULES.raiseEveryMs)
    .sort((x, y) => y.roas - x.roas);
  const out: Decision[] = [];
  for (const { c, roas } of candidates) {
    const room = platformRoom.get(c.platform) ?? Infinity;
    const raise = floorCents(Math.min(c.dailyBudget * RULES.raiseStep, headroom, room));
    if (headroom < 0.01) break;
    if (raise < 0.01) continue;
    headroom = floorCents(headroom - raise);
    if (platformRoom.has(c.platform)) platformRoom.set(c.platform, floorCents(room - raise));
    const next = cents(c.dailyBudget + raise);
    out.push({
      campaignId: c.id, rule: 'roas_above_target', action: { kind: 'set_daily_budget', daily_budget: next },
      inputs: { roas: cents(roas), target_roas: b.targetRoas, conversions: c.stats.conversions, daily_budget: c.dailyBudget, day_target: target },
      reason: `ROAS ${roas.toFixed(2)}× is above ${RULES.roasMultiple}× the target of ${b.targetRoas}×: daily budget ${fmt(c.dailyBudget)} → ${fmt(next)}.`,
    });
  }
  return out;
}

/**
 * How strongly a pause holds a campaign: the daily-limit rule resumes its `daily_limit` pause; the budget's own pauses
 * wait for the budget (a `budget_exhausted` one is resumed once a raise of the total reopens it: budget_reopened); a
 * CPA pause is the campaign's own verdict; a manual one only a hand lifts.
 */
const PAUSE_RANK: Record<PauseReason, number> = { daily_limit: 0, budget_paused: 1, budget_exhausted: 1, cpa_above_limit: 2, manual: 3 };
const rankOf = (reason: string | null): number => (reason !== null && reason in PAUSE_RANK ? PAUSE_RANK[reason as PauseReason] : 3);

/**
 * What a logged pause does to the campaign as it is now: `pause` one still running (the platform call and the move);
 * `replace_reason` of one already paused for a weaker reason (nothing to send: it is paused on the platform; the
 * stronger reason is stored, so a CPA pause on a campaign the daily limit paused is not resumed on the next day);
 * `superseded` when it is paused for an equal or stronger reason, or no longer running at all: nothing changes, and
 * the log says so (never applied). Pure.
 */
export function pauseOutcome(c: { status: CampaignStatus; statusReason: string | null }, reason: PauseReason): 'pause' | 'replace_reason' | 'superseded' {
  if (c.status === 'active') return 'pause';
  if (c.status === 'paused' && PAUSE_RANK[reason] > rankOf(c.statusReason)) return 'replace_reason';
  return 'superseded';
}

/** The hourly decisions for one budget. */
export function hourlyDecisions(inp: HourInput): Decision[] {
  const stop = guards(inp);
  if (stop) return stop;
  const low = lowBudgetDecisions(inp.budget, false);
  const cpa = cpaDecisions(inp);
  // A campaign the CPA rule pauses gets no daily-limit decision of the same window: its pause outranks the day's,
  // and it must not be resumed.
  const cpaPaused = new Set(cpa.map((d) => d.campaignId));
  const dailyAll = dailyLimitDecisions(inp);
  const daily = dailyAll.filter((d) => !cpaPaused.has(d.campaignId));
  const paused = new Set([...daily, ...cpa].filter((d) => d.action.kind === 'pause').map((d) => d.campaignId));
  // While the day's limit holds the budget, nothing is raised, and nothing the exhaustion paused is resumed yet (a
  // later window of the day, or the next day, resumes it).
  const held = dailyAll.some((d) => d.action.kind === 'pause');
  const roas = held ? [] : roasDecisions(inp, paused);
  const reopen = held ? [] : reopenDecisions(inp.budget, inp.campaigns.filter((c) => !cpaPaused.has(c.id)));
  return [...low, ...daily, ...cpa, ...reopen, ...roas, ...rotationDecisions(inp.campaigns, inp.now)];
}

/**
 * The campaigns the budget's exhaustion paused, resumed once it is active again (its total raised above the spend):
 * at the override that reopened it, and by every hourly window for one a platform refused then.
 */
export function reopenDecisions(b: BudgetView, campaigns: CampaignView[]): Decision[] {
  const fmt = money(b);
  const { remaining } = budgetLeft(b);
  return campaigns.filter((c) => reopened(b, c)).map((c) => ({
    campaignId: c.id, rule: 'budget_reopened', action: { kind: 'resume', from: 'budget_exhausted' }, inputs: { total: b.total, spent: roundTo(b.spent, b.decimals ?? 2) },
    reason: `The budget's total was raised to ${fmt(b.total)} (${fmt(remaining)} left): it runs again, resumed.`,
  }));
}

export interface DayInput {
  budget: BudgetView;
  campaigns: CampaignView[];
  now: number;
  rand: () => number;
  bandit?: BanditOpts;
}

/** The daily rebalance: notices, exhaustion and the day's split between the running campaigns. */
export function dailyDecisions(inp: DayInput): Decision[] {
  const b = inp.budget;
  const eligible = inp.campaigns.filter((c) => running(c) || pausedBy(c, 'daily_limit'));
  return [...lowBudgetDecisions(b, false), ...splitDecisions(b, eligible, inp.now, inp.rand, inp.bandit)];
}

/** The day's target split between `eligible` by the budget's strategy (allocate.ts): one daily budget each, at least `least`'s. */
export function splitDecisions(b: BudgetView, eligible: CampaignView[], now: number, rand: () => number, bandit?: BanditOpts, least: (c: CampaignView) => number = () => 0): Decision[] {
  const fmt = money(b);
  if (eligible.length === 0) return [];
  const target = dailyTarget({ total: b.total, spent: b.spent, dailyLimit: b.dailyLimit, endsAt: b.endsAt, now });
  const alloc = allocate({
    strategy: b.strategy, platformAllocations: b.platformAllocations, dayTarget: target, rand, bandit,
    arms: eligible.map((c) => ({ id: c.id, platform: c.platform, stats: c.stats })),
  });
  return eligible.map((c): Decision => {
    const next = Math.max(least(c), alloc.daily.get(c.id) ?? 0);
    const share = alloc.shares.get(c.id) ?? 0;
    const wp = alloc.winProbabilities?.get(c.id);
    return {
      campaignId: c.id, rule: `rebalance_${b.strategy}`, action: { kind: 'set_daily_budget', daily_budget: next },
      inputs: { day_target: target, share, ...(wp === undefined ? {} : { win_probability: wp }), spend: cents(c.stats.spend), clicks: c.stats.clicks, conversions: c.stats.conversions, revenue: cents(c.stats.revenue), previous_daily_budget: c.dailyBudget },
      reason: b.strategy === 'performance_based'
        ? `Thompson sampling gives it a ${(share * 100).toFixed(1)} % share (won ${((wp ?? 0) * 100).toFixed(1)} % of the draws): ${fmt(next)} of today's ${fmt(target)}.`
        : `${b.strategy === 'manual' ? 'Manual platform split' : 'Equal split'}: ${fmt(next)} of today's ${fmt(target)}.`,
    };
  });
}
