// Assignment hashing against the shared vectors (GrowthBook's published hash v2 and bucket-range cases, and the
// frozen assignments the SDK's Chromium test checks too), uniformity, SRM, the comparison statistics and the
// request schema. No I/O.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assignVariant, bucketRanges, chooseVariation, gbHash, type ExperimentDef } from '../../client/shared/experiment-hash.js';
import { assignmentsFor } from './assign.js';
import { countsByVariant, resultsBody, resultsRange, resultsSpec } from './results.js';
import { keepStoredSplit, parseExperiment, reallocationRefusal, RESTART_SLACK_MS } from './schemas.js';
import { chanceToBeat, chiSquareP, compare, MIN_EXPOSURES_PER_VARIANT, normalCdf, probBetaGreater, srm, upliftInterval } from './stats.js';
import type { Experiment } from './store.js';

const VECTORS = JSON.parse(fs.readFileSync(new URL('../../client/shared/experiment-vectors.json', import.meta.url), 'utf8')) as {
  hash: [string, string, number, number | null][];
  bucketRanges: [string, [number, number, number[] | null], [number, number][]][];
  assign: { experiment: ExperimentDef; id: string; bucket: number; variant: string | null }[];
};

describe('GrowthBook-compatible hashing', () => {
  it('matches GrowthBook\'s published hash vectors (v2, v1, unknown version)', () => {
    for (const [seed, value, version, expected] of VECTORS.hash) expect(gbHash(seed, value, version), `${seed}|${value}|v${version}`).toBe(expected);
  });

  it('matches GrowthBook\'s bucket ranges', () => {
    for (const [name, [n, coverage, weights], expected] of VECTORS.bucketRanges) {
      const got = bucketRanges(n, coverage, weights).map(([a, b]) => [Math.round(a * 1e6) / 1e6, Math.round(b * 1e6) / 1e6]);
      expect(got, name).toEqual(expected);
    }
    expect(chooseVariation(0.5, [[0, 0.5], [0.5, 1]])).toBe(1);
    expect(chooseVariation(0.3, [[0, 0.25], [0.5, 0.75]])).toBe(-1);
  });

  it('gives the frozen assignments (the SDK test reads the same file)', () => {
    expect(VECTORS.assign.length).toBeGreaterThan(20);
    for (const a of VECTORS.assign) {
      expect(gbHash(a.experiment.key, a.id), a.id).toBe(a.bucket);
      expect(assignVariant(a.experiment, a.id), `${a.experiment.key}|${a.id}`).toBe(a.variant);
    }
    // GrowthBook's "creates experiments properly" case: seed feature, id 123 → bucket 0.5231, variation 1.
    expect(VECTORS.assign[0]).toMatchObject({ id: '123', bucket: 0.5231, variant: 'v1' });
  });

  it('spreads 100k visitor ids uniformly: buckets and a 50/50 and 20/30/50 split pass χ² at p > 0.001', () => {
    const ids = Array.from({ length: 100_000 }, (_, i) => `visitor-${i}-${(i * 2654435761) % 1000003}`);
    const deciles = new Array(10).fill(0);
    for (const id of ids) deciles[Math.floor((gbHash('uniformity', id) as number) * 10)]++;
    expect(srm(deciles, new Array(10).fill(1))!.p).toBeGreaterThan(0.001);
    const split = (exp: ExperimentDef) => {
      const c = new Map(exp.variants.map((v) => [v.key, 0]));
      for (const id of ids) c.set(assignVariant(exp, id)!, c.get(assignVariant(exp, id)!)! + 1);
      return exp.variants.map((v) => c.get(v.key)!);
    };
    const two = { key: 'checkout_button', variants: [{ key: 'control', weight: 0.5 }, { key: 'b', weight: 0.5 }] };
    expect(srm(split(two), [0.5, 0.5])!.p).toBeGreaterThan(0.001);
    const three = { key: 'feed_ranking', variants: [{ key: 'a', weight: 0.2 }, { key: 'b', weight: 0.3 }, { key: 'c', weight: 0.5 }] };
    const counts = split(three);
    expect(srm(counts, [0.2, 0.3, 0.5])!.p).toBeGreaterThan(0.001);
    // A wrong expectation is caught: the same counts against 50/30/20 are a mismatch.
    expect(srm(counts, [0.5, 0.3, 0.2])!.warning).toBe(true);
  });

  it('leaves visitors outside the coverage unassigned, about in proportion', () => {
    const exp = { key: 'half', coverage: 0.5, variants: [{ key: 'a', weight: 0.5 }, { key: 'b', weight: 0.5 }] };
    let inside = 0;
    for (let i = 0; i < 20_000; i++) if (assignVariant(exp, `id-${i}`) !== null) inside++;
    expect(inside / 20_000).toBeGreaterThan(0.48);
    expect(inside / 20_000).toBeLessThan(0.52);
    expect(assignVariant(exp, '')).toBeNull();
    const all = assignmentsFor([exp, { key: 'full', variants: [{ key: 'x', weight: 1 }, { key: 'y', weight: 0 }] } as ExperimentDef], 'id-1');
    expect(all.full).toBe('x');
  });
});

describe('statistics', () => {
  it('χ² survival function at known points', () => {
    expect(chiSquareP(3.841459, 1)).toBeCloseTo(0.05, 5);
    expect(chiSquareP(10.827566, 1)).toBeCloseTo(0.001, 6);
    expect(chiSquareP(5.991465, 2)).toBeCloseTo(0.05, 5);
    expect(chiSquareP(16.918978, 9)).toBeCloseTo(0.05, 5);
    expect(chiSquareP(0, 3)).toBe(1);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 5);
  });

  it('flags a biased split (SRM) and not a fair one; never below 8 per variant in total', () => {
    expect(srm([600, 400], [0.5, 0.5])!.warning).toBe(true);
    expect(srm([510, 490], [0.5, 0.5])!.warning).toBe(false);
    expect(srm([300, 700], [0.3, 0.7])!.warning).toBe(false);
    // A variant that gets almost nobody is the mismatch itself (GrowthBook counts the minimum over all variants).
    expect(srm([40, 3], [0.5, 0.5])!.warning).toBe(true);
    expect(srm([12, 3], [0.5, 0.5])!.warning).toBe(false);
    expect(srm([0, 0], [0.5, 0.5])).toBeNull();
  });

  it('compares a variant with control: uplift, its 95 % interval, chance to beat control', () => {
    const c = compare(120, 1000, 100, 1000);
    expect(c.enough_data).toBe(true);
    expect(c.uplift).toBeCloseTo(0.2, 10);
    // Katz's log interval with 0.5 added to conversions and non-conversions.
    const se = Math.sqrt(1 / 120.5 - 1 / 1001 + 1 / 100.5 - 1 / 1001);
    const lr = Math.log(120.5 / 1001 / (100.5 / 1001));
    expect(c.uplift_ci95![0]).toBeCloseTo(Math.exp(lr - 1.959964 * se) - 1, 5);
    expect(c.uplift_ci95![1]).toBeCloseTo(Math.exp(lr + 1.959964 * se) - 1, 5);
    expect(c.chance_to_beat_control!).toBeGreaterThan(0.9);
    expect(c.chance_to_beat_control!).toBeLessThan(0.95);
    expect(compare(100, 1000, 100, 1000).chance_to_beat_control).toBeCloseTo(0.5, 9);
    expect(compare(5, 100, 0, 100)).toMatchObject({ uplift: null, uplift_ci95: null, enough_data: true });
    expect(compare(5, 100, 0, 100).chance_to_beat_control!).toBeGreaterThan(0.97);
    expect(compare(0, 0, 1, 10).chance_to_beat_control).toBeNull();
  });

  it('gives the exact chance to beat control of Beta posteriors', () => {
    // P(Beta(1,6) > Beta(6,1)) = 6·B(7,6) = 1/924: 0 of 5 against 5 of 5 (the normal approximation said 2.2e-5).
    expect(chanceToBeat(0, 5, 5, 5)).toBeCloseTo(1 / 924, 12);
    expect(chanceToBeat(5, 5, 0, 5)).toBeCloseTo(1 - 1 / 924, 12);
    expect(probBetaGreater(2, 1, 1, 1)).toBeCloseTo(2 / 3, 12); // ∫ 2x · x dx
    expect(probBetaGreater(1, 1, 1, 1)).toBeCloseTo(0.5, 12);
    expect(probBetaGreater(1, 2, 1, 1)).toBeCloseTo(1 / 3, 12);
    // Against a numeric integral ∫ f_X(x) F_Y(x) dx (midpoint rule, 200k points), whichever parameter is smallest.
    const numeric = (a: number, b: number, c: number, d: number) => {
      const lf = (n: number) => { let r = 0; for (let i = 2; i < n; i++) r += Math.log(i); return r; }; // ln Γ(n)
      const kx = lf(a) + lf(b) - lf(a + b);
      const ky = lf(c) + lf(d) - lf(c + d);
      const N = 200_000;
      let F = 0;
      let p = 0;
      for (let i = 0; i < N; i++) {
        const x = (i + 0.5) / N;
        const fy = Math.exp((c - 1) * Math.log(x) + (d - 1) * Math.log(1 - x) - ky) / N;
        F += fy / 2;
        p += (Math.exp((a - 1) * Math.log(x) + (b - 1) * Math.log(1 - x) - kx) / N) * F;
        F += fy / 2;
      }
      return p;
    };
    for (const [a, b, c, d] of [[11, 91, 21, 81], [21, 81, 11, 91], [91, 11, 81, 21], [5, 3, 7, 2], [40, 3, 30, 12]]) {
      expect(probBetaGreater(a, b, c, d)).toBeCloseTo(numeric(a, b, c, d), 7);
    }
    // Past the exact sum's length the normal approximation takes over, within 1e-5 of the exact figure there.
    expect(probBetaGreater(60_001, 70_000, 60_501, 69_500)).toBeGreaterThan(0);
    expect(Math.abs(probBetaGreater(50_000, 60_000, 50_500, 59_500) - 0.0161767)).toBeLessThan(1e-5);
  });

  it('keeps the uplift interval finite at rates of 0 and 1, and above −100 %', () => {
    // Was [-1, -1] (1 exposure each, control converting) and [0, 0] (both converting): certain from one visitor.
    const [lo1, hi1] = upliftInterval(0, 1, 1, 1)!;
    expect(lo1).toBeGreaterThan(-1);
    expect(hi1).toBeGreaterThan(1);
    const [lo2, hi2] = upliftInterval(1, 1, 1, 1)!;
    expect(lo2).toBeLessThan(-0.5);
    expect(hi2).toBeGreaterThan(1);
    // Was [-2.94, 0.94] for 0/50 against 1/50.
    const [lo3, hi3] = upliftInterval(0, 50, 1, 50)!;
    expect(lo3).toBeGreaterThan(-1);
    expect(lo3).toBeLessThan(-0.9);
    expect(hi3).toBeGreaterThan(1);
    for (const [c, n, c0, n0] of [[0, 1000, 500, 1000], [0, 100, 100, 100], [1000, 1000, 1000, 1000], [0, 3, 3, 3]]) {
      const [lo, hi] = upliftInterval(c, n, c0, n0)!;
      expect(lo).toBeGreaterThan(-1);
      expect(hi).toBeGreaterThan(lo);
    }
    expect(upliftInterval(1000, 1000, 1000, 1000)![0]).toBeLessThan(0);
    expect(upliftInterval(1000, 1000, 1000, 1000)![1]).toBeGreaterThan(0);
    expect(upliftInterval(0, 0, 1, 1)).toBeNull();
  });

  it('withholds the interval and the chance below the minimum sample', () => {
    expect(MIN_EXPOSURES_PER_VARIANT).toBe(100);
    expect(compare(0, 5, 5, 5)).toEqual({ uplift: -1, uplift_ci95: null, chance_to_beat_control: null, enough_data: false });
    expect(compare(1, 1, 0, 1)).toEqual({ uplift: null, uplift_ci95: null, chance_to_beat_control: null, enough_data: false });
    expect(compare(50, 99, 10, 1000).enough_data).toBe(false);
    expect(compare(50, 1000, 10, 99).enough_data).toBe(false);
    const at = compare(50, 100, 10, 100);
    expect(at.enough_data).toBe(true);
    expect(at.chance_to_beat_control!).toBeGreaterThan(0.999);
    expect(at.uplift_ci95![0]).toBeGreaterThan(0);
  });
});

describe('results shaping', () => {
  const exp: Experiment = {
    key: 'x', name: null, variants: [{ key: 'control', weight: 0.5 }, { key: 'b', weight: 0.5 }], coverage: 1, start: '2026-03-01T00:00:00.000Z', end: '2026-03-10T00:00:00.000Z',
    success_metrics: [{ name: 'buy', steps: [{ event_name: 'ticket_link_click', filters: [] }] }], metric_window_s: 86_400, created_at: '', updated_at: '',
  };
  it('counts per variant from breakdown rows, ignoring other values', () => {
    const row = (value: string | null, kind: 'value' | 'other', step: number, actors: number) => ({ total: false, kind, value, step, actors, median_from_prev: null, p90_from_prev: null, median_from_first: null, p90_from_first: null });
    const m = countsByVariant([row('control', 'value', 1, 3), row('b', 'value', 1, 5), row('zzz', 'value', 1, 9), row(null, 'other', 1, 4), row('b', 'value', 0, 50)], ['control', 'b'], 1);
    expect([...m]).toEqual([['control', 3], ['b', 5]]);
  });
  it('ends the range at the end plus the metric window, or now', () => {
    expect(resultsRange(exp, new Date('2026-03-05T00:00:00Z')).to.toISOString()).toBe('2026-03-05T00:00:00.000Z');
    expect(resultsRange(exp, new Date('2026-04-01T00:00:00Z')).to.toISOString()).toBe('2026-03-11T00:00:00.000Z');
  });
  it('counts exposures up to the end and conversions to the end plus the window, from the first exposure', () => {
    const later = resultsRange(exp, new Date('2026-04-01T00:00:00Z'));
    expect(later.exposuresTo.toISOString()).toBe('2026-03-10T00:00:00.000Z');
    const spec = resultsSpec(exp, later, exp.success_metrics[0].steps);
    expect(spec).toMatchObject({ firstStartOnly: true, startToMs: Date.parse('2026-03-10T00:00:00Z'), toMs: Date.parse('2026-03-11T00:00:00Z') });
    // Inside the window after the end the exposures run to now, like the conversions; running: no cut-off.
    const inWindow = resultsRange(exp, new Date('2026-03-10T12:00:00Z'));
    expect(resultsSpec(exp, inWindow, []).startToMs).toBe(Date.parse('2026-03-10T00:00:00Z'));
    const running = resultsRange(exp, new Date('2026-03-05T00:00:00Z'));
    expect(running.exposuresTo.toISOString()).toBe('2026-03-05T00:00:00.000Z');
    expect(resultsSpec(exp, running, []).startToMs).toBeUndefined();
    expect(resultsSpec({ ...exp, end: null }, resultsRange({ ...exp, end: null }, new Date('2026-04-01T00:00:00Z')), []).startToMs).toBeUndefined();
  });
  it('builds per-variant metrics and the SRM verdict', () => {
    const body = resultsBody(exp, resultsRange(exp, new Date('2026-03-05T00:00:00Z')), new Map([['control', 100], ['b', 100]]), new Map([['buy', new Map([['control', 10], ['b', 20]])]]));
    expect(body.control).toBe('control');
    expect(body.variants[0].metrics.buy).toMatchObject({ conversions: 10, rate: 0.1, uplift: null });
    expect(body.variants[1].metrics.buy.uplift).toBeCloseTo(1, 10);
    expect(body.variants[1].metrics.buy.enough_data).toBe(true);
    expect(body.variants[0].metrics.buy.enough_data).toBe(true);
    expect(body.min_exposures).toBe(100);
    expect(body.srm!.warning).toBe(false);
  });
  it('keeps a metric named like an Object.prototype member', () => {
    const odd = { ...exp, success_metrics: ['__proto__', 'toString'].map((name) => ({ name, steps: [{ event_name: 'event_view', filters: [] }] })) };
    const conversions = new Map([['__proto__', new Map([['control', 1]])], ['toString', new Map([['b', 2]])]]);
    const body = resultsBody(odd, resultsRange(odd, new Date('2026-03-05T00:00:00Z')), new Map([['control', 10], ['b', 10]]), conversions);
    const json = JSON.parse(JSON.stringify(body));
    expect(Object.keys(json.variants[0].metrics)).toEqual(['__proto__', 'toString']);
    expect(json.variants[0].metrics.__proto__).toMatchObject({ conversions: 1 });
    expect(json.variants[1].metrics.toString).toMatchObject({ conversions: 2 });
  });
});

describe('experiment schema', () => {
  const ok = { key: 'checkout_button', variants: [{ key: 'control', weight: 0.5 }, { key: 'green', weight: 0.5 }], start: '2026-03-01', success_metrics: ['ticket_link_click', { name: 'funnel', steps: [{ event_name: 'event_view' }, { event_name: 'ticket_link_click' }] }] };
  const field = (v: unknown) => { const p = parseExperiment(v); return p.ok ? null : p.error.field; };
  it('takes a valid experiment with defaults', () => {
    const p = parseExperiment(ok);
    expect(p.ok && p.value).toMatchObject({ key: 'checkout_button', coverage: 1, endMs: null, metricWindowS: 604_800, metrics: [{ name: 'ticket_link_click' }, { name: 'funnel' }] });
    const eq = parseExperiment({ ...ok, variants: [{ key: 'a' }, { key: 'b' }, { key: 'c' }] });
    expect(eq.ok && eq.value.variants.map((v) => v.weight)).toEqual([1 / 3, 1 / 3, 1 / 3]);
  });
  it('stores weights rescaled to sum 1, so each variant gets its share of the total; weights summing to 1 stay as sent', () => {
    const weights = (variants: unknown) => { const p = parseExperiment({ ...ok, variants }); if (!p.ok) throw new Error(p.error.message); return p.value.variants.map((v) => v.weight); };
    const over = weights([{ key: 'a', weight: 0.5 }, { key: 'b', weight: 0.51 }]);
    expect(over[0]).toBeCloseTo(0.5 / 1.01, 12);
    expect(over[1]).toBeCloseTo(0.51 / 1.01, 12);
    expect(Math.abs(over[0] + over[1] - 1)).toBeLessThan(1e-12);
    const ten = weights(Array.from({ length: 10 }, (_, i) => ({ key: `v${i}`, weight: 0.101 })));
    expect(ten.every((w) => Math.abs(w - 0.1) < 1e-12)).toBe(true);
    expect(weights([{ key: 'a', weight: 0.5 }, { key: 'b', weight: 0.49 }]).map((w) => Math.round(w * 1e9) / 1e9)).toEqual([0.505050505, 0.494949495]);
    // 0.1 + 0.2 + 0.7 is 1.0000000000000002 in doubles: kept exactly, so no range boundary moves off a hash value.
    expect(weights([{ key: 'a', weight: 0.1 }, { key: 'b', weight: 0.2 }, { key: 'c', weight: 0.7 }])).toEqual([0.1, 0.2, 0.7]);
    // The rescaled ranges give the asked-for split: 10 × 0.101 no longer leaves the last variant 9.1 %.
    const exp = { key: 'ten', variants: ten.map((weight, i) => ({ key: `v${i}`, weight })) };
    let last = 0;
    for (let i = 0; i < 50_000; i++) if (assignVariant(exp, `id-${i}`) === 'v9') last++;
    expect(last / 50_000).toBeGreaterThan(0.095);
  });
  it('refuses bad fields, naming them', () => {
    expect(field({ ...ok, extra: 1 })).toBe('extra');
    expect(parseExperiment({ ...ok, extra: 1 })).toMatchObject({ ok: false, error: { message: expect.stringMatching(/^Unknown field "extra"; allowed: key, /) } });
    expect(parseExperiment({ ...ok, variants: [{ key: 'a', weight: 0.5, colour: 1 }, { key: 'b', weight: 0.5 }] })).toMatchObject({ ok: false, error: { field: 'variants[0].colour', message: expect.stringMatching(/^Unknown field "colour"; allowed: /) } });
    expect(field({ ...ok, key: 'bad key' })).toBe('key');
    expect(field({ ...ok, variants: [{ key: 'a', weight: 0.5 }] })).toBe('variants');
    expect(field({ ...ok, variants: [{ key: 'a', weight: 0.7 }, { key: 'b', weight: 0.7 }] })).toBe('variants');
    expect(field({ ...ok, variants: [{ key: 'a', weight: 0.5 }, { key: 'a', weight: 0.5 }] })).toBe('variants[1].key');
    expect(field({ ...ok, variants: [{ key: 'a', weight: 0.5 }, { key: 'b' }] })).toBe('variants');
    expect(field({ ...ok, coverage: 1.5 })).toBe('coverage');
    expect(field({ ...ok, start: 'yesterday' })).toBe('start');
    // Years outside 1970-2199 are refused like query dates (0026 was read as 1926 by Date.UTC).
    expect(parseExperiment({ ...ok, start: '0026-11-20T00:00:00Z' })).toMatchObject({ ok: false, error: { field: 'start', message: expect.stringContaining('between 1970-01-01 and 2199-12-31') } });
    expect(field({ ...ok, end: '2200-01-01T00:00:00Z' })).toBe('end');
    expect(field({ ...ok, end: '0026-12-01T00:00:00Z' })).toBe('end');
    expect(field({ ...ok, end: '2026-02-01' })).toBe('end');
    expect(field({ ...ok, success_metrics: ['Bad Name'] })).toBe('success_metrics[0].event_name');
    expect(field({ ...ok, success_metrics: [{ steps: [{ event_name: 'event_view', filters: [{ field: 'payload.a', op: 'like', value: 1 }] }] }] })).toBe('success_metrics[0].steps[0].filters[0].op');
    expect(field({ ...ok, metric_window_s: 0 })).toBe('metric_window_s');
    expect(field([])).toBe('key');
    // A metric's name appears once, whichever form (an event name or an object) comes first.
    expect(field({ ...ok, success_metrics: ['event_view', 'event_view'] })).toBe('success_metrics[1]');
    expect(field({ ...ok, success_metrics: [{ name: 'event_view', event_name: 'ticket_link_click' }, 'event_view'] })).toBe('success_metrics[1]');
    expect(field({ ...ok, success_metrics: ['event_view', { name: 'event_view', event_name: 'ticket_link_click' }] })).toBe('success_metrics[1].name');
  });
});

describe('changing a started experiment', () => {
  const now = Date.parse('2026-03-10T12:00:00Z');
  const current = { variants: [{ key: 'control', weight: 0.5 }, { key: 'green', weight: 0.5 }], start: '2026-03-01T00:00:00.000Z' };
  const next = (extra: Record<string, unknown>) => {
    const p = parseExperiment({ key: 'x', variants: current.variants, start: current.start, ...extra });
    if (!p.ok) throw new Error(JSON.stringify(p.error));
    return p.value;
  };
  it('refuses new weights, variants or their order without a restart, since visitors would switch variants', () => {
    expect(reallocationRefusal(current, next({ variants: [{ key: 'control', weight: 0.1 }, { key: 'green', weight: 0.9 }] }), now)).toMatch(/moves visitors between variants.*2026-03-10T12:00:00.000Z/);
    expect(reallocationRefusal(current, next({ variants: [{ key: 'control', weight: 0.5 }, { key: 'blue', weight: 0.5 }] }), now)).not.toBeNull();
    expect(reallocationRefusal(current, next({ variants: [{ key: 'green', weight: 0.5 }, { key: 'control', weight: 0.5 }] }), now)).not.toBeNull();
    expect(reallocationRefusal(current, next({ variants: [{ key: 'control' }, { key: 'green' }, { key: 'blue' }] }), now)).not.toBeNull();
    // A start a moment ago (the request in transit) still reads the old split into the results: refused past the slack.
    expect(reallocationRefusal(current, next({ variants: [{ key: 'control', weight: 0.1 }, { key: 'green', weight: 0.9 }], start: new Date(now - RESTART_SLACK_MS - 1).toISOString() }), now)).not.toBeNull();
  });
  it('takes a restart, coverage, the end and metrics, and anything before the start', () => {
    const reweighted = [{ key: 'control', weight: 0.1 }, { key: 'green', weight: 0.9 }];
    expect(reallocationRefusal(current, next({ variants: reweighted, start: new Date(now).toISOString() }), now)).toBeNull();
    expect(reallocationRefusal(current, next({ variants: reweighted, start: new Date(now - RESTART_SLACK_MS).toISOString() }), now)).toBeNull();
    expect(reallocationRefusal(current, next({ coverage: 0.3, end: '2026-04-01T00:00:00Z', success_metrics: ['event_view'] }), now)).toBeNull();
    expect(reallocationRefusal({ ...current, start: '2026-03-11T00:00:00.000Z' }, next({ variants: reweighted }), now)).toBeNull();
    // Weights written as equal fractions are the same weights.
    expect(reallocationRefusal({ ...current, variants: [{ key: 'a', weight: 1 / 3 }, { key: 'b', weight: 1 / 3 }, { key: 'c', weight: 1 / 3 }] }, next({ variants: [{ key: 'a' }, { key: 'b' }, { key: 'c' }] }), now)).toBeNull();
  });
  it('keeps the stored weights of a started experiment saved before weights were rescaled, when the PUT sends them again', () => {
    const legacy = { variants: [{ key: 'control', weight: 0.5 }, { key: 'green', weight: 0.51 }], start: current.start };
    const same = next({ variants: legacy.variants, end: '2026-04-01T00:00:00Z' });
    expect(same.variants[1].weight).toBeCloseTo(0.51 / 1.01, 12);
    const kept = keepStoredSplit(legacy, same, now);
    // The stored ranges stay ([0, 0.5), [0.5, 1.01)): nobody switches variant; the other fields are the PUT's.
    expect(kept.variants).toEqual(legacy.variants);
    expect(kept.endMs).toBe(Date.parse('2026-04-01T00:00:00Z'));
    expect(reallocationRefusal(legacy, kept, now)).toBeNull();
    // Other weights are a reallocation as before; before the start the rescaled weights are stored.
    const moved = next({ variants: [{ key: 'control', weight: 0.3 }, { key: 'green', weight: 0.7 }] });
    expect(keepStoredSplit(legacy, moved, now)).toBe(moved);
    expect(reallocationRefusal(legacy, moved, now)).not.toBeNull();
    expect(keepStoredSplit({ ...legacy, start: '2026-03-11T00:00:00.000Z' }, same, now)).toBe(same);
    expect(keepStoredSplit(current, next({}), now).variants).toEqual(current.variants);
  });
});
