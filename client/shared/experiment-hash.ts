// A/B assignment compatible with GrowthBook's hash v2 (growthbook packages/sdk-js src/util.ts): FNV-1a 32 over
// UTF-16 code units, `fnv(fnv(seed + id) + "") % 10000 / 10000`, GrowthBook's bucket ranges from the variant
// weights and coverage, and the first range holding the hash. The server (server/experiments/) and the browser
// helper (client/sdk/experiments.ts) both import this file, and both test suites read the same vectors
// (client/shared/experiment-vectors.json), so the server's answer is exactly what the SDK computes. A definition
// as written (the API's body, a page's own) goes through normalisedWeights on both sides: the server stores its
// weights rescaled, the SDK assigns from them rescaled (assignDefined), so the two never disagree. Pure.

export interface VariantDef {
  key: string;
  weight: number;
}

export interface ExperimentDef {
  key: string;
  variants: VariantDef[];
  /** Share of visitors in the experiment, 0–1 (default 1). */
  coverage?: number;
}

/** FNV-1a 32-bit, as GrowthBook computes it (shifts and adds instead of a multiply, then >>> 0). */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h += (h << 1) + (h << 4) + (h << 7) + (h << 8) + (h << 24);
  }
  return h >>> 0;
}

/** GrowthBook's hash: v2 (unbiased, 1e-4 resolution) or v1 (legacy); null for an unknown version. */
export function gbHash(seed: string, value: string, version = 2): number | null {
  if (version === 2) return (fnv1a32(fnv1a32(seed + value) + '') % 10000) / 10000;
  if (version === 1) return (fnv1a32(value + seed) % 1000) / 1000;
  return null;
}

const equal = (n: number): number[] => (n <= 0 ? [] : new Array(n).fill(1 / n));

/** GrowthBook's tolerance: weights summing to this are an experiment's split (else: equal weights). */
const fits = (sum: number): boolean => sum >= 0.99 && sum <= 1.01;

/**
 * The variants with weights rescaled to sum 1, each the share asked for relative to the total: the server stores
 * an experiment's weights so (server/experiments/schemas.ts) and the SDK assigns a page's definition from them so.
 * GrowthBook's ranges are cumulative raw weights: [0.5, 0.51] would cut the last range at 1 (50/50, not the
 * 49.5/50.5 asked for). Weights that already sum to 1 up to rounding stay exactly as sent: 0.1 + 0.2 + 0.7 is
 * 1.0000000000000002, and dividing by it would move the range boundaries off the hash values they sit on (hash 0.3
 * would change variant). Variants without any weight get equal ones (the API's "none for an equal split"). Weights
 * outside GrowthBook's tolerance are not a split (the API refuses them; bucketRanges falls back to equal ones): left
 * as given. Pure.
 */
export function normalisedWeights<V extends { weight?: number }>(variants: V[]): V[] {
  if (variants.every((v) => v.weight === undefined)) return variants.map((v) => ({ ...v, weight: 1 / variants.length }));
  const sum = variants.reduce((a, v) => a + (v.weight as number), 0);
  if (Math.abs(sum - 1) < 1e-9 || !fits(sum)) return variants;
  return variants.map((v) => ({ ...v, weight: (v.weight as number) / sum }));
}

/** GrowthBook's getBucketRanges: equal weights when the given ones do not fit; coverage clamped to 0–1. */
export function bucketRanges(n: number, coverage = 1, weights?: number[] | null): [number, number][] {
  const c = coverage < 0 ? 0 : coverage > 1 ? 1 : coverage;
  let w = weights || equal(n);
  if (w.length !== n) w = equal(n);
  // (a weight that is not a number makes the sum NaN: no split either)
  if (!fits(w.reduce((a, b) => a + b, 0))) w = equal(n);
  let cumulative = 0;
  return w.map((x) => {
    const start = cumulative;
    cumulative += x;
    return [start, start + c * x] as [number, number];
  });
}

/** Index of the range holding `h`, or -1 (outside the coverage). */
export function chooseVariation(h: number, ranges: [number, number][]): number {
  for (let i = 0; i < ranges.length; i++) if (h >= ranges[i][0] && h < ranges[i][1]) return i;
  return -1;
}

/**
 * The variant key `id` gets in `exp` (the experiment's key is the seed) with its weights as they are (a stored
 * experiment's: the server's assignments), or null when not in the experiment. A definition that is not one (no
 * key, no list of variants: a page's mistake) assigns nobody.
 */
export function assignVariant(exp: ExperimentDef, id: string): string | null {
  const vs = exp?.variants;
  if (!id || !Array.isArray(vs) || typeof exp.key !== 'string' || !vs.every((v) => typeof v?.key === 'string')) return null;
  const h = gbHash(exp.key, id + '', 2) as number;
  const i = chooseVariation(h, bucketRanges(vs.length, exp.coverage ?? 1, vs.map((v) => v.weight)));
  return i < 0 ? null : vs[i].key;
}

/**
 * The variant `id` gets in an experiment as written (a page's definition, or the body the API is sent): its
 * weights rescaled as the server stores them (normalisedWeights), so it is the server's assignment for the same
 * definition. (A stored experiment is assigned as stored, with assignVariant: one saved before the server
 * rescaled weights keeps its ranges.)
 */
export function assignDefined(exp: ExperimentDef, id: string): string | null {
  return assignVariant(Array.isArray(exp?.variants) && exp.variants.every((v) => v && typeof v === 'object') ? { ...exp, variants: normalisedWeights(exp.variants) } : exp, id);
}
