// Hot live state in memory: per (tenant, event entity) funnel, revenue, unique visitors, active checkouts
// and gate capacity; per (tenant, organizer) the roll-up and a sales ticker. Pure: facts in, snapshots out,
// `now` passed in. Every rule here is independent of the order facts arrive in, so the state built live and
// the state recomputed from the store (in occurred_at order) are equal.
import { admitsLane, applyScan, applySnapshot, capacityView, prune, type CapacityState, type CapacityView } from './capacity.js';
import { fromMilli, scanKind, toMilli, type ClaimSource, type Fact } from './facts.js';
import { decideClaim } from './owners.js';
import { Uniq, visitorsCount } from './uniq.js';
import { admitsEvent, DEFAULT_LIVE_LIMITS, EventMap, type LiveLimits, type LiveStateOptions } from './limits.js';

export { refusalLog, type LiveLimits, type LiveStateOptions } from './limits.js';

export const CHECKOUT_WINDOW_MS = 30 * 60_000;
export const TICKER_SIZE = 20;

export const COUNTER_NAMES = [
  'views',
  'ticket_selections',
  'add_to_carts',
  'checkouts_started',
  'payment_attempts',
  'payment_failures',
  'orders',
  'tickets_sold',
] as const;
export type CounterName = (typeof COUNTER_NAMES)[number];
export type Counters = Record<CounterName, number>;

export const zeroCounters = (): Counters => Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as Counters;

const COUNTER_OF: Partial<Record<Fact['kind'], CounterName>> = {
  view: 'views',
  select: 'ticket_selections',
  cart: 'add_to_carts',
  checkout: 'checkouts_started',
  pay_attempt: 'payment_attempts',
  pay_fail: 'payment_failures',
  order: 'orders',
};

/**
 * Live sums cannot overflow (issue 8.4). Ingest bounds every number now, but rows stored before that may hold
 * 1e308: a delta that is not an exact integer adds nothing, and a total saturates at the largest exact integer
 * instead of turning into Infinity (`null` on the wire) or breaking Redis' HINCRBY.
 */
export function safeAdd(total: number, delta: number): number {
  if (!Number.isSafeInteger(delta)) return total;
  return Math.max(-Number.MAX_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, total + delta));
}

/** The counter increments a fact makes (used by the memory state and the Redis mirror alike). */
export function counterDeltas(f: Fact): Partial<Counters> {
  const name = COUNTER_OF[f.kind];
  if (!name) return {};
  const d: Partial<Counters> = { [name]: 1 };
  if (f.kind === 'order') d.tickets_sold = safeAdd(0, f.tickets ?? 0);
  return d;
}

/** Checkout identity: the cart, else the session, else the visitor. */
export const checkoutKey = (f: Fact): string => (f.cart ? `c:${f.cart}` : f.session ? `s:${f.session}` : f.visitor ? `v:${f.visitor}` : `e:${f.id}`);
/** Identifiers an order completes (and a checkout can be completed by). */
export const completionIds = (f: Fact): string[] =>
  [f.cart && `c:${f.cart}`, f.session && `s:${f.session}`, f.visitor && `v:${f.visitor}`].filter((x): x is string => !!x);

export interface Checkout {
  at: number;
  ids: string[];
}

export interface TickerEntry {
  ts: string;
  event_id: string;
  tickets: number;
  amount: number;
  currency: string;
  /** The catalog categories of the order's ticket types (catalog.ts orderCategory), when known. */
  category?: string;
  /** For ordering ties only: the order fact's id (a pseudonym of its event_id). */
  id: string;
}

export interface EventLive {
  tenant: number;
  event: string;
  org: string | null;
  /** Kind of source the owner's claim came from (owners.ts): a 'secret' owner never moves. */
  orgSource: ClaimSource | null;
  venue: string | null;
  counters: Counters;
  /** Gross revenue per currency, in thousandths. */
  revenue: Map<string, number>;
  uv: Uniq;
  checkouts: Map<string, Checkout>;
  /** Completion id → latest order time. */
  completed: Map<string, number>;
  capacity: CapacityState;
  /** This event's newest orders (the organizer's ticker merges them). */
  ticker: TickerEntry[];
  /** occurred_at of the newest fact applied, epoch ms (order-independent, survives a recompute). */
  updatedAt: number;
}

export interface OrgLive {
  tenant: number;
  org: string;
  events: Set<string>;
  uv: Uniq;
}

/** What a fact touched: the topics whose snapshot may have changed. */
export interface Touched {
  tenant: number;
  event: string;
  org: string | null;
  capacity: boolean;
  funnel: boolean;
  /** This fact linked the event to its organizer. */
  linked?: boolean;
  /** The organizer this fact moved the event away from (a secret claim replaced a public owner). */
  from?: string;
  /** Not tracked live: a new event past LIVE_MAX_EVENTS (limits.ts); nothing changed. */
  refused?: true;
}

export interface Funnel extends Counters {
  unique_visitors: number;
  active_checkouts: number;
}

export interface FunnelView {
  funnel: Funnel;
  revenue: Record<string, number>;
  conversion: { view_to_cart: number; cart_to_checkout: number; checkout_to_order: number; view_to_order: number };
  dropoff: { view_to_cart: number; cart_to_checkout: number; checkout_to_order: number };
}

/** Overrides unique-visitor counts (Redis mode reads them from Redis, SCARD or PFCOUNT, so nodes agree). */
export type UvSource = (kind: 'event' | 'org', tenant: number, id: string) => number | undefined;

const rate = (num: number, den: number): number => (den > 0 ? Math.round((num / den) * 10_000) / 10_000 : 0);
const drop = (num: number, den: number): number => (den > 0 ? Math.max(0, Math.round((1 - num / den) * 10_000) / 10_000) : 0);

/** Step conversion and drop-off from counts. Pure. */
export function funnelMath(c: Counters): Pick<FunnelView, 'conversion' | 'dropoff'> {
  return {
    conversion: {
      view_to_cart: rate(c.add_to_carts, c.views),
      cart_to_checkout: rate(c.checkouts_started, c.add_to_carts),
      checkout_to_order: rate(c.orders, c.checkouts_started),
      view_to_order: rate(c.orders, c.views),
    },
    dropoff: {
      view_to_cart: drop(c.add_to_carts, c.views),
      cart_to_checkout: drop(c.checkouts_started, c.add_to_carts),
      checkout_to_order: drop(c.orders, c.checkouts_started),
    },
  };
}

/** Sessions that started checkout in the last 30 min and have not completed an order since. */
export function activeCheckouts(checkouts: Map<string, Checkout>, completed: Map<string, number>, now: number): number {
  let n = 0;
  for (const [key, c] of checkouts) {
    if (c.at <= now - CHECKOUT_WINDOW_MS) {
      checkouts.delete(key);
      continue;
    }
    if (!c.ids.some((id) => (completed.get(id) ?? -Infinity) >= c.at)) n++;
  }
  for (const [id, at] of completed) if (at <= now - CHECKOUT_WINDOW_MS) completed.delete(id);
  return n;
}

const revenueView = (m: Map<string, number>): Record<string, number> =>
  Object.fromEntries([...m.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([cur, milli]) => [cur, fromMilli(milli)]));

export const eventKeyOf = (tenant: number, event: string) => `${tenant}\u0000${event}`;

export class LiveState {
  readonly events: Map<string, EventLive> = new EventMap<EventLive>();
  readonly orgs = new Map<string, OrgLive>();
  uvSource: UvSource | null = null;
  readonly limits: LiveLimits;

  constructor(
    public day: string,
    readonly options: LiveStateOptions = {},
  ) {
    this.limits = options.limits ?? DEFAULT_LIVE_LIMITS;
  }

  /** Events this state tracks today for the tenant. */
  eventCount(tenant: number): number {
    return (this.events as EventMap<EventLive>).countOf(tenant);
  }

  getEvent(tenant: number, event: string): EventLive | undefined {
    return this.events.get(eventKeyOf(tenant, event));
  }

  getOrg(tenant: number, org: string): OrgLive | undefined {
    return this.orgs.get(eventKeyOf(tenant, org));
  }

  ensureEvent(tenant: number, event: string): EventLive {
    const k = eventKeyOf(tenant, event);
    let e = this.events.get(k);
    if (!e) {
      e = blankEvent(tenant, event);
      this.events.set(k, e);
    }
    return e;
  }

  ensureOrg(tenant: number, org: string): OrgLive {
    const k = eventKeyOf(tenant, org);
    let o = this.orgs.get(k);
    if (!o) {
      o = { tenant, org, events: new Set(), uv: new Uniq() };
      this.orgs.set(k, o);
    }
    return o;
  }

  /**
   * Applies an ownership claim (the rule is owners.ts' decideClaim): the first organizer links the event; a
   * secret claim moves it away from a public owner, once; any other organizer is ignored. Linking merges what
   * the event saw into the organizer. The stored owner (owners.ts) is what committed facts carry, so every
   * node and every restart reach the same owner whatever order facts arrive in. Returns the event's
   * organizer now and, when it moved, the one it left.
   */
  linkOrg(e: EventLive, org: string, source: ClaimSource = 'public'): { o: OrgLive; from: string | null } {
    const d = decideClaim(e.org === null ? null : { org: e.org, source: e.orgSource ?? 'public' }, { org, source });
    const from = d.outcome === 'replaced' ? e.org : null;
    if (from !== null) this.unlinkOrg(e, from);
    e.orgSource = d.owner.source;
    if (e.org === null) {
      e.org = org;
      const o = this.ensureOrg(e.tenant, org);
      o.events.add(e.event);
      o.uv.merge(e.uv);
      return { o, from };
    }
    return { o: this.ensureOrg(e.tenant, e.org), from };
  }

  /** Takes an event out of an organizer; its visitors are recounted from the events it keeps (a union). */
  private unlinkOrg(e: EventLive, org: string): void {
    e.org = null;
    const o = this.getOrg(e.tenant, org);
    if (!o) return;
    o.events.delete(e.event);
    if (o.events.size === 0) {
      this.orgs.delete(eventKeyOf(e.tenant, org));
      return;
    }
    o.uv = new Uniq();
    for (const id of o.events) {
      const kept = this.getEvent(e.tenant, id);
      if (kept) o.uv.merge(kept.uv);
    }
  }

  apply(f: Fact): Touched {
    if (!this.events.has(eventKeyOf(f.tenant, f.event)) && !admitsEvent(this.eventCount(f.tenant), f, this.limits)) {
      this.options.onRefused?.('event', f.tenant, f.event);
      return { tenant: f.tenant, event: f.event, org: null, capacity: false, funnel: false, refused: true };
    }
    const e = this.ensureEvent(f.tenant, f.event);
    const before = e.org;
    const link = f.org !== null ? this.linkOrg(e, f.org, f.os ?? 'public') : null;
    const linked = e.org !== null && e.org !== before;
    const o = link?.o ?? (e.org !== null ? this.ensureOrg(e.tenant, e.org) : null);
    if (f.venue && !e.venue) e.venue = f.venue;
    e.updatedAt = Math.max(e.updatedAt, f.at);
    for (const [name, n] of Object.entries(counterDeltas(f)) as [CounterName, number][]) e.counters[name] = safeAdd(e.counters[name], n);
    if (f.visitor) {
      e.uv.add(f.visitor);
      o?.uv.add(f.visitor);
    }
    switch (f.kind) {
      case 'checkout': {
        const key = checkoutKey(f);
        const prev = e.checkouts.get(key);
        if (!prev || prev.at < f.at) e.checkouts.set(key, { at: f.at, ids: completionIds(f) });
        break;
      }
      case 'order': {
        for (const id of completionIds(f)) e.completed.set(id, Math.max(e.completed.get(id) ?? -Infinity, f.at));
        const cur = f.currency ?? 'XXX';
        e.revenue.set(cur, safeAdd(e.revenue.get(cur) ?? 0, toMilli(f.amount ?? 0)));
        addTicker(e.ticker, { ts: new Date(f.at).toISOString(), event_id: f.event, tickets: f.tickets ?? 0, amount: f.amount ?? 0, currency: cur, ...(f.cat ? { category: f.cat } : {}), id: f.id });
        break;
      }
      case 'grant':
      case 'deny':
      case 'snapshot': {
        const known = (gate: string) => this.options.knownGate?.(f.tenant, f.event, gate) ?? false;
        if (!admitsLane(e.capacity, f.gate!, this.limits.maxLanes, known)) this.options.onRefused?.('lane', f.tenant, f.event);
        else if (f.kind === 'snapshot') applySnapshot(e.capacity, f.gate!, f.at, f.snap!);
        else applyScan(e.capacity, f.gate!, f.at, scanKind(f));
        break;
      }
    }
    const capacity = f.kind === 'grant' || f.kind === 'deny' || f.kind === 'snapshot';
    const touched: Touched = { tenant: f.tenant, event: f.event, org: e.org, capacity, funnel: !capacity, linked };
    if (link?.from) touched.from = link.from;
    return touched;
  }

  /** apply(), then records on the fact what other nodes and the Redis mirror need: its organizer, and
   *  whether it is the fact that linked the event to that organizer. */
  applyShared(f: Fact): Touched {
    const touched = this.apply(f);
    if (touched.org !== null) {
      f.org = touched.org;
      f.os = this.getEvent(f.tenant, f.event)!.orgSource ?? 'public';
    }
    if (touched.linked) f.link = true;
    if (touched.from) f.from = touched.from;
    return touched;
  }

  funnelView(e: EventLive, now: number): FunnelView {
    const uv = visitorsCount(this.uvSource?.('event', e.tenant, e.event), e.uv.count());
    const funnel: Funnel = { ...e.counters, unique_visitors: uv, active_checkouts: activeCheckouts(e.checkouts, e.completed, now) };
    return { funnel: orderFunnel(funnel), revenue: revenueView(e.revenue), ...funnelMath(e.counters) };
  }

  capacityView(e: EventLive, now: number): CapacityView {
    prune(e.capacity, now);
    return capacityView(e.capacity, now);
  }

  /** `analytics:event:{event_id}` data, without updated_at (see Topics). */
  eventData(tenant: number, event: string, now: number): Record<string, unknown> {
    const e = this.getEvent(tenant, event) ?? blankEvent(tenant, event);
    return { event_id: event, organizer_id: e.org, venue_id: e.venue, ...this.funnelView(e, now), capacity: this.capacityView(e, now) };
  }

  capacityData(tenant: number, event: string, now: number): Record<string, unknown> {
    const e = this.getEvent(tenant, event) ?? blankEvent(tenant, event);
    return { event_id: event, venue_id: e.venue, ...this.capacityView(e, now) };
  }

  dashboardData(tenant: number, org: string, now: number): Record<string, unknown> {
    const o = this.getOrg(tenant, org);
    const all = [...(o?.events ?? [])].map((id) => ({ event_id: id, e: this.getEvent(tenant, id)! }));
    const total = zeroCounters();
    let active = 0;
    const revenue = new Map<string, number>();
    const ticker: TickerEntry[] = [];
    for (const { e } of all) {
      for (const n of COUNTER_NAMES) total[n] = safeAdd(total[n], e.counters[n]);
      active += activeCheckouts(e.checkouts, e.completed, now);
      for (const [cur, milli] of e.revenue) revenue.set(cur, safeAdd(revenue.get(cur) ?? 0, milli));
      for (const t of e.ticker) addTicker(ticker, t);
    }
    // Only the listed events get their view (unique visitors are a HyperLogLog count each).
    const events = dashboardEvents(all.map((x) => ({ event_id: x.event_id, counters: x.e.counters, e: x.e }))).map(({ event_id, e }) => ({ event_id, ...this.funnelView(e, now) }));
    const uv = o ? visitorsCount(this.uvSource?.('org', tenant, org), o.uv.count()) : 0;
    return {
      organizer_id: org,
      events,
      events_total: all.length,
      totals: { funnel: orderFunnel({ ...total, unique_visitors: uv, active_checkouts: active }), revenue: revenueView(revenue), ...funnelMath(total) },
      ticker: ticker.map(({ id: _id, ...t }) => t),
    };
  }

  latestUpdate(tenant: number, event: string): number {
    return this.getEvent(tenant, event)?.updatedAt ?? 0;
  }

  /** Takes over another state's contents (a reload from Redis built off to the side). */
  replaceWith(other: LiveState): void {
    this.day = other.day;
    this.events.clear();
    this.orgs.clear();
    for (const [k, v] of other.events) this.events.set(k, v);
    for (const [k, v] of other.orgs) this.orgs.set(k, v);
  }

  /**
   * The day rollover: a later day starts from zero; the same day or an earlier one changes nothing. Both the
   * clock (tick.ts) and the first fact of the next day (index.ts applyFacts, on the committing node and over the
   * bus) call it, in either order and more than once: a clock still reading 23:59:59 after a fact dated 00:00:00.5
   * started the new day must not take the state back. True when the day changed. YYYY-MM-DD sorts as text.
   */
  rollTo(day: string): boolean {
    if (day <= this.day) return false;
    this.reset(day);
    return true;
  }

  /** Starts `day` from zero, whatever the current day (a restore); live numbers cover one UTC day. */
  reset(day: string): void {
    this.day = day;
    this.events.clear();
    this.orgs.clear();
  }
}

/**
 * A dashboard message lists at most this many events; its totals cover all of them. Every update carries the
 * whole list, and an organizer's events can be claimed by anyone holding the public write key: 10,000 of them
 * made 4 MB messages, past what a connection may hold unread (LIVE_WS_MAX_BACKPRESSURE), so the page froze.
 */
export const DASHBOARD_MAX_EVENTS = 200;

type Ranked = { event_id: string; counters: { orders: number; tickets_sold: number; views: number } };
const byId = (a: Ranked, b: Ranked): number => (a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0);

/**
 * The events a dashboard lists, by id: all when few, else the ones with the most orders, then tickets, then
 * views (sales need the secret key; views do not, so events made up through the write key rank last). Pure.
 */
export function dashboardEvents<T extends Ranked>(rows: T[], max = DASHBOARD_MAX_EVENTS): T[] {
  if (rows.length <= max) return rows.slice().sort(byId);
  const c = (r: T) => r.counters;
  const rank = rows.slice().sort((a, b) => c(b).orders - c(a).orders || c(b).tickets_sold - c(a).tickets_sold || c(b).views - c(a).views || byId(a, b));
  return rank.slice(0, max).sort(byId);
}

/** Newest first; ties broken by id so order of arrival never matters. */
export const tickerOrder = (a: TickerEntry, b: TickerEntry): number => (a.ts === b.ts ? (a.id < b.id ? 1 : -1) : a.ts < b.ts ? 1 : -1);

/** Keeps the newest TICKER_SIZE orders, newest first; ties broken by id so order of arrival never matters. */
export function addTicker(list: TickerEntry[], t: TickerEntry): void {
  list.push(t);
  list.sort(tickerOrder);
  if (list.length > TICKER_SIZE) list.length = TICKER_SIZE;
}

export function blankEvent(tenant: number, event: string): EventLive {
  return {
    tenant, event, org: null, orgSource: null, venue: null, counters: zeroCounters(), revenue: new Map(), uv: new Uniq(),
    checkouts: new Map(), completed: new Map(), capacity: new Map(), ticker: [], updatedAt: 0,
  };
}

/** The spec's field order: easier to read in a websocket frame. */
function orderFunnel(f: Funnel): Funnel {
  return {
    views: f.views, unique_visitors: f.unique_visitors, ticket_selections: f.ticket_selections, add_to_carts: f.add_to_carts,
    checkouts_started: f.checkouts_started, active_checkouts: f.active_checkouts, payment_attempts: f.payment_attempts,
    payment_failures: f.payment_failures, orders: f.orders, tickets_sold: f.tickets_sold,
  };
}
