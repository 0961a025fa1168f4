// Creative rotation (seed 002 §2.4 "A/B test creative-uri (rotație după 48h, păstrează winner)"; README "Campaigns"
// → "Creative rotation"): a Meta campaign published with META_PAGE_ID runs one ad per creative variant; once it has
// run 48 h, the hourly optimiser compares its running variants and pauses the ads of those clearly worse than the
// best, keeping the winner. Pure: figures in, decisions out (rule `creative_rotation`), `now` passed in.
//
// The guard: every running variant has at least ROTATION.minImpressions impressions and ROTATION.minClicks clicks,
// and a loser's pair with the best has at least ROTATION.minPairConversions purchases between them. The test: the
// variants' purchases per impression (Meta's per-ad purchase claim; our tracked sales are per campaign, not per ad),
// the best against each other with a two-proportion z-test (pooled), two-sided; a variant is a loser when
// p < ROTATION.alpha (0.05). No loser (too little data, or no clear difference: a tie never has one) is logged as
// `keep_rotating` at most once a day, not every hour.
import { HOUR_MS, type Stats } from './model.js';
import type { CampaignView, Decision } from './rules.js';

export const ROTATION = {
  /** Variants are compared once the campaign has run this long. */
  afterMs: 48 * HOUR_MS,
  minImpressions: 1000,
  minClicks: 30,
  minPairConversions: 10,
  alpha: 0.05,
  /** A "keeps rotating" note is logged at most this often per campaign. */
  noteEveryMs: 24 * HOUR_MS,
} as const;

/** One variant's ad as the optimiser sees it. */
export interface VariantView {
  variant: number;
  adId: string;
  running: boolean;
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

/** The rotation decision of one campaign this window, or none. */
export function rotationDecision(c: CampaignView & RotationView, now: number): Decision | null {
  if (c.status !== 'active') return null;
  const live = c.variants.filter((v) => v.running);
  if (live.length < 2 || c.startedAt === null || now - c.startedAt < ROTATION.afterMs) return null;
  const inputs: Record<string, unknown> = {
    hours_running: Math.floor((now - c.startedAt) / HOUR_MS),
    variants: live.map((v) => ({ variant: v.variant, ad_id: v.adId, impressions: v.stats.impressions, clicks: v.stats.clicks, conversions: v.stats.conversions, spend: Math.round(v.stats.spend * 100) / 100, conversion_rate: r6(rate(v.stats)) })),
    test: `two-proportion z-test on purchases per impression, p < ${ROTATION.alpha}`,
  };
  const thin = live.filter((v) => v.stats.impressions < ROTATION.minImpressions || v.stats.clicks < ROTATION.minClicks);
  let why: string;
  if (thin.length) {
    why = `not enough data yet (variant ${thin.map((v) => v.variant + 1).join(', ')} below ${ROTATION.minImpressions} impressions or ${ROTATION.minClicks} clicks)`;
  } else {
    // The best by rate; a tie goes to the lower variant (it never beats the other: z = 0).
    const best = [...live].sort((x, y) => rate(y.stats) - rate(x.stats) || x.variant - y.variant)[0];
    const tests = live.filter((v) => v !== best).map((v) => {
      const t = twoProportion({ n: best.stats.impressions, k: best.stats.conversions }, { n: v.stats.impressions, k: v.stats.conversions });
      return { v, ...t, enough: best.stats.conversions + v.stats.conversions >= ROTATION.minPairConversions };
    });
    inputs.best_variant = best.variant;
    inputs.tests = tests.map((t) => ({ variant: t.v.variant, z: r4(t.z), p_value: r4(t.p), pair_conversions: best.stats.conversions + t.v.stats.conversions }));
    const losers = tests.filter((t) => t.enough && t.p < ROTATION.alpha && t.z > 0);
    if (losers.length) {
      return {
        campaignId: c.id, rule: 'creative_rotation', inputs,
        action: { kind: 'pause_ads', ad_ids: losers.map((t) => t.v.adId), winner_ad_id: best.adId },
        reason: `Variant ${best.variant + 1} converts ${(rate(best.stats) * 1000).toFixed(2)} per 1000 impressions; ${losers.map((t) => `variant ${t.v.variant + 1} ${(rate(t.v.stats) * 1000).toFixed(2)} (p = ${t.p.toFixed(4)})`).join(', ')}: ${losers.length > 1 ? 'their ads are' : 'its ad is'} paused, variant ${best.variant + 1} kept.`,
      };
    }
    why = tests.some((t) => !t.enough) ? `too few purchases to tell the variants apart (fewer than ${ROTATION.minPairConversions} between the best and another)` : 'no clear winner (no variant is worse than the best at p < 0.05)';
  }
  if (c.lastRotationAt !== null && now - c.lastRotationAt < ROTATION.noteEveryMs) return null;
  return { campaignId: c.id, rule: 'creative_rotation', action: { kind: 'keep_rotating' }, inputs, reason: `The ${live.length} variants keep rotating: ${why}.` };
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
