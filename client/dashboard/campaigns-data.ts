// The DOM-free part of the campaigns page (campaigns.ts): reading the report, the budgets and a budget's detail
// (README "Campaigns") into what the page shows. Kept apart so unit tests (type-checked with the server, without
// the DOM library) can import it. Answers that are not what we expect give null, never a half-drawn page.
import { countAxisMax } from './series.js';

export interface BudgetSummary {
  id: number;
  total: number;
  spent: number;
  remaining: number;
  /** Share of the total spent, 0..1 (capped: a platform may report a little over). */
  spentShare: number;
  currency: string;
  status: string;
  daily_limit: number | null;
}

export interface CampaignRow {
  id: number;
  name: string;
  platform: string;
  type: string;
  status: string;
  reason: string | null;
  impressions: number;
  clicks: number;
  spend: number;
  /** Conversions the platform reports, and sales our own tracking credits to the campaign. */
  conversions: number;
  sales: number;
  /** Tracked revenue / spend; null before any spend. */
  roas: number | null;
}

export interface AudienceRow {
  campaign: string;
  platform: string;
  kind: 'custom' | 'lookalike' | 'excluded';
  type: string;
  /** synced: linked to a built audience with a platform id; waiting: the daily refresh has not linked it yet. */
  state: 'synced' | 'waiting';
  external_id: string | null;
}

export interface SeriesPoint {
  at: number;
  spend: number;
  /** Tracked revenue (our own credited sales, cumulative): the server's series `revenue`, never the platforms' claim. */
  revenue: number;
  /** Tracked sales (orders), cumulative. */
  sales: number;
}

export interface ReportSummary {
  currency: string;
  invested: number;
  remaining: number;
  budget_total: number;
  sales: number;
  tickets: number;
  revenue: number;
  roas_tracked: number | null;
  roas_platform: number | null;
  summary: string;
  recommendations: string[];
  /** Tracked sales and revenue per campaign id. */
  credits: Map<number, { orders: number; revenue: number }>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const numOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown, def = ''): string => (typeof v === 'string' ? v : def);

/** The organizer report, or null when the answer is not one. Pure. */
export function readReport(body: unknown): ReportSummary | null {
  if (!isObj(body) || typeof body.currency !== 'string' || !Array.isArray(body.campaigns)) return null;
  const credits = new Map<number, { orders: number; revenue: number }>();
  for (const c of body.campaigns) if (isObj(c) && typeof c.id === 'number') credits.set(c.id, { orders: num(c.orders), revenue: num(c.revenue) });
  return {
    currency: body.currency, invested: num(body.invested), remaining: num(body.remaining), budget_total: num(body.budget_total),
    sales: num(body.sales), tickets: num(body.tickets), revenue: num(body.revenue),
    roas_tracked: numOrNull(body.roas_tracked), roas_platform: numOrNull(body.roas_platform), summary: str(body.summary),
    recommendations: Array.isArray(body.recommendations) ? body.recommendations.filter((r): r is string => typeof r === 'string') : [],
    credits,
  };
}

/** A budget row (list or detail) as the page's budget bar. Pure. */
export function budgetSummary(b: unknown): BudgetSummary | null {
  if (!isObj(b) || typeof b.id !== 'number') return null;
  const total = num(b.total_budget);
  const spent = num(b.spent_budget);
  return {
    id: b.id, total, spent, remaining: Math.max(0, Math.round((total - spent) * 100) / 100),
    spentShare: total > 0 ? Math.min(1, spent / total) : 0, currency: str(b.currency, 'EUR'), status: str(b.status), daily_limit: numOrNull(b.daily_budget_limit),
  };
}

/**
 * Why a campaign is where it is: a failed one by the platform's refusal (last_error, what to fix before submitting
 * again), one sent back to pending_review by why the approval could not start it (last_error, "… It is back in the
 * approval queue."), else its status_reason (who paused it, a reviewer's note on a rejected draft). Pure.
 */
function reasonOf(c: Obj): string | null {
  if ((c.status === 'failed' || c.status === 'pending_review') && typeof c.last_error === 'string' && c.last_error.trim() !== '') return c.last_error;
  return typeof c.status_reason === 'string' && c.status_reason !== '' ? c.status_reason : null;
}

/** The campaigns table: platform figures next to our tracked sales (ROAS from tracked revenue). Pure. */
export function campaignRows(campaigns: unknown, credits: ReportSummary['credits']): CampaignRow[] {
  if (!Array.isArray(campaigns)) return [];
  return campaigns.filter(isObj).filter((c) => typeof c.id === 'number').map((c) => {
    const m = isObj(c.performance_metrics) ? c.performance_metrics : {};
    const id = c.id as number;
    const spend = num(c.budget_spent) || num(m.spend);
    const cr = credits.get(id);
    return {
      id, name: str(c.name), platform: str(c.platform), type: str(c.campaign_type), status: str(c.status), reason: reasonOf(c),
      impressions: num(m.impressions), clicks: num(m.clicks), spend, conversions: num(m.conversions), sales: cr?.orders ?? 0,
      roas: spend > 0 ? Math.round(((cr?.revenue ?? 0) / spend) * 100) / 100 : null,
    };
  });
}

const KINDS = [['custom_audiences', 'custom'], ['lookalike_audiences', 'lookalike'], ['excluded_audiences', 'excluded']] as const;

/** Every audience the campaigns target, with its sync state. Pure. */
export function audienceRows(campaigns: unknown): AudienceRow[] {
  if (!Array.isArray(campaigns)) return [];
  const out: AudienceRow[] = [];
  for (const c of campaigns.filter(isObj)) {
    const t = isObj(c.targeting) ? c.targeting : {};
    for (const [field, kind] of KINDS) {
      const list = Array.isArray(t[field]) ? (t[field] as unknown[]) : [];
      for (const a of list.filter(isObj)) {
        const ext = typeof a.external_id === 'string' && a.external_id !== '' ? a.external_id : null;
        out.push({ campaign: str(c.name), platform: str(c.platform), kind, type: str(a.type), state: a.audience_id !== null && a.audience_id !== undefined && ext !== null ? 'synced' : 'waiting', external_id: ext });
      }
    }
  }
  return out;
}

/** The budget's cumulative spend and tracked revenue per sync, oldest first; points with a bad time are dropped. Pure. */
export function seriesPoints(series: unknown): SeriesPoint[] {
  if (!Array.isArray(series)) return [];
  return series.filter(isObj)
    .map((p) => ({ at: Date.parse(str(p.at)), spend: num(p.spend), revenue: num(p.revenue), sales: num(p.sales) }))
    .filter((p) => Number.isFinite(p.at))
    .sort((a, b) => a.at - b.at);
}

/** The top of the spend/revenue chart's axis (labelled at 0, ½ and 1): the live chart's count axis, never "0, 1, 1". Pure. */
export const seriesAxisMax = (pts: SeriesPoint[]): number => countAxisMax(Math.max(0, ...pts.map((p) => Math.max(p.spend, p.revenue))));

/** "4.2×", or "–" before any spend. Pure. */
export const formatRoas = (r: number | null): string => (r === null ? '–' : `${r.toFixed(1)}×`);

/** An organizer as the live view names it: "Tixello Demo Promotions (org-demo)", the id alone without a name. Pure. */
export const organizerLabel = (name: string | null | undefined, id: string): string => (name && name.trim() !== '' ? `${name} (${id})` : id);

/** The organizer's catalog name in GET /api/v1/live/dashboard/{org} (the live view's topic), else null. Pure. */
export function liveOrganizerName(body: unknown): string | null {
  const d = isObj(body) && isObj(body.data) ? body.data : null;
  return d && typeof d.organizer_name === 'string' && d.organizer_name.trim() !== '' ? d.organizer_name : null;
}
