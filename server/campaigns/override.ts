// A manual override of a budget's total and/or daily limit (PATCH /api/v1/campaigns/budgets/{id}), carried out at once
// with the optimiser's own stop rules (rules.ts overrideDecisions) instead of waiting for its next hourly window.
import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import { queries } from '../store/queries.js';
import type { Decision } from './rules.js';
import { budgetLeft } from './rules.js';
import { limitFloor, overrideDecisions } from './override-rules.js';
import { decimalsOf, type Platform } from './model.js';
import type { Result } from './service.js';
import { budgetView, campaignStore as S, campaignView, Q, toBudget, type Budget } from './store.js';

/** The job name of a budget override's decisions in the optimisation log. */
export const OVERRIDE_JOB = 'campaigns.budget_override';
const O = queries('campaigns.sql', ['rearm_low_notice']);

export interface OverrideDeps {
  db: Db;
  log: Logger;
  now: () => number;
  /** decide.ts: logs the decisions under the job's window and carries them out. */
  decide(b: Budget, window: Date, job: string, decisions: Decision[]): Promise<{ applied: number; failed: number }>;
  /** The smallest daily budget each platform takes (config.ts minDaily): a cut daily limit leaves each at least this. */
  minDaily?: Partial<Record<Platform, number>>;
}

/**
 * Why budget `b` takes no override now, or null: once it has ended (marked so, or its ends_at passed and the minute's
 * campaigns.end_budgets has not marked it yet) or was cancelled, its figures are history; a raised total would be
 * audited as a change and spend nothing (before, such a PATCH answered 200 and the budget stayed ended).
 */
export function overrideRefusal(b: Budget, now: number): string | null {
  const ended = b.status === 'ended' || (b.ends_at !== null && Date.parse(b.ends_at) <= now);
  if (ended) return `Budget ${b.id} ended${b.ends_at ? ` at ${b.ends_at}` : ''}: its total and daily limit no longer change. Create a new budget to spend more.`;
  if (b.status === 'cancelled') return `Budget ${b.id} is cancelled: its total and daily limit no longer change. Create a new budget to spend more.`;
  return null;
}

export function createOverride(deps: OverrideDeps) {
  const { db, decide } = deps;
  const now = () => new Date(deps.now());

  /**
   * A manual override of the total and/or the daily limit, carried out at once as the hourly optimiser would at its
   * next window (rules.ts overrideDecisions, logged and applied like its decisions): a budget that one more hour of
   * its campaigns' daily budgets could take to the new total stops now (exhausted, its campaigns paused, the
   * organizer told), a daily limit cut below what the running campaigns take lowers their daily budgets, and a raise
   * that reopens an exhausted budget resumes the campaigns its exhaustion paused. A raise of the total that leaves
   * 20 % or more again arms the low-budget notice again. Refused for an ended or cancelled budget (409), and for a
   * daily limit below the least its running campaigns can take (400, `min`).
   */
  async function overrideBudget(tenant: number, id: number, o: { total_budget?: number; daily_budget_limit?: number | null }): Promise<Result<Budget>> {
    const before = await S.budget(db, tenant, id);
    if (!before) return { ok: false, code: 'not_found', message: `No budget ${id} for this tenant.` };
    const refusal = overrideRefusal(before, deps.now());
    if (refusal) return { ok: false, code: 'conflict', message: refusal };
    if (typeof o.daily_budget_limit === 'number') {
      // A limit below what its running campaigns can take at the least would break the cut's promise (each campaign
      // keeps at least its least daily budget, together at most the limit): refused, naming that least.
      const { floor, count, platformMin } = limitFloor(budgetView(before), (await S.campaigns(db, tenant, id)).map(campaignView), deps.minDaily);
      if (o.daily_budget_limit < floor) {
        const d = decimalsOf(before.currency);
        const unit = `${(10 ** -d).toFixed(d)} ${before.currency} a day (the smallest amount in ${before.currency})`;
        const mins = Object.entries(deps.minDaily ?? {}).map(([p, v]) => `${p} ${v} ${before.currency}`).join(', ');
        const least = platformMin ? `its platform's minimum daily budget (${mins}), else ${unit}` : unit;
        return {
          ok: false, code: 'invalid', field: 'daily_budget_limit', min: floor,
          message: `daily_budget_limit ${o.daily_budget_limit} ${before.currency} cannot hold budget ${id}'s ${count} running campaigns: each needs at least ${least}, ${floor.toFixed(d)} ${before.currency} together. Set daily_budget_limit to at least ${floor.toFixed(d)}, or pause campaigns first.`,
        };
      }
    }
    const clear = o.daily_budget_limit === null;
    const r = (await db.query(Q.override_budget, [tenant, id, o.total_budget ?? null, o.daily_budget_limit ?? null, clear, now()])).rows[0];
    if (r) return { ok: true, value: await afterOverride(toBudget(r as Record<string, unknown>), o.total_budget !== undefined) };
    const b = await S.budget(db, tenant, id);
    if (!b) return { ok: false, code: 'not_found', message: `No budget ${id} for this tenant.` };
    // The total is never set at or below what was already spent (the platforms' reported spend).
    return {
      ok: false, code: 'conflict',
      message: `total_budget ${o.total_budget} ${b.currency} is not above what budget ${id} already spent (${b.spent_budget} ${b.currency}): a total is raised above the spend; to stop spending, pause its campaigns.`,
    };
  }

  /** overrideBudget's decisions on the budget as the override left it; the budget as they leave it. */
  async function afterOverride(changed: Budget, totalSet: boolean): Promise<Budget> {
    let b = changed;
    if (totalSet && b.low_notified_at !== null && !budgetLeft(budgetView(b)).low) {
      const rearmed = (await db.query<Record<string, unknown>>(O.rearm_low_notice, [b.tenant_id, b.id, now()])).rows[0];
      if (rearmed) b = toBudget(rearmed);
    }
    // The optimiser works on active budgets only (a paused or exhausted one has no running campaigns to stop).
    if (b.status !== 'active') return b;
    const list = await S.campaigns(db, b.tenant_id, b.id);
    // A top-up that reopened an exhausted budget resumes the campaigns its exhaustion paused and splits the day
    // across them (rules.ts overrideDecisions); a resume a platform refuses is taken up by the hourly optimiser.
    const decisions = overrideDecisions({ budget: budgetView(b), campaigns: list.map(campaignView), now: deps.now(), minDaily: deps.minDaily });
    if (decisions.length === 0) return b;
    const r = await decide(b, now(), OVERRIDE_JOB, decisions);
    // A platform refusal leaves its decision unapplied in the log. This window is not run again: a refused pause of
    // the budget it stopped is sent again by every hourly optimiser window until the platform takes it (jobs.ts
    // optimize); a refused lowering leaves the day to the daily_limit rule and the next rebalance.
    if (r.failed > 0) deps.log.warn({ budget: b.id, failed: r.failed }, 'a budget override\'s decisions were not all carried out; the hourly optimiser takes them up');
    return (await S.budget(db, b.tenant_id, b.id)) ?? b;
  }

  return { overrideBudget };
}
