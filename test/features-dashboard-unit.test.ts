// The dashboard's 7/30-day history (client/dashboard/trends.ts): the pure parts, without a browser.
import { describe, expect, it } from 'vitest';
import { trendDays, trendRange } from '../client/dashboard/trend-data.js';

describe('dashboard history (trends.ts)', () => {
  it('covers whole UTC days ending with today', () => {
    const r = trendRange(Date.parse('2026-11-30T13:20:00Z'), 7);
    expect([new Date(r.from).toISOString(), new Date(r.to).toISOString()]).toEqual(['2026-11-24T00:00:00.000Z', '2026-12-01T00:00:00.000Z']);
  });

  it('reads the series of an organizer analytics answer, money per currency, and refuses anything else', () => {
    const body = { series: [{ ts: '2026-11-30T00:00:00.000Z', page_views: 5, add_to_carts: 2, checkout_starts: 1, orders_completed: 1, tickets_sold: 2, revenue_gross: { EUR: 100, RON: 'x' } }] };
    expect(trendDays(body)).toEqual([{ ts: '2026-11-30T00:00:00.000Z', page_views: 5, add_to_carts: 2, checkout_starts: 1, orders_completed: 1, tickets_sold: 2, revenue: { EUR: 100 } }]);
    expect(trendDays({ series: [{ page_views: 1 }] })).toBeNull();
    expect(trendDays({ error: { code: 'forbidden' } })).toBeNull();
    expect(trendDays(null)).toBeNull();
  });
});
