// The rolling last-60-minutes series of the dashboard chart, built in the browser. The live API has no
// per-minute history: a snapshot carries today's totals, updates carry new totals, so the series is the
// per-minute difference of successive totals, counted from the moment the page subscribed. Orders can
// go further back: the snapshot's sales ticker lists the newest orders with their times, so minutes it
// covers completely are seeded from it. Minutes the page cannot know are null (drawn as "no data"), never 0.
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

interface Totals {
  views: number;
  orders: number;
  tickets: number;
  revenue: Revenue;
}

const minuteOf = (ms: number) => Math.floor(ms / MINUTE);

export class MinuteSeries {
  private buckets = new Map<number, Bucket>();
  private base: Totals | null = null;
  /** First minute whose views are known (the minute of the first snapshot). */
  viewsSince: number | null = null;
  /** First minute whose orders are known. */
  ordersSince: number | null = null;
  /** Counter resets seen (a new UTC day, a server that lost its state). */
  resets = 0;

  constructor(readonly windowMinutes = 60) {}

  private bucket(minute: number): Bucket {
    let b = this.buckets.get(minute);
    if (!b) {
      b = { views: 0, orders: 0, tickets: 0, revenue: {} };
      this.buckets.set(minute, b);
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
      const b = this.bucket(minuteOf(ts));
      b.orders++;
      b.tickets += e.tickets;
      b.revenue[e.currency] = (b.revenue[e.currency] ?? 0) + e.amount;
    }
    this.ordersSince = o.complete ? -Infinity : o.oldestTs === null ? minuteOf(at) : minuteOf(o.oldestTs) + 1;
    this.prune(at);
  }

  /** New totals at server time `at` (a snapshot or an update). */
  observe(at: number, f: Pick<Funnel, 'views' | 'orders' | 'tickets_sold'>, revenue: Revenue): void {
    const now: Totals = { views: f.views, orders: f.orders, tickets: f.tickets_sold, revenue: { ...revenue } };
    const m = minuteOf(at);
    if (this.base === null) {
      this.base = now;
      this.viewsSince = m;
      if (this.ordersSince === null) this.ordersSince = m;
      return;
    }
    const prev = this.base;
    this.base = now;
    const dropped = now.views < prev.views || now.orders < prev.orders || now.tickets < prev.tickets || Object.keys(prev.revenue).some((c) => (now.revenue[c] ?? 0) < prev.revenue[c]);
    if (dropped) {
      // Totals went down: a new day began (or the server started over). Keep the past minutes, restart the baseline.
      this.resets++;
      return;
    }
    const b = this.bucket(m);
    b.views += now.views - prev.views;
    b.orders += now.orders - prev.orders;
    b.tickets += now.tickets - prev.tickets;
    for (const [cur, v] of Object.entries(now.revenue)) {
      const d = Math.round((v - (prev.revenue[cur] ?? 0)) * 1000) / 1000;
      if (d !== 0) b.revenue[cur] = Math.round(((b.revenue[cur] ?? 0) + d) * 1000) / 1000;
    }
    this.prune(at);
  }

  private prune(at: number): void {
    const oldest = minuteOf(at) - this.windowMinutes + 1;
    for (const k of this.buckets.keys()) if (k < oldest) this.buckets.delete(k);
  }

  /** One point per minute of the window ending at `now`, oldest first. */
  points(now: number): MinutePoint[] {
    const last = minuteOf(now);
    const out: MinutePoint[] = [];
    for (let m = last - this.windowMinutes + 1; m <= last; m++) {
      const b = this.buckets.get(m);
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
export function niceMax(v: number): number {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
