// The `fitted` model: a logistic regression on seed_v1's seven features, fitted per tenant from past events'
// actual buyers (audiences/fit-job.ts gathers the rows). Newton's method (IRLS) on an 8×8 system with an L2
// penalty on the weights, so it converges in a few iterations and never diverges on separable data; the fit's
// summary and the rule that decides whether it is used instead of seed_v1 (assessFit). Pure.
import { FEATURES, propensity, round, type FeatureVector, type Model } from './score.js';

export interface Example {
  x: FeatureVector;
  /** 1 = the person bought a ticket of that event. */
  y: 0 | 1;
  /** Sampling weight (non-buyers are sampled; their weight is the inverse of the sampling rate). */
  w: number;
}

const K = FEATURES.length + 1;

/** Solves A·x = b (A symmetric positive definite, K×K) by Gaussian elimination with partial pivoting. */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[piv][c])) piv = r;
    [M[c], M[piv]] = [M[piv], M[c]];
    const d = M[c][c] || 1e-12;
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / d;
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * x[k];
    x[r] = s / (M[r][r] || 1e-12);
  }
  return x;
}

/**
 * The L2 penalty λ·Σw²/2 on the weights (not the intercept), absolute rather than per row: a N(0, 1) prior on
 * each weight (the features lie in 0…1), as a default logistic regression (C = 1). It holds the weights of a fit
 * on a few dozen rows near zero (on 13 separable rows a penalty per row let one weight reach 8) and fades as the
 * (sampling-weighted) rows grow.
 */
export const RIDGE = 1;

/** Weighted L2-regularised logistic regression (the intercept is not penalised). */
export function fitLogistic(data: Example[], opts: { ridge?: number; iterations?: number } = {}): Model {
  const ridge = opts.ridge ?? RIDGE;
  let beta = new Array<number>(K).fill(0);
  for (let it = 0; it < (opts.iterations ?? 25); it++) {
    const H = Array.from({ length: K }, () => new Array<number>(K).fill(0));
    const g = new Array<number>(K).fill(0);
    for (const ex of data) {
      const z = [1, ...ex.x];
      let s = 0;
      for (let i = 0; i < K; i++) s += beta[i] * z[i];
      const p = 1 / (1 + Math.exp(-s));
      const r = ex.w * (ex.y - p);
      const v = ex.w * Math.max(p * (1 - p), 1e-9);
      for (let i = 0; i < K; i++) {
        g[i] += r * z[i];
        for (let j = 0; j < K; j++) H[i][j] += v * z[i] * z[j];
      }
    }
    for (let i = 1; i < K; i++) {
      g[i] -= ridge * beta[i];
      H[i][i] += ridge;
    }
    // Features that never vary (an unused term) leave H singular: a tiny jitter keeps the solve defined.
    for (let i = 0; i < K; i++) H[i][i] += 1e-9;
    const step = solve(H, g);
    beta = beta.map((b, i) => b + step[i]);
    if (Math.max(...step.map(Math.abs)) < 1e-8) break;
  }
  return { intercept: beta[0], weights: beta.slice(1) as FeatureVector };
}

/** Weighted mean negative log-likelihood of the model on `data` (clamped so a certain wrong answer stays finite). */
export function logLoss(m: Model, data: Example[]): number {
  let s = 0;
  let w = 0;
  for (const ex of data) {
    const p = Math.min(Math.max(propensity(m, ex.x), 1e-12), 1 - 1e-12);
    s -= ex.w * (ex.y ? Math.log(p) : Math.log(1 - p));
    w += ex.w;
  }
  return w === 0 ? NaN : s / w;
}

/** Weighted ROC AUC: the probability a random buyer scores above a random non-buyer (ties count half). */
export function auc(m: Model, data: Example[]): number {
  const scored = data.map((ex) => ({ p: propensity(m, ex.x), y: ex.y, w: ex.w })).sort((a, b) => a.p - b.p);
  let negBelow = 0;
  let pos = 0;
  let neg = 0;
  let num = 0;
  for (let i = 0; i < scored.length; ) {
    let j = i;
    let tiePos = 0;
    let tieNeg = 0;
    while (j < scored.length && scored[j].p === scored[i].p) {
      if (scored[j].y) tiePos += scored[j].w;
      else tieNeg += scored[j].w;
      j++;
    }
    num += tiePos * (negBelow + tieNeg / 2);
    negBelow += tieNeg;
    pos += tiePos;
    neg += tieNeg;
    i = j;
  }
  return pos === 0 || neg === 0 ? NaN : num / (pos * neg);
}

/** Held-out events: a stable split by event id (FNV-1a), about one in `k`, so a refit tests on the same events. */
export function isHeldOut(eventId: string, k = 5): boolean {
  let h = 0x811c9dc5;
  for (let i = 0; i < eventId.length; i++) {
    h ^= eventId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % k === 0;
}

/**
 * What a fitted model needs on its held-out events before it replaces seed_v1: at least two events (one event's
 * buyers say little about the next), and enough buyers and non-buyers there for log-loss and AUC to mean
 * something. A fit short of these is stored and shown, not used.
 */
export const MIN_HELD_OUT = { events: 2, rows: 100, buyers: 20, nonBuyers: 20 } as const;

export type FitStatus = 'in_use' | 'insufficient_holdout' | 'worse_than_seed';

interface Quality {
  log_loss: number | null;
  auc: number | null;
}

/** A fit's stored summary (`audience_models.fit`, GET /api/v1/audience/model). */
export interface FitSummary extends Quality {
  train: { events: number; rows: number; buyers: number } & Quality;
  held_out: { events: number; rows: number; buyers: number };
  seed_v1_held_out: Quality;
  non_buyer_weight: number;
  status: FitStatus;
  reason: string | null;
}

const quality = (m: Model, data: Example[]): Quality => {
  if (!data.length) return { log_loss: null, auc: null };
  const a = auc(m, data);
  return { log_loss: round(logLoss(m, data), 6), auc: Number.isNaN(a) ? null : round(a, 6) };
};

const finite = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const field = (o: unknown, k: string): unknown => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined);

/**
 * Whether a fit replaces seed_v1: only with enough held-out events, rows, buyers and non-buyers
 * (MIN_HELD_OUT), and a held-out log-loss below seed_v1's on the same rows; else why not. Reads the stored
 * summary's numbers (any shape: a summary stored before this rule is judged by it too).
 */
export function assessFit(fit: unknown): { status: FitStatus; reason: string | null } {
  const held = field(fit, 'held_out');
  const events = finite(field(held, 'events')) ?? 0;
  const rows = finite(field(held, 'rows')) ?? 0;
  const buyers = finite(field(held, 'buyers')) ?? 0;
  const short: string[] = [];
  if (events < MIN_HELD_OUT.events) short.push(`${events} held-out events (at least ${MIN_HELD_OUT.events})`);
  if (rows < MIN_HELD_OUT.rows) short.push(`${rows} held-out rows (at least ${MIN_HELD_OUT.rows})`);
  if (buyers < MIN_HELD_OUT.buyers) short.push(`${buyers} held-out buyers (at least ${MIN_HELD_OUT.buyers})`);
  if (rows - buyers < MIN_HELD_OUT.nonBuyers) short.push(`${rows - buyers} held-out non-buyers (at least ${MIN_HELD_OUT.nonBuyers})`);
  if (short.length) return { status: 'insufficient_holdout', reason: `not evaluated on enough past events: ${short.join(', ')}; seed_v1 stays in use` };
  const mine = finite(field(fit, 'log_loss'));
  const seed = finite(field(field(fit, 'seed_v1_held_out'), 'log_loss'));
  if (mine === null || seed === null) return { status: 'insufficient_holdout', reason: 'no held-out log-loss to compare with seed_v1; seed_v1 stays in use' };
  if (!(mine < seed)) return { status: 'worse_than_seed', reason: `held-out log-loss ${mine} is not below seed_v1's ${seed}; seed_v1 stays in use` };
  return { status: 'in_use', reason: null };
}

/**
 * Fits on the training events' rows and evaluates the model and seed_v1 on the held-out events' rows: the
 * weights and the summary to store, with the status assessFit gives it.
 */
export function fitAndAssess(train: Example[], test: Example[], seed: Model, events: { train: number; held_out: number }, nonBuyerWeight: number): { model: Model; fit: FitSummary } {
  const model = fitLogistic(train);
  const summary = {
    ...quality(model, test),
    train: { events: events.train, rows: train.length, buyers: train.filter((e) => e.y).length, ...quality(model, train) },
    held_out: { events: events.held_out, rows: test.length, buyers: test.filter((e) => e.y).length },
    seed_v1_held_out: quality(seed, test),
    non_buyer_weight: nonBuyerWeight,
  };
  return { model, fit: { ...summary, ...assessFit(summary) } };
}
