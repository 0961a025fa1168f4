// Crash-safe publishing (README "Campaigns" → "Publishing"): what an approval or the resume job does with a
// campaign, and what becomes of it after an attempt. Pure; service.ts carries it out.
//
// An approval first marks the campaign `publishing` (with a lease and a token) and only then calls the platform;
// each platform id is stored as soon as the platform returns it, and every object is looked up by the campaign's
// key before it is created. An attempt cut short (a crash, a kill, a lost connection) leaves the campaign
// `publishing` with the ids stored so far; once its lease has run out, the next approval or the
// `campaigns.resume_publishing` job takes it over and finishes the same objects. A temporary failure of a platform
// call (429, 5xx, a timeout) at any step leaves it `publishing` likewise, released for the job's next run.
import type { PublishOutcome } from './adapters/adapter.js';
import type { CampaignStatus, Platform } from './model.js';

/**
 * How long an attempt holds a campaign: renewed with each stored id. Every platform call times out after 15 s and
 * an attempt makes at most two between two renewals, so a live attempt never loses it; a crashed one blocks the
 * campaign this long at most.
 */
export const PUBLISH_LEASE_MS = 60_000;

/** Longest human part of a platform name: the key follows it (Google Ads names are at most 255 characters). */
const NAME_MAX = 255;

/** The campaign's unique key, also its landing pages' utm_campaign. */
export const campaignKey = (c: { budget_id: number; platform: Platform; campaign_type: string }): string => `txc-${c.budget_id}-${c.platform}-${c.campaign_type}`;

/** Its name on the platform: `{name} [{key}]`, the name shortened so that the key always fits. */
export function platformName(name: string, key: string): string {
  const tail = ` [${key}]`;
  return `${name.slice(0, NAME_MAX - tail.length)}${tail}`;
}

/** A tracking code as the campaigns read it (server/tracking resolveCodes: enabled codes of the tenant). */
export interface PixelCode {
  provider: string;
  owner: 'marketplace' | 'organizer' | 'event';
  settings: Record<string, unknown>;
}

/**
 * The pixel a campaign on `platform` optimises purchases on: the tenant's Meta or TikTok tracking code's
 * `settings.pixel_id`, the marketplace's own first (the suites run in the marketplace's ad accounts), else the
 * event's, else the organizer's; null when the tenant has none (the adapter then uses its configured pixel). Pure.
 */
export function pixelOf(codes: PixelCode[], platform: Platform): string | null {
  const provider = platform === 'meta' ? 'meta' : platform === 'tiktok' ? 'tiktok' : null;
  if (!provider) return null;
  const rank = { marketplace: 0, event: 1, organizer: 2 } as const;
  const found = codes.filter((c) => c.provider === provider && typeof c.settings.pixel_id === 'string' && c.settings.pixel_id !== '').sort((a, b) => rank[a.owner] - rank[b.owner])[0];
  return found ? String(found.settings.pixel_id) : null;
}

export type PublishMove =
  /** pending review: take it and publish. */
  | 'start'
  /** publishing and nobody holds it (its attempt crashed or gave up): take it over and finish it. */
  | 'resume'
  /** publishing and an attempt holds it: leave it (a second attempt could create the objects twice). */
  | 'busy'
  /** any other status: nothing to publish. */
  | 'none';

/** What an approval (or the resume job) does with a campaign now. */
export function publishMove(c: { status: CampaignStatus; publish_lease_until: string | null }, now: number): PublishMove {
  if (c.status === 'pending_review') return 'start';
  if (c.status !== 'publishing') return 'none';
  return c.publish_lease_until === null || Date.parse(c.publish_lease_until) <= now ? 'resume' : 'busy';
}

export type PublishEnd =
  | { to: 'active'; campaignId: string; adsetId: string | null }
  /** Refused before the campaign could run (it was created paused): failed with the error. */
  | { to: 'failed'; error: string }
  /**
   * A temporary failure (a timeout, a lost connection, 429, 5xx) at any step: stays publishing with the ids stored so
   * far, retried by the job (campaigns.resume_publishing) from what exists on the platform.
   */
  | { to: 'retry'; error: string };

/**
 * How long temporary failures before the campaign runs are retried, from the approval: past it the campaign fails
 * (it was created paused: nothing runs) and can be submitted again. Starting it is retried for as long as it takes:
 * it may have taken effect.
 */
export const PUBLISH_RETRY_MS = 24 * 3_600_000;

/**
 * Where an attempt's outcome leaves the campaign. `retry`: `startedAt` (the approval's time, publish_started_at) and
 * `now` bound the retries of the steps before it runs (PUBLISH_RETRY_MS); unknown, they are retried.
 */
export function publishEnd(r: PublishOutcome, retry: { startedAt: string | null; now: number } = { startedAt: null, now: 0 }): PublishEnd {
  if (r.ok) return { to: 'active', campaignId: r.value.campaignId, adsetId: r.value.adsetId };
  const error = `${r.step === 'activate' ? 'starting it: ' : r.step === 'ads' ? 'creating its ads: ' : ''}${r.error}`.slice(0, 1000);
  if (!r.retriable) return { to: 'failed', error };
  if (r.step === 'activate') return { to: 'retry', error };
  const since = retry.startedAt === null ? NaN : Date.parse(retry.startedAt);
  if (Number.isFinite(since) && retry.now - since >= PUBLISH_RETRY_MS) {
    return { to: 'failed', error: `${error} (still failing after retrying for ${Math.round(PUBLISH_RETRY_MS / 3_600_000)} h since the approval)`.slice(0, 1000) };
  }
  return { to: 'retry', error };
}
