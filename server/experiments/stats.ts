// Statistics of experiment results. Pure: counts in, numbers out.
//  - sample-ratio mismatch: Pearson χ² of the exposures against the shares the assignment hash really gives
//    each variant (variantShares), p from the χ² survival function (regularised upper incomplete gamma); warned
//    below 0.001 once the exposures number at least 8 per variant in total (GrowthBook's getSRMHealthData:
//    DEFAULT_SRM_THRESHOLD, and DEFAULT_SRM_MINIMINUM_COUNT_PER_VARIATION × variants over all of them, so a
//    variant that gets almost nobody is the warning, not a reason to stay silent);
//  - a variant against control, given only when both have at least MIN_EXPOSURES_PER_VARIANT exposures
//    (PostHog's minimum; below it `enough_data` is false and neither the interval nor the chance is claimed):
//    relative uplift with a 95 % interval (the log of the ratio of rates with 0.5 added to the conversions and
//    to the non-conversions — Katz's interval with Haldane's correction — so it stays valid at rates of 0 and 1
//    and never goes below −100 %), and the chance to beat control P(p_variant > p_control) under Beta(1+c, 1+n−c)
//    posteriors, exact (a finite sum, Evan Miller's closed form) up to MAX_EXACT_TERMS terms,
//    beyond which both posteriors are normal to far better than the figures shown.

import { bucketRanges, chooseVariation } from '../../client/shared/experiment-hash.js';

export const SRM_THRESHOLD = 0.001;
/** Exposures per variant, counted over all variants together, before an SRM warning (GrowthBook's minimum). */
export const SRM_MIN_PER_VARIANT = 8;
/** Hash v2 takes the values k / 10000, k = 0…9999 (client/shared/experiment-hash.ts gbHash). */
const HASH_V2_VALUES = 10_000;
const Z95 = 1.959963984540054;

/** ln Γ(x), Lanczos (g = 7, n = 9); x > 0. */
export function lnGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Q(a, x) = Γ(a, x) / Γ(a): series below a + 1, continued fraction above (Numerical Recipes gammq). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const gln = lnGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let del = sum;
    for (let ap = a, i = 0; i < 1000 && Math.abs(del) > Math.abs(sum) * 1e-15; i++) {
      ap += 1;
      del *= x / ap;
      sum += del;
    }
    return Math.max(0, 1 - sum * Math.exp(-x + a * Math.log(x) - gln));
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return Math.exp(-x + a * Math.log(x) - gln) * h;
}

/** P(X ≥ x) for X ~ χ²(df). */
export const chiSquareP = (x: number, df: number): number => gammaQ(df / 2, x / 2);

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 via erf, |error| < 1.5e-7). */
export function normalCdf(z: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(z) / Math.SQRT2);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-(z * z) / 2);
  return z >= 0 ? (1 + y) / 2 : (1 - y) / 2;
}

export interface Srm {
  chi2: number;
  p: number;
  /** p < 0.001 with at least 8 exposures per variant in total (GrowthBook's getSRMHealthData). */
  warning: boolean;
}

/**
 * The share of an experiment's visitors each variant really gets: the hash v2 values (k / 10000) that fall in
 * its bucket range, over those in any range. Weights summing to 1 give the weights back (to the hash's 1e-4
 * grid); weights saved as sent before they were rescaled to sum 1 (0.99–1.01) do not: above 1 the last ranges
 * are cut at 1 ([0.5, 0.51] splits 50/50, ten of 0.101 give the last 9.1 %), below 1 the top of the hash is
 * nobody's. Those experiments keep their ranges (rescaling would move visitors), so SRM must expect these shares.
 * Zeros when the coverage holds no hash value. Pure.
 */
export function variantShares(weights: number[], coverage = 1): number[] {
  const ranges = bucketRanges(weights.length, coverage, weights);
  const counts = new Array<number>(weights.length).fill(0);
  let inside = 0;
  for (let k = 0; k < HASH_V2_VALUES; k++) {
    const i = chooseVariation(k / HASH_V2_VALUES, ranges);
    if (i >= 0) {
      counts[i]++;
      inside++;
    }
  }
  return inside === 0 ? counts : counts.map((c) => c / inside);
}

/** GrowthBook's tolerance for bucket weights: weights summing to this are the experiment's, not relative shares. */
const isBucketWeights = (sum: number): boolean => sum >= 0.99 && sum <= 1.01;

/**
 * Sample-ratio mismatch of `observed` exposures; null without exposures. `weights` as the experiment stores them
 * (summing to 1 ± 0.01): expected are the shares the hash really gives with `coverage` (variantShares); any
 * other positive weights are relative shares.
 */
export function srm(observed: number[], weights: number[], coverage = 1): Srm | null {
  const n = observed.reduce((a, b) => a + b, 0);
  const wsum = weights.reduce((a, b) => a + b, 0);
  if (n === 0 || observed.length < 2 || wsum <= 0) return null;
  let shares = weights.map((w) => w / wsum);
  if (isBucketWeights(wsum) && weights.length === observed.length) {
    const real = variantShares(weights, coverage);
    if (real.some((x) => x > 0)) shares = real;
  }
  let chi2 = 0;
  for (let i = 0; i < observed.length; i++) {
    const e = n * shares[i];
    if (e > 0) chi2 += (observed[i] - e) ** 2 / e;
  }
  const p = chiSquareP(chi2, observed.length - 1);
  return { chi2, p, warning: p < SRM_THRESHOLD && n >= SRM_MIN_PER_VARIANT * observed.length };
}

/** Exposures both the variant and the control need before an interval or a chance to beat control is given. */
export const MIN_EXPOSURES_PER_VARIANT = 100;
/** Terms of the exact sum for the chance to beat control; beyond, the normal approximation of the posteriors. */
export const MAX_EXACT_TERMS = 50_000;

export interface Comparison {
  /** (rate − control) / control; null when control converts nobody. */
  uplift: number | null;
  /** 95 % interval of the uplift; null when control converts nobody or without enough data. */
  uplift_ci95: [number, number] | null;
  /** P(variant's rate > control's) under Beta(1+c, 1+n−c) posteriors; null without enough data. */
  chance_to_beat_control: number | null;
  /** Both arms have at least MIN_EXPOSURES_PER_VARIANT exposures. */
  enough_data: boolean;
}

const lnBeta = (a: number, b: number): number => lnGamma(a) + lnGamma(b) - lnGamma(a + b);

/**
 * P(X > Y), X ~ Beta(a, b), Y ~ Beta(c, d), a ≥ 1 an integer: Σ_{i<a} B(c+i, b+d) / ((b+i) B(1+i, b) B(c, d)).
 * Each term from the one before (B(x+1, y) = B(x, y)·x/(x+y) gives the ratio (c+i)(b+i) / ((b+c+d+i)(1+i))),
 * relative to a scale kept in logs and moved when the terms grow large, so that terms too small for a double at
 * first do not vanish: a multiply a term instead of six log-gammas (90 comparisons at 100k exposures an arm took
 * 2.1 s of one thread).
 */
function sumGreater(a: number, b: number, c: number, d: number): number {
  let scale = lnBeta(c, b + d) - lnBeta(c, d); // ln of the first term (B(1, b) = 1/b cancels 1/b)
  let t = 1;
  let sum = 1;
  for (let i = 0; i + 1 < a; i++) {
    t *= ((c + i) * (b + i)) / ((b + c + d + i) * (1 + i));
    sum += t;
    if (t > 1e100) {
      scale += Math.log(t);
      sum /= t;
      t = 1;
    }
  }
  return Math.exp(scale + Math.log(sum));
}

/**
 * P(X > Y) for independent X ~ Beta(a, b), Y ~ Beta(c, d) with integer parameters ≥ 1 (posteriors of counts
 * under a uniform prior). Exact: the closed-form sum over whichever parameter is smallest (P(X > Y) = 1 − P(Y > X),
 * and = P(1−Y > 1−X) with 1−X ~ Beta(b, a)); past MAX_EXACT_TERMS terms every parameter is that large and the
 * normal approximation of the two posteriors is used.
 */
export function probBetaGreater(a: number, b: number, c: number, d: number): number {
  const m = Math.min(a, b, c, d);
  if (m > MAX_EXACT_TERMS) {
    const mean = (x: number, y: number) => x / (x + y);
    const v = (x: number, y: number) => (x * y) / ((x + y) ** 2 * (x + y + 1));
    return normalCdf((mean(a, b) - mean(c, d)) / Math.sqrt(v(a, b) + v(c, d)));
  }
  const p = m === a ? sumGreater(a, b, c, d) : m === c ? 1 - sumGreater(c, d, a, b) : m === d ? sumGreater(d, c, b, a) : 1 - sumGreater(b, a, d, c);
  return Math.min(1, Math.max(0, p));
}

/** P(the variant's rate > control's) for c of n against c0 of n0 under Beta(1+c, 1+n−c) posteriors. */
export const chanceToBeat = (c: number, n: number, c0: number, n0: number): number => probBetaGreater(1 + c, 1 + n - c, 1 + c0, 1 + n0 - c0);

/**
 * 95 % interval of the relative uplift p/p0 − 1: exp(ln RR ± z·se) − 1 on the rates with 0.5 added to both
 * conversions and non-conversions (c + 0.5 of n + 1), se² = 1/(c+½) − 1/(n+1) + 1/(c0+½) − 1/(n0+1). Finite and
 * wide at rates of 0 and 1, always above −1 (a rate cannot fall below 0); null without exposures.
 */
export function upliftInterval(c: number, n: number, c0: number, n0: number): [number, number] | null {
  if (n === 0 || n0 === 0) return null;
  const a = c + 0.5;
  const a0 = c0 + 0.5;
  const lr = Math.log(a / (n + 1)) - Math.log(a0 / (n0 + 1));
  const se = Math.sqrt(1 / a - 1 / (n + 1) + 1 / a0 - 1 / (n0 + 1));
  return [Math.exp(lr - Z95 * se) - 1, Math.exp(lr + Z95 * se) - 1];
}

/** A variant (conversions c of n exposures) against control (c0 of n0). */
export function compare(c: number, n: number, c0: number, n0: number): Comparison {
  const enough = n >= MIN_EXPOSURES_PER_VARIANT && n0 >= MIN_EXPOSURES_PER_VARIANT;
  const uplift = n > 0 && n0 > 0 && c0 > 0 ? (c / n - c0 / n0) / (c0 / n0) : null;
  if (!enough) return { uplift, uplift_ci95: null, chance_to_beat_control: null, enough_data: false };
  return { uplift, uplift_ci95: uplift === null ? null : upliftInterval(c, n, c0, n0), chance_to_beat_control: chanceToBeat(c, n, c0, n0), enough_data: true };
}
