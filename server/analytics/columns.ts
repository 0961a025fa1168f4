// A tenant's stored events as columns (analytics/funnel-index.ts keeps one per large tenant on each node), and
// the funnel computed over them in Node. The store's statement (sql/queries/funnels.sql `funnel`) reads every step
// row of the range per request: 12.6 s just to read 4.85M rows at 10M events on the embedded store
// (bench/RESULTS.md "Funnels"); here a row is 40 bytes held once and a funnel is one pass over typed arrays.
// The arithmetic is the statement's, step by step — the same row order (time, id, the later step first inside
// one event), the same fold (sql/017_funnel_fold.sql), float8 seconds from date_part('epoch'), percentile_cont's
// interpolation — so both paths give the same answer (test/funnel-index.test.ts holds them equal on scripted and
// random journeys). Only visitor funnels whose filters and breakdown use the held dimensions (DIMS) are
// answered here; `servable` says which, and the rest read the store. Pure.
import { startCutoff, type EngineSpec } from './engine-spec.js';
import type { FunnelRow, FunnelSpec, Filter } from './spec.js';

/** The JSON fields held per row (text as `#>>` gives it), for breakdowns, filters and the scope check. */
export const DIMS = [
  'entities.event_entity_id', 'context.utm.source', 'context.utm.medium', 'context.utm.campaign', 'context.device.device_type', 'payload.source',
  // An experiment_exposure's: experiment results are funnels filtered on both and broken down by the variant.
  'payload.experiment_id', 'payload.variant',
  // event_interest_marked's: the seed 003 preset's interest step leaves out un-marking (interested false).
  'payload.interested',
] as const;
export const SCOPE_DIM = 0;
/** A dimension's values are Uint16 codes (0 = null); one with more distinct values stops answering funnels. */
export const MAX_DIM_VALUES = 65_535;
const MAX_NAMES = 65_535;

/** One page of stored rows, as arrays (funnel-index.sql `index_page`). */
export interface IndexPage {
  id: number[];
  name: string[];
  /** Epoch seconds, date_part('epoch', occurred_at). */
  t: number[];
  visitor: string[];
  /** One array per DIMS entry. */
  dims: (string | null)[][];
}

export interface EventColumns {
  tenant: number;
  size: number;
  id: Float64Array;
  /** Code into `names` + 1. */
  name: Uint16Array;
  t: Float64Array;
  /** Code into `visitors`. */
  actor: Uint32Array;
  dims: Uint16Array[];
  names: string[];
  nameCode: Map<string, number>;
  visitors: string[];
  visitorCode: Map<string, number>;
  dimValues: string[][];
  dimCode: Map<string, number>[];
  /** A dimension past MAX_DIM_VALUES: funnels that use it read the store. */
  dimFull: boolean[];
  maxId: number;
}

export function emptyColumns(tenant: number): EventColumns {
  return {
    tenant, size: 0, id: new Float64Array(1024), name: new Uint16Array(1024), t: new Float64Array(1024), actor: new Uint32Array(1024),
    dims: DIMS.map(() => new Uint16Array(1024)), names: [], nameCode: new Map(), visitors: [], visitorCode: new Map(),
    dimValues: DIMS.map(() => []), dimCode: DIMS.map(() => new Map()), dimFull: DIMS.map(() => false), maxId: 0,
  };
}

function grown<T extends Float64Array | Uint8Array | Uint16Array | Uint32Array>(a: T, need: number): T {
  if (need <= a.length) return a;
  const b = new (a.constructor as new (n: number) => T)(Math.max(need, Math.ceil(a.length * 1.5)));
  b.set(a);
  return b;
}

function code(values: string[], index: Map<string, number>, v: string): number {
  let c = index.get(v);
  if (c === undefined) {
    c = values.length;
    values.push(v);
    index.set(v, c);
  }
  return c;
}

/** Appends a page (rows in any id order). Returns false when a name code would overflow (the tenant is not held). */
export function appendPage(cols: EventColumns, page: IndexPage): boolean {
  const need = cols.size + page.id.length;
  cols.id = grown(cols.id, need);
  cols.name = grown(cols.name, need);
  cols.t = grown(cols.t, need);
  cols.actor = grown(cols.actor, need);
  cols.dims = cols.dims.map((d) => grown(d, need));
  for (let r = 0; r < page.id.length; r++) {
    const i = cols.size++;
    cols.id[i] = page.id[r];
    if (page.id[r] > cols.maxId) cols.maxId = page.id[r];
    const nc = code(cols.names, cols.nameCode, page.name[r]);
    if (nc >= MAX_NAMES) return false;
    cols.name[i] = nc + 1;
    cols.t[i] = page.t[r];
    cols.actor[i] = code(cols.visitors, cols.visitorCode, page.visitor[r]);
    for (let d = 0; d < DIMS.length; d++) {
      const v = page.dims[d][r];
      if (v === null || cols.dimFull[d]) {
        cols.dims[d][i] = 0;
        continue;
      }
      const c = code(cols.dimValues[d], cols.dimCode[d], v);
      if (c >= MAX_DIM_VALUES) cols.dimFull[d] = true;
      cols.dims[d][i] = c + 1;
    }
  }
  return true;
}

/** Bytes the columns hold (typed arrays at capacity, plus a rough 64 bytes per dictionary string). */
export function columnsBytes(cols: EventColumns): number {
  const arrays = cols.id.byteLength + cols.name.byteLength + cols.t.byteLength + cols.actor.byteLength + cols.dims.reduce((s, d) => s + d.byteLength, 0);
  const strings = cols.visitors.length + cols.names.length + cols.dimValues.reduce((s, v) => s + v.length, 0);
  return arrays + strings * 64;
}

const dimOf = (root: string, path: string[]): number => (DIMS as readonly string[]).indexOf(`${root}.${path.join('.')}`);

/** Filters the columns answer exactly: text comparisons on a held dimension (numbers and `contains` read the store). */
function filterServable(cols: EventColumns, f: Filter): boolean {
  const d = dimOf(f.root, f.path);
  if (d < 0 || cols.dimFull[d]) return false;
  if (f.op === 'exists' || f.op === 'in' || f.op === 'not_in') return true;
  return (f.op === 'eq' || f.op === 'neq') && f.num === undefined && f.text !== undefined;
}

/** Whether this funnel can be answered from the columns, or why not. */
export function servable(cols: EventColumns, spec: FunnelSpec, scoped: boolean): true | string {
  if (spec.by !== 'visitor') return 'by_person';
  if (scoped && cols.dimFull[SCOPE_DIM]) return 'scope_dimension_full';
  if (spec.breakdown) {
    const d = dimOf(spec.breakdown.root, spec.breakdown.path);
    if (d < 0 || cols.dimFull[d]) return 'breakdown_not_held';
  }
  return spec.steps.every((s) => s.filters.every((f) => filterServable(cols, f))) ? true : 'filter_not_held';
}

/** Per dimension code (index = code, 0 = null): does a filter pass? */
function filterTable(cols: EventColumns, f: Filter): { dim: number; pass: Uint8Array } {
  const dim = dimOf(f.root, f.path);
  const values = cols.dimValues[dim];
  const pass = new Uint8Array(values.length + 1);
  const list = new Set(f.list ?? []);
  for (let c = 0; c <= values.length; c++) {
    const v = c === 0 ? null : values[c - 1];
    let ok: boolean;
    switch (f.op) {
      case 'exists': ok = v !== null; break;
      case 'in': ok = v !== null && list.has(v); break;
      case 'not_in': ok = v === null || !list.has(v); break;
      case 'eq': ok = v !== null && v === f.text; break;
      default: ok = v !== f.text; // neq: IS DISTINCT FROM
    }
    pass[c] = ok ? 1 : 0;
  }
  return { dim, pass };
}

const ROW_SLICE = 1 << 19;
const ACTOR_SLICE = 1 << 16;

/**
 * Runs body over [0, n) in slices and lets the event loop run between them: the HTTP server and the live layer
 * share this thread, and a funnel over 10M rows is ~1 s of work.
 */
async function sliced(n: number, body: (lo: number, hi: number) => void, slice = ROW_SLICE): Promise<void> {
  for (let lo = 0; lo < n; lo += slice) {
    if (lo > 0) await new Promise((r) => setImmediate(r));
    body(lo, Math.min(n, lo + slice));
  }
}

/** Per name code: the one step it matches (≥ 0), none (-1) or several (-2: `multi`, the later step first). */
function stepLookup(cols: EventColumns, spec: FunnelSpec): { single: Int16Array; multi: Map<number, number[]> } {
  const single = new Int16Array(cols.names.length + 1).fill(-1);
  const multi = new Map<number, number[]>();
  spec.steps.forEach((s, j) => {
    const c = cols.nameCode.get(s.event_name);
    if (c === undefined) return;
    const code = c + 1;
    if (single[code] === -1) single[code] = j;
    else {
      multi.set(code, [...(multi.get(code) ?? [single[code]]), j].sort((a, b) => b - a));
      single[code] = -2;
    }
  });
  return { single, multi };
}

/** The funnel's (row, step) pairs grouped by actor (start[a] … start[a + 1]), each group in the statement's order. */
interface Pairs {
  start: Uint32Array;
  t: Float64Array;
  id: Float64Array;
  step: Uint8Array;
  /** The breakdown code of the pair's row (0 = none, or no breakdown). */
  b: Uint16Array;
}

/** Rows a step's name, range, scope and filters admit, as (row, step); a row counts once per step it matches. */
async function match(cols: EventColumns, spec: EngineSpec, scopeEvents: Set<string> | null): Promise<{ n: number; row: Uint32Array; step: Uint8Array }> {
  const { single, multi } = stepLookup(cols, spec);
  const tables = spec.steps.map((s) => s.filters.map((f) => filterTable(cols, f)));
  let inScope: Uint8Array | null = null;
  if (scopeEvents) {
    inScope = new Uint8Array(cols.dimValues[SCOPE_DIM].length + 1);
    cols.dimValues[SCOPE_DIM].forEach((v, c) => (inScope![c + 1] = scopeEvents.has(v) ? 1 : 0));
  }
  const admits = (j: number, i: number) => tables[j].length === 0 || tables[j].every((f) => f.pass[cols.dims[f.dim][i]] === 1);
  const from = spec.fromMs / 1000;
  const to = spec.toMs / 1000;
  const cutoff = startCutoff(spec);
  const to0 = cutoff === null ? to : cutoff / 1000;
  let row = new Uint32Array(1 << 16);
  let step = new Uint8Array(1 << 16);
  let n = 0;
  const push = (i: number, j: number) => {
    if (n === row.length) {
      row = grown(row, n + 1);
      step = grown(step, n + 1);
    }
    row[n] = i;
    step[n++] = j;
  };
  const { name, t } = cols;
  const scopeDim = cols.dims[SCOPE_DIM];
  await sliced(cols.size, (lo, hi) => {
    for (let i = lo; i < hi; i++) {
      const j = single[name[i]];
      if (j === -1) continue;
      const at = t[i];
      if (!(at >= from && at < to)) continue;
      if (inScope !== null && inScope[scopeDim[i]] === 0) continue;
      if (j >= 0) {
        if ((j !== 0 || at < to0) && admits(j, i)) push(i, j);
        continue;
      }
      for (const k of multi.get(name[i])!) if ((k !== 0 || at < to0) && admits(k, i)) push(i, k);
    }
  });
  return { n, row, step };
}

/** Scatters the pairs into actor order (a counting sort, stable), then orders each actor's few pairs. */
async function byActor(cols: EventColumns, actors: number, spec: EngineSpec, scopeEvents: Set<string> | null, bdim: number): Promise<Pairs> {
  const m = await match(cols, spec, scopeEvents);
  const start = new Uint32Array(actors + 1);
  await sliced(m.n, (lo, hi) => {
    for (let k = lo; k < hi; k++) start[cols.actor[m.row[k]] + 1]++;
  });
  for (let a = 0; a < actors; a++) start[a + 1] += start[a];
  const fill = start.slice(0, actors);
  const p: Pairs = { start, t: new Float64Array(m.n), id: new Float64Array(m.n), step: new Uint8Array(m.n), b: new Uint16Array(m.n) };
  const bcol = bdim >= 0 ? cols.dims[bdim] : null;
  await sliced(m.n, (lo, hi) => {
    for (let k = lo; k < hi; k++) {
      const r = m.row[k];
      const at = fill[cols.actor[r]]++;
      p.t[at] = cols.t[r];
      p.id[at] = cols.id[r];
      p.step[at] = m.step[k];
      p.b[at] = bcol === null ? 0 : bcol[r];
    }
  });
  await sliced(actors, (lo, hi) => {
    for (let a = lo; a < hi; a++) if (start[a + 1] - start[a] > 1) sortSegment(p, start[a], start[a + 1]);
  }, ACTOR_SLICE);
  return p;
}

/** Time, then id, then the later step first (an event is never its own predecessor). */
function before(p: Pairs, x: number, y: number): boolean {
  return p.t[x] < p.t[y] || (p.t[x] === p.t[y] && (p.id[x] < p.id[y] || (p.id[x] === p.id[y] && p.step[x] > p.step[y])));
}

function sortSegment(p: Pairs, lo: number, hi: number): void {
  if (hi - lo > 32) {
    const idx = Array.from({ length: hi - lo }, (_, k) => lo + k).sort((x, y) => (before(p, x, y) ? -1 : before(p, y, x) ? 1 : 0));
    const [t, id, step, b] = [idx.map((k) => p.t[k]), idx.map((k) => p.id[k]), idx.map((k) => p.step[k]), idx.map((k) => p.b[k])];
    p.t.set(t, lo);
    p.id.set(id, lo);
    p.step.set(step, lo);
    p.b.set(b, lo);
    return;
  }
  for (let i = lo + 1; i < hi; i++) {
    if (!before(p, i, i - 1)) continue;
    const [t, id, step, b] = [p.t[i], p.id[i], p.step[i], p.b[i]];
    let j = i - 1;
    while (j >= lo && (t < p.t[j] || (t === p.t[j] && (id < p.id[j] || (id === p.id[j] && step > p.step[j]))))) {
      p.t[j + 1] = p.t[j];
      p.id[j + 1] = p.id[j];
      p.step[j + 1] = p.step[j];
      p.b[j + 1] = p.b[j];
      j--;
    }
    p.t[j + 1] = t;
    p.id[j + 1] = id;
    p.step[j + 1] = step;
    p.b[j + 1] = b;
  }
}

/** What the actors reached: per entrant its breakdown code; per step j ≥ 1 reached, its times and the entrant. */
class Reached {
  entrantB: number[] = [];
  ff: number[][];
  fp: number[][];
  who: number[][];
  constructor(steps: number) {
    this.ff = Array.from({ length: steps }, () => []);
    this.fp = Array.from({ length: steps }, () => []);
    this.who = Array.from({ length: steps }, () => []);
  }
}

/**
 * funnel_fold over one actor's pairs (sql/017_funnel_fold.sql), NaN standing for SQL's null. The state holds per
 * step k, at 4k…4k+3: the latest chain row's start and time, the fastest chain's seconds from start and previous.
 * `firstOnly`: the four-argument funnel_fold (sql/039_funnel_fold_first.sql), a step-0 row after the first ignored.
 */
function fold(p: Pairs, lo: number, hi: number, steps: number, windowS: number, firstOnly: boolean, st: Float64Array, out: Reached): void {
  st.fill(NaN);
  let bcode = -1;
  for (let k = lo; k < hi; k++) {
    const idx = p.step[k];
    const t = p.t[k];
    if (idx === 0) {
      if (firstOnly && bcode >= 0) continue;
      if (bcode < 0) bcode = p.b[k];
      st[0] = t;
      st[1] = t;
      if (Number.isNaN(st[2])) st[2] = st[3] = 0;
      continue;
    }
    const o = 4 * idx;
    const b = st[o - 4];
    if (Number.isNaN(b)) continue;
    const ff = st[o + 2];
    if (t - b <= windowS && (Number.isNaN(ff) || t - b < ff || (t - b === ff && t - st[o - 3] < st[o + 3]))) {
      st[o + 2] = t - b;
      st[o + 3] = t - st[o - 3];
    }
    st[o] = b;
    st[o + 1] = t;
  }
  if (bcode < 0) return;
  const e = out.entrantB.length;
  out.entrantB.push(bcode);
  for (let j = 1; j < steps && !Number.isNaN(st[4 * j + 2]); j++) {
    out.ff[j].push(st[4 * j + 2]);
    out.fp[j].push(st[4 * j + 3]);
    out.who[j].push(e);
  }
}

/** percentile_cont: linear interpolation between the closest ranks (PostgreSQL's float8_lerp). */
export function percentileCont(sorted: Float64Array, p: number): number {
  const pos = p * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

type Head = Pick<FunnelRow, 'total' | 'kind' | 'value'>;

/** One group's rows (totals, or one breakdown label), as funnels.sql returns them; `keep` picks the group's entrants. */
function groupRows(r: Reached, head: Head, entrants: number, keep: ((e: number) => boolean) | null): FunnelRow[] {
  const rows: FunnelRow[] = entrants > 0 ? [{ ...head, step: 0, actors: entrants, median_from_prev: 0, p90_from_prev: 0, median_from_first: 0, p90_from_first: 0 }] : [];
  for (let j = 1; j < r.ff.length; j++) {
    const pick = (xs: number[]) => Float64Array.from(keep ? xs.filter((_, k) => keep(r.who[j][k])) : xs).sort();
    const ff = pick(r.ff[j]);
    if (ff.length === 0) continue;
    const fp = pick(r.fp[j]);
    rows.push({
      ...head, step: j, actors: ff.length,
      median_from_prev: percentileCont(fp, 0.5), p90_from_prev: percentileCont(fp, 0.9),
      median_from_first: percentileCont(ff, 0.5), p90_from_first: percentileCont(ff, 0.9),
    });
  }
  return rows;
}

/** The funnel's rows over the columns: what `funnel` in funnels.sql returns for the same spec. `servable` first. */
export async function funnelFromColumns(live: EventColumns, spec: EngineSpec, scopeEvents: Set<string> | null): Promise<FunnelRow[]> {
  // The rows and visitors held now: a catch-up may append while this yields (into new arrays, or past `size`
  // and past the dictionaries' lengths), never into what is counted here.
  const cols: EventColumns = { ...live };
  const actors = live.visitors.length;
  const steps = spec.steps.length;
  const bdim = spec.breakdown ? dimOf(spec.breakdown.root, spec.breakdown.path) : -1;
  const p = await byActor(cols, actors, spec, scopeEvents, bdim);
  const st = new Float64Array(4 * steps);
  const r = new Reached(steps);
  await sliced(actors, (lo, hi) => {
    for (let a = lo; a < hi; a++) if (p.start[a] < p.start[a + 1]) fold(p, p.start[a], p.start[a + 1], steps, spec.windowS, spec.firstStartOnly === true, st, r);
  }, ACTOR_SLICE);
  const rows = groupRows(r, { total: true, kind: null, value: null }, r.entrantB.length, null);
  return bdim < 0 ? rows : rows.concat(breakdownRows(cols.dimValues[bdim], r, spec.breakdownLimit));
}

/**
 * Orders strings by code point, as the store's `ORDER BY … COLLATE "C"` does on UTF-8 (sql/queries/funnels.sql):
 * the index and the store must keep the same breakdown values when entrants tie. UTF-16 order (`<`) puts a
 * surrogate pair (U+10000 and up) before U+E000–U+FFFF; shifting the units of those two ranges past each other
 * gives code point order.
 */
export function codePointOrder(x: string, y: string): number {
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const a = x.charCodeAt(i);
    const b = y.charCodeAt(i);
    if (a !== b) return fixup(a) - fixup(b);
  }
  return x.length - y.length;
}
const fixup = (u: number): number => (u >= 0xe000 ? u - 0x800 : u >= 0xd800 ? u + 0x2000 : u);

/** Top values by entrants (then by value), the rest as "other", actors without a value as "none". */
function breakdownRows(values: string[], r: Reached, limit: number): FunnelRow[] {
  const byCode = new Map<number, number>();
  for (const b of r.entrantB) if (b > 0) byCode.set(b, (byCode.get(b) ?? 0) + 1);
  const cmp = codePointOrder;
  const top = new Set([...byCode].sort((x, y) => y[1] - x[1] || cmp(values[x[0] - 1], values[y[0] - 1])).slice(0, limit).map(([c]) => c));
  const label = Int32Array.from(r.entrantB, (b) => (b === 0 ? 0 : top.has(b) ? b : -1));
  const counts = new Map<number, number>();
  for (const l of label) counts.set(l, (counts.get(l) ?? 0) + 1);
  const rows: FunnelRow[] = [];
  for (const [key, n] of counts) {
    const head: Head = key === 0 ? { total: false, kind: 'none', value: null } : key < 0 ? { total: false, kind: 'other', value: null } : { total: false, kind: 'value', value: values[key - 1] };
    rows.push(...groupRows(r, head, n, (e) => label[e] === key));
  }
  return rows;
}
