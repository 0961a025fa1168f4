// Budgets, campaigns, the optimisation log, snapshots and credits in the store (migration 016,
// sql/queries/campaigns.sql). Rows are mapped to plain values here; amounts are numbers in the budget's currency.
import { pageOf } from '../http/params.js';
import type { Queryable } from '../store/db.js';
import { queries } from '../store/queries.js';
import { iso, isoOrNull } from '../store/rows.js';
import type { BudgetContext } from './review.js';
import type { BudgetView, CampaignView } from './rules.js';
import type { AudienceCandidate } from './suite.js';
import type { ExternalAd } from './adapters/adapter.js';
import { decimalsOf, type BudgetStatus, type CampaignStatus, type CampaignType, type Platform, type PlatformAllocations, type Stats, type Strategy } from './model.js';

export const Q = queries('campaigns.sql', [
  'insert_budget', 'get_budget', 'list_budgets', 'override_budget', 'set_budget_status', 'mark_low_notified',
  'insert_campaigns', 'budget_campaigns', 'get_campaign', 'move_campaigns', 'set_error', 'set_error_many', 'set_daily_budget',
  'claim_publish', 'save_publish_step', 'set_published', 'set_publish_failed', 'release_publish', 'publishing_due', 'scheduled_due',
  'review_queue', 'review_budgets', 'review_budget_campaigns', 'live_budgets', 'set_rebalanced_for', 'replace_daily_budget', 'ended_budgets', 'synced_campaigns', 'write_metrics', 'spend_since',
  'insert_decisions', 'unapplied_decisions', 'mark_applied', 'mark_superseded', 'last_raises', 'budget_log', 'campaign_log', 'list_campaigns',
  'insert_credits', 'has_attributions', 'credit_tenants', 'credit_from_attributions', 'credits_by_campaign',
  'organizer_report', 'snapshot_series', 'budget_credits', 'admin_overview', 'event_for_suite', 'organizer_countries', 'budget_event', 'audience_candidates', 'unpublished_with_audiences', 'set_targeting',
  'set_external_ads', 'last_rotations',
]);

type Row = Record<string, unknown>;
const n = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const nOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const json = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

export interface Budget {
  id: number;
  tenant_id: number;
  organizer_id: string;
  event_id: string | null;
  total_budget: number;
  spent_budget: number;
  currency: string;
  daily_budget_limit: number | null;
  status: BudgetStatus;
  allocation_strategy: Strategy;
  platform_allocations: PlatformAllocations;
  target_cpa: number | null;
  target_roas: number | null;
  payment_reference: string | null;
  paid_at: string | null;
  started_at: string | null;
  ends_at: string | null;
  notes: string | null;
  low_notified_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface Campaign {
  id: number;
  tenant_id: number;
  budget_id: number;
  organizer_id: string;
  event_id: string | null;
  platform: Platform;
  campaign_type: CampaignType;
  external_campaign_id: string | null;
  external_adset_id: string | null;
  /** One ad per creative variant (Meta with META_PAGE_ID; migration 037): ids and status; [] without ads. */
  external_ads?: ExternalAd[];
  name: string;
  status: CampaignStatus;
  status_reason: string | null;
  objective: string;
  targeting: Record<string, unknown>;
  creative: Record<string, unknown>;
  budget_allocated: number;
  budget_spent: number;
  daily_budget: number;
  bid_strategy: string;
  bid_amount: number | null;
  performance_metrics: Record<string, unknown>;
  last_error: string | null;
  started_at: string | null;
  ends_at: string | null;
  created_at: string;
  updated_at: string;
}

export function toBudget(r: Row): Budget {
  return {
    id: Number(r.id), tenant_id: Number(r.tenant_id), organizer_id: String(r.organizer_id), event_id: (r.event_id as string | null) ?? null,
    total_budget: n(r.total_budget), spent_budget: n(r.spent_budget), currency: String(r.currency), daily_budget_limit: nOrNull(r.daily_budget_limit),
    status: r.status as BudgetStatus, allocation_strategy: r.allocation_strategy as Strategy, platform_allocations: json(r.platform_allocations),
    target_cpa: nOrNull(r.target_cpa), target_roas: nOrNull(r.target_roas), payment_reference: (r.payment_reference as string | null) ?? null,
    paid_at: isoOrNull(r.paid_at), started_at: isoOrNull(r.started_at), ends_at: isoOrNull(r.ends_at), notes: (r.notes as string | null) ?? null,
    low_notified_at: isoOrNull(r.low_notified_at), created_at: iso(r.created_at), updated_at: iso(r.updated_at),
  };
}

export function toCampaign(r: Row): Campaign {
  return {
    id: Number(r.id), tenant_id: Number(r.tenant_id), budget_id: Number(r.budget_id), organizer_id: String(r.organizer_id), event_id: (r.event_id as string | null) ?? null,
    platform: r.platform as Platform, campaign_type: r.campaign_type as CampaignType,
    external_campaign_id: (r.external_campaign_id as string | null) ?? null, external_adset_id: (r.external_adset_id as string | null) ?? null,
    external_ads: r.external_ads === undefined || r.external_ads === null ? [] : json<ExternalAd[]>(r.external_ads),
    name: String(r.name), status: r.status as CampaignStatus, status_reason: (r.status_reason as string | null) ?? null, objective: String(r.objective),
    targeting: json(r.targeting), creative: json(r.creative), budget_allocated: n(r.budget_allocated), budget_spent: n(r.budget_spent),
    daily_budget: n(r.daily_budget), bid_strategy: String(r.bid_strategy), bid_amount: nOrNull(r.bid_amount), performance_metrics: json(r.performance_metrics),
    last_error: (r.last_error as string | null) ?? null, started_at: isoOrNull(r.started_at), ends_at: isoOrNull(r.ends_at),
    created_at: iso(r.created_at), updated_at: iso(r.updated_at),
  };
}

/** A campaign with its publishing bookkeeping (migration 020; not part of the API's campaign). */
export interface PublishRow extends Campaign {
  publish_token: string | null;
  publish_lease_until: string | null;
  publish_attempts: number;
  /** The approval's time (its first attempt): temporary failures are retried for a while from it (publish.ts). */
  publish_started_at: string | null;
}

export function toPublishRow(r: Row): PublishRow {
  return {
    ...toCampaign(r), publish_token: (r.publish_token as string | null) ?? null, publish_lease_until: isoOrNull(r.publish_lease_until), publish_attempts: n(r.publish_attempts),
    publish_started_at: isoOrNull(r.publish_started_at),
  };
}

/** A campaign's platform figures as the optimiser reads them. */
export function platformStats(c: Campaign): Stats {
  const m = c.performance_metrics;
  return { impressions: n(m.impressions), clicks: n(m.clicks), spend: n(m.spend), conversions: n(m.conversions), revenue: n(m.revenue_generated) };
}

export interface Decided {
  id: number;
  campaign_id: number;
  rule: string;
  action: string;
  params: Record<string, unknown>;
}

export const campaignStore = {
  async audienceCandidates(q: Queryable, tenant: number, organizerId: string): Promise<AudienceCandidate[]> {
    const rows = (await q.query<Row>(Q.audience_candidates, [tenant, organizerId])).rows;
    return rows.map((r) => ({
      id: Number(r.id), platform: r.platform as Platform, audience_type: r.audience_type as AudienceCandidate['audience_type'],
      organizer_id: (r.organizer_id as string | null) ?? null, event_id: (r.event_id as string | null) ?? null, external_audience_id: (r.external_audience_id as string | null) ?? null,
    }));
  },
  async budget(q: Queryable, tenant: number, id: number): Promise<Budget | null> {
    const r = (await q.query<Row>(Q.get_budget, [tenant, id])).rows[0];
    return r ? toBudget(r) : null;
  },
  async campaigns(q: Queryable, tenant: number, budgetId: number): Promise<Campaign[]> {
    return (await q.query<Row>(Q.budget_campaigns, [tenant, budgetId])).rows.map(toCampaign);
  },
  async campaign(q: Queryable, tenant: number, id: number): Promise<Campaign | null> {
    const r = (await q.query<Row>(Q.get_campaign, [tenant, id])).rows[0];
    return r ? toCampaign(r) : null;
  },
  async publishRow(q: Queryable, tenant: number, id: number): Promise<PublishRow | null> {
    const r = (await q.query<Row>(Q.get_campaign, [tenant, id])).rows[0];
    return r ? toPublishRow(r) : null;
  },
  async move(q: Queryable, tenant: number, ids: number[], from: CampaignStatus[], to: CampaignStatus, reason: string | null, now: Date): Promise<Campaign[]> {
    return (await q.query<Row>(Q.move_campaigns, [tenant, ids, from, to, reason, now])).rows.map(toCampaign);
  },
  async setDaily(q: Queryable, tenant: number, id: number, amount: number, now: Date): Promise<Campaign | null> {
    const r = (await q.query<Row>(Q.set_daily_budget, [tenant, id, amount, now])).rows[0];
    return r ? toCampaign(r) : null;
  },
  async spendSince(q: Queryable, tenant: number, budgetId: number, since: Date): Promise<Map<number, number>> {
    const rows = (await q.query<Row>(Q.spend_since, [tenant, budgetId, since])).rows;
    return new Map(rows.map((r) => [Number(r.id), n(r.spend)]));
  },
  async credits(q: Queryable, tenant: number, ids: number[]): Promise<Map<number, { orders: number; tickets: number; revenue: number }>> {
    const rows = (await q.query<Row>(Q.credits_by_campaign, [tenant, ids])).rows;
    return new Map(rows.map((r) => [Number(r.campaign_id), { orders: n(r.orders), tickets: n(r.tickets), revenue: n(r.revenue) }]));
  },
  async setAds(q: Queryable, tenant: number, id: number, ads: ExternalAd[], now: Date): Promise<void> {
    await q.query(Q.set_external_ads, [tenant, id, JSON.stringify(ads), now]);
  },
  async lastRotations(q: Queryable, tenant: number, budgetId: number): Promise<Map<number, number>> {
    const rows = (await q.query<Row>(Q.last_rotations, [tenant, budgetId])).rows;
    return new Map(rows.map((r) => [Number(r.campaign_id), Date.parse(iso(r.at))]));
  },
  async lastRaises(q: Queryable, tenant: number, budgetId: number): Promise<Map<number, number>> {
    const rows = (await q.query<Row>(Q.last_raises, [tenant, budgetId])).rows;
    return new Map(rows.map((r) => [Number(r.campaign_id), Date.parse(iso(r.at))]));
  },
  /**
   * One page of up to `limit` campaigns pending review across budgets (oldest first, after id `after`) with their
   * budgets and events; `more` when further campaigns follow the page.
   */
  async reviewQueue(q: Queryable, tenant: number, limit: number, after: number | null): Promise<{ pending: Campaign[]; more: boolean; budgets: Map<number, BudgetContext> }> {
    const page = pageOf((await q.query<Row>(Q.review_queue, [tenant, limit + 1, after])).rows, limit);
    const pending = page.rows.map(toCampaign);
    const more = page.more;
    const ids = [...new Set(pending.map((c) => c.budget_id))];
    if (ids.length === 0) return { pending, more, budgets: new Map() };
    const [bs, cs] = await Promise.all([q.query<Row>(Q.review_budgets, [tenant, ids]), q.query<Row>(Q.review_budget_campaigns, [tenant, ids])]);
    const all = cs.rows.map(toCampaign);
    const budgets = new Map(bs.rows.map((r): [number, BudgetContext] => {
      const b = toBudget(r);
      return [b.id, { budget: b, event_title: (r.event_title as string | null) ?? null, organizer_name: (r.organizer_name as string | null) ?? null, campaigns: all.filter((c) => c.budget_id === b.id) }];
    }));
    return { pending, more, budgets };
  },
  async unapplied(q: Queryable, tenant: number, budgetId: number, window: Date): Promise<Decided[]> {
    const rows = (await q.query<Row>(Q.unapplied_decisions, [tenant, budgetId, window])).rows;
    return rows.map((r) => ({ id: Number(r.id), campaign_id: Number(r.campaign_id), rule: String(r.rule), action: String(r.action), params: json(r.params) }));
  },
};

/** A budget as the rules see it (rules.ts BudgetView). */
export const budgetView = (b: Budget): BudgetView => ({
  id: b.id, total: b.total_budget, spent: b.spent_budget, dailyLimit: b.daily_budget_limit, targetCpa: b.target_cpa, targetRoas: b.target_roas,
  endsAt: b.ends_at ? Date.parse(b.ends_at) : null, strategy: b.allocation_strategy, platformAllocations: b.platform_allocations,
  lowNotified: b.low_notified_at !== null, decimals: decimalsOf(b.currency), status: b.status,
});

/** A campaign as the stop rules see it: its platform's own figures (the stop rules read no tracked sales). */
export const campaignView = (c: Campaign): CampaignView => ({
  id: c.id, platform: c.platform, status: c.status, statusReason: c.status_reason, dailyBudget: c.daily_budget, stats: platformStats(c), lastRaiseAt: null,
});
