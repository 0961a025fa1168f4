// The funnel request's boundary checks and the answer's arithmetic. Pure.
import { describe, expect, it } from 'vitest';
import { funnelBody, moneyField, parseFunnel, parseField, PRESETS, stepResults, type FunnelRow } from './spec.js';

const base = { steps: [{ event_name: 'event_view' }, { event_name: 'ticket_link_click' }], window_s: 3600, from: '2026-03-01', to: '2026-03-31' };
const field = (v: unknown) => { const p = parseFunnel(v); return p.ok ? null : p.error.field; };

describe('parseFunnel', () => {
  it('takes the issue\'s body and fills defaults', () => {
    const p = parseFunnel({ ...base, by: 'person', breakdown: 'context.utm.source' });
    expect(p.ok && p.value).toMatchObject({ windowS: 3600, by: 'person', breakdown: { root: 'context', path: ['utm', 'source'] }, breakdownLimit: 10, fromMs: Date.parse('2026-03-01T00:00:00Z') });
    expect(parseFunnel(base).ok && (parseFunnel(base) as { value: { by: string } }).value.by).toBe('visitor');
  });

  it('finds the first field reading money: a breakdown or a filter on a money key anywhere in a payload path', () => {
    const money = { keys: new Set(['gross_amount', 'price']), containers: new Set(['items']) };
    const spec = (extra: Record<string, unknown>) => {
      const p = parseFunnel({ steps: [{ event_name: 'event_view' }, { event_name: 'add_to_cart', filters: [{ field: 'payload.source', op: 'eq', value: 'x' }] }], window_s: 60, from: '2026-03-01', to: '2026-03-02', ...extra });
      if (!p.ok) throw new Error(p.error.message);
      return p.value;
    };
    expect(moneyField(spec({}), money)).toBeNull();
    expect(moneyField(spec({ breakdown: 'payload.gross_amount' }), money)).toBe('breakdown');
    expect(moneyField(spec({ breakdown: 'context.price' }), money)).toBeNull();
    expect(moneyField(spec({ steps: [{ event_name: 'event_view' }, { event_name: 'add_to_cart', filters: [{ field: 'payload.source', op: 'eq', value: 'x' }, { field: 'payload.items.price', op: 'gt', value: 1 }] }] }), money)).toBe('steps[1].filters[1].field');
    // A container of amounts read whole (a breakdown listing the items, `contains` bisecting their prices).
    expect(moneyField(spec({ breakdown: 'payload.items' }), money)).toBe('breakdown');
    expect(moneyField(spec({ steps: [{ event_name: 'event_view' }, { event_name: 'add_to_cart', filters: [{ field: 'payload.items', op: 'contains', value: '777' }] }] }), money)).toBe('steps[1].filters[0].field');
    expect(moneyField(spec({ breakdown: 'payload.items.qty' }), money)).toBeNull();
    // Experiment metrics: steps only, the field named from where they sit.
    expect(moneyField({ steps: spec({ breakdown: 'payload.items' }).steps.slice(0, 1) }, money, 'success_metrics[0].')).toBeNull();
  });

  it('expands the seed 003 §4.1 preset', () => {
    const p = parseFunnel({ preset: 'event_discovery', window_s: 86_400, from: '2026-03-01', to: '2026-03-02' });
    expect(p.ok && p.value.steps).toEqual(PRESETS.event_discovery);
    expect(p.ok && p.value.steps.map((s) => s.event_name)).toEqual(['event_card_impression', 'event_card_click', 'event_view', 'event_interest_marked', 'ticket_link_click']);
    // Interest that is not taken back (interested: false un-marks).
    expect(p.ok && p.value.steps[3].filters).toEqual([{ root: 'payload', path: ['interested'], op: 'neq', text: 'false' }]);
    expect(field({ ...base, preset: 'event_discovery' })).toBe('preset');
    expect(field({ preset: 'nope', window_s: 1, from: '2026-03-01', to: '2026-03-02' })).toBe('preset');
    for (const preset of ['toString', '__proto__', 'constructor', 7]) expect(field({ preset, window_s: 1, from: '2026-03-01', to: '2026-03-02' })).toBe('preset');
  });

  it('refuses what is out of bounds or unknown, naming the field', () => {
    expect(field({ ...base, steps: [{ event_name: 'event_view' }] })).toBe('steps');
    expect(field({ ...base, steps: Array.from({ length: 11 }, () => ({ event_name: 'event_view' })) })).toBe('steps');
    expect(field({ ...base, steps: [{ event_name: 'event_view' }, { event_name: "x'; DROP TABLE tx_events; --" }] })).toBe('steps[1].event_name');
    // A well-formed name no event carries would count nobody: refused, with the nearest registry name.
    const typo = parseFunnel({ ...base, steps: [{ event_name: 'event_view' }, { event_name: 'event_veiw' }] });
    expect(typo.ok ? null : typo.error).toMatchObject({ field: 'steps[1].event_name', message: expect.stringContaining('did you mean event_view?') });
    expect(field({ ...base, steps: [{ event_name: 'event_view', extra: 1 }, { event_name: 'add_to_cart' }] })).toBe('steps[0].extra');
    // The message names it too (field holds its path).
    const extra = parseFunnel({ ...base, steps: [{ event_name: 'event_view', extra: 1 }, { event_name: 'add_to_cart' }] });
    expect(extra.ok ? null : extra.error.message).toMatch(/^Unknown field "extra"; allowed: /);
    expect(field({ ...base, window_s: 0 })).toBe('window_s');
    expect(field({ ...base, window_s: 1.5 })).toBe('window_s');
    expect(field({ ...base, window_s: 91 * 86_400 })).toBe('window_s');
    expect(field({ ...base, window_s: null })).toBe('window_s');
    const { window_s: _w, ...noWindow } = base;
    const p = parseFunnel(noWindow);
    expect(p.ok && p.value.windowS).toBe(14 * 86_400);
    expect(field({ ...base, from: 'March' })).toBe('from');
    // Years outside 1970-2199 are refused like query dates (0099 was read as 1999 by Date.UTC).
    expect(field({ ...base, from: '0099-01-01', to: '0099-02-01' })).toBe('from');
    expect(field({ ...base, from: '1969-12-01', to: '1970-01-02' })).toBe('from');
    expect(field({ ...base, from: '2199-12-01', to: '2200-01-02' })).toBe('to');
    // A missing bound says it is required, not that a bad value was sent.
    const { from: _f, ...noFrom } = base;
    const r = parseFunnel({ ...noFrom, preset: 'event_discovery', steps: undefined });
    expect(!r.ok && [r.error.field, r.error.message]).toEqual(['from', expect.stringMatching(/^from is required/)]);
    expect(field({ ...base, to: '2026-02-01' })).toBe('to');
    expect(field({ ...base, from: '2025-01-01', to: '2026-03-01' })).toBe('to');
    expect(field({ ...base, by: 'session' })).toBe('by');
    expect(field({ ...base, breakdown: 'context.utm.source.x.y' })).toBe('breakdown');
    expect(field({ ...base, breakdown: 'visitor_id' })).toBe('breakdown');
    expect(field({ ...base, breakdown_limit: 51 })).toBe('breakdown_limit');
    expect(field({ ...base, limit: 5 })).toBe('limit');
    expect(field(null)).toBe('steps');
  });

  it('checks filters: closed operators, typed values, bounded lists', () => {
    const f = (filters: unknown) => field({ ...base, steps: [{ event_name: 'event_view', filters }, { event_name: 'add_to_cart' }] });
    expect(f([{ field: 'payload.position', op: 'lte', value: 3 }, { field: 'entities.venue_id', op: 'in', value: ['V1', 2] }, { field: 'context.utm.source', op: 'exists' }])).toBeNull();
    expect(f([{ field: 'payload.a', op: 'regex', value: '.*' }])).toBe('steps[0].filters[0].op');
    expect(f([{ field: 'payload.a', op: 'gt', value: '3' }])).toBe('steps[0].filters[0].value');
    expect(f([{ field: 'payload.a', op: 'in', value: [] }])).toBe('steps[0].filters[0].value');
    expect(f([{ field: 'payload.a', op: 'in', value: Array.from({ length: 101 }, (_, i) => i) }])).toBe('steps[0].filters[0].value');
    expect(f([{ field: 'payload.a', op: 'eq', value: 'x'.repeat(257) }])).toBe('steps[0].filters[0].value');
    expect(f([{ field: 'payload.a', op: 'eq', value: { $gt: 1 } }])).toBe('steps[0].filters[0].value');
    expect(f([{ field: 'payload.a', op: 'exists', value: 1 }])).toBe('steps[0].filters[0].value');
    expect(f([{ field: 'payload', op: 'exists' }])).toBe('steps[0].filters[0].field');
    expect(f([{ field: 'payload.a', op: 'eq', value: 1, x: 1 }])).toBe('steps[0].filters[0].x');
    expect(f(Array.from({ length: 11 }, () => ({ field: 'payload.a', op: 'exists' })))).toBe('steps[0].filters');
    expect(parseField('entities.event_entity_id')).toEqual({ root: 'entities', path: ['event_entity_id'] });
    expect(parseField('payload.A')).toBeNull();
  });
});

describe('stepResults / funnelBody', () => {
  const spec = (parseFunnel({ ...base, steps: [{ event_name: 'event_view' }, { event_name: 'add_to_cart' }, { event_name: 'order_completed' }], breakdown: 'payload.x' }) as { value: any }).value;
  const row = (total: boolean, kind: FunnelRow['kind'], value: string | null, step: number, actors: number, t = 10): FunnelRow =>
    ({ total, kind, value, step, actors, median_from_prev: t, p90_from_prev: t * 2, median_from_first: t * 3, p90_from_first: t * 4 });

  it('computes conversions, drop-off and times, with missing steps as 0', () => {
    const s = stepResults(spec.steps, [row(true, null, null, 0, 10), row(true, null, null, 1, 4)]);
    expect(s.map((x) => x.count)).toEqual([10, 4, 0]);
    expect(s[0]).toMatchObject({ conversion_from_previous: 1, drop_off: 0, median_time_from_previous_s: null });
    expect(s[1]).toMatchObject({ conversion_from_previous: 0.4, conversion_from_first: 0.4, drop_off: 6, drop_off_rate: 0.6, median_time_from_previous_s: 10, p90_time_from_first_s: 40 });
    expect(s[2]).toMatchObject({ conversion_from_previous: 0, drop_off: 4, drop_off_rate: 1, median_time_from_previous_s: null });
    expect(stepResults(spec.steps, []).map((x) => x.conversion_from_first)).toEqual([null, null, null]);
  });

  it('orders groups: values by entrants, then none, then other', () => {
    const b = funnelBody(spec, [row(true, null, null, 0, 9), row(false, 'other', null, 0, 5), row(false, 'none', null, 0, 1), row(false, 'value', 'a', 0, 1), row(false, 'value', 'b', 0, 2)]);
    expect(b.breakdown!.groups.map((g) => [g.kind, g.value])).toEqual([['value', 'b'], ['value', 'a'], ['none', null], ['other', null]]);
    expect(b.breakdown!.field).toBe('payload.x');
  });
});
