// A campaign's daily budget under its budget's headroom (README "Campaigns" → "A daily budget set by hand"): the
// cap a hand-set amount is checked against (service.ts reserveDailyBudget), and the optimiser's `set_daily_budget`
// decisions (decide.ts), which take the budget's turn like a hand-set amount does (budget-turns.ts). In its turn a
// decision reads the budget's campaigns as they are now, is lowered to the cap when the others took the room its
// split counted on (the log says so), and writes a raise; the platform gets it after the turn, and a refusal puts
// the amount before back. A lowering is sent first and written once the platform took it (raisedFirst): written
// first, the room it frees could be taken by another change before a refusal put the higher amount back. Before, a
// decision was sent and written from a split read before any write, outside any turn: a hand raise landing
// meanwhile took the same room, and a day of a 40 limit went to 60.97.
import type { Db } from '../store/db.js';
import type { PlatformAdapter } from './adapters/adapter.js';
import { dailyBudgetCap, type DailyCap } from './allocate.js';
import type { BudgetTurns } from './budget-turns.js';
import type { Applied } from './decide.js';
import { decimalsOf, floorTo, type Platform } from './model.js';
import { campaignStore as S, Q, type Budget, type Campaign } from './store.js';

/** A campaign whose daily budget counts against the day: active, being published, or paused by the daily-limit rule (which resumes it). */
export const spendsDaily = (x: Campaign): boolean => x.status === 'active' || x.status === 'publishing' || (x.status === 'paused' && x.status_reason === 'daily_limit');

/** The most campaign `c` of budget `b` may get a day next to the daily budgets of `all` the budget's other spending campaigns. */
export function capFor(b: Budget, all: Campaign[], c: Campaign): DailyCap {
  const others = all.filter((x) => x.id !== c.id && spendsDaily(x)).map((x) => ({ platform: x.platform, daily: x.daily_budget }));
  return dailyBudgetCap({ total: b.total_budget, spent: b.spent_budget, dailyLimit: b.daily_budget_limit, platformAllocations: b.platform_allocations, platform: c.platform, others, decimals: decimalsOf(b.currency) });
}

export interface DailySetterDeps {
  db: Db;
  adapters: Record<Platform, PlatformAdapter>;
  turns: BudgetTurns;
  now: () => Date;
}

type Reserved = { c: Campaign; before: number; daily: number; cap: DailyCap | null } | { note: string };

/**
 * Whether a new daily budget is written before the platform is asked (a raise: the room it takes is held while the
 * platform answers, a refusal frees it) or after the platform took it (a lowering or the same amount: the store
 * keeps the higher amount, and the room, until the platform runs the lower one).
 */
export const raisedFirst = (before: number, amount: number): boolean => amount > before;

/** After the platform's answer: a raise it refused is put back, a lowering it took is written; each only if nobody changed the amount since. */
export async function settleDaily(db: Db, tenant: number, id: number, before: number, amount: number, taken: boolean, now: Date): Promise<void> {
  if (raisedFirst(before, amount)) {
    if (!taken) await db.query(Q.replace_daily_budget, [tenant, id, amount, before, now]);
  } else if (taken) await db.query(Q.replace_daily_budget, [tenant, id, before, amount, now]);
}

/** Carries out `set_daily_budget` decisions: the store part in the budget's turn, the platform call after it. */
export function createDailySetter(deps: DailySetterDeps) {
  const { db } = deps;

  /** The decision's check and write, in the budget's turn: the headroom read after every earlier change was made. */
  async function reserve(b: Budget, campaignId: number, wanted: number): Promise<Reserved> {
    const all = await S.campaigns(db, b.tenant_id, b.id);
    const c = all.find((x) => x.id === campaignId);
    if (!c || !c.external_campaign_id) return { note: 'the campaign is not on a platform' };
    const cap = capFor((await S.budget(db, b.tenant_id, b.id)) ?? b, all, c);
    // Only a raise is capped: a lowering is carried out as decided, since it only frees room (checked against the
    // others' amounts, a limit just cut below them would refuse every one of a window's lowerings but the last).
    const daily = wanted <= c.daily_budget ? wanted : Math.min(wanted, cap.max);
    if (daily < wanted && daily <= 0) return { note: `not set to ${wanted} ${b.currency}: nothing is left for it today (${cap.detail.join('; ')})` };
    const set = raisedFirst(c.daily_budget, daily) ? await S.setDaily(db, b.tenant_id, c.id, daily, deps.now()) : c;
    return set ? { c: set, before: c.daily_budget, daily, cap: daily < wanted ? cap : null } : { note: 'the campaign is gone' };
  }

  return async function setDaily(b: Budget, campaignId: number, decided: number): Promise<Applied> {
    // The rules split in cents; the platform and the store get whole minor units of the budget's currency.
    const wanted = floorTo(decided, decimalsOf(b.currency));
    const r = await deps.turns(b.tenant_id, b.id, () => reserve(b, campaignId, wanted));
    if ('note' in r) return { to: 'superseded', note: r.note };
    const { c, before, daily, cap } = r;
    const sent = await deps.adapters[c.platform].setDailyBudget({ campaignId: c.external_campaign_id ?? '', adsetId: c.external_adset_id }, daily, b.currency);
    await settleDaily(db, b.tenant_id, c.id, before, daily, sent.ok, deps.now());
    if (!sent.ok) {
      // Refused: the store holds the amount before it (unless something changed it since); the window retries.
      await db.query(Q.set_error, [b.tenant_id, c.id, String(sent.error).slice(0, 1000), deps.now()]);
      return { to: 'failed' };
    }
    if (!cap) return { to: 'applied' };
    return {
      to: 'applied',
      details: {
        applied_daily_budget: daily, capped_by: cap.by,
        note: `set to ${daily} ${b.currency} instead of ${wanted}: the most it may get now, set by ${cap.by} (${cap.detail.join('; ')})`.slice(0, 1000),
      },
    };
  };
}
