// An experiment as the API takes it (README "Experiments"), checked at the boundary. Pure: JSON in, an
// ExperimentInput or the refused field out. Weights must already sum to 1 (GrowthBook's tolerance, 0.99–1.01):
// GrowthBook would silently fall back to equal weights, which is never what the tenant meant. Within it they are
// rescaled to sum 1 before they are stored: the bucket ranges are cumulative raw weights, so [0.5, 0.51] would
// cut the last range at 1 (a 50/50 split, not the 49.5/50.5 asked for) and ten of 0.101 would give the last 9.1 %.
import { MAX_WINDOW_S, parseStep, type Step } from '../analytics/spec.js';
import { bodyTime, unknownBodyField, type ParamError, type Parsed } from '../http/params.js';
import { isObj } from '../store/rows.js';
import { normalisedWeights } from '../../client/shared/experiment-hash.js';

export const KEY_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const MIN_VARIANTS = 2;
export const MAX_VARIANTS = 10;
export const MAX_METRICS = 10;
export const MAX_METRIC_STEPS = 5;
export const DEFAULT_METRIC_WINDOW_S = 7 * 86_400;

export interface Metric {
  name: string;
  /** The steps after the exposure (one event, or a funnel's steps). */
  steps: Step[];
}

export interface ExperimentInput {
  key: string;
  name: string | null;
  variants: { key: string; weight: number }[];
  coverage: number;
  startMs: number;
  endMs: number | null;
  metrics: Metric[];
  metricWindowS: number;
}

const bad = (field: string, message: string): { ok: false; error: ParamError } => ({ ok: false, error: { code: 'invalid_field', in: 'body', field, message } });

function unknownKey(v: Record<string, unknown>, allowed: readonly string[], at: string) {
  const k = Object.keys(v).find((x) => !allowed.includes(x));
  if (k === undefined) return null;
  const e = unknownBodyField(k, `allowed: ${allowed.join(', ')}.`);
  return { ok: false as const, error: at ? { ...e, field: `${at}.${e.field}` } : e };
}

function parseVariants(raw: unknown): Parsed<{ key: string; weight: number }[]> {
  if (!Array.isArray(raw) || raw.length < MIN_VARIANTS || raw.length > MAX_VARIANTS) return bad('variants', `variants is a list of ${MIN_VARIANTS}–${MAX_VARIANTS} {"key","weight"}; the first is the control.`);
  const out: { key: string; weight: number | null }[] = [];
  for (let i = 0; i < raw.length; i++) {
    const v = raw[i];
    const at = `variants[${i}]`;
    if (!isObj(v)) return bad(at, 'A variant is {"key","weight"}.');
    const extra = unknownKey(v, ['key', 'weight'], at);
    if (extra) return extra;
    if (typeof v.key !== 'string' || !KEY_RE.test(v.key)) return bad(`${at}.key`, 'key is 1–64 letters, digits, _ . - (starting with a letter or digit).');
    if (out.some((o) => o.key === v.key)) return bad(`${at}.key`, `Variant key ${v.key} appears twice.`);
    if (v.weight !== undefined && (typeof v.weight !== 'number' || !(v.weight > 0) || v.weight > 1)) return bad(`${at}.weight`, 'weight is a number in (0, 1].');
    out.push({ key: v.key, weight: (v.weight as number | undefined) ?? null });
  }
  const given = out.filter((o) => o.weight !== null).length;
  if (given === 0) return { ok: true, value: out.map((o) => ({ key: o.key, weight: 1 / out.length })) };
  if (given !== out.length) return bad('variants', 'Give every variant a weight, or none (equal split).');
  const sum = out.reduce((a, o) => a + (o.weight as number), 0);
  if (sum < 0.99 || sum > 1.01) return bad('variants', `The weights sum to ${sum}; they must sum to 1.`);
  return { ok: true, value: normalisedWeights(out as { key: string; weight: number }[]) };
}

// The one rescaling, shared with the SDK (a page's definition assigns as the stored one): see its comment.
export { normalisedWeights };

function parseMetrics(raw: unknown): Parsed<Metric[]> {
  if (raw === undefined) return { ok: true, value: [] };
  if (!Array.isArray(raw) || raw.length > MAX_METRICS) return bad('success_metrics', `success_metrics is a list of at most ${MAX_METRICS} metrics.`);
  const out: Metric[] = [];
  for (let i = 0; i < raw.length; i++) {
    const at = `success_metrics[${i}]`;
    const m = raw[i];
    if (typeof m === 'string') {
      const s = parseStep({ event_name: m }, at);
      if (!s.ok) return s;
      if (out.some((o) => o.name === m)) return bad(at, `Metric ${m} appears twice.`);
      out.push({ name: m, steps: [s.value] });
      continue;
    }
    if (!isObj(m)) return bad(at, 'A metric is an event name, {"name"?,"event_name","filters"?} or {"name","steps":[…]}.');
    const extra = unknownKey(m, ['name', 'event_name', 'filters', 'steps'], at);
    if (extra) return extra;
    const list = m.steps !== undefined ? m.steps : [{ event_name: m.event_name, ...(m.filters !== undefined ? { filters: m.filters } : {}) }];
    if (!Array.isArray(list) || list.length < 1 || list.length > MAX_METRIC_STEPS || (m.steps !== undefined && m.event_name !== undefined)) {
      return bad(at, `A metric has an event_name or 1–${MAX_METRIC_STEPS} steps.`);
    }
    const steps: Step[] = [];
    for (let j = 0; j < list.length; j++) {
      const s = parseStep(list[j], m.steps !== undefined ? `${at}.steps[${j}]` : at);
      if (!s.ok) return s;
      steps.push(s.value);
    }
    const name = m.name ?? steps.map((s) => s.event_name).join('>');
    if (typeof name !== 'string' || name.length < 1 || name.length > 128) return bad(`${at}.name`, 'name is 1–128 characters.');
    if (out.some((o) => o.name === name)) return bad(`${at}.name`, `Metric ${name} appears twice.`);
    out.push({ name, steps });
  }
  return { ok: true, value: out };
}

/** A POST body (`withKey`) or a PUT body (the key is the path's) → ExperimentInput. Pure. */
export function parseExperiment(v: unknown, pathKey?: string): Parsed<ExperimentInput> {
  if (!isObj(v)) return bad('key', 'Send {"key","variants":[{"key","weight"}],"start","end"?,"success_metrics"?}.');
  const extra = unknownKey(v, ['key', 'name', 'variants', 'coverage', 'start', 'end', 'success_metrics', 'metric_window_s'], '');
  if (extra) return extra;
  const key = pathKey ?? v.key;
  if (pathKey !== undefined && v.key !== undefined && v.key !== pathKey) return bad('key', 'The key is the path\'s; it cannot change.');
  if (typeof key !== 'string' || !KEY_RE.test(key)) return bad('key', 'key is 1–64 letters, digits, _ . - (starting with a letter or digit); it seeds the assignment hash.');
  if (v.name !== undefined && v.name !== null && (typeof v.name !== 'string' || v.name.length > 256)) return bad('name', 'name is at most 256 characters.');
  const variants = parseVariants(v.variants);
  if (!variants.ok) return variants;
  const coverage = v.coverage ?? 1;
  if (typeof coverage !== 'number' || !(coverage >= 0 && coverage <= 1)) return bad('coverage', 'coverage (traffic allocation) is a number in [0, 1].');
  // 1970-2199 like every date of the API (bodyTime).
  const start = bodyTime('start', v.start, 'an ISO-8601 time');
  if (!start.ok) return start;
  const startMs = start.value;
  let endMs: number | null = null;
  if (v.end !== undefined && v.end !== null) {
    const end = bodyTime('end', v.end, 'an ISO-8601 time or null');
    if (!end.ok) return end;
    endMs = end.value;
  }
  if (endMs !== null && endMs <= startMs) return bad('end', 'end must be after start.');
  const metrics = parseMetrics(v.success_metrics);
  if (!metrics.ok) return metrics;
  const win = v.metric_window_s ?? DEFAULT_METRIC_WINDOW_S;
  if (typeof win !== 'number' || !Number.isInteger(win) || win < 1 || win > MAX_WINDOW_S) return bad('metric_window_s', `metric_window_s is 1–${MAX_WINDOW_S} seconds.`);
  return {
    ok: true,
    value: { key, name: (v.name as string | null | undefined) ?? null, variants: variants.value, coverage, startMs, endMs, metrics: metrics.value, metricWindowS: win },
  };
}

/** How far back a restart's `start` may be: the request's own time in transit, not exposures under the old split. */
export const RESTART_SLACK_MS = 60_000;

/**
 * `next` with the stored weights of a started experiment when `next` sends them again: weights saved before
 * they were rescaled on save (summing to 0.99–1.01) come back rescaled from parseExperiment, and storing those
 * would move the visitors between the old and the new range boundaries mid-experiment. Keys, order and shares
 * unchanged means the same split, so the stored ranges stay; anything else is `next` as parsed. Pure.
 */
export function keepStoredSplit(current: { variants: { key: string; weight: number }[]; start: string }, next: ExperimentInput, nowMs: number): ExperimentInput {
  if (Date.parse(current.start) > nowMs || current.variants.length !== next.variants.length) return next;
  const rescaled = normalisedWeights(current.variants);
  const same = rescaled.every((v, i) => v.key === next.variants[i].key && Math.abs(v.weight - next.variants[i].weight) < 1e-9);
  return same ? { ...next, variants: current.variants.map((v) => ({ key: v.key, weight: v.weight })) } : next;
}

/**
 * Why a PUT may not change a started experiment's variants (keys, order, weights), or null. Such a change moves
 * visitors between variants (GrowthBook's bucket ranges are cumulative weights), and results would test the
 * exposures gathered under the old split against the new weights: a false SRM warning, conversions of one
 * split credited to the other. Restarting (start moved to now) counts only exposures under the new split.
 * Coverage may change: its ranges grow or shrink in place, nobody switches variant. Pure.
 */
export function reallocationRefusal(current: { variants: { key: string; weight: number }[]; start: string }, next: ExperimentInput, nowMs: number): string | null {
  const startedMs = Date.parse(current.start);
  if (startedMs > nowMs) return null;
  const same = current.variants.length === next.variants.length
    && current.variants.every((v, i) => v.key === next.variants[i].key && Math.abs(v.weight - next.variants[i].weight) < 1e-9);
  if (same || next.startMs >= nowMs - RESTART_SLACK_MS) return null;
  return `This experiment has run since ${current.start}: changing its variants or weights moves visitors between variants, `
    + `and its results would mix exposures of two splits. Restart it with start at or after now (${new Date(nowMs).toISOString()}), `
    + 'so results count only exposures under the new split, or create a new experiment. Coverage and the other fields may change without a restart.';
}
