import { describe, expect, it } from 'vitest';
import { appendPage, codePointOrder, DIMS, emptyColumns, funnelFromColumns, MAX_DIM_VALUES, percentileCont, servable, type IndexPage } from './columns.js';
import { parseFunnel, type FunnelSpec } from './spec.js';

const T = Date.parse('2026-03-02T10:00:00Z') / 1000;

function page(rows: [id: number, name: string, t: number, visitor: string, source?: string | null][]): IndexPage {
  return {
    id: rows.map((r) => r[0]), name: rows.map((r) => r[1]), t: rows.map((r) => T + r[2]), visitor: rows.map((r) => r[3]),
    dims: DIMS.map((d) => rows.map((r) => (d === 'context.utm.source' ? (r[4] ?? null) : null))),
  };
}

const spec = (b: Record<string, unknown>): FunnelSpec => {
  const p = parseFunnel({ from: '2026-03-02', to: '2026-03-03', window_s: 60, ...b });
  if (!p.ok) throw new Error(JSON.stringify(p.error));
  return p.value;
};

describe('funnel over columns', () => {
  it('counts steps in order inside the window, from the latest start, the later step first within one event', async () => {
    const cols = emptyColumns(1);
    appendPage(cols, page([
      [1, 'event_view', 0, 'v1'], [2, 'add_to_cart', 10, 'v1'], [3, 'order_completed', 20, 'v1'], // complete, 10 s apart
      [4, 'add_to_cart', 0, 'v2'], [5, 'event_view', 5, 'v2'], // b before a: only step 0
      [6, 'event_view', 0, 'v3'], [7, 'add_to_cart', 100, 'v3'], [8, 'event_view', 90, 'v3'], [9, 'order_completed', 120, 'v3'], // restart at 90 makes it fit
      [10, 'event_view', 0, 'v4'], [11, 'add_to_cart', 61, 'v4'], // outside the 60 s window
    ]));
    const rows = await funnelFromColumns(cols, spec({ steps: [{ event_name: 'event_view' }, { event_name: 'add_to_cart' }, { event_name: 'order_completed' }] }), null);
    expect(rows.map((r) => [r.step, r.actors])).toEqual([[0, 4], [1, 2], [2, 2]]);
    const last = rows.find((r) => r.step === 2)!;
    expect([last.median_from_first, last.median_from_prev]).toEqual([(20 + 30) / 2, (10 + 20) / 2]);
  });

  it('a step repeated on one name needs two events, never one event twice', async () => {
    const cols = emptyColumns(1);
    appendPage(cols, page([[1, 'event_view', 0, 'v1'], [2, 'event_view', 0, 'v2'], [3, 'event_view', 5, 'v2']]));
    const rows = await funnelFromColumns(cols, spec({ steps: [{ event_name: 'event_view' }, { event_name: 'event_view' }] }), null);
    expect(rows.map((r) => [r.step, r.actors])).toEqual([[0, 2], [1, 1]]);
  });

  it('breaks down by the value of the actor\'s first step-0 event; past the limit values are "other"', async () => {
    const cols = emptyColumns(1);
    appendPage(cols, page([[1, 'event_view', 0, 'v1', 'g'], [2, 'event_view', 1, 'v1', 'f'], [3, 'event_view', 0, 'v2', 'g'], [4, 'event_view', 0, 'v3', 'f'], [5, 'event_view', 0, 'v4'], [6, 'add_to_cart', 1, 'v4']]));
    const rows = await funnelFromColumns(cols, spec({ steps: [{ event_name: 'event_view' }, { event_name: 'add_to_cart' }], breakdown: 'context.utm.source', breakdown_limit: 1 }), null);
    const groups = rows.filter((r) => !r.total && r.step === 0).map((r) => [r.kind, r.value, r.actors]);
    expect(groups.sort()).toEqual([['none', null, 1], ['other', null, 1], ['value', 'g', 2]]);
  });

  it('percentile_cont interpolates between the closest ranks', async () => {
    expect(percentileCont(Float64Array.of(1, 2, 3, 4), 0.5)).toBe(2.5);
    expect(percentileCont(Float64Array.of(1, 2, 3, 4), 0.9)).toBeCloseTo(3.7, 12);
    expect(percentileCont(Float64Array.of(7), 0.9)).toBe(7);
  });

  it('answers only visitor funnels over held dimensions; a dimension past its code space reads the store', async () => {
    const cols = emptyColumns(1);
    const base = { steps: [{ event_name: 'event_view' }, { event_name: 'add_to_cart' }] };
    expect(servable(cols, spec(base), false)).toBe(true);
    expect(servable(cols, spec({ ...base, by: 'person' }), false)).toBe('by_person');
    expect(servable(cols, spec({ ...base, breakdown: 'payload.x' }), false)).toBe('breakdown_not_held');
    expect(servable(cols, spec({ steps: [{ event_name: 'event_view', filters: [{ field: 'context.utm.source', op: 'eq', value: 3 }] }, { event_name: 'add_to_cart' }] }), false)).toBe('filter_not_held');
    appendPage(cols, page(Array.from({ length: MAX_DIM_VALUES + 1 }, (_, i) => [i + 1, 'event_view', 0, 'v', `s${i}`] as [number, string, number, string, string])));
    expect(servable(cols, spec({ ...base, breakdown: 'context.utm.source' }), false)).toBe('breakdown_not_held');
    expect(servable(cols, spec(base), true)).toBe(true);
  });
});

describe('funnel over columns, large', () => {
  it('lets the event loop run while it works through more than a million rows, and counts them all', async () => {
    const cols = emptyColumns(1);
    const n = 1_200_000;
    const ids = Array.from({ length: n }, (_, i) => i + 1);
    appendPage(cols, {
      id: ids, name: ids.map((i) => (i % 2 ? 'event_view' : 'add_to_cart')), t: ids.map((i) => T + (i % 1000)), visitor: ids.map((i) => `v${i % 4999}`), dims: DIMS.map(() => ids.map(() => null)),
    });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const rows = await funnelFromColumns(cols, spec({ steps: [{ event_name: 'event_view' }, { event_name: 'add_to_cart' }], window_s: 3600 }), null);
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
    expect(rows.filter((r) => r.total).map((r) => r.actors)).toEqual([4999, 4999]);
  }, 60_000);
});

describe('codePointOrder', () => {
  it('orders strings by code point (UTF-8 byte order), not by UTF-16 unit', () => {
    const byCodePoints = (x: string, y: string) => {
      const a = [...x].map((c) => c.codePointAt(0)!);
      const b = [...y].map((c) => c.codePointAt(0)!);
      for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
      return a.length - b.length;
    };
    const words = ['', 'a', 'ab', 'B', '\uFF21', '\u{1F600}', '\u{1F600}a', '\uE000', '\uD7FF', 'ä', '\u{10000}', 'a\u{1F600}', 'a\uFFFF'];
    for (const x of words) for (const y of words) expect(Math.sign(codePointOrder(x, y)), `${x} vs ${y}`).toBe(Math.sign(byCodePoints(x, y)));
    expect(['\u{1F600}', '\uFF21'].sort(codePointOrder)).toEqual(['\uFF21', '\u{1F600}']);
  });
});
