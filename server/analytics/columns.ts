// A tenant's stored events as columns (analytics/funnel-index.ts keeps one per large tenant on each node), and
// the funnel computed over them in Node. The store's statement (sql/queries/funnels.sql `funnel`) reads every step
// row of the range per request: 12.6 s just to read 4.85M rows at 10M events on the embedded store
// (bench/RESULTS.md "Funnels"); here a row is 30 bytes held once and a funnel is one pass over typed arrays.
// The arithmetic is the statement's, step by step — the same row order (time, id, the later step first inside
// one event), the same fold (sql/017_funnel_fold.sql), float8 seconds from date_part('epoch'), percentile_cont's
// interpolation — so both paths give the same answer (test/funnel-index.test.ts holds them equal on scripted and
// random journeys). Only visitor funnels whose filters and breakdown use the held dimensions (DIMS) are
// answered here; `servable` says which, and the rest read the store. Pure.
import type { FunnelRow, FunnelSpec, Filter } from './spec.js';

/** The JSON fields held per row (text as `#>>` gives it), for breakdowns, filters and the scope check. */
export const DIMS = ['entities.event_entity_id', 'context.utm.source', 'context.utm.medium', 'context.utm.campaign'] as const;
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

interface Matched {
  n: number;
  row: Uint32Array;
  step: Uint8Array;
}

/** The (row, step) pairs of the funnel: a row counts for each step its name and filters match. */
function match(cols: EventColumns, spec: FunnelSpec, scopeEvents: Set<string> | null): Matched {
  const stepsOfName = new Map<number, number[]>();
  spec.steps.forEach((s, j) => {
    const c = cols.nameCode.get(s.event_name);
    if (c !== undefined) stepsOfName.set(c + 1, [...(stepsOfName.get(c + 1) ?? []), j]);
  });
  const byName: (number[] | undefined)[] = new Array(cols.names.length + 1);
  for (const [c, js] of stepsOfName) byName[c] = js.sort((a, b) => b - a); // the later step first
  const tables = spec.steps.map((s) => s.filters.map((f) => filterTable(cols, f)));
  let inScope: Uint8Array | null = null;
  if (scopeEvents) {
    inScope = new Uint8Array(cols.dimValues[SCOPE_DIM].length + 1);
    cols.dimValues[SCOPE_DIM].forEach((v, c) => (inScope![c + 1] = scopeEvents.has(v) ? 1 : 0));
  }
  const from = spec.fromMs / 1000;
  const to = spec.toMs / 1000;
  let row = new Uint32Array(1024);
  let step = new Uint8Array(1024);
  let n = 0;
  for (let i = 0; i < cols.size; i++) {
    const js = byName[cols.name[i]];
    if (js === undefined) continue;
    const t = cols.t[i];
    if (!(t >= from && t < to)) continue;
    if (inScope && inScope[cols.dims[SCOPE_DIM][i]] === 0) continue;
    for (const j of js) {
      if (tables[j].length > 0 && !tables[j].every((f) => f.pass[cols.dims[f.dim][i]] === 1)) continue;
      if (n === row.length) {
        row = grown(row, n + 1);
        step = grown(step, n + 1);
      }
      row[n] = i;
      step[n++] = j;
    }
  }
  return { n, row, step };
}

/** Pair indices grouped by actor (a counting sort), each group in the statement's row order. */
function byActor(cols: EventColumns, m: Matched): { order: Uint32Array; start: Uint32Array } {
  const actors = cols.visitors.length;
  const start = new Uint32Array(actors + 1);
  for (let k = 0; k < m.n; k++) start[cols.actor[m.row[k]] + 1]++;
  for (let a = 0; a < actors; a++) start[a + 1] += start[a];
  const fill = start.slice(0, actors);
  const order = new Uint32Array(m.n);
  for (let k = 0; k < m.n; k++) order[fill[cols.actor[m.row[k]]]++] = k;
  const before = (x: number, y: number): number => {
    const rx = m.row[x];
    const ry = m.row[y];
    return cols.t[rx] - cols.t[ry] || cols.id[rx] - cols.id[ry] || m.step[y] - m.step[x];
  };
  for (let a = 0; a < actors; a++) {
    const lo = start[a];
    const hi = start[a + 1];
    if (hi - lo > 32) {
      order.set(Array.from(order.subarray(lo, hi)).sort(before), lo);
      continue;
    }
    for (let i = lo + 1; i < hi; i++) {
      const x = order[i];
      let j = i - 1;
      while (j >= lo && before(order[j], x) > 0) {
        order[j + 1] = order[j];
        j--;
      }
      order[j + 1] = x;
    }
  }
  return { order, start };
}

/** What one actor reached: steps 0…n-1, each with the fastest chain's seconds from the start and from the previous step. */
interface Reach {
  n: number;
  ff: Float64Array;
  fp: Float64Array;
  /** Breakdown code of the actor's first step-0 row (0 = none). */
  bcode: number;
}

/** funnel_fold over one actor's pairs (sql/017_funnel_fold.sql), NaN standing for SQL's null. */
function fold(cols: EventColumns, m: Matched, pairs: Uint32Array, steps: number, windowS: number, bdim: number, st: Float64Array, out: Reach): void {
  st.fill(NaN);
  out.bcode = -1;
  for (let k = 0; k < pairs.length; k++) {
    const pr = pairs[k];
    const idx = m.step[pr];
    const t = cols.t[m.row[pr]];
    if (idx === 0) {
      if (out.bcode < 0) out.bcode = bdim < 0 ? 0 : cols.dims[bdim][m.row[pr]];
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
  let n = 0;
  while (n < steps && !Number.isNaN(st[4 * n + 2])) {
    out.ff[n] = st[4 * n + 2];
    out.fp[n] = st[4 * n + 3];
    n++;
  }
  out.n = n;
}

/** percentile_cont: linear interpolation between the closest ranks (PostgreSQL's float8_lerp). */
export function percentileCont(sorted: Float64Array, p: number): number {
  const pos = p * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/** One group's rows (totals, or one breakdown label), as funnels.sql returns them. */
function groupRows(reached: { ff: number[]; fp: number[] }[], counts: number[], head: Pick<FunnelRow, 'total' | 'kind' | 'value'>): FunnelRow[] {
  const rows: FunnelRow[] = [];
  counts.forEach((actors, step) => {
    if (actors === 0) return;
    if (step === 0) {
      rows.push({ ...head, step, actors, median_from_prev: 0, p90_from_prev: 0, median_from_first: 0, p90_from_first: 0 });
      return;
    }
    const fp = Float64Array.from(reached[step].fp).sort();
    const ff = Float64Array.from(reached[step].ff).sort();
    rows.push({
      ...head, step, actors,
      median_from_prev: percentileCont(fp, 0.5), p90_from_prev: percentileCont(fp, 0.9),
      median_from_first: percentileCont(ff, 0.5), p90_from_first: percentileCont(ff, 0.9),
    });
  });
  return rows;
}

class Group {
  counts: number[];
  reached: { ff: number[]; fp: number[] }[];
  constructor(steps: number) {
    this.counts = new Array<number>(steps).fill(0);
    this.reached = Array.from({ length: steps }, () => ({ ff: [], fp: [] }));
  }
  add(r: Reach): void {
    for (let j = 0; j < r.n; j++) {
      this.counts[j]++;
      if (j > 0) {
        this.reached[j].ff.push(r.ff[j]);
        this.reached[j].fp.push(r.fp[j]);
      }
    }
  }
}

/** The funnel's rows over the columns: what `funnel` in funnels.sql returns for the same spec. `servable` first. */
export function funnelFromColumns(cols: EventColumns, spec: FunnelSpec, scopeEvents: Set<string> | null): FunnelRow[] {
  const steps = spec.steps.length;
  const m = match(cols, spec, scopeEvents);
  const { order, start } = byActor(cols, m);
  const bdim = spec.breakdown ? dimOf(spec.breakdown.root, spec.breakdown.path) : -1;
  const st = new Float64Array(4 * steps);
  const r: Reach = { n: 0, ff: new Float64Array(steps), fp: new Float64Array(steps), bcode: 0 };
  const total = new Group(steps);
  const entrants: Reach[] = [];
  for (let a = 0; a < cols.visitors.length; a++) {
    if (start[a] === start[a + 1]) continue;
    fold(cols, m, order.subarray(start[a], start[a + 1]), steps, spec.windowS, bdim, st, r);
    if (r.n === 0) continue;
    total.add(r);
    if (bdim >= 0) entrants.push({ n: r.n, ff: r.ff.slice(0, r.n), fp: r.fp.slice(0, r.n), bcode: r.bcode });
  }
  const rows = groupRows(total.reached, total.counts, { total: true, kind: null, value: null });
  if (bdim < 0) return rows;
  return rows.concat(breakdownRows(cols.dimValues[bdim], entrants, steps, spec.breakdownLimit));
}

/** Top values by entrants (then by value), the rest as "other", actors without a value as "none". */
function breakdownRows(values: string[], entrants: Reach[], steps: number, limit: number): FunnelRow[] {
  const byCode = new Map<number, number>();
  for (const e of entrants) if (e.bcode > 0) byCode.set(e.bcode, (byCode.get(e.bcode) ?? 0) + 1);
  const top = new Set(
    [...byCode].sort((x, y) => y[1] - x[1] || (values[x[0] - 1] < values[y[0] - 1] ? -1 : values[x[0] - 1] > values[y[0] - 1] ? 1 : 0)).slice(0, limit).map(([c]) => c),
  );
  const groups = new Map<number, Group>();
  for (const e of entrants) {
    const key = e.bcode === 0 ? 0 : top.has(e.bcode) ? e.bcode : -1;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = new Group(steps)));
    g.add(e);
  }
  const rows: FunnelRow[] = [];
  for (const [key, g] of groups) {
    const head = key === 0 ? { kind: 'none' as const, value: null } : key < 0 ? { kind: 'other' as const, value: null } : { kind: 'value' as const, value: values[key - 1] };
    rows.push(...groupRows(g.reached, g.counts, { total: false, ...head }));
  }
  return rows;
}
