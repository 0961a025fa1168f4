// Demo traffic against a running server: visitors browsing two events of one organizer (page views, event
// views, ticket selections, carts, checkouts, payment attempts and failures), the tenant backend's orders
// (several ticket types and currencies), and gate scanners (two gates per event, through the scanner
// tracker of client/scanner) with capacity snapshots. Used by `npm run demo` (scripts/demo.ts) and by
// the dashboard tests, in process.
import crypto from 'node:crypto';
import { MemoryStorage, TxScannerTracker } from '../../client/scanner/index.js';
import { prng } from '../../server/campaigns/rng.js';
import { DEMO_EVENTS, DEMO_ORG, PAYMENT_METHODS, SITE, SOURCES, USER_AGENTS, type DemoEvent, type Gate, type TicketType } from './catalog.js';

export interface DemoOptions {
  /** Server base URL. */
  url: string;
  /** Tenant write key (browser and scanner events). */
  writeKey: string;
  /** Tenant secret key: orders and payments go through /api/v1/server-events like a real backend. Without
   *  it they are not sent at all (the public write key may not post them), and the dashboards show no revenue. */
  secretKey?: string | null;
  orgId?: string;
  events?: DemoEvent[];
  /** New visitors per second (default 2). */
  visitorsPerSecond?: number;
  /** Time compression of every pause (2 = twice as fast). Default 1. */
  speed?: number;
  /** Stop after this long (ms); default: run until stop(). */
  durationMs?: number | null;
  /** Run the gate scanners (default true). */
  gates?: boolean;
  /** PRNG seed (default: random). */
  seed?: number;
  /** Progress lines. */
  log?: (line: string) => void;
  fetch?: typeof fetch;
  /** First wait before a failed batch is sent again (doubling, 5 attempts in all); default 500 ms. */
  retryBaseMs?: number;
}

export interface DemoStats {
  visitors: number;
  events: number;
  rejected: number;
  failedRequests: number;
  /** Events dropped unsent: the server did not take their batch (5 failed attempts, or a 4xx answer). */
  dropped: number;
  /** Orders among them: in none of orders, tickets, revenue and perEvent. */
  droppedOrders: number;
  /** Orders, tickets and revenue the server accepted (an order counts once its batch is acknowledged). */
  orders: number;
  tickets: number;
  revenue: Record<string, number>;
  scans: number;
  granted: number;
  denied: number;
  /** Orders, tickets and revenue per event id (what the live layer should show for today, from this run). */
  perEvent: Record<string, { orders: number; tickets: number; revenue: Record<string, number> }>;
}

export interface DemoHandle {
  readonly stats: DemoStats;
  /** Resolves when the demo stopped (durationMs elapsed or stop()) and everything it generated was sent. */
  readonly done: Promise<DemoStats>;
  stop(): Promise<DemoStats>;
}

// A seeded PRNG (mulberry32), so a seed replays the same traffic.
export { prng };

const CONSENT_WEB = { analytics: true, marketing: false, data_processing: true };
const CONSENT_SERVER = { analytics: false, marketing: false, data_processing: true };
const round2 = (n: number) => Math.round(n * 100) / 100;

/** What becomes of a pushed event: the server accepted it, or it was dropped unsent. */
export interface Delivery {
  sent(): void;
  dropped(): void;
}

/**
 * POSTs events in batches: one request per endpoint every `everyMs`, up to 100 events each. A batch the server
 * does not take after 5 attempts is dropped, so what the demo reports as sent is only what the server acknowledged.
 */
class Sender {
  private web: Record<string, unknown>[] = [];
  private server: Record<string, unknown>[] = [];
  private timer: ReturnType<typeof setInterval>;
  private inflight = new Set<Promise<void>>();
  private deliveries = new WeakMap<Record<string, unknown>, Delivery>();

  constructor(
    private o: { url: string; writeKey: string; secretKey: string | null; fetch: typeof fetch; stats: DemoStats; log: (l: string) => void; retryBaseMs: number },
    everyMs = 250,
  ) {
    this.timer = setInterval(() => this.flush(), everyMs);
  }

  /** `delivery` hears whether the server took the event (without a secret key server events are never sent: neither). */
  push(e: Record<string, unknown>, delivery?: Delivery): void {
    (e.source_system === 'web' ? this.web : this.server).push(e);
    if (delivery) this.deliveries.set(e, delivery);
  }

  flush(): void {
    while (this.web.length) this.post(`${this.o.url}/api/tx/events/batch`, { 'x-tx-key': this.o.writeKey }, this.web.splice(0, 100));
    if (!this.o.secretKey) {
      this.server.length = 0;
      return;
    }
    const auth = { authorization: `Bearer ${this.o.secretKey}` };
    while (this.server.length) this.post(`${this.o.url}/api/v1/server-events`, auth, this.server.splice(0, 100));
  }

  private post(url: string, headers: Record<string, string>, events: Record<string, unknown>[]): void {
    const p = (async () => {
      for (let attempt = 1; attempt <= 5; attempt++) {
        try {
          const r = await this.o.fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ events }) });
          if (r.status === 200) {
            const body = (await r.json()) as { accepted: number; rejected: { event_id?: string | null; errors: { code: string; field?: string }[] }[] };
            this.o.stats.events += body.accepted;
            this.o.stats.rejected += body.rejected.length;
            for (const rej of body.rejected.slice(0, 3)) this.o.log(`rejected: ${JSON.stringify(rej.errors)}`);
            // A rejected event was answered, not dropped: it is neither sent nor counted as dropped.
            const refused = new Set(body.rejected.map((rej) => rej.event_id));
            for (const e of events) if (!refused.has(e.event_id as string)) this.deliveries.get(e)?.sent();
            return;
          }
          if (r.status < 500 && r.status !== 429) {
            this.o.stats.failedRequests++;
            this.o.log(`${url} answered ${r.status}: ${(await r.text()).slice(0, 300)}`);
            return this.drop(events);
          }
        } catch (err) {
          if (attempt === 5) this.o.log(`${url}: ${(err as Error).message}`);
        }
        if (attempt < 5) await new Promise((r) => setTimeout(r, this.o.retryBaseMs * 2 ** (attempt - 1)));
      }
      this.o.stats.failedRequests++;
      this.drop(events);
    })();
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  private drop(events: Record<string, unknown>[]): void {
    this.o.stats.dropped += events.length;
    for (const e of events) this.deliveries.get(e)?.dropped();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.flush();
    while (this.inflight.size) await Promise.all([...this.inflight]);
  }
}

export function startDemo(options: DemoOptions): DemoHandle {
  const random = prng(options.seed ?? crypto.randomInt(2 ** 31));
  const speed = options.speed ?? 1;
  const org = options.orgId ?? DEMO_ORG;
  const events = options.events ?? DEMO_EVENTS;
  const log = options.log ?? (() => undefined);
  const doFetch = options.fetch ?? fetch;
  const base = options.url.replace(/\/+$/, '');
  const stats: DemoStats = { visitors: 0, events: 0, rejected: 0, failedRequests: 0, dropped: 0, droppedOrders: 0, orders: 0, tickets: 0, revenue: {}, scans: 0, granted: 0, denied: 0, perEvent: {} };
  for (const e of events) stats.perEvent[e.id] = { orders: 0, tickets: 0, revenue: {} };
  const sender = new Sender({ url: base, writeKey: options.writeKey, secretKey: options.secretKey ?? null, fetch: doFetch, stats, log, retryBaseMs: options.retryBaseMs ?? 500 });

  let stopped = false;
  const wakers = new Set<() => void>();
  /** A pause of `sec` demo seconds (jittered ±40 %), cut short by stop(). Resolves false once stopped. */
  const pause = (sec: number, hurry = 1): Promise<boolean> => {
    if (stopped) return Promise.resolve(false);
    const ms = Math.max(10, (sec * 1000 * (0.6 + 0.8 * random())) / speed / hurry);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(t);
        wakers.delete(wake);
        resolve(!stopped);
      };
      const t = setTimeout(wake, ms);
      wakers.add(wake);
    });
  };
  const chance = (p: number) => random() < p;
  const pick = <T extends { weight: number }>(list: T[]): T => {
    let r = random() * list.reduce((s, x) => s + x.weight, 0);
    for (const x of list) if ((r -= x.weight) <= 0) return x;
    return list[list.length - 1];
  };
  const pickEvent = (): DemoEvent => pick(events.map((e) => ({ ...e, weight: e.popularity })));
  const id = () => crypto.randomUUID();
  const now = () => new Date().toISOString();

  // ------------------------------------------------------------------------------------------------------
  // Visitors
  // ------------------------------------------------------------------------------------------------------

  const journeys = new Set<Promise<void>>();

  /** One visitor's session. `hurry` > 1: a decided buyer (the first burst), so orders show up within seconds. */
  async function visitor(hurry = 1): Promise<void> {
    stats.visitors++;
    const wait = (sec: number) => pause(sec, hurry);
    const ev = pickEvent();
    const agent = pick(USER_AGENTS);
    const source = pick(SOURCES);
    const visitorId = `demo-v-${id().slice(0, 12)}`;
    const sessionId = `demo-s-${id().slice(0, 12)}`;
    let seq = 0;
    let prev: string | null = null;
    const entities = { event_entity_id: ev.id, organizer_id: org, venue_id: ev.venueId };
    const web = (name: string, page: { path: string; title: string; page_type: string }, payload: Record<string, unknown>, extra: Record<string, unknown> | null = {}) => {
      const eventId = id();
      sender.push({
        event_id: eventId,
        event_name: name,
        occurred_at: now(),
        source_system: 'web',
        site_id: 'main',
        visitor_id: visitorId,
        session_id: sessionId,
        sequence_no: seq++,
        prev_event_id: prev,
        consent_snapshot: CONSENT_WEB,
        context: {
          page: { url: SITE + page.path, ...page },
          referrer: source.referrer,
          ...(source.utm ? { utm: source.utm } : {}),
          device: agent.device,
          user_agent: agent.ua,
        },
        // Pages that are not about the event (the home page) carry no event entity.
        entities: extra === null ? {} : { ...entities, ...extra },
        payload,
      });
      prev = eventId;
    };
    const server = (name: string, payload: Record<string, unknown>, ent: Record<string, unknown>, delivery?: Delivery) =>
      sender.push({
        event_id: id(),
        event_name: name,
        occurred_at: now(),
        source_system: name.startsWith('payment') ? 'payments' : 'backend',
        visitor_id: visitorId,
        session_id: sessionId,
        consent_snapshot: CONSENT_SERVER,
        entities: { ...entities, ...ent },
        payload,
      }, delivery);

    const eventPage = { path: `/events/${ev.slug}`, title: ev.name, page_type: 'event' };
    if (chance(0.5)) {
      const home = { path: '/', title: 'Tixello Demo — what’s on', page_type: 'home' };
      web('page_view', home, { page_type: 'home' }, null);
      if (!(await wait(2))) return;
      web('event_card_click', home, { source: 'feed', position: Math.floor(random() * 8), list_name: 'home' });
      if (!(await wait(1))) return;
    }
    web('page_view', eventPage, { page_type: 'event' });
    const priceFrom = Math.min(...ev.tickets.map((t) => t.price));
    web('event_view', eventPage, { price_from: priceFrom, currency: ev.currency, source: source.utm?.source ?? 'direct' });
    if (chance(0.2) && (await wait(2))) web('event_view', eventPage, { price_from: priceFrom, currency: ev.currency, source: 'internal' }); // came back to it
    if (!(hurry > 1 || chance(0.55)) || !(await wait(4))) return;

    const ticket: TicketType = pick(ev.tickets);
    const qty = pick([
      { q: 1, weight: 3 },
      { q: 2, weight: 5 },
      { q: 3, weight: 1 },
      { q: 4, weight: 1.5 },
    ]).q;
    web('ticket_type_selected', eventPage, { ticket_type_id: ticket.id, ticket_type_name: ticket.name, qty, price: ticket.price, currency: ev.currency });
    if (!(hurry > 1 || chance(0.65)) || !(await wait(3))) return;

    const alt = chance(ev.altCurrency.share);
    const currency = alt ? ev.altCurrency.code : ev.currency;
    const price = alt ? round2(ticket.price * ev.altCurrency.rate) : ticket.price;
    const items = [{ ticket_type_id: ticket.id, ticket_type_name: ticket.name, qty, price }];
    if (chance(0.15)) {
      const extra = pick(ev.tickets.filter((t) => t.id !== ticket.id));
      items.push({ ticket_type_id: extra.id, ticket_type_name: extra.name, qty: 1, price: alt ? round2(extra.price * ev.altCurrency.rate) : extra.price });
    }
    const cartValue = round2(items.reduce((s, it) => s + it.qty * it.price, 0));
    const cartId = `demo-cart-${id().slice(0, 10)}`;
    const cartPage = { path: '/cart', title: 'Your cart', page_type: 'cart' };
    web('add_to_cart', eventPage, { items, cart_value: cartValue, currency }, { cart_id: cartId });
    if (!(await wait(3))) return;
    web('cart_view', cartPage, { items, cart_value: cartValue, currency }, { cart_id: cartId });
    if (!(hurry > 1 || chance(0.6)) || !(await wait(3))) return;

    const checkoutPage = { path: '/checkout', title: 'Checkout', page_type: 'checkout' };
    web('checkout_started', checkoutPage, { cart_value: cartValue, currency, login_state: chance(0.4) ? 'authenticated' : 'guest', items }, { cart_id: cartId });
    web('checkout_step_viewed', checkoutPage, { step_name: 'details', step_index: 0 }, { cart_id: cartId });
    // Checkouts take a while: they show as active checkouts meanwhile.
    if (!(await wait(8))) return;
    web('checkout_step_completed', checkoutPage, { step_name: 'details', step_index: 0, step_duration_ms: Math.round(8000 + random() * 30_000) }, { cart_id: cartId });
    if (!(hurry > 1 || chance(0.8)) || !(await wait(4))) return;

    const method = pick(PAYMENT_METHODS).method;
    const orderId = `demo-ord-${id().slice(0, 10)}`;
    web('payment_method_selected', checkoutPage, { method, provider: 'stripe' }, { cart_id: cartId });
    for (let attempt = 1; attempt <= 2; attempt++) {
      web('payment_attempted', checkoutPage, { amount: cartValue, currency, method, provider: 'stripe' }, { cart_id: cartId, order_id: orderId });
      if (!(await wait(2))) return;
      if (chance(attempt === 1 ? 0.12 : 0.3)) {
        server('payment_failed', { provider: 'stripe', amount: cartValue, currency, method, failure_code: pick([{ c: 'card_declined', weight: 3 }, { c: 'insufficient_funds', weight: 1 }, { c: 'expired_card', weight: 1 }]).c }, { order_id: orderId, cart_id: cartId });
        if (attempt === 1 && chance(0.6) && (await wait(4))) continue;
        return;
      }
      server('payment_succeeded', { provider: 'stripe', provider_tx_id: `pi_${id().replace(/-/g, '').slice(0, 20)}`, amount: cartValue, currency, method }, { order_id: orderId, cart_id: cartId });
      const tickets = items.reduce((s, it) => s + it.qty, 0);
      server(
        'order_completed',
        {
          gross_amount: cartValue,
          net_amount: round2(cartValue * 0.93),
          fees_amount: round2(cartValue * 0.07),
          currency,
          items,
          channel: 'web',
          consent_data_processing: true,
          consent_marketing: chance(0.4),
          customer: { external_id: `demo-cust-${visitorId.slice(7)}` },
        },
        { order_id: orderId, cart_id: cartId },
        // Counted once the server took it: a batch dropped while the server was down must not show as sold.
        {
          sent: () => {
            stats.orders++;
            stats.tickets += tickets;
            stats.revenue[currency] = round2((stats.revenue[currency] ?? 0) + cartValue);
            const pe = stats.perEvent[ev.id];
            pe.orders++;
            pe.tickets += tickets;
            pe.revenue[currency] = round2((pe.revenue[currency] ?? 0) + cartValue);
          },
          dropped: () => {
            stats.droppedOrders++;
          },
        },
      );
      if (await wait(2)) web('page_view', { path: `/orders/${orderId}`, title: 'Thank you', page_type: 'checkout' }, { page_type: 'checkout' });
      return;
    }
  }

  const spawner = (async () => {
    const perSec = options.visitorsPerSecond ?? 2;
    // A first burst, so the dashboard moves at once.
    for (let i = 0; i < Math.ceil(perSec * 3); i++) spawn(i % 2 === 0 ? 4 : 1);
    while (await pause(1 / perSec)) spawn();
  })();

  function spawn(hurry = 1) {
    const j = visitor(hurry).catch((err: Error) => log(`visitor: ${err.message}`));
    journeys.add(j);
    void j.finally(() => journeys.delete(j));
  }

  // ------------------------------------------------------------------------------------------------------
  // Gates
  // ------------------------------------------------------------------------------------------------------

  const scanners: TxScannerTracker[] = [];
  async function gate(ev: DemoEvent, g: Gate): Promise<void> {
    const tracker = await TxScannerTracker.open({
      endpoint: base,
      writeKey: options.writeKey,
      storage: new MemoryStorage(),
      storageKey: `demo_${ev.id}_${g.id}`,
      deviceId: `scanner-${ev.id}-${g.id}`,
      appVersion: 'demo',
      flushIntervalMs: 1000,
      onError: (e) => log(`scanner ${g.id}: ${e.kind} ${e.message}`),
      fetch: doFetch,
    });
    scanners.push(tracker);
    await tracker.startSession({ eventEntityId: ev.id, gateId: g.id, venueId: ev.venueId, organizerId: org, staffId: `staff-${g.id}`, capacity: g.capacity, venueCapacity: ev.venueCapacity });
    let inside = Math.round(g.capacity * g.startFill);
    let entries = inside;
    let exits = 0;
    let denied = Math.round(inside * 0.02);
    const recent: number[] = [];
    const snapshot = () => {
      const t = Date.now();
      while (recent.length && t - recent[0] > 60_000) recent.shift();
      return tracker.trackCapacitySnapshot({ currentInside: inside, totalEntries: entries, totalExits: exits, totalDenied: denied, ratePerMinute: recent.length, capacity: g.capacity, venueCapacity: ev.venueCapacity });
    };
    await snapshot();
    let lastSnap = Date.now();
    while (await pause(g.scanEverySec)) {
      const fill = inside / g.capacity;
      // People leave now and then (more when it is fuller than the gate's usual level).
      if (fill > g.targetFill && chance(0.5)) {
        inside = Math.max(0, inside - 1 - Math.floor(random() * 3));
        exits++;
      }
      const ticketId = `demo-tkt-${id().slice(0, 12)}`;
      const ticketTypeId = pick(ev.tickets).id;
      stats.scans++;
      if (inside >= g.capacity) {
        await tracker.recordScan({ ticketId, ticketTypeId, result: 'valid', denyReason: 'capacity_full', latencyMs: 60 + Math.round(random() * 80) });
        denied++;
        stats.denied++;
      } else if (chance(0.04)) {
        const result = pick([{ r: 'already_used' as const, weight: 3 }, { r: 'invalid' as const, weight: 1 }, { r: 'wrong_day' as const, weight: 0.5 }]).r;
        await tracker.recordScan({ ticketId, ticketTypeId, result, latencyMs: 60 + Math.round(random() * 80) });
        denied++;
        stats.denied++;
      } else {
        await tracker.recordScan({ ticketId, ticketTypeId, result: 'valid', latencyMs: 50 + Math.round(random() * 60) });
        inside++;
        entries++;
        recent.push(Date.now());
        stats.granted++;
      }
      if (Date.now() - lastSnap >= 10_000 / speed) {
        lastSnap = Date.now();
        await snapshot();
      }
    }
    await snapshot();
  }

  const gateRuns = options.gates === false ? [] : events.flatMap((ev) => ev.gates.map((g) => gate(ev, g).catch((err: Error) => log(`gate ${g.id}: ${err.message}`))));

  let durationTimer: ReturnType<typeof setTimeout> | null = null;
  let resolveDone!: (s: DemoStats) => void;
  const done = new Promise<DemoStats>((r) => (resolveDone = r));
  let stopping: Promise<DemoStats> | null = null;

  const stop = (): Promise<DemoStats> =>
    (stopping ??= (async () => {
      stopped = true;
      if (durationTimer) clearTimeout(durationTimer);
      for (const w of [...wakers]) w();
      await spawner;
      await Promise.all([...journeys]);
      await Promise.all(gateRuns);
      for (const s of scanners) {
        await s.endSession().catch(() => undefined);
        await s.flush().catch(() => undefined);
        await s.close();
      }
      await sender.close();
      if (stats.dropped) log(droppedLine(stats));
      resolveDone(stats);
      return stats;
    })());

  if (options.durationMs != null) durationTimer = setTimeout(() => void stop(), options.durationMs);

  return { stats, done, stop };
}

/** What the sender dropped, in words, logged when the demo stops (its totals count only what the server accepted). Pure. */
export function droppedLine(s: Pick<DemoStats, 'dropped' | 'droppedOrders'>): string {
  const orders = s.droppedOrders ? `, ${s.droppedOrders} order${s.droppedOrders === 1 ? '' : 's'} among them` : '';
  return `${s.dropped} event${s.dropped === 1 ? '' : 's'} dropped unsent (their batches failed 5 times or were refused)${orders}; orders, tickets and revenue count only what the server accepted.`;
}

// ----------------------------------------------------------------------------------------------------------
// Tokens and URLs
// ----------------------------------------------------------------------------------------------------------

export interface DemoTokens {
  organizer: string;
  gate: string;
  expiresAt: string;
}

/** Mints an organizer token and a gate token (POST /api/v1/tokens with the secret key). */
export async function mintDemoTokens(url: string, secretKey: string, orgId: string, eventIds: string[], ttlS = 12 * 3600, doFetch: typeof fetch = fetch): Promise<DemoTokens> {
  const mint = async (body: Record<string, unknown>) => {
    const r = await doFetch(`${url.replace(/\/+$/, '')}/api/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secretKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, ttl_s: ttlS }),
    });
    const text = await r.text();
    if (r.status !== 201) throw new Error(`POST /api/v1/tokens answered ${r.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as { token: string; expires_at: string };
  };
  const organizer = await mint({ role: 'organizer', org_id: orgId });
  const gate = await mint({ role: 'gate', event_ids: eventIds });
  return { organizer: organizer.token, gate: gate.token, expiresAt: organizer.expires_at };
}

export function dashboardUrls(url: string, tokens: DemoTokens): { organizer: string; gate: string } {
  const base = url.replace(/\/+$/, '');
  return { organizer: `${base}/dashboard?token=${encodeURIComponent(tokens.organizer)}`, gate: `${base}/dashboard?token=${encodeURIComponent(tokens.gate)}` };
}
