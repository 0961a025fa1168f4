// A funnel request as the API takes it (README "Funnels"), checked at the boundary, and the store's grouped rows
// shaped into the answer. Pure: JSON in, a FunnelSpec or the refused field out; rows in, the reply body out.
// Filters and breakdowns name a JSON path under payload, context or entities from a short grammar, and the
// operators are a closed list: nothing the client sends becomes SQL text (funnels.sql takes them as values).
import { bodyTime, unknownBodyField, type ParamError, type Parsed } from '../http/params.js';
import { isObj } from '../store/rows.js';
import { own } from '../lookup.js';
import { nearest } from '../ingest/messages.js';
import { REGISTRY_V1, type MoneyKeys } from '../ingest/registry.js';

const EVENT_NAMES: ReadonlySet<string> = new Set(REGISTRY_V1.map((d) => d.name));

export const MIN_STEPS = 2;
export const MAX_STEPS = 10;
export const MAX_FILTERS = 10;
export const MAX_LIST = 100;
export const MAX_VALUE_CHARS = 256;
export const MAX_WINDOW_S = 90 * 86_400;
export const DEFAULT_WINDOW_S = 14 * 86_400;
export const MAX_RANGE_MS = 366 * 86_400_000;
export const DEFAULT_BREAKDOWN_LIMIT = 10;
export const MAX_BREAKDOWN_LIMIT = 50;

export const OPERATORS = ['eq', 'neq', 'in', 'not_in', 'contains', 'exists', 'gt', 'gte', 'lt', 'lte'] as const;
export type Operator = (typeof OPERATORS)[number];
const NUMERIC_OPS: readonly string[] = ['gt', 'gte', 'lt', 'lte'];

/** `payload.x`, `context.utm.source`, `entities.venue_id`: a root and 1–3 snake_case keys. */
const FIELD_RE = /^(payload|context|entities)((?:\.[a-z][a-z0-9_]{0,63}){1,3})$/;
const EVENT_NAME_RE = /^[a-z][a-z0-9_]{0,99}$/;

/**
 * Seed 003 §4.1: impression → click → view details → interest → ticket click. Interest is an
 * event_interest_marked that does not take it back (`interested: false` un-marks, as fs_event_daily.interested
 * counts it).
 */
export const PRESETS: Record<string, Step[]> = {
  event_discovery: [
    { event_name: 'event_card_impression', filters: [] }, { event_name: 'event_card_click', filters: [] }, { event_name: 'event_view', filters: [] },
    { event_name: 'event_interest_marked', filters: [{ root: 'payload', path: ['interested'], op: 'neq', text: 'false' }] },
    { event_name: 'ticket_link_click', filters: [] },
  ],
};

export type Root = 'payload' | 'context' | 'entities';

/** A filter as funnels.sql reads it: `num` for numeric comparisons, `text` for text ones, `list` for in/not_in. */
export interface Filter {
  root: Root;
  path: string[];
  op: Operator;
  text?: string;
  num?: number;
  list?: string[];
}

export interface Step {
  event_name: string;
  filters: Filter[];
}

export interface FunnelSpec {
  steps: Step[];
  windowS: number;
  fromMs: number;
  toMs: number;
  by: 'visitor' | 'person';
  breakdown: { field: string; root: Root; path: string[] } | null;
  breakdownLimit: number;
  /** Read the store even when this node holds a funnel index for the tenant. */
  fresh?: boolean;
}

const bad = (field: string, message: string): { ok: false; error: ParamError } => ({ ok: false, error: { code: 'invalid_field', in: 'body', field, message } });

/** Refuses keys outside `allowed` (a typo would otherwise be ignored silently). */
function unknownKey(v: Record<string, unknown>, allowed: readonly string[], at: string): { ok: false; error: ParamError } | null {
  const k = Object.keys(v).find((x) => !allowed.includes(x));
  if (k === undefined) return null;
  const e = unknownBodyField(k, `allowed: ${allowed.join(', ')}.`);
  return { ok: false as const, error: at ? { ...e, field: `${at}.${e.field}` } : e };
}

/** A field path of the grammar, or null. Pure. */
export function parseField(raw: unknown): { root: Root; path: string[] } | null {
  if (typeof raw !== 'string') return null;
  const m = FIELD_RE.exec(raw);
  return m ? { root: m[1] as Root, path: m[2].slice(1).split('.') } : null;
}

const scalar = (v: unknown): v is string | number | boolean =>
  (typeof v === 'string' && v.length <= MAX_VALUE_CHARS) || (typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= 1e15) || typeof v === 'boolean';

function parseFilter(v: unknown, at: string): Parsed<Filter> {
  if (!isObj(v)) return bad(at, 'A filter is {"field","op","value"}.');
  const extra = unknownKey(v, ['field', 'op', 'value'], at);
  if (extra) return extra;
  const field = parseField(v.field);
  if (!field) return bad(`${at}.field`, 'field is payload.<key>, context.<key>[.<key>] or entities.<key>: 1–3 snake_case keys.');
  if (typeof v.op !== 'string' || !(OPERATORS as readonly string[]).includes(v.op)) return bad(`${at}.op`, `op is one of ${OPERATORS.join(', ')}.`);
  const op = v.op as Operator;
  const out: Filter = { ...field, op };
  if (op === 'exists') return v.value === undefined ? { ok: true, value: out } : bad(`${at}.value`, 'exists takes no value.');
  if (op === 'in' || op === 'not_in') {
    if (!Array.isArray(v.value) || v.value.length === 0 || v.value.length > MAX_LIST || !v.value.every(scalar)) {
      return bad(`${at}.value`, `${op} takes a list of 1–${MAX_LIST} strings, numbers or booleans (strings ≤ ${MAX_VALUE_CHARS} characters).`);
    }
    return { ok: true, value: { ...out, list: v.value.map(String) } };
  }
  if (!scalar(v.value)) return bad(`${at}.value`, `value is a string (≤ ${MAX_VALUE_CHARS} characters), a finite number or a boolean.`);
  if (NUMERIC_OPS.includes(op)) return typeof v.value === 'number' ? { ok: true, value: { ...out, num: v.value } } : bad(`${at}.value`, `${op} compares numbers.`);
  if (op === 'contains') return typeof v.value === 'string' && v.value !== '' ? { ok: true, value: { ...out, text: v.value } } : bad(`${at}.value`, 'contains takes a non-empty string.');
  return { ok: true, value: typeof v.value === 'number' ? { ...out, num: v.value } : { ...out, text: String(v.value) } };
}

/** One step `{"event_name","filters"?}`; `at` names it in a refusal (`steps[2]`). Pure. */
export function parseStep(v: unknown, at: string): Parsed<Step> {
  if (!isObj(v)) return bad(at, 'A step is {"event_name","filters"?}.');
  const extra = unknownKey(v, ['event_name', 'filters'], at);
  if (extra) return extra;
  if (typeof v.event_name !== 'string' || !EVENT_NAME_RE.test(v.event_name)) return bad(`${at}.event_name`, 'event_name is an event name (snake_case, ≤ 100 characters).');
  // A name no event carries would silently count nobody (a typo): refused, with the nearest registry name.
  if (!EVENT_NAMES.has(v.event_name)) {
    const near = nearest(v.event_name, EVENT_NAMES);
    return bad(`${at}.event_name`, `${JSON.stringify(v.event_name)} is not an event name of the registry${near ? ` (did you mean ${near}?)` : ''}; GET /api/tx/schema lists them.`);
  }
  const raw = v.filters ?? [];
  if (!Array.isArray(raw) || raw.length > MAX_FILTERS) return bad(`${at}.filters`, `filters is a list of at most ${MAX_FILTERS} filters.`);
  const filters: Filter[] = [];
  for (let i = 0; i < raw.length; i++) {
    const f = parseFilter(raw[i], `${at}.filters[${i}]`);
    if (!f.ok) return f;
    filters.push(f.value);
  }
  return { ok: true, value: { event_name: v.event_name, filters } };
}

function parseSteps(v: Record<string, unknown>): Parsed<Step[]> {
  if (v.preset !== undefined) {
    if (v.steps !== undefined) return bad('preset', 'Send steps or a preset, not both.');
    const steps = own(PRESETS, v.preset);
    if (!steps) return bad('preset', `preset is one of ${Object.keys(PRESETS).join(', ')}.`);
    return { ok: true, value: steps.map((s) => ({ event_name: s.event_name, filters: s.filters.map((f) => ({ ...f, path: [...f.path] })) })) };
  }
  if (!Array.isArray(v.steps) || v.steps.length < MIN_STEPS || v.steps.length > MAX_STEPS) {
    return bad('steps', `steps is a list of ${MIN_STEPS}–${MAX_STEPS} steps (or send a preset).`);
  }
  const steps: Step[] = [];
  for (let i = 0; i < v.steps.length; i++) {
    const s = parseStep(v.steps[i], `steps[${i}]`);
    if (!s.ok) return s;
    steps.push(s.value);
  }
  return { ok: true, value: steps };
}

function parseRange(v: Record<string, unknown>): Parsed<{ fromMs: number; toMs: number }> {
  const missing = (f: 'from' | 'to') => v[f] === undefined || v[f] === null;
  if (missing('from')) return bad('from', 'from is required: the start of the range, an ISO-8601 time (2026-05-01 or 2026-05-01T00:00:00Z).');
  // 1970-2199 like every date of the API (bodyTime).
  const from = bodyTime('from', v.from, 'an ISO-8601 time (2026-05-01 or 2026-05-01T00:00:00Z)');
  if (!from.ok) return from;
  if (missing('to')) return bad('to', 'to is required: the end of the range (exclusive), an ISO-8601 time (2026-05-31 or 2026-05-31T00:00:00Z).');
  const to = bodyTime('to', v.to, 'an ISO-8601 time (2026-05-31 or 2026-05-31T00:00:00Z)');
  if (!to.ok) return to;
  const [fromMs, toMs] = [from.value, to.value];
  if (toMs <= fromMs) return bad('to', 'to must be after from.');
  if (toMs - fromMs > MAX_RANGE_MS) return bad('to', 'The range is at most 366 days.');
  return { ok: true, value: { fromMs, toMs } };
}

/** The request body → a FunnelSpec, or the first refused field. Pure. */
export function parseFunnel(v: unknown): Parsed<FunnelSpec> {
  if (!isObj(v)) return bad('steps', 'Send {"steps":[{"event_name"}…],"window_s","from","to","by"?,"breakdown"?,"fresh"?}.');
  const extra = unknownKey(v, ['steps', 'preset', 'window_s', 'from', 'to', 'by', 'breakdown', 'breakdown_limit', 'fresh'], '');
  if (extra) return extra;
  const steps = parseSteps(v);
  if (!steps.ok) return steps;
  // PostHog's default conversion window: 14 days.
  const windowS = v.window_s === undefined ? DEFAULT_WINDOW_S : v.window_s;
  if (typeof windowS !== 'number' || !Number.isInteger(windowS) || windowS < 1 || windowS > MAX_WINDOW_S) {
    return bad('window_s', `window_s is a whole number of seconds, 1–${MAX_WINDOW_S} (90 days; default ${DEFAULT_WINDOW_S}, 14 days).`);
  }
  const range = parseRange(v);
  if (!range.ok) return range;
  const by = v.by ?? 'visitor';
  if (by !== 'visitor' && by !== 'person') return bad('by', 'by is "visitor" or "person".');
  let breakdown: FunnelSpec['breakdown'] = null;
  if (v.breakdown !== undefined && v.breakdown !== null) {
    const f = parseField(v.breakdown);
    if (!f) return bad('breakdown', 'breakdown is a field path such as context.utm.source, payload.source or entities.venue_id.');
    breakdown = { field: v.breakdown as string, ...f };
  }
  const limit = v.breakdown_limit ?? DEFAULT_BREAKDOWN_LIMIT;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_BREAKDOWN_LIMIT) {
    return bad('breakdown_limit', `breakdown_limit is 1–${MAX_BREAKDOWN_LIMIT}.`);
  }
  if (v.fresh !== undefined && typeof v.fresh !== 'boolean') return bad('fresh', 'fresh is true (read the store, not the funnel index) or false.');
  return { ok: true, value: { steps: steps.value, windowS, ...range.value, by, breakdown, breakdownLimit: limit, fresh: v.fresh === true } };
}

// --- the answer ---------------------------------------------------------------------------------------------

/** One row of funnels.sql: actors who completed `step` (total, or for one breakdown group). */
export interface FunnelRow {
  total: boolean;
  kind: 'all' | 'value' | 'none' | 'other' | null;
  value: string | null;
  step: number;
  actors: number;
  median_from_prev: number | null;
  p90_from_prev: number | null;
  median_from_first: number | null;
  p90_from_first: number | null;
}

export interface StepResult {
  step: number;
  event_name: string;
  count: number;
  /** count / the previous step's count (1 for the first step; null when the previous step has nobody). */
  conversion_from_previous: number | null;
  conversion_from_first: number | null;
  /** Who reached the previous step and not this one. */
  drop_off: number;
  drop_off_rate: number | null;
  median_time_from_previous_s: number | null;
  p90_time_from_previous_s: number | null;
  median_time_from_first_s: number | null;
  p90_time_from_first_s: number | null;
}

const ratio = (a: number, b: number): number | null => (b > 0 ? Math.round((a / b) * 1e6) / 1e6 : null);
const secs = (v: unknown): number | null => (v === null || v === undefined ? null : Math.round(Number(v) * 1000) / 1000);

/** The steps of one group, every step present (a step nobody reached counts 0). Pure. */
export function stepResults(steps: Step[], rows: FunnelRow[]): StepResult[] {
  const at = new Map(rows.map((r) => [r.step, r]));
  const counts = steps.map((_, i) => at.get(i)?.actors ?? 0);
  return steps.map((s, i) => {
    const r = at.get(i);
    const prev = i === 0 ? counts[0] : counts[i - 1];
    const first = i > 0;
    return {
      step: i,
      event_name: s.event_name,
      count: counts[i],
      conversion_from_previous: ratio(counts[i], prev),
      conversion_from_first: ratio(counts[i], counts[0]),
      drop_off: prev - counts[i],
      drop_off_rate: ratio(prev - counts[i], prev),
      median_time_from_previous_s: first ? secs(r?.median_from_prev) : null,
      p90_time_from_previous_s: first ? secs(r?.p90_from_prev) : null,
      median_time_from_first_s: first ? secs(r?.median_from_first) : null,
      p90_time_from_first_s: first ? secs(r?.p90_from_first) : null,
    };
  });
}

export interface BreakdownGroup {
  /** The breakdown value; null for actors without one ("none") and for the rest ("other"). */
  value: string | null;
  kind: 'value' | 'none' | 'other';
  steps: StepResult[];
}

/** The reply body from the store's rows. Groups: top values by entrants, then none, then other. Pure. */
export function funnelBody(spec: FunnelSpec, rows: FunnelRow[]): { steps: StepResult[]; breakdown?: { field: string; groups: BreakdownGroup[] } } {
  const steps = stepResults(spec.steps, rows.filter((r) => r.total));
  if (!spec.breakdown) return { steps };
  const groups = new Map<string, { kind: BreakdownGroup['kind']; value: string | null; rows: FunnelRow[] }>();
  for (const r of rows) {
    if (r.total || r.kind === null || r.kind === 'all') continue;
    const k = `${r.kind}\u0000${r.value ?? ''}`;
    const g = groups.get(k) ?? { kind: r.kind, value: r.value, rows: [] };
    g.rows.push(r);
    groups.set(k, g);
  }
  const order = { value: 0, none: 1, other: 2 } as const;
  const list = [...groups.values()].map((g) => ({ value: g.value, kind: g.kind, steps: stepResults(spec.steps, g.rows) }));
  list.sort((a, b) => order[a.kind] - order[b.kind] || b.steps[0].count - a.steps[0].count || String(a.value).localeCompare(String(b.value)));
  return { steps, breakdown: { field: spec.breakdown.field, groups: list } };
}

/**
 * Whether a payload path reads money: a money key anywhere in it, or a container of amounts read whole as its
 * last key (`payload.items`: the items with their prices; `payload.items.qty` is no amount). Pure.
 */
export function readsMoney(f: { root: Root; path: string[] }, money: MoneyKeys): boolean {
  return f.root === 'payload' && (f.path.some((k) => money.keys.has(k)) || money.containers.has(f.path[f.path.length - 1]));
}

/** The first body field of the spec whose path `reads` (a breakdown, then the steps' filters), or null. Pure. */
function firstReading(spec: { steps: Step[]; breakdown?: FunnelSpec['breakdown'] }, reads: (f: { root: Root; path: string[] }) => boolean, at: string): string | null {
  if (spec.breakdown && reads(spec.breakdown)) return `${at}breakdown`;
  for (let i = 0; i < spec.steps.length; i++) {
    const j = spec.steps[i].filters.findIndex(reads);
    if (j >= 0) return `${at}steps[${i}].filters[${j}].field`;
  }
  return null;
}

/**
 * The first body field of the spec that reads money (readsMoney, as a breakdown or a filter): a breakdown lists
 * amounts and a gt/lt or contains filter bisects them. Null when none does. Funnels and experiment metrics
 * (steps only) use it alike. Pure.
 */
export function moneyField(spec: { steps: Step[]; breakdown?: FunnelSpec['breakdown'] }, money: MoneyKeys, at = ''): string | null {
  return firstReading(spec, (f) => readsMoney(f, money), at);
}

/**
 * Payload keys holding a customer's identity (their external id, contact digests, match keys): a breakdown lists
 * them and a filter finds one person's events, so reading them needs view_persons like /api/v1/persons does.
 */
export const PERSONAL_KEYS: ReadonlySet<string> = new Set(['customer', 'customer_external_id']);

/**
 * Context keys that single out a browser or a person: the ad platforms' browser ids, click ids and the IP (the same
 * ones pseudonymisation strips). A breakdown by them lists one group per visitor; a filter follows one.
 */
export const PERSONAL_CONTEXT_KEYS: ReadonlySet<string> = new Set(['fbp', 'fbc', 'ttp', 'ga_client_id', 'ga_session_ids', 'click_ids', 'gclid', 'fbclid', 'ttclid', 'ip']);

/** The first body field of the spec that reads a customer's identity (PERSONAL_KEYS at any depth), or null. Pure. */
export function personalField(spec: { steps: Step[]; breakdown?: FunnelSpec['breakdown'] }, at = ''): string | null {
  const personal = (f: { root: Root; path: string[] }) =>
    (f.root === 'payload' && f.path.some((k) => PERSONAL_KEYS.has(k))) || (f.root === 'context' && f.path.some((k) => PERSONAL_CONTEXT_KEYS.has(k)));
  return firstReading(spec, personal, at);
}
