// Creative rotation (seed 002 §2.4 "A/B test creative-uri (rotație după 48h, păstrează winner)"; README "Campaigns"
// → "Creative rotation"): a Meta campaign published with META_PAGE_ID runs one ad per creative variant; once it has
// run 48 h, the hourly optimiser compares its delivering variants and pauses the ads of those clearly worse than the
// best, keeping the winner. Pure: figures in, decisions out (rule `creative_rotation`), `now` passed in.
//
// Which ads count: an ad we paused (a loser) or one Meta no longer lists (deleted or archived in Ads Manager) is out
// of the rotation for good; a campaign left with one such variant is decided on no more. Of the others, only ads
// Meta last reported ACTIVE (effective_status, read by every metrics sync) are compared: a disapproved, pending or
// manually paused ad is neither compared nor paused, and a winner must be delivering, so the last delivering ad is
// never paused. With fewer than two delivering, the look notes why and decides nothing.
//
// The design (sequential, measured in bench/RESULTS.md "Creative rotation error rates"): the variants are looked at
// at most once per ROTATION.lookEveryMs (24 h; every look logs a decision, a pause or a `keep_rotating` note, and
// the next look waits a day from it), from 48 h after the start up to ROTATION.lastLookMs (14 days: at most 13
// looks), then never again (no clear winner: all keep rotating). Per look, every delivering variant has at least
// ROTATION.minImpressions impressions and ROTATION.minClicks clicks, and a loser's pair with the best at least
// ROTATION.minPairConversions purchases between them; the best (by purchases per impression: Meta's per-ad purchase
// claim; our tracked sales are per campaign, not per ad) is compared with each other variant by a two-proportion
// z-test (pooled, two-sided), and a variant is a loser when p < ROTATION.alphaPerLook / (variants − 1) (a
// Haybittle–Peto-style constant boundary, Bonferroni over the comparisons). Re-testing hourly at p < 0.05 paused a
// loser of identical variants in ~27 % of campaigns (2 variants, 14 days; 54 % with 3); this keeps it under 5 %.
import { HOUR_MS, type Stats } from './model.js';
import type { CampaignView, Decision } from './rules.js';

export const ROTATION = {
  /** Variants are first looked at once the campaign has run this long. */
  afterMs: 48 * HOUR_MS,
  /** No look after the campaign has run this long (the last of at most 13 daily looks from 48 h). */
  lastLookMs: 14 * 24 * HOUR_MS,
  /** At most one look per this long (each look logs one decision: a pause, or a "keeps rotating" note). */
  lookEveryMs: 24 * HOUR_MS,
  minImpressions: 1000,
  minClicks: 30,
  minPairConversions: 10,
  /** The per-look significance, shared (Bonferroni) by the (variants − 1) comparisons with the best. */
  alphaPerLook: 0.005,
} as const;

/** Meta's effective_status of an ad it no longer lists: deleted or archived (its figures are kept, not compared). */
export const NOT_LISTED = 'NOT_LISTED';
/** Statuses of an ad that can never deliver again. */
const GONE = new Set([NOT_LISTED, 'DELETED', 'ARCHIVED']);

/** One variant's ad as the optimiser sees it. */
export interface VariantView {
  variant: number;
  adId: string;
  /** False once we paused it (a loser). */
  running: boolean;
  /** Meta's effective_status at the last sync that read it (ACTIVE, PAUSED, DISAPPROVED, …, NOT_LISTED); null: never read. */
  metaStatus: string | null;
  stats: Stats;
}

/** What the rotation reads of a campaign besides CampaignView's figures. */
export interface RotationView {
  /** When the campaign started running (published), ms; null: not known. */
  startedAt: number | null;
  variants: VariantView[];
  /** The window of its last creative_rotation decision, ms; null: none yet. */
  lastRotationAt: number | null;
}

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 erf, |error| < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/** Two-proportion z-test (pooled), two-sided: z of a over b and its p-value; p = 1 without any success. */
export function twoProportion(a: { n: number; k: number }, b: { n: number; k: number }): { z: number; p: number } {
  if (a.n <= 0 || b.n <= 0) return { z: 0, p: 1 };
  const pooled = (a.k + b.k) / (a.n + b.n);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / a.n + 1 / b.n));
  if (!(se > 0)) return { z: 0, p: 1 };
  const z = (a.k / a.n - b.k / b.n) / se;
  return { z, p: 2 * (1 - normalCdf(Math.abs(z))) };
}

const rate = (s: Stats) => (s.impressions > 0 ? s.conversions / s.impressions : 0);
const r6 = (x: number) => Math.round(x * 1e6) / 1e6;
const r4 = (x: number) => Math.round(x * 1e4) / 1e4;

/** A variant still in the rotation: not paused by us, still listed by Meta. Pure. */
export const inRotation = (v: VariantView): boolean => v.running && !(v.metaStatus !== null && GONE.has(v.metaStatus));
/** A variant whose ad Meta last reported delivering (effective_status ACTIVE). Pure. */
export const delivering = (v: VariantView): boolean => inRotation(v) && v.metaStatus === 'ACTIVE';

/** The rotation decision of one campaign this window, or none. */
export function rotationDecision(c: CampaignView & RotationView, now: number): Decision | null {
  if (c.status !== 'active') return null;
  const kept = c.variants.filter(inRotation);
  if (kept.length < 2 || c.startedAt === null || now - c.startedAt < ROTATION.afterMs || now - c.startedAt > ROTATION.lastLookMs) return null;
  // One look per day: every look logs a decision, so the last one's window says when the next may be.
  if (c.lastRotationAt !== null && now - c.lastRotationAt < ROTATION.lookEveryMs) return null;
  const live = kept.filter(delivering);
  const idle = kept.filter((v) => !delivering(v));
  const threshold = ROTATION.alphaPerLook / Math.max(1, live.length - 1);
  const inputs: Record<string, unknown> = {
    hours_running: Math.floor((now - c.startedAt) / HOUR_MS),
    variants: live.map((v) => ({ variant: v.variant, ad_id: v.adId, impressions: v.stats.impressions, clicks: v.stats.clicks, conversions: v.stats.conversions, spend: Math.round(v.stats.spend * 100) / 100, conversion_rate: r6(rate(v.stats)) })),
    test: `two-proportion z-test on purchases per impression, p < ${ROTATION.alphaPerLook} / ${Math.max(1, live.length - 1)} (one look a day, 48 h to 14 days)`,
  };
  if (idle.length) inputs.not_delivering = idle.map((v) => ({ variant: v.variant, ad_id: v.adId, effective_status: v.metaStatus }));
  let why: string;
  const thin = live.filter((v) => v.stats.impressions < ROTATION.minImpressions || v.stats.clicks < ROTATION.minClicks);
  if (live.length < 2) {
    // Nothing to compare: a winner must be delivering, and the only delivering ad is never paused.
    const states = idle.map((v) => `variant ${v.variant + 1} ${v.metaStatus ?? 'not read yet'}`).join(', ');
    why = live.length ? `only variant ${live[0].variant + 1} delivers on Meta (${states}), so none is paused` : `no variant delivers on Meta (${states})`;
  } else if (thin.length) {
    why = `not enough data yet (variant ${thin.map((v) => v.variant + 1).join(', ')} below ${ROTATION.minImpressions} impressions or ${ROTATION.minClicks} clicks)`;
  } else {
    // The best by rate; a tie goes to the lower variant (it never beats the other: z = 0).
    const best = [...live].sort((x, y) => rate(y.stats) - rate(x.stats) || x.variant - y.variant)[0];
    const tests = live.filter((v) => v !== best).map((v) => {
      const t = twoProportion({ n: best.stats.impressions, k: best.stats.conversions }, { n: v.stats.impressions, k: v.stats.conversions });
      return { v, ...t, enough: best.stats.conversions + v.stats.conversions >= ROTATION.minPairConversions };
    });
    inputs.best_variant = best.variant;
    inputs.tests = tests.map((t) => ({ variant: t.v.variant, z: r4(t.z), p_value: r6(t.p), pair_conversions: best.stats.conversions + t.v.stats.conversions }));
    const losers = tests.filter((t) => t.enough && t.p < threshold && t.z > 0);
    if (losers.length) {
      return {
        campaignId: c.id, rule: 'creative_rotation', inputs,
        action: { kind: 'pause_ads', ad_ids: losers.map((t) => t.v.adId), winner_ad_id: best.adId },
        reason: `Variant ${best.variant + 1} converts ${(rate(best.stats) * 1000).toFixed(2)} per 1000 impressions; ${losers.map((t) => `variant ${t.v.variant + 1} ${(rate(t.v.stats) * 1000).toFixed(2)} (p = ${t.p.toPrecision(3)})`).join(', ')}: ${losers.length > 1 ? 'their ads are' : 'its ad is'} paused, variant ${best.variant + 1} kept.`,
      };
    }
    why = tests.some((t) => !t.enough) ? `too few purchases to tell the variants apart (fewer than ${ROTATION.minPairConversions} between the best and another)` : `no clear winner (no variant is worse than the best at p < ${+threshold.toPrecision(3)})`;
  }
  const head = live.length < 2 ? 'No variant compared' : `The ${live.length} variants keep rotating`;
  return { campaignId: c.id, rule: 'creative_rotation', action: { kind: 'keep_rotating' }, inputs, reason: `${head}: ${why}.` };
}

/** The window's rotation decisions of a budget's campaigns (those with variants, rotation.ts views). */
export function rotationDecisions(campaigns: (CampaignView & Partial<RotationView>)[], now: number): Decision[] {
  const out: Decision[] = [];
  for (const c of campaigns) {
    if (!c.variants?.length) continue;
    const d = rotationDecision({ ...c, startedAt: c.startedAt ?? null, variants: c.variants, lastRotationAt: c.lastRotationAt ?? null }, now);
    if (d) out.push(d);
  }
  return out;
}
