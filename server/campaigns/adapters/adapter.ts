// What campaign automation needs from an ad platform (seed 002 §2.4 publish / pause / resume, budget updates,
// metrics): one adapter per platform (meta.ts, google.ts, tiktok.ts) over its documented REST calls. Outcomes
// are values: a refused or failed call is { ok: false, error, retriable }, never thrown.
import type { Platform, Stats } from '../model.js';
import type { Creative, Targeting } from '../suite.js';

export interface External {
  campaignId: string;
  adsetId: string | null;
}

export interface PublishInput {
  /** The campaign's name on the platform; it holds `[key]`. */
  name: string;
  /**
   * The campaign's unique key (`txc-{budget}-{platform}-{type}`): the name carries it as `[key]`, and a publish looks
   * objects up by it before creating any, so an attempt cut short between a create and storing its id never
   * creates a second one.
   */
  key: string;
  campaignType: string;
  /** In `currency`, already floored to its minor unit (service.ts). */
  dailyBudget: number;
  /** The budget's ISO 4217 code: amounts are converted with its real minor units (model.ts decimalsOf). */
  currency: string;
  targeting: Targeting;
  creative: Creative;
  /**
   * The tenant's pixel on this platform (its tracking code: the marketplace's, else the event's or organizer's), or
   * null: the adapter falls back to the ad account's configured pixel. Meta and TikTok optimise purchases on it.
   */
  pixelId: string | null;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: string; retriable: boolean };

/** The steps of a publish: a failure names the one it stopped at (`activate`: the campaign may already run). */
export type PublishStep = 'campaign' | 'adset' | 'ads' | 'activate';

/**
 * One ad of a campaign, per creative variant (Meta with META_PAGE_ID: README "Campaigns" → "Creative rotation"),
 * stored in automated_campaigns.external_ads (migration 037): its creative's and its own id as soon as Meta returned
 * them, and its status (ACTIVE, or PAUSED once the optimiser paused a losing variant).
 */
export interface ExternalAd {
  /** Index in the creative's `variants`. */
  variant: number;
  creative_id: string | null;
  ad_id: string | null;
  status: 'ACTIVE' | 'PAUSED' | null;
}

/** An ad's lifetime figures (the platform's purchase claim), by ad id. */
export type AdStats = Map<string, Stats>;
export type PublishOutcome = { ok: true; value: External } | { ok: false; error: string; retriable: boolean; step: PublishStep };

/**
 * What a publish resumes from, and where it records progress. `existing`: the ids stored by an earlier attempt.
 * `save` stores an id the moment the platform returned it (before the next call); it throws when the attempt no
 * longer owns the campaign (its lease was taken over) or the store is away, and the publish then stops there: the
 * campaign stays `publishing` and is resumed later.
 */
export interface PublishProgress {
  /** `ads`: the ads stored so far (one per creative variant), absent or [] before any. */
  existing: { campaignId: string | null; adsetId: string | null; ads?: ExternalAd[] };
  /** `ads`: the whole list, written as it grows (a creative id, then the ad id, per variant). */
  save(ids: { campaignId?: string; adsetId?: string; ads?: ExternalAd[] }): Promise<void>;
}

/** An object found at the platform by its key. */
export interface Found {
  id: string;
  name: string;
  active: boolean;
}

/**
 * Of the objects a lookup returned, the one carrying `[key]` in its name: the stored id when it is among them, else
 * the oldest (smallest numeric id; duplicates left by older versions stay as they are). Pure.
 */
export function pickFound(list: Found[], key: string, storedId: string | null = null): Found | null {
  const mine = list.filter((f) => f.name.includes(`[${key}]`));
  if (storedId) return mine.find((f) => f.id === storedId) ?? null;
  const byId = (f: Found) => (/^\d+$/.test(f.id) ? BigInt(f.id) : null);
  return mine.sort((a, b) => {
    const x = byId(a);
    const y = byId(b);
    return x !== null && y !== null ? (x < y ? -1 : x > y ? 1 : 0) : a.id.localeCompare(b.id);
  })[0] ?? null;
}

/** A failed call as a publish failure at `step`. */
export const atStep = (r: { error: string; retriable: boolean }, step: PublishStep): PublishOutcome => ({ ok: false, error: r.error, retriable: r.retriable, step });

export interface PlatformAdapter {
  platform: Platform;
  /**
   * Creates the campaign paused (with its ad set / ad group enabled under it, so that the campaign's status alone
   * gates delivery; Google: its budget), then starts it: step by step,
   * each object looked up by `[key]` before it is created and its id saved as soon as it is known, so a call
   * repeated after any interruption finishes the same objects. Starting is skipped when the platform says the
   * campaign already runs.
   */
  publish(c: PublishInput, progress: PublishProgress): Promise<PublishOutcome>;
  setActive(ext: External, active: boolean): Promise<Outcome<void>>;
  /** `amount` in `currency` (the budget's), floored to its minor unit. */
  setDailyBudget(ext: External, amount: number, currency: string): Promise<Outcome<void>>;
  /** Lifetime totals per external campaign id (the platform's own conversion claim included). */
  fetchMetrics(campaignIds: string[]): Promise<Outcome<Map<string, Stats>>>;
  /** Lifetime totals per ad of these campaigns (by external campaign id, then ad id); only platforms that create ads (Meta). */
  fetchAdMetrics?(campaignIds: string[]): Promise<Outcome<Map<string, AdStats>>>;
  /**
   * Each listed ad's delivery status (Meta's effective_status) per external campaign id; deleted and archived ads are
   * not listed. Only platforms that create ads (Meta).
   */
  fetchAdStatuses?(campaignIds: string[]): Promise<Outcome<Map<string, Map<string, string>>>>;
  /** Pauses or starts one ad (an absolute status: repeating it changes nothing); only platforms that create ads. */
  setAdActive?(adId: string, active: boolean): Promise<Outcome<void>>;
}

export const TIMEOUT_MS = 15_000;

/** One JSON call; network errors, 429 and 5xx are retriable, other statuses are not. */
export async function call(url: string, init: { method: string; headers?: Record<string, string>; body?: unknown }): Promise<Outcome<any>> {
  try {
    const res = await fetch(url, {
      method: init.method,
      headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!res.ok) return { ok: false, error: `HTTP ${res.status}: ${text.slice(0, 300)}`, retriable: res.status === 429 || res.status >= 500 };
    return { ok: true, value: json };
  } catch (err) {
    return { ok: false, error: (err as Error).message, retriable: true };
  }
}

export const num = (v: unknown): number => {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : 0;
  return Number.isFinite(n) ? n : 0;
};

/** A platform without credentials in the configuration. */
export const notConfigured = (what: string): { ok: false; error: string; retriable: false } => ({ ok: false, error: `${what} is not configured`, retriable: false });

/**
 * The platforms take amounts in the ad account's currency and accept none per campaign (Meta daily_budget, Google
 * amount_micros, TikTok budget): a budget in another currency than a configured account currency is refused,
 * never sent as if it were the account's. Null: nothing against it (no account currency configured, or the same).
 */
export function currencyRefusal(platform: string, envName: string, account: string | null, currency: string): { ok: false; error: string; retriable: false } | null {
  if (account === null || account === currency) return null;
  return { ok: false, retriable: false, error: `the ${platform} ad account is in ${account} (${envName}) and takes amounts only in it; this budget is in ${currency}: use a budget in ${account} or an ad account in ${currency}` };
}
