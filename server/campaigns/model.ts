// Campaign automation's vocabulary (issue 16, seed 002 §2.1-2.2): platforms, campaign types, statuses and the
// transitions between them, money rounding. Pure.

export const PLATFORMS = ['meta', 'google_ads', 'tiktok'] as const;
export type Platform = (typeof PLATFORMS)[number];
export const CAMPAIGN_TYPES = ['prospecting', 'retargeting', 'lookalike', 'dynamic_remarketing'] as const;
export type CampaignType = (typeof CAMPAIGN_TYPES)[number];
export const STRATEGIES = ['equal_split', 'performance_based', 'manual'] as const;
export type Strategy = (typeof STRATEGIES)[number];
export const CAMPAIGN_STATUSES = ['draft', 'pending_review', 'scheduled', 'publishing', 'active', 'paused', 'completed', 'failed'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];
export const BUDGET_STATUSES = ['active', 'paused', 'exhausted', 'cancelled', 'ended'] as const;
export type BudgetStatus = (typeof BUDGET_STATUSES)[number];

export const isPlatform = (v: unknown): v is Platform => typeof v === 'string' && (PLATFORMS as readonly string[]).includes(v);

/**
 * Allowed moves. A draft is submitted for review; the marketplace admin approves (publishing → active; scheduled
 * when its budget starts later, published by the resume_publishing job once it starts, or back to pending review
 * when its share of the day then cannot be published) or sends it back to draft;
 * publishing ends active, or failed when the platform refuses; an active campaign is paused (by hand or by a rule),
 * resumed, completed or fails on the platform; a failed one can be submitted again once fixed. When its budget
 * ends, every campaign not publishing completes (status_reason budget_ended), those it never ran included.
 */
const MOVES: Record<CampaignStatus, CampaignStatus[]> = {
  draft: ['pending_review', 'completed'],
  pending_review: ['publishing', 'scheduled', 'draft', 'completed'],
  scheduled: ['publishing', 'draft', 'failed', 'pending_review', 'completed'],
  publishing: ['active', 'failed'],
  active: ['paused', 'completed', 'failed'],
  paused: ['active', 'completed', 'failed'],
  completed: [],
  failed: ['pending_review', 'completed'],
};

/** Campaigns a budget never ran (not on a platform, or refused there): closed when the budget ends. */
export const NEVER_RAN: CampaignStatus[] = ['draft', 'pending_review', 'scheduled', 'failed'];

export const canMove = (from: CampaignStatus, to: CampaignStatus): boolean => MOVES[from].includes(to);

/** Why a campaign is paused: rules and the pacing guard resume only what they paused themselves. */
export const PAUSE_REASONS = ['manual', 'cpa_above_limit', 'daily_limit', 'budget_exhausted', 'budget_paused'] as const;
export type PauseReason = (typeof PAUSE_REASONS)[number];

export const cents = (x: number): number => Math.round(x * 100) / 100;
/** Floors to the cent: an amount given to a platform never rounds up past what is left. */
export const floorCents = (x: number): number => Math.floor(x * 100 + 1e-6) / 100;

/**
 * ISO 4217 minor-unit exponent of a currency as Node's ICU knows it (JPY 0, EUR 2, KWD 3; CLDR's digits, which are
 * also the Meta Marketing API's currency offsets: HUF, TWD, ISK 0), or null for a code ICU does not list as a
 * currency in use (ZZZ, XXX). Pure.
 */
const KNOWN = new Set(Intl.supportedValuesOf('currency'));
export function currencyDecimals(code: string): number | null {
  if (!/^[A-Z]{3}$/.test(code) || !KNOWN.has(code)) return null;
  return new Intl.NumberFormat('en', { style: 'currency', currency: code }).resolvedOptions().maximumFractionDigits ?? 2;
}
/** The exponent for amounts already stored in `code` (2 for a code not known: never thrown on old rows). */
export const decimalsOf = (code: string): number => currencyDecimals(code) ?? 2;
/** Floors to the currency's minor unit (`decimals` digits): an amount given to a platform never rounds up. */
export const floorTo = (x: number, decimals: number): number => {
  const f = 10 ** decimals;
  return Math.floor(x * f + 1e-6) / f;
};
/** Rounds to the currency's minor unit (`decimals` digits): an amount as the currency writes it (KWD 0.625, JPY 999). */
export const roundTo = (x: number, decimals: number): number => {
  const f = 10 ** decimals;
  return Math.round(x * f) / f;
};
/** The amount in the currency's minor units (JPY 1109 → 1109, EUR 11.09 → 1109, KWD 1.125 → 1125). */
export const toMinor = (x: number, decimals: number): number => Math.round(x * 10 ** decimals);
/** Whether `x` has at most the currency's decimals (a millionth of a minor unit of slack for binary floating point). */
export const fitsDecimals = (x: number, decimals: number): boolean => {
  const f = x * 10 ** decimals;
  return Math.abs(f - Math.round(f)) <= Math.max(1e-6, Math.abs(f) * 1e-12);
};

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
