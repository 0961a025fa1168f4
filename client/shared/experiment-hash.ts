// A/B assignment compatible with GrowthBook's hash v2 (growthbook packages/sdk-js src/util.ts): FNV-1a 32 over
// UTF-16 code units, `fnv(fnv(seed + id) + "") % 10000 / 10000`, GrowthBook's bucket ranges from the variant
// weights and coverage, and the first range holding the hash. The server (server/experiments/) and the browser
// helper (client/sdk/experiments.ts) both import this file, and both test suites read the same vectors
// (client/shared/experiment-vectors.json), so the server's answer is exactly what the SDK computes. Pure.

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

/** GrowthBook's getBucketRanges: equal weights when the given ones do not fit; coverage clamped to 0–1. */
export function bucketRanges(n: number, coverage = 1, weights?: number[] | null): [number, number][] {
  const c = coverage < 0 ? 0 : coverage > 1 ? 1 : coverage;
  let w = weights || equal(n);
  if (w.length !== n) w = equal(n);
  const total = w.reduce((a, b) => a + b, 0);
  if (total < 0.99 || total > 1.01) w = equal(n);
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

/** The variant key `id` gets in `exp` (the experiment's key is the seed), or null when not in the experiment. */
export function assignVariant(exp: ExperimentDef, id: string): string | null {
  if (!id) return null;
  const h = gbHash(exp.key, id, 2) as number;
  const i = chooseVariation(h, bucketRanges(exp.variants.length, exp.coverage ?? 1, exp.variants.map((v) => v.weight)));
  return i < 0 ? null : exp.variants[i].key;
}
