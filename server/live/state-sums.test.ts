// Live sums with values stored before ingest bounded numbers (issue 8.4): 1e308 once made live revenue null.
import { describe, expect, it } from 'vitest';
import { toFact, utcDay } from './facts.js';
import { NOW, row } from './rows.fixture.js';
import { LiveState, safeAdd } from './state.js';

const DAY = utcDay(NOW);
const order = (gross: number, qty: number, event = 'SUM1') =>
  row('order_completed', NOW - 1000, {
    source_system: 'backend',
    entities: { order_id: `o-${gross}-${qty}-${Math.random()}`, event_entity_id: event, organizer_id: 'ORG-SUM' },
    payload: { gross_amount: gross, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty }] },
  });

describe('live sums', () => {
  it('keep revenue and tickets finite when a stored order holds 1e308 (it adds nothing; the others still count)', () => {
    const s = new LiveState(DAY);
    for (const r of [order(100, 2), order(1e308, 1e308), order(50.5, 1), order(100, 1, 'SUM2')]) {
      const f = toFact(r, DAY);
      if (f) s.apply(f);
    }
    const d = s.eventData(1, 'SUM1', NOW) as any;
    expect(d.revenue).toEqual({ EUR: 150.5 });
    expect(d.funnel.tickets_sold).toBe(3);
    const json = JSON.parse(JSON.stringify(s.dashboardData(1, 'ORG-SUM', NOW)));
    expect(json.totals.revenue).toEqual({ EUR: 250.5 });
    expect(json.totals.funnel.tickets_sold).toBe(4);
  });

  it('saturate at the largest exact integer instead of overflowing', () => {
    expect(safeAdd(Number.MAX_SAFE_INTEGER - 1, 5)).toBe(Number.MAX_SAFE_INTEGER);
    expect(safeAdd(10, Infinity)).toBe(10);
    expect(safeAdd(10, NaN)).toBe(10);
    expect(safeAdd(10, 1e308)).toBe(10);
    expect(safeAdd(10, 5)).toBe(15);
  });
});
