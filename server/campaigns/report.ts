// The organizer's report (seed 002 §2.8 "Ai investit X EUR, ai generat Y vanzari (Z bilete), ROAS = W" and the
// end-to-end flow's recommendations): invested, sales and tickets credited from our own tracking, ROAS tracked next
// to the platforms' own claim, and advice in plain words. Pure.
import { decimalsOf } from './model.js';

export interface ReportCampaign {
  id: number;
  name: string;
  platform: string;
  campaign_type: string;
  status: string;
  spend: number;
  platform_conversions: number;
  platform_revenue: number;
  orders: number;
  tickets: number;
  revenue: number;
}

export interface Report {
  currency: string;
  budget_total: number;
  invested: number;
  remaining: number;
  sales: number;
  tickets: number;
  revenue: number;
  roas_tracked: number | null;
  roas_platform: number | null;
  summary: string;
  recommendations: string[];
}

const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 100) / 100 : null);
const round2 = (x: number) => Math.round(x * 100) / 100;

/**
 * The target ROAS the report judges by, from the rows of the organizer's budgets in the report's currency (one row
 * per campaign, organizer_report): each budget's target_roas weighted by its total, a budget without one counting as
 * 1×; null when none has a target (the report then judges by 1×). Pure.
 */
export function reportTargetRoas(rows: Record<string, unknown>[]): number | null {
  const budgets = new Map(rows.map((r) => [Number(r.budget_id), { total: Number(r.total_budget), target: r.target_roas === null || r.target_roas === undefined ? null : Number(r.target_roas) }]));
  const list = [...budgets.values()];
  if (!list.some((b) => b.target !== null)) return null;
  const total = list.reduce((s, b) => s + b.total, 0);
  if (total <= 0) return list.find((b) => b.target !== null)!.target;
  return round2(list.reduce((s, b) => s + b.total * (b.target ?? 1), 0) / total);
}

/** The report without the money made (no view_revenue): spend, sales and tickets, and only advice that reveals no ROAS. */
export type RevenueFreeReport = Omit<Report, 'revenue' | 'roas_tracked' | 'roas_platform'>;

/**
 * The organizer's report. `withRevenue` false (a principal without view_revenue, issue 18): no revenue, no ROAS
 * (tracked or claimed), a summary without it and only the budget advice, which reveals neither. Pure.
 */
export function organizerReport(currency: string, budgetTotal: number, campaigns: ReportCampaign[], targetRoas: number | null): Report;
export function organizerReport(currency: string, budgetTotal: number, campaigns: ReportCampaign[], targetRoas: number | null, withRevenue: boolean): Report | RevenueFreeReport;
export function organizerReport(currency: string, budgetTotal: number, campaigns: ReportCampaign[], targetRoas: number | null, withRevenue = true): Report | RevenueFreeReport {
  // Sums in the currency's own minor units (KWD keeps its third decimal, JPY has none).
  const d = decimalsOf(currency);
  const minor = (x: number) => Math.round(x * 10 ** d) / 10 ** d;
  const invested = minor(campaigns.reduce((s, c) => s + c.spend, 0));
  const sales = campaigns.reduce((s, c) => s + c.orders, 0);
  const tickets = campaigns.reduce((s, c) => s + c.tickets, 0);
  const revenue = minor(campaigns.reduce((s, c) => s + c.revenue, 0));
  const claimed = campaigns.reduce((s, c) => s + c.platform_revenue, 0);
  const roas = ratio(revenue, invested);
  const recs: string[] = [];
  // The optimiser's own threshold (rules.ts roas_above_target): above 2× the budgets' target ROAS.
  const target = targetRoas ?? 1;
  if (roas !== null && sales >= 5 && roas > 2 * target) recs.push(`Raise the budget by 20 %: ROAS is ${roas.toFixed(1)}×, above twice the ${round2(target)}× target.`);
  if (roas !== null && invested >= 50 && roas < target) recs.push(`Lower the budget or change the offer: ROAS is ${roas.toFixed(1)}×, below the ${round2(target)}× target.`);
  const withSpend = campaigns.filter((c) => c.spend >= 20);
  const best = withSpend.reduce<ReportCampaign | null>((a, c) => (a === null || c.revenue / c.spend > a.revenue / a.spend ? c : a), null);
  if (best && best.orders > 0) recs.push(`${best.name} sells best (ROAS ${(best.revenue / best.spend).toFixed(1)}×): it gets more of the budget.`);
  const claimedRoas = ratio(claimed, invested);
  if (claimedRoas !== null && roas !== null && claimedRoas > roas * 1.25) recs.push(`The platforms claim ROAS ${claimedRoas.toFixed(1)}×; our own tracking counts ${roas.toFixed(1)}×. Judge by ours.`);
  // Spend may pass the total by the documented tolerance: then nothing is left (never a negative share).
  const budgetRecs: string[] = [];
  if (budgetTotal > 0 && invested >= budgetTotal) budgetRecs.push('The budget is used up: top it up to keep the campaigns running.');
  else if (budgetTotal > 0 && invested >= budgetTotal * 0.8) budgetRecs.push(`${Math.max(0, Math.round((1 - invested / budgetTotal) * 100))} % of the budget is left: top it up to keep the campaigns running.`);
  const spent = { currency, budget_total: budgetTotal, invested, remaining: minor(Math.max(0, budgetTotal - invested)), sales, tickets };
  const made = `You invested ${invested.toFixed(d)} ${currency} and made ${sales} sales (${tickets} tickets)`;
  if (!withRevenue) return { ...spent, summary: `${made}.`, recommendations: budgetRecs };
  return {
    ...spent, revenue, roas_tracked: roas, roas_platform: claimedRoas,
    summary: `${made}, ROAS = ${roas === null ? '—' : `${roas.toFixed(2)}×`}.`,
    recommendations: [...recs, ...budgetRecs],
  };
}

/** A point of the budget's performance-over-time series as the platforms reported it (cumulative, per sync). */
export interface PlatformPoint {
  at: string;
  spend: number;
  clicks: number;
  conversions: number;
  revenue: number;
}

export interface SeriesPoint {
  at: string;
  spend: number;
  clicks: number;
  /** Our own tracking: orders and revenue credited to the budget's campaigns, placed at or before `at` (cumulative). */
  sales: number;
  revenue: number;
  /** What the platforms claimed by then (cumulative). */
  conversions_platform: number;
  revenue_platform: number;
}

/**
 * The series the budget detail answers and the dashboard draws: spend per sync next to the **tracked** revenue (the
 * credits of orders placed by then), with the platforms' claim kept apart under *_platform. `credits` sorted by
 * time. Pure.
 */
export function trackedSeries(points: PlatformPoint[], credits: { at: number; revenue: number }[]): SeriesPoint[] {
  let i = 0;
  let sales = 0;
  let revenue = 0;
  return [...points].sort((a, b) => Date.parse(a.at) - Date.parse(b.at)).map((p) => {
    for (; i < credits.length && credits[i].at <= Date.parse(p.at); i++) {
      sales++;
      revenue += credits[i].revenue;
    }
    return { at: p.at, spend: p.spend, clicks: p.clicks, sales, revenue: Math.round(revenue * 1000) / 1000, conversions_platform: p.conversions, revenue_platform: p.revenue };
  });
}
