import { describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS, parseDays, parseRange, refreshStart, segmentOf, shapePersonDaily, shapeSeries } from './model.js';

const NOW = Date.parse('2026-11-30T13:20:00Z');
const q = (s: string) => new URLSearchParams(s);

describe('parseRange', () => {
  it('defaults to the last day of hours ending with the current hour, rounded to buckets', () => {
    expect(parseRange(q(''), NOW)).toEqual({ ok: true, value: { bucket: 'hour', from: Date.parse('2026-11-29T14:00:00Z'), to: Date.parse('2026-11-30T14:00:00Z') } });
    expect(parseRange(q('bucket=day'), NOW)).toEqual({ ok: true, value: { bucket: 'day', from: Date.parse('2026-11-01T00:00:00Z'), to: Date.parse('2026-12-01T00:00:00Z') } });
    expect(parseRange(q('from=2026-11-30T10:30:00Z&to=2026-11-30T12:00:00Z'), NOW)).toEqual({ ok: true, value: { bucket: 'hour', from: Date.parse('2026-11-30T10:00:00Z'), to: Date.parse('2026-11-30T12:00:00Z') } });
  });

  it('says the values sent in its refusals: the reversed from and to, the bucket, the span', () => {
    const message = (s: string) => {
      const r = parseRange(q(s), NOW);
      return r.ok ? null : r.error.message;
    };
    expect(message('from=2026-11-30T12:00:00Z&to=2026-11-30T10:00:00Z')).toBe('from must be before to; got from "2026-11-30T12:00:00Z" and to "2026-11-30T10:00:00Z", in whole hours 2026-11-30T12:00:00.000Z and 2026-11-30T10:00:00.000Z.');
    expect(message('from=2026-12-05T00:00:00Z')).toBe('from must be before to; got from "2026-12-05T00:00:00Z" and to (default now), in whole hours 2026-12-05T00:00:00.000Z and 2026-11-30T14:00:00.000Z.');
    expect(message('bucket=week')).toBe('bucket must be hour or day; got "week".');
    expect(message('from=2026-01-01T00:00:00Z&to=2026-11-30T00:00:00Z')).toMatch(/^At most \d+ days per request with bucket=hour; from 2026-01-01T00:00:00.000Z to 2026-11-30T00:00:00.000Z is 333 days\.$/);
  });

  it('never defaults to buckets before the epoch', () => {
    expect(parseRange(q('bucket=day&to=1970-01-02T00:00:00Z'), NOW)).toEqual({ ok: true, value: { bucket: 'day', from: 0, to: DAY_MS } });
    expect(parseRange(q('to=1970-01-01T01:00:00Z'), NOW)).toEqual({ ok: true, value: { bucket: 'hour', from: 0, to: HOUR_MS } });
  });

  it('refuses an unknown bucket or parameter, a bad or reversed time and a span over the limit, naming the field', () => {
    const field = (s: string, buckets?: ('hour' | 'day')[]) => {
      const r = parseRange(q(s), NOW, buckets);
      return r.ok ? null : r.error.field;
    };
    expect(field('bucket=week')).toBe('bucket');
    expect(field('bucket=hour', ['day'])).toBe('bucket');
    expect(field('limit=5')).toBe('limit');
    expect(field('from=yesterday')).toBe('from');
    expect(field('to=2026-11-30T25:00:00Z')).toBe('to');
    expect(field('from=2026-11-30T12:00:00Z&to=2026-11-30T11:00:00Z')).toBe('from');
    expect(field('from=2026-10-01T00:00:00Z&to=2026-11-30T00:00:00Z')).toBe('from'); // 60 days of hours
    expect(field('bucket=day&from=2026-10-01T00:00:00Z&to=2026-11-30T00:00:00Z')).toBeNull();
    expect(field('bucket=day&from=2020-01-01T00:00:00Z')).toBe('from');
  });

  it('gives a person 90 days of days by default, also up to a `to` given alone', () => {
    const r = parseDays(q(''), NOW);
    expect(r.ok && (r.value.to - r.value.from) / DAY_MS).toBe(90);
    const upTo = parseDays(q('to=2026-11-01'), NOW);
    expect(upTo.ok && [new Date(upTo.value.from).toISOString(), new Date(upTo.value.to).toISOString()]).toEqual(['2026-08-03T00:00:00.000Z', '2026-11-01T00:00:00.000Z']);
    const from = parseDays(q('from=2026-11-01'), NOW);
    expect(from.ok && from.value.from).toBe(Date.parse('2026-11-01'));
  });
});

describe('shapeSeries', () => {
  const range = { bucket: 'hour' as const, from: Date.parse('2026-11-30T10:00:00Z'), to: Date.parse('2026-11-30T13:00:00Z') };
  const row = (ts: string, currency: string | null, extra: Record<string, number>) => ({
    ts, currency, page_views: 0, ticket_selections: 0, add_to_carts: 0, checkout_starts: 0, payment_attempts: 0, orders_completed: 0, tickets_sold: 0, revenue_gross: 0, ...extra,
  });
  const rows = [
    row('2026-11-30T11:00:00Z', null, { page_views: 5, add_to_carts: 2 }),
    row('2026-11-30T11:00:00Z', 'EUR', { orders_completed: 2, tickets_sold: 3, revenue_gross: 120.1 + 0.2 }),
    row('2026-11-30T11:00:00Z', 'RON', { orders_completed: 1, tickets_sold: 1, revenue_gross: 50 }),
  ];

  it('zero-fills every bucket, sums currencies into the counts and keeps money per currency', () => {
    const s = shapeSeries(range, rows, [{ ts: '2026-11-30T11:00:00Z', avg_time_to_cart_ms: 9, avg_time_to_checkout_ms: null, avg_checkout_duration_ms: 3 }], null, true);
    expect(s.map((p) => p.ts)).toEqual(['2026-11-30T10:00:00.000Z', '2026-11-30T11:00:00.000Z', '2026-11-30T12:00:00.000Z']);
    expect(s[0]).toMatchObject({ page_views: 0, orders_completed: 0, revenue_gross: {}, avg_time_to_cart_ms: null });
    expect(s[1]).toMatchObject({ page_views: 5, add_to_carts: 2, orders_completed: 3, tickets_sold: 4, revenue_gross: { EUR: 120.3, RON: 50 }, avg_time_to_cart_ms: 9, avg_checkout_duration_ms: 3 });
  });

  it('keeps revenue to the thousandth, as the live numbers and their history do: 3-decimal currencies (KWD, BHD) are exact', () => {
    const kwd = [
      row('2026-11-30T11:00:00Z', 'KWD', { orders_completed: 2, revenue_gross: 1.234 + 2.345 }),
      row('2026-11-30T11:00:00Z', 'BHD', { orders_completed: 1, revenue_gross: 0.0125 }),
      row('2026-11-30T11:00:00Z', 'CHF', { orders_completed: 2, revenue_gross: 4.0005 + 4.0005 }),
      row('2026-11-30T11:00:00Z', 'EUR', { orders_completed: 1, revenue_gross: 0.1 + 0.2 }),
    ];
    expect(shapeSeries(range, kwd, [], null, true)[1].revenue_gross).toEqual({ KWD: 3.579, BHD: 0.013, CHF: 8.001, EUR: 0.3 });
  });

  it('leaves revenue out of the revenue-free variant; days carry the daily columns and their rates', () => {
    expect(shapeSeries(range, rows, [], null, false)[1]).not.toHaveProperty('revenue_gross');
    const days = { bucket: 'day' as const, from: Date.parse('2026-11-30T00:00:00Z'), to: Date.parse('2026-11-30T00:00:00Z') + DAY_MS };
    const [p] = shapeSeries(days, [], [], [{ ts: '2026-11-30T00:00:00Z', impressions: 8, unique_viewers: 4, clicks: 2, interested: 1, ticket_link_clicks: 1, views: 10, orders: 3 }], true);
    expect(p).toMatchObject({ impressions: 8, clicks: 2, click_through_rate: 0.25, ticket_conversion_rate: 0.25, conversion_rate: 0.3 });
  });
});

describe('shapePersonDaily', () => {
  const base = { views_count: 0, carts_count: 0, checkouts_count: 0, purchases_count: 0, attendance_count: 0, gross_amount: 0, net_amount: 0, discount_orders: 0, affiliate_orders: 0 };
  it('puts the non-order counts on the day\'s first item and derives the ratios per currency, with their counts (every fs_person_daily column)', () => {
    const out = shapePersonDaily([
      { ...base, date: '2026-11-29T00:00:00Z', currency: null, views_count: 2 },
      { ...base, date: '2026-11-30T00:00:00Z', currency: null, views_count: 3, carts_count: 1 },
      { ...base, date: '2026-11-30T00:00:00Z', currency: 'EUR', purchases_count: 2, gross_amount: 100, net_amount: 90, discount_orders: 1 },
      { ...base, date: '2026-11-30T00:00:00Z', currency: 'RON', purchases_count: 1, gross_amount: 50, net_amount: 50, affiliate_orders: 1 },
    ], [{ date: '2026-11-30T00:00:00Z', avg_decision_time_ms: 1000 }]);
    expect(out).toEqual([
      { date: '2026-11-29', views_count: 2, carts_count: 0, checkouts_count: 0, purchases_count: 0, attendance_count: 0, gross_amount: 0, net_amount: 0, avg_order_value: null, avg_decision_time_ms: null, discount_usage_rate: null, affiliate_rate: null, discount_orders: 0, affiliate_orders: 0, currency: null },
      { date: '2026-11-30', views_count: 3, carts_count: 1, checkouts_count: 0, purchases_count: 2, attendance_count: 0, gross_amount: 100, net_amount: 90, avg_order_value: 50, avg_decision_time_ms: 1000, discount_usage_rate: 0.5, affiliate_rate: 0, discount_orders: 1, affiliate_orders: 0, currency: 'EUR' },
      { date: '2026-11-30', views_count: 0, carts_count: 0, checkouts_count: 0, purchases_count: 1, attendance_count: 0, gross_amount: 50, net_amount: 50, avg_order_value: 50, avg_decision_time_ms: null, discount_usage_rate: 0, affiliate_rate: 1, discount_orders: 0, affiliate_orders: 1, currency: 'RON' },
    ]);
  });
});

describe('shapePersonDaily money', () => {
  it('keeps amounts to the thousandth (a 3-decimal currency is exact), ties rounded away from zero', () => {
    const [item] = shapePersonDaily([{
      date: '2026-11-30T00:00:00Z', currency: 'KWD', views_count: 0, carts_count: 0, checkouts_count: 0, purchases_count: 2, attendance_count: 0,
      gross_amount: 1.234 + 2.345, net_amount: 3.1234, discount_orders: 0, affiliate_orders: 0,
    }], []);
    expect(item).toMatchObject({ gross_amount: 3.579, net_amount: 3.123, avg_order_value: 1.79 });
    const [bhd] = shapePersonDaily([{
      date: '2026-11-30T00:00:00Z', currency: 'BHD', views_count: 0, carts_count: 0, checkouts_count: 0, purchases_count: 3, attendance_count: 0,
      gross_amount: 10, net_amount: 2.0005, discount_orders: 0, affiliate_orders: 0,
    }], []);
    expect(bhd).toMatchObject({ gross_amount: 10, net_amount: 2.001, avg_order_value: 3.333 });
  });
});

describe('refreshStart and segmentOf', () => {
  it('starts at the day of the oldest new row or of the last run, whichever is earlier; nothing before any row', () => {
    expect(refreshStart(null, null)).toBeNull();
    expect(refreshStart(null, NOW)).toBe(Date.parse('2026-11-30T00:00:00Z'));
    expect(refreshStart(NOW - 3 * DAY_MS, NOW)).toBe(Date.parse('2026-11-27T00:00:00Z'));
    expect(refreshStart(NOW - HOUR_MS, NOW - 2 * DAY_MS)).toBe(Date.parse('2026-11-28T00:00:00Z'));
  });

  it('labels RFM scores in rule order', () => {
    const s = (frequency: number, recencyDays: number, r: number, f: number, m: number) => segmentOf({ frequency, recencyDays, r, f, m });
    expect(segmentOf(null)).toBe('prospect');
    expect(s(9, 3, 5, 5, 4)).toBe('vip');
    expect(s(1, 10, 5, 1, 5)).toBe('new');
    expect(s(1, 40, 5, 1, 5)).toBe('regular');
    expect(s(6, 50, 3, 4, 2)).toBe('loyal');
    expect(s(1, 300, 1, 2, 1)).toBe('lost');
    expect(s(4, 200, 2, 4, 4)).toBe('at_risk');
  });
});
