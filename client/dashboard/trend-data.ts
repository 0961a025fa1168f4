// The DOM-free part of the history view (trends.ts): parsing the organizer analytics answer and the day range.
// Kept apart so unit tests (type-checked with the server, without the DOM library) can import it.

export interface TrendDay {
  ts: string;
  page_views: number;
  add_to_carts: number;
  checkout_starts: number;
  orders_completed: number;
  tickets_sold: number;
  revenue: Record<string, number>;
}

const DAY_MS = 86_400_000;
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** The series of an organizer analytics answer, or null when it is not one. Pure. */
export function trendDays(body: unknown): TrendDay[] | null {
  const series = (body as { series?: unknown } | null)?.series;
  if (!Array.isArray(series)) return null;
  const out: TrendDay[] = [];
  for (const p of series as Record<string, unknown>[]) {
    if (typeof p?.ts !== 'string') return null;
    const money = p.revenue_gross && typeof p.revenue_gross === 'object' ? (p.revenue_gross as Record<string, unknown>) : {};
    out.push({
      ts: p.ts, page_views: num(p.page_views), add_to_carts: num(p.add_to_carts), checkout_starts: num(p.checkout_starts),
      orders_completed: num(p.orders_completed), tickets_sold: num(p.tickets_sold),
      revenue: Object.fromEntries(Object.entries(money).filter(([, v]) => typeof v === 'number')) as Record<string, number>,
    });
  }
  return out;
}

/** `days` whole UTC days ending with today: [from, to) in epoch ms. Pure. */
export function trendRange(now: number, days: number): { from: number; to: number } {
  const to = Math.floor(now / DAY_MS) * DAY_MS + DAY_MS;
  return { from: to - days * DAY_MS, to };
}
