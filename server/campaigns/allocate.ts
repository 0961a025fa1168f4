// Budget allocation (seed 002 §2.4 allocateBudget / reallocateBudget): how much a budget may spend per day
// (pacing) and how that day is split between its campaigns. Pure; randomness comes from the seed passed in.
//
// performance_based is a Thompson-sampling bandit: for each campaign, draw a conversion rate from
// Beta(1 + conversions, 1 + clicks − conversions), turn it into value per euro (× mean order value ÷ cost per
// click, both with weak priors), and count how often each campaign wins over DRAWS draws. Its share of the day
// is that win probability, clamped to [minShare, maxShare] (explore a little, never bet everything), then
// renormalised. Campaigns without data share the prior: the first day is an equal split. A budget that states
// platform percentages keeps each platform at its percentage of the day (they add up to 100, so a platform's share is
// its minimum and maximum alike) and runs the bandit between the campaigns of each platform.
import { beta } from './rng.js';
import { cents, DAY_MS, floorCents, floorTo, roundTo, type Platform, type PlatformAllocations, type Stats, type Strategy } from './model.js';

export interface PaceInput {
  total: number;
  spent: number;
  dailyLimit: number | null;
  /** ms; null = open-ended (paced over DEFAULT_PACE_DAYS). */
  endsAt: number | null;
  now: number;
}

export const DEFAULT_PACE_DAYS = 14;

/** The day's spend target: what is left spread evenly over the days left, never above the daily limit. */
export function dailyTarget(p: PaceInput): number {
  const remaining = Math.max(0, p.total - p.spent);
  const daysLeft = p.endsAt === null ? DEFAULT_PACE_DAYS : Math.max(1, Math.ceil((p.endsAt - p.now) / DAY_MS));
  const even = remaining / daysLeft;
  return floorCents(Math.min(even, p.dailyLimit ?? Infinity, remaining));
}

export interface Arm {
  id: number;
  platform: Platform;
  stats: Stats;
}

export interface BanditOpts {
  draws: number;
  minShare: number;
  maxShare: number;
  /** Prior mean order value and cost per click, used until a campaign has its own. */
  priorOrderValue: number;
  priorCpc: number;
}

export const DEFAULT_BANDIT: BanditOpts = { draws: 400, minShare: 0.02, maxShare: 0.85, priorOrderValue: 50, priorCpc: 0.5 };

/** Value per euro drawn once for an arm. */
function drawValuePerEuro(s: Stats, o: BanditOpts, rand: () => number): number {
  const conv = Math.min(s.conversions, s.clicks);
  const cvr = beta(1 + conv, 1 + Math.max(0, s.clicks - conv), rand);
  // Weak priors (worth 5 conversions / 20 clicks) keep early averages from swinging.
  const aov = (s.revenue + 5 * o.priorOrderValue) / (conv + 5);
  const cpc = (s.spend + 20 * o.priorCpc) / (s.clicks + 20);
  return (cvr * aov) / cpc;
}

/** Win probabilities of the arms by Thompson sampling. */
export function winProbabilities(arms: Arm[], o: BanditOpts, rand: () => number): Map<number, number> {
  const wins = new Map<number, number>(arms.map((a) => [a.id, 0]));
  for (let i = 0; i < o.draws; i++) {
    let best = -1;
    let bestId = -1;
    for (const a of arms) {
      const v = drawValuePerEuro(a.stats, o, rand);
      if (v > best) [best, bestId] = [v, a.id];
    }
    wins.set(bestId, wins.get(bestId)! + 1);
  }
  return new Map([...wins].map(([id, w]) => [id, w / o.draws]));
}

/** Clamps shares into [min, max] and renormalises until stable (sum 1). */
export function clampShares(shares: Map<number, number>, min: number, max: number): Map<number, number> {
  const n = shares.size;
  if (n === 0) return shares;
  const lo = Math.min(min, 1 / n);
  const hi = Math.max(max, 1 / n);
  let out = new Map(shares);
  for (let round = 0; round < 50; round++) {
    const fixed = new Map<number, number>();
    for (const [id, s] of out) if (s <= lo) fixed.set(id, lo); else if (s >= hi) fixed.set(id, hi);
    const free = [...out].filter(([id]) => !fixed.has(id));
    const rest = 1 - [...fixed.values()].reduce((a, b) => a + b, 0);
    const freeSum = free.reduce((a, [, s]) => a + s, 0);
    const next = new Map(fixed);
    for (const [id, s] of free) next.set(id, freeSum > 0 ? (s / freeSum) * rest : rest / free.length);
    if (free.length === 0) {
      const sum = [...next.values()].reduce((a, b) => a + b, 0);
      for (const [id, s] of next) next.set(id, s / sum);
    }
    const stable = [...next].every(([id, s]) => Math.abs(s - (out.get(id) ?? 0)) < 1e-9);
    out = next;
    if (stable) break;
  }
  return out;
}

export interface AllocationInput {
  strategy: Strategy;
  platformAllocations: PlatformAllocations;
  arms: Arm[];
  dayTarget: number;
  bandit?: BanditOpts;
  rand: () => number;
}

export interface Allocation {
  /** Campaign id → daily budget (cents floored: the sum never exceeds the day's target). */
  daily: Map<number, number>;
  shares: Map<number, number>;
  /** performance_based: the bandit's win probabilities before clamping. */
  winProbabilities?: Map<number, number>;
}

/** Whether the budget states platform percentages (validation makes them add up to 100 when it does). */
const statesPercentages = (pa: PlatformAllocations): boolean => Object.values(pa).some((a) => a?.percentage !== undefined);

/**
 * Each platform with campaigns and its share of the day: its percentage over the percentages of the platforms that
 * have campaigns (a platform without campaigns leaves its share to the others); 0 for a platform stated at 0 or not
 * named.
 */
function platformShares(arms: Arm[], pa: PlatformAllocations): Map<Platform, { share: number; arms: Arm[] }> {
  const byPlatform = new Map<Platform, Arm[]>();
  for (const a of arms) byPlatform.set(a.platform, [...(byPlatform.get(a.platform) ?? []), a]);
  const totalPct = [...byPlatform.keys()].reduce((s, p) => s + (pa[p]?.percentage ?? 0), 0);
  return new Map([...byPlatform].map(([p, list]) => [p, { share: totalPct > 0 ? (pa[p]?.percentage ?? 0) / totalPct : 0, arms: list }]));
}

/** Manual: the platforms' percentages, split evenly inside a platform; platforms without a share get none. */
function manualShares(arms: Arm[], pa: PlatformAllocations): Map<number, number> {
  const out = new Map<number, number>();
  for (const { share, arms: list } of platformShares(arms, pa).values()) for (const a of list) out.set(a.id, share / list.length);
  return out;
}

/**
 * performance_based: the bandit over all the campaigns, or, when the budget states platform percentages, each
 * platform held at its percentage and the bandit (its draws, then the [minShare, maxShare] clamp) run between that
 * platform's campaigns. Win probabilities are then within the campaign's platform.
 */
function banditShares(arms: Arm[], pa: PlatformAllocations, o: BanditOpts, rand: () => number): { shares: Map<number, number>; wp: Map<number, number> } {
  if (!statesPercentages(pa)) {
    const wp = winProbabilities(arms, o, rand);
    return { shares: clampShares(wp, o.minShare, o.maxShare), wp };
  }
  const shares = new Map<number, number>();
  const wp = new Map<number, number>();
  for (const { share, arms: list } of platformShares(arms, pa).values()) {
    const w = winProbabilities(list, o, rand);
    const inside = clampShares(w, o.minShare, o.maxShare);
    for (const a of list) {
      wp.set(a.id, w.get(a.id)!);
      shares.set(a.id, share * inside.get(a.id)!);
    }
  }
  return { shares, wp };
}

/** The day's target split between the arms by strategy, platform daily limits applied. */
export function allocate(inp: AllocationInput): Allocation {
  const o = inp.bandit ?? DEFAULT_BANDIT;
  if (inp.arms.length === 0) return { daily: new Map(), shares: new Map() };
  let shares: Map<number, number>;
  let wp: Map<number, number> | undefined;
  if (inp.strategy === 'manual') shares = manualShares(inp.arms, inp.platformAllocations);
  else if (inp.strategy === 'equal_split') shares = new Map(inp.arms.map((a) => [a.id, 1 / inp.arms.length]));
  else ({ shares, wp } = banditShares(inp.arms, inp.platformAllocations, o, inp.rand));
  const daily = new Map<number, number>();
  for (const a of inp.arms) daily.set(a.id, floorCents(inp.dayTarget * (shares.get(a.id) ?? 0)));
  // A platform's own daily limit caps the sum of its campaigns (scaled down together).
  for (const p of new Set(inp.arms.map((a) => a.platform))) {
    const limit = inp.platformAllocations[p]?.daily_limit;
    if (limit === undefined) continue;
    const ids = inp.arms.filter((a) => a.platform === p).map((a) => a.id);
    const sum = ids.reduce((s, id) => s + daily.get(id)!, 0);
    if (sum > limit) for (const id of ids) daily.set(id, floorCents((daily.get(id)! * limit) / sum));
  }
  return { daily, shares: new Map([...shares].map(([k, v]) => [k, cents(v * 10000) / 10000])), winProbabilities: wp };
}

/**
 * Why a budget's platform percentages would be ignored by its strategy (a 400 on the field named), or null.
 * equal_split splits the day evenly over the campaigns: its percentages only choose the platforms (those above 0
 * get campaigns), so platforms named with different percentages ask for a split it never makes.
 */
export function ignoredPercentages(strategy: Strategy, pa: PlatformAllocations): { field: string; message: string } | null {
  if (strategy !== 'equal_split') return null;
  const named = (Object.entries(pa) as [Platform, { percentage: number }][]).filter(([, a]) => a.percentage > 0);
  const even = 100 / named.length;
  const odd = named.find(([, a]) => Math.abs(a.percentage - even) > 0.01 + 1e-9);
  if (!odd) return null;
  const names = named.map(([p]) => p).join(', ');
  return {
    field: `platform_allocations.${odd[0]}.percentage`,
    message: `platform_allocations.${odd[0]}.percentage ${odd[1].percentage} is not an even share of ${names} (${cents(even)} each): equal_split splits the day evenly over the campaigns and would ignore it. Give the platforms the same percentage (0 leaves one out), or choose manual (a fixed split by platform) or performance_based (each platform held at its percentage, the bandit between its campaigns).`,
  };
}

export interface StartingInput extends Omit<AllocationInput, 'arms'> {
  /** Campaigns of the budget already spending, with the daily budget each holds. */
  running: (Arm & { daily: number })[];
  /** Campaigns being approved now. */
  starting: Arm[];
  /** Campaigns of the budget that may still be approved (pending review, drafts). */
  waiting: Arm[];
  /** The currency's minor-unit exponent (model.ts decimalsOf: JPY 0, EUR 2, KWD 3); 2 by default. */
  decimals?: number;
}

export interface StartingShare {
  /** The daily budget it starts with: the least of the three below, floored to the currency's minor unit. */
  daily: number;
  /** Its share of the day by the strategy (platform daily limits applied), before what the others hold. */
  share: number;
  /** What the budget's day had left when its turn came: the day's target less what the running ones hold. */
  budgetRoom: number;
  /** What its platform's daily_limit had left then (less the platform's running ones); null without a limit. */
  platformRoom: number | null;
}

/**
 * Daily budgets for campaigns approved now, with what bound each (review.ts explains a refusal from it). The day is
 * split over every campaign of the budget that runs or may still start, so approving a suite one campaign at a time
 * gives each its share instead of the first one the whole day (and the rest nothing); a starting campaign never takes
 * more than the running ones (and those started before it in the same approval) leave of the day, nor of its
 * platform's daily_limit.
 */
export function startingSplit(inp: StartingInput): Map<number, StartingShare> {
  const d = inp.decimals ?? 2;
  const floor = (x: number) => Math.max(0, floorTo(x, d));
  const held = (xs: { daily: number }[]) => roundTo(xs.reduce((s, c) => s + c.daily, 0), d);
  // The arms in one order (by id) whichever of them start now: the bandit's draws go to the arms in turn, so an order
  // that put the starting ones first gave a campaign another share when approved alone than with the others, and a
  // queue's proposals (each computed as if starting first) added up to more than the day (1.20 of 1.16).
  const arms = [...inp.running, ...inp.starting, ...inp.waiting].sort((a, b) => a.id - b.id);
  const shares = allocate({ ...inp, arms }).daily;
  let budgetRoom = floor(inp.dayTarget - held(inp.running));
  const platformRoom = new Map<Platform, number>();
  for (const [p, a] of Object.entries(inp.platformAllocations) as [Platform, { daily_limit?: number } | undefined][]) {
    if (a?.daily_limit !== undefined) platformRoom.set(p, floor(a.daily_limit - held(inp.running.filter((c) => c.platform === p))));
  }
  const out = new Map<number, StartingShare>();
  for (const a of inp.starting) {
    const share = floor(shares.get(a.id) ?? 0);
    const room = platformRoom.get(a.platform) ?? null;
    const daily = floor(Math.min(share, budgetRoom, room ?? Infinity));
    out.set(a.id, { daily, share, budgetRoom, platformRoom: room });
    budgetRoom = floor(budgetRoom - daily);
    if (room !== null) platformRoom.set(a.platform, floor(room - daily));
  }
  return out;
}

/** The daily budgets of startingSplit alone. */
export function startingBudgets(inp: StartingInput): Map<number, number> {
  return new Map([...startingSplit(inp)].map(([id, s]) => [id, s.daily]));
}

export interface CapInput {
  total: number;
  spent: number;
  dailyLimit: number | null;
  platformAllocations: PlatformAllocations;
  /** The campaign whose daily budget is set by hand. */
  platform: Platform;
  /**
   * The budget's other campaigns that spend today at their daily budgets: active, being published, or paused by the
   * daily-limit rule (which resumes them itself).
   */
  others: { platform: Platform; daily: number }[];
  /** The currency's minor-unit exponent (model.ts decimalsOf); 2 by default. */
  decimals?: number;
}

export interface DailyCap {
  /** The largest daily budget the campaign may be given (cents floored, never below 0). */
  max: number;
  /** The field whose limit binds: total_budget, daily_budget_limit or platform_allocations.{p}.daily_limit. */
  by: string;
  /** Each limit in words with its numbers (the binding one first). */
  detail: string[];
}

/**
 * The cap on a daily budget set by hand (PUT /api/v1/campaigns/{id}/daily-budget): with it, the daily budgets of
 * the budget's spending campaigns add up to at most (1) what is left of the total, (2) the budget's daily limit and
 * (3) the platform's own daily_limit for the campaigns of that platform: the same invariants the daily split keeps
 * (dailyTarget ≤ the limit and what is left; allocate caps each platform). The platforms then pace within a day,
 * so delivery stays inside the documented tolerance. Pure.
 */
export function dailyBudgetCap(inp: CapInput): DailyCap {
  const sum = (xs: { daily: number }[]) => cents(xs.reduce((s, x) => s + x.daily, 0));
  const others = sum(inp.others);
  const remaining = cents(Math.max(0, inp.total - inp.spent));
  const caps: { by: string; max: number; detail: string }[] = [
    { by: 'total_budget', max: remaining - others, detail: `total_budget ${inp.total} with ${remaining} left, minus ${others} a day the budget's other running campaigns take` },
  ];
  if (inp.dailyLimit !== null) caps.push({ by: 'daily_budget_limit', max: inp.dailyLimit - others, detail: `daily_budget_limit ${inp.dailyLimit}, minus ${others} a day the budget's other running campaigns take` });
  const pl = inp.platformAllocations[inp.platform]?.daily_limit;
  if (pl !== undefined) {
    const same = sum(inp.others.filter((o) => o.platform === inp.platform));
    caps.push({ by: `platform_allocations.${inp.platform}.daily_limit`, max: pl - same, detail: `platform_allocations.${inp.platform}.daily_limit ${pl}, minus ${same} a day the other ${inp.platform} campaigns take` });
  }
  caps.sort((a, b) => a.max - b.max);
  const floor = (x: number) => Math.max(0, floorTo(x, inp.decimals ?? 2));
  return { max: floor(caps[0].max), by: caps[0].by, detail: caps.map((c) => `${c.detail}: at most ${floor(c.max)}`) };
}
