// Campaign automation's vocabulary (issue 16, seed 002 §2.1-2.2): platforms, campaign types, statuses and the
// transitions between them, money rounding. Pure.

export const PLATFORMS = ['meta', 'google_ads', 'tiktok'] as const;
export type Platform = (typeof PLATFORMS)[number];
export const CAMPAIGN_TYPES = ['prospecting', 'retargeting', 'lookalike', 'dynamic_remarketing'] as const;
export type CampaignType = (typeof CAMPAIGN_TYPES)[number];
export const STRATEGIES = ['equal_split', 'performance_based', 'manual'] as const;
export type Strategy = (typeof STRATEGIES)[number];
export const CAMPAIGN_STATUSES = ['draft', 'pending_review', 'publishing', 'active', 'paused', 'completed', 'failed'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];
export const BUDGET_STATUSES = ['active', 'paused', 'exhausted', 'cancelled'] as const;
export type BudgetStatus = (typeof BUDGET_STATUSES)[number];

export const isPlatform = (v: unknown): v is Platform => typeof v === 'string' && (PLATFORMS as readonly string[]).includes(v);

/**
 * Allowed moves. A draft is submitted for review; the marketplace admin approves (publishing → active) or sends it
 * back to draft; publishing ends active, or failed when the platform refuses; an active campaign is paused (by
 * hand or by a rule), resumed, completed or fails on the platform; a failed one can be submitted again once fixed.
 */
const MOVES: Record<CampaignStatus, CampaignStatus[]> = {
  draft: ['pending_review'],
  pending_review: ['publishing', 'draft'],
  publishing: ['active', 'failed'],
  active: ['paused', 'completed', 'failed'],
  paused: ['active', 'completed', 'failed'],
  completed: [],
  failed: ['pending_review'],
};

export const canMove = (from: CampaignStatus, to: CampaignStatus): boolean => MOVES[from].includes(to);

/** Why a campaign is paused: rules and the pacing guard resume only what they paused themselves. */
export const PAUSE_REASONS = ['manual', 'cpa_above_limit', 'daily_limit', 'budget_exhausted', 'budget_paused'] as const;
export type PauseReason = (typeof PAUSE_REASONS)[number];

export const cents = (x: number): number => Math.round(x * 100) / 100;
/** Floors to the cent: an amount given to a platform never rounds up past what is left. */
export const floorCents = (x: number): number => Math.floor(x * 100 + 1e-6) / 100;

export interface PlatformShare {
  percentage: number;
  daily_limit?: number;
}
export type PlatformAllocations = Partial<Record<Platform, PlatformShare>>;

/** Cumulative figures of one campaign (platform report, or our tracked sales for conversions/revenue). */
export interface Stats {
  impressions: number;
  clicks: number;
  spend: number;
  conversions: number;
  revenue: number;
}

export const ZERO_STATS: Stats = { impressions: 0, clicks: 0, spend: 0, conversions: 0, revenue: 0 };

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
/** Start of the UTC day of `ms` (daily limits count UTC days: tenants have no time zone yet). */
export const dayStart = (ms: number): number => Math.floor(ms / DAY_MS) * DAY_MS;
