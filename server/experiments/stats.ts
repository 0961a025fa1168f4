// Statistics of experiment results. Pure: counts in, numbers out.
//  - sample-ratio mismatch: Pearson χ² of the exposures against the configured weights, p from the χ²
//    survival function (regularised upper incomplete gamma); warned below 0.001 when every variant has at
//    least 8 exposures (GrowthBook's DEFAULT_SRM_THRESHOLD and minimum count per variation);
//  - a variant against control: relative uplift with a 95 % interval (difference of proportions, normal
//    approximation, divided by control's rate) and the chance to beat control (Beta(1+c, 1+n−c) posteriors,
//    normal approximation of their difference).

export const SRM_THRESHOLD = 0.001;
export const SRM_MIN_PER_VARIANT = 8;
const Z95 = 1.959963984540054;

/** ln Γ(x), Lanczos (g = 7, n = 9); x > 0. */
function lnGamma(x: number): number {
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
  /** p < 0.001 with at least 8 exposures in every variant. */
  warning: boolean;
}

/** Sample-ratio mismatch of `observed` exposures against `weights` (any positive scale); null without exposures. */
export function srm(observed: number[], weights: number[]): Srm | null {
  const n = observed.reduce((a, b) => a + b, 0);
  const wsum = weights.reduce((a, b) => a + b, 0);
  if (n === 0 || observed.length < 2 || wsum <= 0) return null;
  let chi2 = 0;
  for (let i = 0; i < observed.length; i++) {
    const e = (n * weights[i]) / wsum;
    if (e > 0) chi2 += (observed[i] - e) ** 2 / e;
  }
  const p = chiSquareP(chi2, observed.length - 1);
  return { chi2, p, warning: p < SRM_THRESHOLD && observed.every((o) => o >= SRM_MIN_PER_VARIANT) };
}

export interface Comparison {
  /** (rate − control) / control; null when control converts nobody. */
  uplift: number | null;
  uplift_ci95: [number, number] | null;
  chance_to_beat_control: number | null;
}

/** A variant (conversions c of n exposures) against control (c0 of n0). */
export function compare(c: number, n: number, c0: number, n0: number): Comparison {
  if (n === 0 || n0 === 0) return { uplift: null, uplift_ci95: null, chance_to_beat_control: null };
  const p = c / n;
  const p0 = c0 / n0;
  const se = Math.sqrt((p * (1 - p)) / n + (p0 * (1 - p0)) / n0);
  const beta = (k: number, m: number) => {
    const a = k + 1;
    const b = m - k + 1;
    return { mean: a / (a + b), v: (a * b) / ((a + b) ** 2 * (a + b + 1)) };
  };
  const bv = beta(c, n);
  const b0 = beta(c0, n0);
  const chance = normalCdf((bv.mean - b0.mean) / Math.sqrt(bv.v + b0.v));
  if (p0 === 0) return { uplift: null, uplift_ci95: null, chance_to_beat_control: chance };
  return { uplift: (p - p0) / p0, uplift_ci95: [(p - p0 - Z95 * se) / p0, (p - p0 + Z95 * se) / p0], chance_to_beat_control: chance };
}
