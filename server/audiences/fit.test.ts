// When a fitted model replaces seed_v1 (assessFit, fitAndAssess) and how far its L2 penalty holds the weights
// of a fit on a handful of rows. Pure: no store.
import { describe, expect, it } from 'vitest';
import { assessFit, fitAndAssess, fitLogistic, MIN_HELD_OUT, type Example } from './fit.js';
import { seedModel, SEED_COEFFICIENTS, type FeatureVector } from './score.js';

const seed = seedModel(SEED_COEFFICIENTS);
const x = (genre: number, price: number): FeatureVector => [genre, 0, 0, price, 0, 0, 0];

/** Buyers like the genre, non-buyers do not; `n` rows per class, deterministic. */
function rows(n: number, buyersShare = 0.5): Example[] {
  const out: Example[] = [];
  for (let i = 0; i < n; i++) {
    const y = i < n * buyersShare ? 1 : 0;
    out.push({ x: x(y ? 0.6 + (i % 4) / 10 : (i % 5) / 10, (i % 3) / 2), y, w: 1 });
  }
  return out;
}

const summary = (o: { events?: number; rows?: number; buyers?: number; log_loss?: number | null; seed?: number | null }) => ({
  log_loss: o.log_loss === undefined ? 0.3 : o.log_loss,
  held_out: { events: o.events ?? 3, rows: o.rows ?? 300, buyers: o.buyers ?? 60 },
  seed_v1_held_out: { log_loss: o.seed === undefined ? 0.7 : o.seed },
});

describe('assessFit: a fitted model is used only when evaluated on enough held-out past events and better than seed_v1', () => {
  it('uses a fit with enough held-out events, rows, buyers and non-buyers and a lower held-out log-loss than seed_v1', () => {
    expect(assessFit(summary({}))).toEqual({ status: 'in_use', reason: null });
  });

  it('keeps seed_v1 for a fit trained on one event with nothing held out (the probe\'s case)', () => {
    const r = assessFit({ log_loss: null, auc: null, train: { auc: 1, rows: 13, events: 1 }, held_out: { events: 0, rows: 0 } });
    expect(r.status).toBe('insufficient_holdout');
    expect(r.reason).toContain('0 held-out events');
  });

  it('needs each minimum: events, rows, buyers and non-buyers', () => {
    expect(assessFit(summary({ events: MIN_HELD_OUT.events - 1 })).status).toBe('insufficient_holdout');
    expect(assessFit(summary({ rows: MIN_HELD_OUT.rows - 1, buyers: 40 })).status).toBe('insufficient_holdout');
    expect(assessFit(summary({ buyers: MIN_HELD_OUT.buyers - 1 })).status).toBe('insufficient_holdout');
    expect(assessFit(summary({ rows: 300, buyers: 300 - MIN_HELD_OUT.nonBuyers + 1 })).status).toBe('insufficient_holdout');
    expect(assessFit(summary({ events: MIN_HELD_OUT.events, rows: MIN_HELD_OUT.rows, buyers: MIN_HELD_OUT.buyers })).status).toBe('in_use');
  });

  it('keeps seed_v1 when the fit is not better than seed_v1 on held-out log-loss (equal is not better)', () => {
    expect(assessFit(summary({ log_loss: 0.8, seed: 0.7 }))).toMatchObject({ status: 'worse_than_seed' });
    expect(assessFit(summary({ log_loss: 0.7, seed: 0.7 })).status).toBe('worse_than_seed');
    expect(assessFit(summary({ log_loss: null })).status).toBe('insufficient_holdout');
    expect(assessFit(summary({ seed: null })).status).toBe('insufficient_holdout');
  });

  it('judges any stored shape without throwing (a summary from before the rule, or none)', () => {
    expect(assessFit(null).status).toBe('insufficient_holdout');
    expect(assessFit({}).status).toBe('insufficient_holdout');
    expect(assessFit({ held_out: { events: '3' } }).status).toBe('insufficient_holdout');
  });
});

describe('fitAndAssess', () => {
  it('evaluates the fit and seed_v1 on the same held-out rows and stores the status with the summary', () => {
    const { fit } = fitAndAssess(rows(400), rows(200), seed, { train: 8, held_out: 2 }, 1);
    expect(fit.held_out).toEqual({ events: 2, rows: 200, buyers: 100 });
    expect(fit.train).toMatchObject({ events: 8, rows: 400, buyers: 200 });
    expect(fit.log_loss).toBeLessThan(fit.seed_v1_held_out.log_loss!);
    expect(fit.auc).toBeGreaterThan(0.9);
    expect(fit).toMatchObject({ status: 'in_use', reason: null });
  });

  it('stores but does not use a fit with no held-out rows: no held-out quality, status insufficient_holdout', () => {
    const { fit } = fitAndAssess(rows(13), [], seed, { train: 1, held_out: 0 }, 1);
    expect(fit).toMatchObject({ log_loss: null, auc: null, held_out: { events: 0, rows: 0, buyers: 0 }, seed_v1_held_out: { log_loss: null }, status: 'insufficient_holdout' });
  });
});

describe('L2 penalty on small data', () => {
  it('keeps the weights of a fit on 13 separable rows bounded (no weight beyond 3)', () => {
    // Perfectly separated by price fit: without a real penalty the weight runs off towards infinity.
    const data: Example[] = Array.from({ length: 13 }, (_, i) => ({ x: x(0, i < 6 ? 1 : 0.5), y: i < 6 ? 1 : 0, w: 1 }));
    const m = fitLogistic(data);
    for (const w of m.weights) expect(Math.abs(w)).toBeLessThan(3);
    expect(m.weights[3]).toBeGreaterThan(0);
  });

  it('fades as the rows grow: on many rows the penalised fit is close to the unpenalised one', () => {
    let s = 11;
    const r = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const truth = { intercept: -1, weights: [2, 0, 0, 1, 0, 0, 0] as FeatureVector };
    const data: Example[] = Array.from({ length: 5000 }, () => {
      const v = x(r(), r());
      return { x: v, y: r() < 1 / (1 + Math.exp(-(truth.intercept + 2 * v[0] + v[3]))) ? 1 : 0, w: 1 };
    });
    const a = fitLogistic(data);
    const b = fitLogistic(data, { ridge: 0 });
    expect(Math.abs(a.weights[0] - b.weights[0]) / Math.abs(b.weights[0])).toBeLessThan(0.1);
  });
});
