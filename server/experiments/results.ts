// Results of an experiment per variant: exposures (visitors with an experiment_exposure of this experiment up to
// its end), conversions per success metric from the funnel engine (the visitor's first exposure → the metric's
// steps inside the metric window from that exposure, broken down by its variant), uplift against the control
// (the first variant) and the sample-ratio-mismatch check of the exposures against the weights. The funnels go through analytics'
// entry point (`Analytics.funnel`): a tenant's funnel index answers them when it holds one, as it does the
// funnels API's, and a slow store read gives the tenant one.
import type { Scope } from '../authz/principal.js';
import type { EngineSpec } from '../analytics/engine-spec.js';
import type { FunnelRow, Step } from '../analytics/spec.js';
import { compare, MIN_EXPOSURES_PER_VARIANT, srm, type Comparison, type Srm } from './stats.js';
import type { Experiment } from './store.js';

export interface MetricResult extends Comparison {
  conversions: number;
  rate: number | null;
}

export interface VariantResult {
  key: string;
  weight: number;
  exposures: number;
  metrics: Record<string, MetricResult>;
}

export interface ExperimentResults {
  key: string;
  from: string;
  to: string;
  control: string;
  /** Exposures every variant needs before uplift intervals and chances to beat control are given. */
  min_exposures: number;
  variants: VariantResult[];
  srm: Srm | null;
}

/** Reached-step counts per variant key from the engine's breakdown rows (values outside `keys` are ignored). Pure. */
export function countsByVariant(rows: FunnelRow[], keys: string[], step: number): Map<string, number> {
  const out = new Map(keys.map((k) => [k, 0]));
  for (const r of rows) if (!r.total && r.kind === 'value' && r.value !== null && out.has(r.value) && r.step === step) out.set(r.value, r.actors);
  return out;
}

/** The results from the exposures and each metric's conversions per variant. Pure. */
export function resultsBody(exp: Experiment, range: { from: Date; to: Date }, exposures: Map<string, number>, conversions: Map<string, Map<string, number>>): ExperimentResults {
  const control = exp.variants[0].key;
  const n0 = exposures.get(control) ?? 0;
  const variants = exp.variants.map((v) => {
    const n = exposures.get(v.key) ?? 0;
    // Null prototype: a metric may be named "__proto__", which an ordinary object would swallow as its prototype.
    const metrics: Record<string, MetricResult> = Object.create(null);
    for (const m of exp.success_metrics) {
      const c = conversions.get(m.name)?.get(v.key) ?? 0;
      const c0 = conversions.get(m.name)?.get(control) ?? 0;
      const cmp = v.key === control
        ? { uplift: null, uplift_ci95: null, chance_to_beat_control: null, enough_data: n >= MIN_EXPOSURES_PER_VARIANT }
        : compare(c, n, c0, n0);
      metrics[m.name] = { conversions: c, rate: n > 0 ? c / n : null, ...cmp };
    }
    return { key: v.key, weight: v.weight, exposures: n, metrics };
  });
  return {
    key: exp.key, from: range.from.toISOString(), to: range.to.toISOString(), control, min_exposures: MIN_EXPOSURES_PER_VARIANT, variants,
    srm: srm(variants.map((v) => v.exposures), exp.variants.map((v) => v.weight), exp.coverage),
  };
}

/**
 * From the start to now, or to the end plus the metric window (conversions after the last exposure count);
 * `exposuresTo`: exposures count only up to the end (or now), never in the window after it.
 */
export function resultsRange(exp: Experiment, now: Date): { from: Date; to: Date; exposuresTo: Date } {
  const from = new Date(exp.start);
  const end = exp.end === null ? Infinity : Date.parse(exp.end);
  const to = Math.max(from.getTime() + 1000, Math.min(now.getTime(), end + exp.metric_window_s * 1000));
  return { from, to: new Date(to), exposuresTo: new Date(Math.min(to, end)) };
}

/** A funnel's rows: analytics' `funnel` (from the tenant's funnel index when it can answer, else the store). */
export type FunnelSource = (tenantId: number, spec: EngineSpec, scope: Scope | null) => Promise<{ rows: FunnelRow[] }>;

/**
 * The funnel from the visitor's first exposure through `steps` (none: the exposures alone), per variant, over the
 * range: exposures before `exposuresTo` (the end), the steps before `to` (the end plus the window), each step
 * within the metric window of the first exposure (a later exposure does not restart it). Pure.
 */
export function resultsSpec(exp: Experiment, range: { from: Date; to: Date; exposuresTo?: Date }, steps: Step[]): EngineSpec {
  const keys = exp.variants.map((v) => v.key);
  // Only the defined variants: exposures with made-up variant names (the write key is public) would otherwise
  // crowd the real ones out of the breakdown's top values and blank the results.
  const exposure: Step = {
    event_name: 'experiment_exposure',
    filters: [
      { root: 'payload', path: ['experiment_id'], op: 'eq', text: exp.key },
      { root: 'payload', path: ['variant'], op: 'in', list: keys },
    ],
  };
  return {
    steps: [exposure, ...steps], windowS: exp.metric_window_s, fromMs: range.from.getTime(), toMs: range.to.getTime(), by: 'visitor',
    breakdown: { field: 'payload.variant', root: 'payload', path: ['variant'] }, breakdownLimit: keys.length,
    firstStartOnly: true, ...(range.exposuresTo && range.exposuresTo < range.to ? { startToMs: range.exposuresTo.getTime() } : {}),
  };
}

/**
 * One funnel per metric. The exposures are the first metric's step 0: a funnel's entrants are the visitors with a
 * row of its first step in the range, labelled by the first such row, whatever the later steps are — exactly
 * the exposure funnel's (test/experiment-results.test.ts holds them equal). Only without metrics does an
 * exposure funnel of its own run.
 */
export async function experimentResults(funnel: FunnelSource, tenantId: number, exp: Experiment, now: Date): Promise<ExperimentResults> {
  const range = resultsRange(exp, now);
  const keys = exp.variants.map((v) => v.key);
  let exposures: Map<string, number> | null = null;
  const conversions = new Map<string, Map<string, number>>();
  for (const m of exp.success_metrics) {
    const { rows } = await funnel(tenantId, resultsSpec(exp, range, m.steps), null);
    exposures ??= countsByVariant(rows, keys, 0);
    conversions.set(m.name, countsByVariant(rows, keys, m.steps.length));
  }
  exposures ??= countsByVariant((await funnel(tenantId, resultsSpec(exp, range, []), null)).rows, keys, 0);
  return resultsBody(exp, range, exposures, conversions);
}
