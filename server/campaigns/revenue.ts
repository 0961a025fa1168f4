// The money the campaigns made — our tracked revenue, the platforms' claimed revenue and every ROAS derived from
// them — goes in campaign replies only to a principal with view_revenue (issue 18), as the live mirror serves its
// revenue-free variant. Spend, budgets, targets (target_roas included), clicks, conversions, sales and tickets
// are not revenue and stay. The report's sentences are built without it (report.ts organizerReport). Pure.

/** Keys of campaign replies that hold revenue or a ROAS (performance_metrics, series, report, overview, log inputs). */
export const REVENUE_KEYS: ReadonlySet<string> = new Set(['revenue', 'revenue_platform', 'platform_revenue', 'revenue_generated', 'roas', 'roas_tracked', 'roas_platform']);

/** What an optimiser decision taken on the ROAS says instead of its figures. */
export const ROAS_REASON = 'Decided on the tracked ROAS (shown with view_revenue).';

/**
 * A campaign reply without the money, at any depth: the REVENUE_KEYS go, and a decision's `reason` that states a
 * ROAS is replaced by ROAS_REASON (its action and the daily budget it set stay). Pure.
 */
export function revenueFree<T>(v: T): T {
  if (Array.isArray(v)) return v.map((x) => revenueFree(x)) as T;
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (REVENUE_KEYS.has(k)) continue;
    out[k] = k === 'reason' && typeof x === 'string' && /ROAS/.test(x) ? ROAS_REASON : revenueFree(x);
  }
  return out as T;
}
