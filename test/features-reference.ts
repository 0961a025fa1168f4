// Independent recounts of the feature store from raw tx_events rows, in plain JS (test/features-store.test.ts
// compares the aggregates, affinities and ticket preferences with these). Written from the seeds' formulas, not
// from the SQL: a mistake in one is unlikely to be repeated in the other.
export interface RawRow {
  event_name: string;
  occurred_at: Date | string;
  visitor_id: string | null;
  person_id: string | number | null;
  entities: Record<string, unknown>;
  payload: Record<string, any>;
  is_bot: boolean;
}

const HOUR = 3_600_000;
const DAY = 86_400_000;
const t = (r: RawRow) => new Date(r.occurred_at).getTime();
const ev = (r: RawRow) => (typeof r.entities.event_entity_id === 'string' ? r.entities.event_entity_id : r.entities.event_entity_id == null ? null : String(r.entities.event_entity_id));
const qty = (r: RawRow) => (Array.isArray(r.payload.items) ? r.payload.items.reduce((n: number, i: any) => n + (typeof i?.qty === 'number' ? i.qty : 0), 0) : 0);
const add = (m: Record<string, number>, k: string, v: number) => (m[k] = (m[k] ?? 0) + v);
/** An exit scan (entry_granted with scan_type 'exit') takes one off inside; it is no entry (README "Live layer"). */
const isExit = (r: RawRow) => r.event_name === 'entry_granted' && r.payload?.scan_type === 'exit';

/** Per event and hour: the funnel counts and revenue per currency. */
export function hourlyFunnel(rows: RawRow[]): Map<string, Record<string, any>> {
  const out = new Map<string, Record<string, any>>();
  const names: Record<string, string> = {
    event_view: 'page_views', ticket_type_selected: 'ticket_selections', add_to_cart: 'add_to_carts',
    checkout_started: 'checkout_starts', payment_attempted: 'payment_attempts', order_completed: 'orders_completed',
  };
  for (const r of rows) {
    const e = ev(r);
    if (r.is_bot || e === null) continue;
    const k = `${e}|${new Date(Math.floor(t(r) / HOUR) * HOUR).toISOString()}`;
    const p = out.get(k) ?? { page_views: 0, ticket_selections: 0, add_to_carts: 0, checkout_starts: 0, payment_attempts: 0, orders_completed: 0, tickets_sold: 0, revenue_gross: {} };
    out.set(k, p);
    if (names[r.event_name]) p[names[r.event_name]]++;
    if (r.event_name === 'order_completed') {
      p.tickets_sold += qty(r);
      add(p.revenue_gross, typeof r.payload.currency === 'string' ? r.payload.currency : 'XXX', r.payload.gross_amount ?? 0);
    }
  }
  return out;
}

/** Per event and UTC day: seed 004 / seed 003 daily columns, summed over currencies; unique viewers exact. */
export function eventDaily(rows: RawRow[]): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  const viewers = new Map<string, Set<string>>();
  for (const r of rows) {
    const e = ev(r);
    if (r.is_bot || e === null) continue;
    const k = `${e}|${new Date(Math.floor(t(r) / DAY) * DAY).toISOString()}`;
    const p = out.get(k) ?? { views: 0, add_to_cart: 0, checkouts_started: 0, orders: 0, tickets_sold: 0, revenue: 0, impressions: 0, unique_viewers: 0, clicks: 0, interested: 0, ticket_link_clicks: 0 };
    out.set(k, p);
    const n = r.event_name;
    if (n === 'event_view') p.views++;
    if (n === 'add_to_cart') p.add_to_cart++;
    if (n === 'checkout_started') p.checkouts_started++;
    if (n === 'order_completed') {
      p.orders++;
      p.tickets_sold += qty(r);
      p.revenue += r.payload.gross_amount ?? 0;
    }
    if (n === 'event_card_impression') p.impressions++;
    if (n === 'event_card_click') p.clicks++;
    if (n === 'event_interest_marked' && r.payload.interested !== false) p.interested++;
    if (n === 'ticket_link_click') p.ticket_link_clicks++;
    if ((n === 'event_view' || n === 'event_card_click') && r.visitor_id) {
      const s = viewers.get(k) ?? new Set();
      s.add(r.visitor_id);
      viewers.set(k, s);
      p.unique_viewers = s.size;
    }
  }
  return out;
}

/** Per person and UTC day (seed 001 §5.1), summed over currencies. */
export function personDaily(rows: RawRow[]): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  for (const r of rows) {
    if (r.is_bot || r.person_id === null) continue;
    const k = `${r.person_id}|${new Date(Math.floor(t(r) / DAY) * DAY).toISOString()}`;
    const p = out.get(k) ?? { views_count: 0, carts_count: 0, checkouts_count: 0, purchases_count: 0, attendance_count: 0, gross_amount: 0, net_amount: 0, discount_orders: 0, affiliate_orders: 0 };
    out.set(k, p);
    const n = r.event_name;
    if (n === 'event_view') p.views_count++;
    if (n === 'add_to_cart') p.carts_count++;
    if (n === 'checkout_started') p.checkouts_count++;
    if (n === 'entry_granted' && !isExit(r)) p.attendance_count++;
    if (n === 'order_completed') {
      p.purchases_count++;
      p.gross_amount += r.payload.gross_amount ?? 0;
      p.net_amount += r.payload.net_amount ?? 0;
      if (r.payload.discount_code || (r.payload.discount_total ?? 0) > 0) p.discount_orders++;
      if (r.payload.affiliate_id) p.affiliate_orders++;
    }
  }
  return out;
}

const WEIGHTS: Record<string, number> = { event_view: 1, add_to_cart: 3, checkout_started: 5, order_completed: 10, entry_granted: 12 };

/** Seed 001 §5.2 at `now`: Σ weight · exp(-days/60) over the last 90 days, per person and artist (or genre). */
export function affinity(rows: RawRow[], person: string | number, of: (event: string) => string[], now: number): Map<string, { score: number; views: number; purchases: number; attendance: number; last: number }> {
  const out = new Map<string, { score: number; views: number; purchases: number; attendance: number; last: number }>();
  for (const r of rows) {
    const e = ev(r);
    const w = WEIGHTS[r.event_name];
    if (r.is_bot || String(r.person_id) !== String(person) || e === null || w === undefined || isExit(r)) continue;
    if (t(r) <= now - 90 * DAY || t(r) > now) continue;
    for (const a of new Set(of(e))) {
      const s = out.get(a) ?? { score: 0, views: 0, purchases: 0, attendance: 0, last: 0 };
      s.score += w * Math.exp(-(now - t(r)) / DAY / 60);
      if (r.event_name === 'event_view') s.views++;
      if (r.event_name === 'order_completed') s.purchases++;
      if (r.event_name === 'entry_granted') s.attendance++;
      s.last = Math.max(s.last, t(r));
      out.set(a, s);
    }
  }
  return out;
}

/** Linear-interpolated percentile (percentile_cont). */
export function percentile(sorted: number[], p: number): number {
  const x = p * (sorted.length - 1);
  const lo = Math.floor(x);
  return lo + 1 < sorted.length ? sorted[lo] + (sorted[lo + 1] - sorted[lo]) * (x - lo) : sorted[lo];
}

/**
 * Ticket preferences of a person: category → orders, qty-weighted average unit price in the currency with most
 * tickets of the category (a line's own price is in the order's currency, else the type's price in the type's
 * currency, or in the order's when the type has none), band against the quartiles of the types in that currency,
 * else of the types without a currency (the fallback set), share of the person's orders.
 */
export function ticketPrefs(rows: RawRow[], person: string | number, types: Record<string, { category: string; price: number; currency?: string }>) {
  const quartiles = (cur: string | undefined) => {
    const prices = Object.values(types).filter((x) => x.currency === cur).map((x) => x.price).sort((a, b) => a - b);
    return prices.length ? [0.25, 0.5, 0.75].map((p) => percentile(prices, p)) : null;
  };
  const per = new Map<string, { orders: Set<string>; byCur: Map<string, { sum: number; qty: number }> }>();
  for (const r of rows) {
    if (r.is_bot || String(r.person_id) !== String(person) || r.event_name !== 'order_completed') continue;
    for (const it of r.payload.items ?? []) {
      const type = types[it.ticket_type_id];
      const cat = type?.category ?? 'uncategorised';
      const c = per.get(cat) ?? { orders: new Set(), byCur: new Map() };
      c.orders.add(String(r.entities.order_id));
      const [price, cur] = it.price !== undefined ? [it.price, r.payload.currency] : [type?.price, type ? (type.currency ?? r.payload.currency) : undefined];
      if (price !== undefined && cur !== undefined) {
        const m = c.byCur.get(cur) ?? { sum: 0, qty: 0 };
        m.sum += price * it.qty;
        m.qty += it.qty;
        c.byCur.set(cur, m);
      }
      per.set(cat, c);
    }
  }
  // Share of purchases: the category's orders ÷ the person's orders (an order of two categories counts for both).
  const total = new Set([...per.values()].flatMap((c) => [...c.orders])).size;
  return [...per.entries()].map(([cat, c]) => {
    const [cur, m] = [...c.byCur.entries()].sort(([a, x], [b, y]) => y.qty - x.qty || a.localeCompare(b))[0] ?? [null, null];
    const avg = m && m.qty ? Math.round((m.sum / m.qty) * 100) / 100 : null;
    const q = cur === null ? null : (quartiles(cur) ?? quartiles(undefined));
    const band = avg === null || q === null ? null : avg <= q[0] ? 'low' : avg <= q[1] ? 'mid' : avg <= q[2] ? 'high' : 'premium';
    return { ticket_category: cat, purchases_count: c.orders.size, avg_price: avg, currency: avg === null ? null : cur, price_band: band, preference_score: c.orders.size / total };
  });
}
