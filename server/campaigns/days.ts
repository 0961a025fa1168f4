// The campaigns' days are the tenant's days (seed 002 §2.7: "RebalanceBudget daily 06:00 tenant time"): a
// budget's daily limit counts from the tenant's midnight, and its rebalance runs once per tenant day, at the
// first hourly check at or after 06:00 there, catching up until 12:00 when that check was missed (a server down
// at 06:00). Pure: `now` and the zone are passed in; the zone was checked when the tenant was set up
// (jobs/schedule.ts canonicalTimeZone).
import { localDayStart, windowAt } from '../jobs/schedule.js';

export const REBALANCE_AT = '06:00';
/** How long after the tenant's 06:00 a missed rebalance still runs that day (until 12:00 there). */
export const REBALANCE_CATCH_UP_MS = 6 * 3_600_000;

/**
 * The instant the tenant's day containing `now` began: its local midnight, or the first instant of that date when
 * midnight was skipped (Santiago 2026-09-06 begins at 01:00 -03): a daily limit never counts yesterday's spend.
 */
export const tenantDayStart = (now: number, tz: string): number => localDayStart(now, tz);

/** The tenant's latest 06:00 at or before `now`: the rebalance day `now` belongs to. */
export const rebalanceDay = (now: number, tz: string): number => windowAt({ daily: REBALANCE_AT, tz }, now).start;

/**
 * The tenant's 06:00 whose rebalance is due at `now` (an hourly check), or null: not yet 06:00 there, past the
 * catch-up, or that day's rebalance already done (`doneFor`: the 06:00 of the last completed one).
 */
export function rebalanceDue(now: number, tz: string, doneFor: number | null): number | null {
  const day = rebalanceDay(now, tz);
  if (now - day >= REBALANCE_CATCH_UP_MS) return null;
  return doneFor !== null && doneFor >= day ? null : day;
}
