// The SRM check against what the assignment really does: the minimum is GrowthBook's total (8 per variant over
// all exposures, getSRMHealthData), and the expectation is the share of the hash each variant's bucket range
// holds, which differs from the weights when weights saved as sent sum to more than 1. No I/O.
import { describe, expect, it } from 'vitest';
import { assignVariant, type ExperimentDef } from '../../client/shared/experiment-hash.js';
import { srm, variantShares } from './stats.js';

/** Deterministic visitor ids (the hash spreads them; no randomness in the test). */
const ids = (n: number) => Array.from({ length: n }, (_, i) => `visitor-${i}-${(i * 2654435761) % 1000003}`);

function split(exp: ExperimentDef, visitors: string[]): number[] {
  const c = new Map(exp.variants.map((v) => [v.key, 0]));
  for (const id of visitors) {
    const v = assignVariant(exp, id);
    if (v !== null) c.set(v, c.get(v)! + 1);
  }
  return exp.variants.map((v) => c.get(v.key)!);
}

const def = (key: string, weights: number[], coverage = 1): ExperimentDef => ({ key, coverage, variants: weights.map((weight, i) => ({ key: `v${i}`, weight })) });

describe('SRM minimum sample (GrowthBook getSRMHealthData: total ≥ 8 × variants)', () => {
  it('warns when one variant gets almost no exposures', () => {
    // The probe's case: 50/50, 30 control exposures and 7 treatment (χ² 14.3, p 0.00016).
    const few = srm([30, 7], [0.5, 0.5])!;
    expect(few.p).toBeLessThan(0.001);
    expect(few.warning).toBe(true);
    const none = srm([0, 100], [0.5, 0.5])!;
    expect(none.p).toBeLessThan(1e-20);
    expect(none.warning).toBe(true);
    expect(srm([40, 3], [0.5, 0.5])!.warning).toBe(true);
    expect(srm([16, 0], [0.5, 0.5])!.warning).toBe(true);
    expect(srm([0, 0, 24], [0.2, 0.3, 0.5])!.warning).toBe(true);
  });

  it('stays silent below 8 exposures per variant in total, however lopsided', () => {
    const s = srm([15, 0], [0.5, 0.5])!;
    expect(s.p).toBeLessThan(0.001);
    expect(s.warning).toBe(false);
    expect(srm([0, 0, 23], [0.2, 0.3, 0.5])!.warning).toBe(false);
    expect(srm([510, 490], [0.5, 0.5])!.warning).toBe(false);
  });
});

describe('SRM expects the shares the hash really gives', () => {
  it('variantShares: the weights when they sum to 1, the cut ranges when they sum to more', () => {
    expect(variantShares([0.5, 0.5])).toEqual([0.5, 0.5]);
    expect(variantShares([0.2, 0.3, 0.5])).toEqual([0.2, 0.3, 0.5]);
    expect(variantShares([0.5, 0.5], 0.4)).toEqual([0.5, 0.5]);
    // [0.5, 0.51]: the second range is [0.5, 1.01), cut at 1: an even split.
    expect(variantShares([0.5, 0.51])).toEqual([0.5, 0.5]);
    const ten = variantShares(new Array(10).fill(0.101));
    // To the hash's 1e-4 grid: the cumulative sums are rounded doubles (0.30300000000000005).
    expect(ten.slice(0, 9).every((x) => Math.abs(x - 0.101) < 1.5e-4)).toBe(true);
    expect(ten[9]).toBeCloseTo(0.091, 3);
    // Below 1 the top of the hash is nobody's: the shares are the weights relative to their total.
    const under = variantShares([0.5, 0.49]);
    expect(under[0]).toBeCloseTo(0.5 / 0.99, 3);
    expect(under[1]).toBeCloseTo(0.49 / 0.99, 3);
    // With a coverage the ranges are not cut: [0, 0.25) and [0.5, 0.755).
    const covered = variantShares([0.5, 0.51], 0.5);
    expect(covered[0]).toBeCloseTo(0.5 / 1.01, 3);
  });

  it('does not warn on a correct split whose stored weights sum to 1.01 (200k hash-uniform ids)', () => {
    const visitors = ids(200_000);
    const two = split(def('weights_over_one', [0.5, 0.51]), visitors);
    // The hash splits them evenly; against 0.5/1.01 : 0.51/1.01 this was χ² ≈ 20, p ≈ 1e-5, a warning.
    expect(Math.abs(two[0] / 200_000 - 0.5)).toBeLessThan(0.005);
    const s = srm(two, [0.5, 0.51])!;
    expect(s.warning).toBe(false);
    expect(s.p).toBeGreaterThan(0.001);
    const tenW = new Array(10).fill(0.101);
    const ten = split(def('ten_variants', tenW), visitors);
    expect(ten[9] / 200_000).toBeCloseTo(0.091, 2);
    expect(srm(ten, tenW)!.warning).toBe(false);
  });

  it('still catches a real mismatch and takes relative weights as before', () => {
    const visitors = ids(100_000);
    const counts = split(def('feed_ranking', [0.2, 0.3, 0.5]), visitors);
    expect(srm(counts, [0.2, 0.3, 0.5])!.warning).toBe(false);
    expect(srm(counts, [0.5, 0.3, 0.2])!.warning).toBe(true);
    expect(srm([300, 700], [3, 7])!.warning).toBe(false);
    expect(srm([500, 500], [3, 7])!.warning).toBe(true);
  });
});
