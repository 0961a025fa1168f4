// The `fitted` model: a logistic regression on seed_v1's seven features, fitted per tenant from past events'
// actual buyers (audiences/model-job.ts gathers the rows). Newton's method (IRLS) on an 8×8 system with a small
// ridge, so it converges in a few iterations and never diverges on separable data. Pure.
import { FEATURES, propensity, type FeatureVector, type Model } from './score.js';

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

/** Weighted L2-regularised logistic regression (the intercept is not penalised). */
export function fitLogistic(data: Example[], opts: { ridge?: number; iterations?: number } = {}): Model {
  const ridge = opts.ridge ?? 1e-3;
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
    const total = data.reduce((s, e) => s + e.w, 0) || 1;
    for (let i = 1; i < K; i++) {
      g[i] -= ridge * total * beta[i];
      H[i][i] += ridge * total;
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
