// The rolling last-60-minutes series of the dashboard chart, built in the browser. Live messages carry
// today's totals, so from the first one on (the baseline) the series is the per-minute difference of
// successive totals. The earlier minutes come from the store: the page asks
// GET /api/v1/live/…/history?totals=day (seedHistory), whose minutes and `day_totals` are one read of the store.
// No live snapshot bounds that read exactly (a row dated before a snapshot can be committed, and applied live,
// after it: it was in both), so the series is rebased on the read instead: its minutes replace what the live
// differences had counted, and from then on live counts only what today's totals hold beyond `day_totals`
// (each component; totals still short of them, rows the store had before this node applied them, count nothing
// until they pass them). So every row of the window is counted once: in the history if the read saw it, else
// live at the minute its totals arrived. Without history (the request failed), orders are still
// seeded from the snapshot's sales ticker for the minutes it covers completely (seed) and views before
// the baseline are unknown. Unknown minutes are null (drawn as "no data"), never 0. Totals that go down within
// the same UTC day (a person's erasure took their rows back, a server that lost its state) leave the counted
// minutes wrong: the series then starts over from those totals and its owner reads the store's history again
// up to them (observe returns true), as a page opened then would. Pure.
import type { Funnel, Revenue, TickerEntry } from '../live/types.js';

export const MINUTE = 60_000;

export interface MinutePoint {
  /** Start of the minute (epoch ms). */
  t: number;
  views: number | null;
  orders: number | null;
  tickets: number | null;
  revenue: Revenue | null;
}

interface Bucket {
  views: number;
  orders: number;
  tickets: number;
  revenue: Revenue;
}

/** One minute of GET /api/v1/live/…/history (the fields the chart uses). */
export interface HistoryMinute {
  /** Start of the minute, ISO-8601. */
  ts: string;
  views: number;
  orders: number;
  tickets_sold: number;
  revenue: Revenue;
}

/** `day_totals` of a history response (?totals=day) with its `to`: what the read counted of the live day. */
export interface HistoryDay {
  /** The read's end (epoch ms). */
  to: number;
  views: number;
  orders: number;
  tickets_sold: number;
  revenue: Revenue;
}

/** The day totals of a history response, or null when it has none. */
export function historyDay(body: unknown): HistoryDay | null {
  const b = body as { to?: unknown; day_totals?: Record<string, unknown> } | null;
  const d = b?.day_totals;
  const to = typeof b?.to === 'string' ? Date.parse(b.to) : NaN;
  const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  if (!d || typeof d !== 'object' || !Number.isFinite(to) || !isNum(d.views) || !isNum(d.orders) || !isNum(d.tickets_sold)) return null;
  const rev = d.revenue && typeof d.revenue === 'object' ? (d.revenue as Record<string, unknown>) : {};
  if (!Object.values(rev).every(isNum)) return null;
  return { to, views: d.views, orders: d.orders, tickets_sold: d.tickets_sold, revenue: { ...(rev as Revenue) } };
}

/** The minutes of a history response, or null when it is not one. */
export function historyMinutes(body: unknown): HistoryMinute[] | null {
  const series = (body as { series?: unknown } | null)?.series;
  if (!Array.isArray(series)) return null;
  const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  const out: HistoryMinute[] = [];
  for (const p of series as Record<string, unknown>[]) {
    if (!p || typeof p.ts !== 'string' || !isNum(p.views) || !isNum(p.orders) || !isNum(p.tickets_sold)) return null;
    const rev = p.revenue && typeof p.revenue === 'object' ? (p.revenue as Record<string, unknown>) : {};
    if (!Object.values(rev).every(isNum)) return null;
    out.push({ ts: p.ts, views: p.views, orders: p.orders, tickets_sold: p.tickets_sold, revenue: { ...(rev as Revenue) } });
  }
  return out;
}

interface Totals {
  views: number;
  orders: number;
  tickets: number;
  /** null: the topic carried no revenue (a token whose role lacks view_revenue). */
  revenue: Revenue | null;
}

const minuteOf = (ms: number) => Math.floor(ms / MINUTE);
const dayOf = (ms: number) => Math.floor(ms / 86_400_000);
const money = (v: number) => Math.round(v * 1000) / 1000;

export class MinuteSeries {
  /** Before the baseline: the store's history, or orders from the sales ticker. */
  private past = new Map<number, Bucket>();
  /** Differences of live totals since the baseline. */
  private live = new Map<number, Bucket>();
  /** The last totals seen (a drop below them is an erasure or a new day). */
  private base: Totals | null = null;
  /** What the minutes account for: the last totals, or more after a rebase on the store's day totals. */
  private counted: Totals | null = null;
  private lastAt = -Infinity;
  /** Server time of the first observe (the baseline), epoch ms. */
  baseAt: number | null = null;
  /** First minute seeded from the store's history (seedHistory); null without it. */
  historySince: number | null = null;
  /** First minute whose views are known (the minute of the first snapshot). */
  viewsSince: number | null = null;
  /** First minute whose orders are known. */
  ordersSince: number | null = null;
  /** Counter resets seen (a new UTC day). */
  resets = 0;
  /** restart() was called: the next observe is a baseline again, and says so. */
  private restarted = false;

  constructor(readonly windowMinutes = 60) {}

  private bucket(map: Map<number, Bucket>, minute: number): Bucket {
    let b = map.get(minute);
    if (!b) {
      b = { views: 0, orders: 0, tickets: 0, revenue: {} };
      map.set(minute, b);
    }
    return b;
  }

  /**
   * Seeds orders from a snapshot's ticker (before the first observe). `complete`: the ticker holds every
   * order of the day (it is shorter than its cap); otherwise it covers the time after `oldestTs`, the
   * oldest entry of the whole (organizer) ticker.
   */
  seed(entries: TickerEntry[], at: number, o: { complete: boolean; oldestTs: number | null }): void {
    if (this.base !== null) return;
    for (const e of entries) {
      const ts = Date.parse(e.ts);
      if (!Number.isFinite(ts) || ts > at) continue;
      const b = this.bucket(this.past, minuteOf(ts));
      b.orders++;
      b.tickets += e.tickets;
      b.revenue[e.currency] = (b.revenue[e.currency] ?? 0) + e.amount;
    }
    this.ordersSince = o.complete ? -Infinity : o.oldestTs === null ? minuteOf(at) : minuteOf(o.oldestTs) + 1;
    this.prune(at);
  }

  /**
   * Seeds the minutes up to the baseline from the store's per-minute history, fetched with `to` = the
   * baseline's server time (call after the first observe). It replaces the ticker's orders for those
   * minutes; views and orders are then known from its first minute on. Minutes after the baseline's are
   * ignored (the live differences count them). Returns whether anything was seeded.
   */
  seedHistory(points: HistoryMinute[], day?: HistoryDay | null): boolean {
    if (this.baseAt === null) return false;
    // Read the same UTC day as the totals last seen: rebase on it (above); else (a read across midnight) the
    // minutes up to the baseline only, as a plain history.
    const rebase = !!day && this.base !== null && dayOf(day.to) === dayOf(this.lastAt);
    const last = rebase ? minuteOf(day!.to) : minuteOf(this.baseAt);
    let first = Infinity;
    for (const p of points) {
      const t = Date.parse(p.ts);
      if (!Number.isFinite(t) || minuteOf(t) > last) continue;
      const m = minuteOf(t);
      first = Math.min(first, m);
      this.past.set(m, { views: p.views, orders: p.orders, tickets: p.tickets_sold, revenue: { ...p.revenue } });
    }
    if (first === Infinity) return false;
    if (rebase) {
      const latest = this.base!;
      this.live.clear();
      this.counted = { views: day!.views, orders: day!.orders, tickets: day!.tickets_sold, revenue: latest.revenue === null ? null : { ...day!.revenue } };
      this.count(minuteOf(this.lastAt), latest);
    }
    this.historySince = first;
    this.viewsSince = Math.min(this.viewsSince ?? first, first);
    this.ordersSince = Math.min(this.ordersSince ?? first, first);
    this.prune(this.lastAt);
    return true;
  }

  /**
   * Forgets every minute: the next observe is a new baseline (its totals may be from much later, e.g. a topic
   * given back after access was withdrawn) and returns true, so the owner reads the history again up to it.
   */
  restart(): void {
    this.past.clear();
    this.live.clear();
    this.base = null;
    this.counted = null;
    this.baseAt = null;
    this.historySince = null;
    this.viewsSince = null;
    this.ordersSince = null;
    this.restarted = true;
  }

  /**
   * New totals at server time `at` (a snapshot or an update); `revenue` null or missing when the topic carries
   * none. Returns true when the series started over from these totals (they went down within the same UTC day,
   * revenue came back after it was withheld, or after restart()): the minutes up to `baseAt` are then unknown
   * until seedHistory is given the store's history up to it again.
   */
  observe(at: number, f: Pick<Funnel, 'views' | 'orders' | 'tickets_sold'>, revenue?: Revenue | null): boolean {
    const now: Totals = { views: f.views, orders: f.orders, tickets: f.tickets_sold, revenue: revenue ? { ...revenue } : null };
    const m = minuteOf(at);
    const lastAt = this.lastAt;
    this.lastAt = Math.max(this.lastAt, at);
    if (this.base === null) {
      this.base = now;
      this.counted = { ...now, revenue: now.revenue ? { ...now.revenue } : null };
      this.baseAt = at;
      this.viewsSince = m;
      if (this.ordersSince === null) this.ordersSince = m;
      const again = this.restarted;
      this.restarted = false;
      return again;
    }
    const prev = this.base;
    this.base = now;
    const moneyDropped = prev.revenue !== null && now.revenue !== null && Object.keys(prev.revenue).some((c) => (now.revenue![c] ?? 0) < prev.revenue![c]);
    const dropped = now.views < prev.views || now.orders < prev.orders || now.tickets < prev.tickets || moneyDropped;
    if (dropped && dayOf(at) !== dayOf(lastAt)) {
      // A new day began: keep the past minutes, restart the baseline.
      this.resets++;
      this.counted = { ...now, revenue: now.revenue ? { ...now.revenue } : null };
      return false;
    }
    if (dropped || (prev.revenue === null && now.revenue !== null)) {
      // Rows were taken back (an erasure), or the money is given again after it was withheld: what this page
      // counted no longer adds up. Start over from these totals; the owner reads the history up to them.
      this.restart();
      this.observe(at, f, now.revenue);
      return true;
    }
    if (now.revenue === null && prev.revenue !== null) {
      // The money is withheld from now on: none of it stays in the minutes either.
      for (const map of [this.past, this.live]) for (const b of map.values()) b.revenue = {};
    }
    this.count(m, now);
    this.prune(at);
    return false;
  }

  /** Adds to minute `m` what `now` holds beyond what is counted (never less than nothing), and counts it. */
  private count(m: number, now: Totals): void {
    const c = this.counted!;
    const b = this.bucket(this.live, m);
    const add = (k: 'views' | 'orders' | 'tickets') => {
      if (now[k] > c[k]) {
        b[k] += now[k] - c[k];
        c[k] = now[k];
      }
    };
    add('views');
    add('orders');
    add('tickets');
    if (now.revenue === null) c.revenue = null;
    else if (c.revenue) {
      for (const [cur, v] of Object.entries(now.revenue)) {
        const d = money(v - (c.revenue[cur] ?? 0));
        if (d > 0) {
          b.revenue[cur] = money((b.revenue[cur] ?? 0) + d);
          c.revenue[cur] = v;
        }
      }
    } else c.revenue = { ...now.revenue };
  }

  private prune(at: number): void {
    const oldest = minuteOf(at) - this.windowMinutes + 1;
    for (const map of [this.past, this.live]) for (const k of map.keys()) if (k < oldest) map.delete(k);
  }

  /** A minute's counts: before the baseline plus after it (the baseline's minute has both). */
  private sum(m: number): Bucket | undefined {
    const p = this.past.get(m);
    const l = this.live.get(m);
    if (!p || !l) return p ?? l;
    const revenue: Revenue = { ...p.revenue };
    for (const [c, v] of Object.entries(l.revenue)) revenue[c] = money((revenue[c] ?? 0) + v);
    return { views: p.views + l.views, orders: p.orders + l.orders, tickets: p.tickets + l.tickets, revenue };
  }

  /** One point per minute of the window ending at `now`, oldest first. */
  points(now: number): MinutePoint[] {
    const last = minuteOf(now);
    const out: MinutePoint[] = [];
    for (let m = last - this.windowMinutes + 1; m <= last; m++) {
      const b = this.sum(m);
      const viewsKnown = this.viewsSince !== null && m >= this.viewsSince;
      const ordersKnown = this.ordersSince !== null && m >= this.ordersSince;
      out.push({
        t: m * MINUTE,
        views: viewsKnown ? (b?.views ?? 0) : null,
        orders: ordersKnown ? (b?.orders ?? 0) : null,
        tickets: ordersKnown ? (b?.tickets ?? 0) : null,
        revenue: ordersKnown ? { ...(b?.revenue ?? {}) } : null,
      });
    }
    return out;
  }
}

/** A round axis maximum ≥ v (1, 2, 2.5 or 5 × 10^n). */
/** The top of an axis of whole counts labelled at 0, ½ and 1: at least 2, or its middle 0.5 shows as "1" (1, 1, 0). */
export function countAxisMax(v: number): number {
  return Math.max(2, niceMax(v));
}

export function niceMax(v: number): number {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
