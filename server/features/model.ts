// The feature store's pure parts: the read API's query parameters, the shaping of aggregate rows into series
// (zero-filled, money per currency), the refresh window of the aggregates and the segment rules. No I/O; `now`
// is always passed in.
import { collect, time, type Parsed } from '../http/params.js';
import { decimalToMilli, fromMilli, toMilli } from '../live/facts.js';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
/** Seed 001 §5.2. */
export const AFFINITY_WEIGHTS: Readonly<Record<string, number>> = Object.freeze({
  event_view: 1, add_to_cart: 3, checkout_started: 5, order_completed: 10, entry_granted: 12,
});
export const DECAY_DAYS = 60;
export const AFFINITY_WINDOW_DAYS = 90;
/** Longest window a series may cover: 31 days of hours (744 points), two years of days. */
export const MAX_SPAN_MS = { hour: 31 * DAY_MS, day: 731 * DAY_MS } as const;
export const DEFAULT_SPAN_MS = { hour: DAY_MS, day: 30 * DAY_MS } as const;
/** Affinities listed per kind in GET /api/v1/features/persons/{id}. */
export const MAX_AFFINITIES = 100;

export type Bucket = 'hour' | 'day';

export interface Range {
  from: number;
  to: number;
  bucket: Bucket;
}

const bad = (field: string, message: string): Parsed<never> => ({ ok: false, error: { code: 'invalid_field', in: 'query', field, message } });

/** Start of the bucket holding `ms` (UTC hours and days, as time_bucket and date_bin cut them). */
export const floorTo = (ms: number, bucket: Bucket): number => {
  const size = bucket === 'hour' ? HOUR_MS : DAY_MS;
  return Math.floor(ms / size) * size;
};

/**
 * `from`, `to` (ISO-8601 or epoch ms, [from, to)) and `bucket` of a series request. Defaults: `to` now, `from` a
 * day (hours) or 30 days (days) before `to`. Both are rounded down to the bucket; unknown parameters refused.
 */
export function parseRange(query: URLSearchParams, now: number, buckets: readonly Bucket[] = ['hour', 'day'], defaultSpanMs?: number): Parsed<Range> {
  for (const k of query.keys()) if (!['from', 'to', 'bucket'].includes(k)) return bad(k, `Unknown query parameter ${k}: use from, to${buckets.length > 1 ? ', bucket' : ''}.`);
  const rawBucket = query.get('bucket') ?? buckets[0];
  if (!(buckets as readonly string[]).includes(rawBucket)) return bad('bucket', `bucket must be ${buckets.join(' or ')}; got ${JSON.stringify(rawBucket.slice(0, 40))}.`);
  const bucket = rawBucket as Bucket;
  const p = collect({ from: time('query', 'from', query.get('from'), { epochMs: true }), to: time('query', 'to', query.get('to'), { epochMs: true }) });
  if (!p.ok) return p;
  const size = bucket === 'hour' ? HOUR_MS : DAY_MS;
  // `to` exclusive: the bucket holding `to` is included only when `to` is past its start.
  const to = p.value.to === null ? floorTo(now, bucket) + size : Math.ceil(p.value.to / size) * size;
  // The default span never reaches before the epoch (no event is stored there; `?to=1970-01-02` alone would
  // otherwise answer buckets of 1969).
  const from = floorTo(p.value.from ?? Math.max(0, to - (defaultSpanMs ?? DEFAULT_SPAN_MS[bucket])), bucket);
  const at = (ms: number) => new Date(ms).toISOString();
  if (from >= to) {
    const sent = (k: 'from' | 'to') => (query.get(k) === null ? `${k} (default ${k === 'to' ? 'now' : 'span'})` : `${k} ${JSON.stringify(query.get(k)!.slice(0, 40))}`);
    return bad('from', `from must be before to; got ${sent('from')} and ${sent('to')}, in whole ${bucket}s ${at(from)} and ${at(to)}.`);
  }
  if (to - from > MAX_SPAN_MS[bucket]) return bad('from', `At most ${MAX_SPAN_MS[bucket] / DAY_MS} days per request with bucket=${bucket}; from ${at(from)} to ${at(to)} is ${Math.ceil((to - from) / DAY_MS)} days.`);
  return { ok: true, value: { from, to, bucket } };
}

/** [from, to) of daily rows: as parseRange with days only, the 90 days up to `to` (today) by default. */
export function parseDays(query: URLSearchParams, now: number): Parsed<Range> {
  return parseRange(query, now, ['day'], 90 * DAY_MS);
}

export interface FunnelRow {
  ts: Date | string;
  currency: string | null;
  page_views: number;
  ticket_selections: number;
  add_to_carts: number;
  checkout_starts: number;
  payment_attempts: number;
  orders_completed: number;
  tickets_sold: number;
  revenue_gross: number;
}

export interface TimingRow {
  ts: Date | string;
  avg_time_to_cart_ms: number | null;
  avg_time_to_checkout_ms: number | null;
  avg_checkout_duration_ms: number | null;
}

export interface DailyRow {
  ts: Date | string;
  impressions: number;
  unique_viewers: number;
  clicks: number;
  interested: number;
  ticket_link_clicks: number;
  views: number;
  orders: number;
}

const COUNTS = ['page_views', 'ticket_selections', 'add_to_carts', 'checkout_starts', 'payment_attempts', 'orders_completed', 'tickets_sold'] as const;
const ms = (v: Date | string): number => (v instanceof Date ? v.getTime() : Date.parse(v));
const ratio = (n: number, d: number): number | null => (d > 0 ? Math.round((n / d) * 10_000) / 10_000 : null);
/**
 * Money as stored (numeric sums, read as float8) to the thousandth: the precision of the live numbers and their
 * history (server/live/facts.ts toMilli, sql/queries/live.sql), so a 3-decimal currency (KWD, BHD) keeps its
 * last digit and float noise never shows. Rounded on the value's decimal text, ties away from zero, as
 * PostgreSQL's round(numeric) would (not on v × 1000 as a double); a numeric read as text is taken exactly.
 */
const money = (v: number | string): number => fromMilli(typeof v === 'string' ? decimalToMilli(v.trim()) : toMilli(v));

export type SeriesPoint = Record<string, unknown> & { ts: string };

/**
 * One point per bucket of the range, oldest first, zero-filled: the funnel counts summed over currencies,
 * `revenue_gross` per currency (left out when `revenue` is false: the revenue-free variant), the timings, and
 * with days the daily columns and their rates (conversion_rate = orders / views, click_through_rate =
 * clicks / impressions, ticket_conversion_rate = ticket_link_clicks / unique_viewers; null without a base).
 */
export function shapeSeries(range: Range, rows: FunnelRow[], timings: TimingRow[], daily: DailyRow[] | null, revenue: boolean): SeriesPoint[] {
  const size = range.bucket === 'hour' ? HOUR_MS : DAY_MS;
  const byTs = new Map<number, SeriesPoint>();
  for (let t = range.from; t < range.to; t += size) {
    const p: SeriesPoint = { ts: new Date(t).toISOString() };
    for (const c of COUNTS) p[c] = 0;
    if (revenue) p.revenue_gross = {};
    p.avg_time_to_cart_ms = null;
    p.avg_time_to_checkout_ms = null;
    p.avg_checkout_duration_ms = null;
    if (daily) Object.assign(p, { impressions: 0, unique_viewers: 0, clicks: 0, click_through_rate: null, interested: 0, ticket_link_clicks: 0, ticket_conversion_rate: null, conversion_rate: null });
    byTs.set(t, p);
  }
  for (const r of rows) {
    const p = byTs.get(ms(r.ts));
    if (!p) continue;
    for (const c of COUNTS) p[c] = (p[c] as number) + Number(r[c]);
    if (revenue && r.currency !== null) (p.revenue_gross as Record<string, number>)[r.currency] = money(r.revenue_gross);
  }
  for (const r of timings) {
    const p = byTs.get(ms(r.ts));
    if (!p) continue;
    p.avg_time_to_cart_ms = r.avg_time_to_cart_ms;
    p.avg_time_to_checkout_ms = r.avg_time_to_checkout_ms;
    p.avg_checkout_duration_ms = r.avg_checkout_duration_ms;
  }
  for (const r of daily ?? []) {
    const p = byTs.get(ms(r.ts));
    if (!p) continue;
    Object.assign(p, {
      impressions: r.impressions, unique_viewers: r.unique_viewers, clicks: r.clicks, click_through_rate: ratio(r.clicks, r.impressions),
      interested: r.interested, ticket_link_clicks: r.ticket_link_clicks, ticket_conversion_rate: ratio(r.ticket_link_clicks, r.unique_viewers),
      conversion_rate: ratio(r.orders, r.views),
    });
  }
  return [...byTs.values()];
}

export interface PersonDayRow {
  date: Date | string;
  currency: string | null;
  views_count: number;
  carts_count: number;
  checkouts_count: number;
  purchases_count: number;
  attendance_count: number;
  gross_amount: number;
  net_amount: number;
  discount_orders: number;
  affiliate_orders: number;
}

const PERSON_COUNTS = ['views_count', 'carts_count', 'checkouts_count', 'purchases_count', 'attendance_count'] as const;

/**
 * fs_person_daily rows → one item per day and order currency (a day without orders: one item, currency null).
 * The counts of non-order events go with the day's first item, so summing items never counts one twice.
 * avg_order_value = gross / purchases; discount_usage_rate and affiliate_rate are shares of the day's orders,
 * discount_orders and affiliate_orders their counts (0 on an item without orders).
 */
export function shapePersonDaily(rows: PersonDayRow[], decisions: { date: Date | string; avg_decision_time_ms: number }[]): Record<string, unknown>[] {
  const days = new Map<number, PersonDayRow[]>();
  for (const r of rows) days.set(ms(r.date), [...(days.get(ms(r.date)) ?? []), r]);
  const decision = new Map(decisions.map((d) => [ms(d.date), d.avg_decision_time_ms]));
  const out: Record<string, unknown>[] = [];
  for (const [day, list] of [...days.entries()].sort((a, b) => a[0] - b[0])) {
    const base = list.find((r) => r.currency === null);
    const orders = list.filter((r) => r.currency !== null);
    const items = orders.length ? orders : [base!];
    items.forEach((r, i) => {
      const item: Record<string, unknown> = { date: new Date(day).toISOString().slice(0, 10) };
      for (const c of PERSON_COUNTS) item[c] = Number(r[c]) + (i === 0 && base && base !== r ? Number(base[c]) : 0);
      const n = Number(r.purchases_count);
      Object.assign(item, {
        gross_amount: money(r.gross_amount), net_amount: money(r.net_amount),
        avg_order_value: n > 0 ? money(Number(r.gross_amount) / n) : null,
        avg_decision_time_ms: i === 0 ? decision.get(day) ?? null : null,
        discount_usage_rate: ratio(Number(r.discount_orders), n), affiliate_rate: ratio(Number(r.affiliate_orders), n),
        discount_orders: Number(r.discount_orders), affiliate_orders: Number(r.affiliate_orders),
        currency: r.currency,
      });
      out.push(item);
    });
  }
  return out;
}

/**
 * Where a refresh of the aggregates starts: the UTC day of the oldest row stored since the last run, or of the
 * last run itself (its partial buckets are complete now), whichever is earlier. Null before any row. Each
 * aggregate then ends the window at its own bucket boundary (aggregates.ts). Pure.
 */
export function refreshStart(minNewAt: number | null, lastRunAt: number | null): number | null {
  const starts = [minNewAt, lastRunAt].filter((x): x is number => x !== null);
  return starts.length ? floorTo(Math.min(...starts), 'day') : null;
}

export interface Rfm {
  frequency: number;
  recencyDays: number;
  r: number;
  f: number;
  m: number;
}

/** Every customer segment label segmentOf (and features.sql insert_scores) gives: a closed set. */
export const CUSTOMER_SEGMENTS = ['prospect', 'vip', 'new', 'loyal', 'lost', 'at_risk', 'regular'] as const;
export type CustomerSegment = (typeof CUSTOMER_SEGMENTS)[number];

/** The customer segment of a person's RFM scores (sql/queries/features.sql insert_scores says the same). Pure. */
export function segmentOf(s: Rfm | null): CustomerSegment {
  if (s === null) return 'prospect';
  if (s.r >= 4 && s.f >= 4 && s.m >= 4) return 'vip';
  if (s.frequency === 1 && s.recencyDays <= 30) return 'new';
  if (s.r >= 3 && s.f >= 4) return 'loyal';
  if (s.r === 1 && s.f <= 2) return 'lost';
  if (s.r <= 2) return 'at_risk';
  return 'regular';
}
