import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EventRow } from '../store/events.js';
import { toFact, utcDay, type Fact } from './facts.js';
import { E1, E2, funnelRows, MIN, NOW, row } from './rows.fixture.js';
import { activeCheckouts, CHECKOUT_WINDOW_MS, DASHBOARD_MAX_EVENTS, dashboardEvents, funnelMath, LiveState, zeroCounters } from './state.js';
import { visitorsCount } from './uniq.js';
import { Uniq } from './uniq.js';

const DAY = utcDay(NOW);

function build(rows: EventRow[], day = DAY): LiveState {
  const s = new LiveState(day);
  for (const r of rows) {
    const f = toFact(r, day);
    if (f) s.apply(f);
  }
  return s;
}

describe('funnel sequence: 2 events × 50 visitors', () => {
  const rows = [...funnelRows(E1), ...funnelRows(E2)];
  const s = build(rows);

  it('counts every step exactly, ignoring bots', () => {
    const d1 = s.eventData(1, 'E1', NOW) as any;
    expect(d1.organizer_id).toBe('O1');
    expect(d1.funnel).toEqual({
      views: 60, unique_visitors: 50, ticket_selections: 40, add_to_carts: 30, checkouts_started: 20,
      active_checkouts: 7, payment_attempts: 12, payment_failures: 2, orders: 10, tickets_sold: 20,
    });
    expect(d1.revenue).toEqual({ EUR: 1000 });
    expect(d1.conversion).toEqual({ view_to_cart: 0.5, cart_to_checkout: 0.6667, checkout_to_order: 0.5, view_to_order: 0.1667 });
    expect(d1.dropoff).toEqual({ view_to_cart: 0.5, cart_to_checkout: 0.3333, checkout_to_order: 0.5 });

    const d2 = s.eventData(1, 'E2', NOW) as any;
    expect(d2.funnel).toEqual({
      views: 48, unique_visitors: 48, ticket_selections: 35, add_to_carts: 24, checkouts_started: 16,
      active_checkouts: 8, payment_attempts: 9, payment_failures: 1, orders: 8, tickets_sold: 24,
    });
    // 8 orders × 3 × 33.3, summed exactly (no float drift).
    expect(d2.revenue).toEqual({ RON: 799.2 });
    expect(d2.conversion.view_to_cart).toBe(0.5);
  });

  it('lists at most DASHBOARD_MAX_EVENTS events on a dashboard, those with sales first; the totals still cover every event', () => {
    const many: EventRow[] = [];
    for (let i = 0; i < DASHBOARD_MAX_EVENTS + 50; i++) {
      many.push(row('event_view', NOW - MIN, { visitor_id: `v${i}`, entities: { event_entity_id: `SPAM${String(i).padStart(4, '0')}`, organizer_id: 'OBIG' } }));
      many.push(row('event_view', NOW - MIN, { visitor_id: `w${i}`, entities: { event_entity_id: `SPAM${String(i).padStart(4, '0')}`, organizer_id: 'OBIG' } }));
    }
    // One real event: a single view and a sale (backend), listed although 250 others have more views.
    many.push(row('event_view', NOW - MIN, { visitor_id: 'buyer', entities: { event_entity_id: 'ZREAL', organizer_id: 'OBIG' } }));
    many.push(row('order_completed', NOW - MIN, { source_system: 'backend', visitor_id: 'buyer', entities: { event_entity_id: 'ZREAL', organizer_id: 'OBIG', order_id: 'O1' }, payload: { gross_amount: 10, currency: 'EUR', items: [{ qty: 1 }] } }));
    const d = build(many).dashboardData(1, 'OBIG', NOW) as any;
    expect(d.events).toHaveLength(DASHBOARD_MAX_EVENTS);
    expect(d.events_total).toBe(DASHBOARD_MAX_EVENTS + 51);
    expect(d.events.map((e: any) => e.event_id)).toContain('ZREAL');
    expect(d.events.map((e: any) => e.event_id)).toEqual([...d.events.map((e: any) => e.event_id)].sort());
    expect(d.totals.funnel.views).toBe(2 * (DASHBOARD_MAX_EVENTS + 50) + 1);
    expect(dashboardEvents([{ event_id: 'b', counters: { orders: 0, tickets_sold: 0, views: 1 } }, { event_id: 'a', counters: { orders: 0, tickets_sold: 0, views: 1 } }], 1).map((e) => e.event_id)).toEqual(['a']);
  });

  it('active checkouts: 30-minute window and completion by the cart', () => {
    const s = build(rows); // evaluating at a later `now` prunes, so use a state of its own
    // E1: 20 checkouts, 10 completed, 3 of the other 10 started 40 min ago → 7 active now.
    expect((s.eventData(1, 'E1', NOW) as any).funnel.active_checkouts).toBe(7);
    // The others started at NOW-5min: still inside the 30 minutes at NOW+24min, expired at NOW+26min.
    expect((s.eventData(1, 'E1', NOW + 24 * MIN) as any).funnel.active_checkouts).toBe(7);
    expect((s.eventData(1, 'E1', NOW + 26 * MIN) as any).funnel.active_checkouts).toBe(0);
  });

  it('rolls the organizer dashboard up over its events, with a sales ticker', () => {
    const d = s.dashboardData(1, 'O1', NOW) as any;
    expect(d.events.map((e: any) => e.event_id)).toEqual(['E1', 'E2']);
    expect(d.totals.funnel).toEqual({
      views: 108, unique_visitors: 98, ticket_selections: 75, add_to_carts: 54, checkouts_started: 36,
      active_checkouts: 15, payment_attempts: 21, payment_failures: 3, orders: 18, tickets_sold: 44,
    });
    expect(d.totals.revenue).toEqual({ EUR: 1000, RON: 799.2 });
    expect(d.totals.conversion.checkout_to_order).toBe(0.5);
    expect(d.ticker).toHaveLength(18);
    expect(d.ticker[0]).toEqual({ ts: expect.any(String), event_id: expect.stringMatching(/^E[12]$/), tickets: expect.any(Number), amount: expect.any(Number), currency: expect.any(String) });
    const ts = d.ticker.map((t: any) => t.ts);
    expect([...ts].sort().reverse()).toEqual(ts);
  });

  it('gives the same numbers whatever order the rows arrive in', () => {
    fc.assert(
      fc.property(fc.shuffledSubarray(rows, { minLength: rows.length, maxLength: rows.length }), (shuffled) => {
        const t = build(shuffled);
        expect(t.eventData(1, 'E1', NOW)).toEqual(s.eventData(1, 'E1', NOW));
        expect(t.dashboardData(1, 'O1', NOW)).toEqual(s.dashboardData(1, 'O1', NOW));
      }),
      { numRuns: 25 },
    );
  });
});

describe('facts', () => {
  it('ignores bots, rows without an event entity and rows of another day', () => {
    expect(toFact(row('event_view', NOW, { is_bot: true, entities: { event_entity_id: 'E' } }), DAY)).toBeNull();
    expect(toFact(row('event_view', NOW, { entities: {} }), DAY)).toBeNull();
    expect(toFact(row('event_view', NOW - 86_400_000, { entities: { event_entity_id: 'E' } }), DAY)).toBeNull();
    expect(toFact(row('event_view', NOW, { entities: { event_entity_id: 7 } }), DAY)?.event).toBe('7');
  });

  it('an event entity without organizer still has its own state, and gets linked later', () => {
    const s = new LiveState(DAY);
    s.apply(toFact(row('event_view', NOW, { visitor_id: 'a', entities: { event_entity_id: 'E9' } }), DAY)!);
    expect((s.eventData(1, 'E9', NOW) as any).organizer_id).toBeNull();
    expect((s.eventData(1, 'E9', NOW) as any).funnel.views).toBe(1);
    s.apply(toFact(row('event_view', NOW, { visitor_id: 'b', entities: { event_entity_id: 'E9', organizer_id: 'O9' } }), DAY)!);
    const d = s.dashboardData(1, 'O9', NOW) as any;
    expect(d.totals.funnel.views).toBe(2);
    expect(d.totals.funnel.unique_visitors).toBe(2);
  });

  it('keeps tenants apart', () => {
    const s = new LiveState(DAY);
    s.apply(toFact(row('event_view', NOW, { tenant_id: 1, entities: { event_entity_id: 'E' } }), DAY)!);
    s.apply(toFact(row('event_view', NOW, { tenant_id: 2, entities: { event_entity_id: 'E' } }), DAY)!);
    s.apply(toFact(row('event_view', NOW, { tenant_id: 2, entities: { event_entity_id: 'E' } }), DAY)!);
    expect((s.eventData(1, 'E', NOW) as any).funnel.views).toBe(1);
    expect((s.eventData(2, 'E', NOW) as any).funnel.views).toBe(2);
  });

  it('does not create state for unknown topics', () => {
    const s = new LiveState(DAY);
    expect((s.eventData(1, 'nope', NOW) as any).funnel.views).toBe(0);
    expect(s.events.size).toBe(0);
  });
});

describe('active checkouts', () => {
  const f = (kind: Fact['kind'], at: number, o: Partial<Fact> = {}): Fact => ({
    id: String(Math.random()), tenant: 1, event: 'E', org: null, venue: null, kind, at, visitor: null, session: null, cart: null, order: null, ...o,
  });
  it('an order completes the checkout of its session even without a cart id; a later checkout is active again', () => {
    const s = new LiveState(DAY);
    s.apply(f('checkout', NOW - 10 * MIN, { session: 's1', cart: 'c1' }));
    s.apply(f('order', NOW - 5 * MIN, { session: 's1', amount: 1, currency: 'EUR', tickets: 1 }));
    expect((s.eventData(1, 'E', NOW) as any).funnel.active_checkouts).toBe(0);
    s.apply(f('checkout', NOW - 2 * MIN, { session: 's1', cart: 'c2' }));
    expect((s.eventData(1, 'E', NOW) as any).funnel.active_checkouts).toBe(1);
  });
  it('an order that arrives before its checkout (out of order) still completes it', () => {
    const s = new LiveState(DAY);
    s.apply(f('order', NOW - 5 * MIN, { cart: 'c1', amount: 1, currency: 'EUR', tickets: 1 }));
    s.apply(f('checkout', NOW - 10 * MIN, { cart: 'c1' }));
    expect((s.eventData(1, 'E', NOW) as any).funnel.active_checkouts).toBe(0);
  });
  it('prunes expired checkouts and completions', () => {
    const co = new Map([['c:a', { at: NOW - CHECKOUT_WINDOW_MS - 1, ids: ['c:a'] }], ['c:b', { at: NOW - 1000, ids: ['c:b'] }]]);
    const done = new Map([['c:x', NOW - CHECKOUT_WINDOW_MS - 5]]);
    expect(activeCheckouts(co, done, NOW)).toBe(1);
    expect([...co.keys()]).toEqual(['c:b']);
    expect(done.size).toBe(0);
  });
});

describe('funnel math', () => {
  it('is 0 (not NaN) on empty steps', () => {
    expect(funnelMath(zeroCounters())).toEqual({
      conversion: { view_to_cart: 0, cart_to_checkout: 0, checkout_to_order: 0, view_to_order: 0 },
      dropoff: { view_to_cart: 0, cart_to_checkout: 0, checkout_to_order: 0 },
    });
  });
});

describe('unique visitors (HyperLogLog)', () => {
  it('is within 2% for 100k visitors, and re-adding every visitor changes nothing', () => {
    const u = new Uniq();
    for (let i = 0; i < 100_000; i++) u.add(`visitor-${i}`);
    const n = u.count();
    expect(Math.abs(n - 100_000) / 100_000).toBeLessThanOrEqual(0.02);
    for (let i = 0; i < 100_000; i += 3) u.add(`visitor-${i}`);
    expect(u.count()).toBe(n);
  });
  it('is exact while small and merges as a union', () => {
    const a = new Uniq();
    const b = new Uniq();
    for (let i = 0; i < 200; i++) a.add(`v${i}`);
    for (let i = 100; i < 300; i++) b.add(`v${i}`);
    expect(a.count()).toBe(200);
    a.merge(b);
    expect(a.exact).toBe(false);
    expect(Math.abs(a.count() - 300)).toBeLessThanOrEqual(3);
    const big = new Uniq();
    for (let i = 0; i < 50_000; i++) big.add(`w${i}`);
    const c = new Uniq();
    c.add('w1');
    c.merge(big);
    expect(Math.abs(c.count() - 50_000) / 50_000).toBeLessThanOrEqual(0.02);
  });
  it('100k visitors through the state: repeat visits and bots do not inflate unique visitors', () => {
    const s = new LiveState(DAY);
    const view = (visitor: string, is_bot = false) => toFact(row('event_view', NOW, { visitor_id: visitor, is_bot, entities: { event_entity_id: 'E', organizer_id: 'O' } }), DAY);
    let fed = 0;
    // Every visitor comes twice (the second view counts as a view, not as a new visitor)...
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 100_000; i++) {
        s.apply(view(`vis-${i}`)!);
        fed++;
      }
    }
    // ...and 20k crawler hits with fresh ids are dropped before the state (bots never reach live numbers).
    for (let i = 0; i < 20_000; i++) {
      const f = view(`bot-${i}`, true);
      expect(f).toBeNull();
      if (f) s.apply(f);
    }
    expect(fed).toBe(200_000);
    const d = s.eventData(1, 'E', NOW) as any;
    expect(d.funnel.views).toBe(200_000);
    // HyperLogLog: within 2 % of the 100k real visitors (twice the visits or the bots would be far outside).
    expect(Math.abs(d.funnel.unique_visitors - 100_000) / 100_000).toBeLessThanOrEqual(0.02);
    expect(Math.abs((s.dashboardData(1, 'O', NOW) as any).totals.funnel.unique_visitors - 100_000) / 100_000).toBeLessThanOrEqual(0.02);
  });
});

describe('visitorsCount', () => {
  it('takes Redis\' count unless it is clearly below the node\'s own (a lost key), and the node\'s without Redis', () => {
    expect(visitorsCount(undefined, 40)).toBe(40);
    expect(visitorsCount(1003, 1000)).toBe(1003);
    expect(visitorsCount(980, 1000)).toBe(980);
    expect(visitorsCount(0, 301)).toBe(301);
    expect(visitorsCount(1, 301)).toBe(301);
    expect(visitorsCount(0, 0)).toBe(0);
  });
});

describe('live limits (LIVE_MAX_EVENTS per tenant, LIVE_MAX_GATE_LANES per event)', () => {
  const fact = (tenant: number, event: string, at: number, extra: Partial<Fact> = {}): Fact => ({
    id: `${tenant}-${event}-${at}-${extra.gate ?? ''}`, tenant, event, org: null, venue: null, kind: 'view', at, visitor: `v-${at}`, session: null, cart: null, order: null, ...extra,
  });
  const scan = (tenant: number, event: string, gate: string, at: number): Fact => fact(tenant, event, at, { kind: 'grant', gate });
  const limits = { maxEvents: 3, maxLanes: 2 };

  it('tracks at most maxEvents made-up events per tenant; the first ones keep counting, other tenants are not affected', () => {
    const refused: string[] = [];
    const s = new LiveState(DAY, { limits, onRefused: (what, _t, event) => refused.push(`${what}:${event}`) });
    for (let i = 0; i < 10; i++) s.apply(fact(1, `X${i}`, NOW - 10 * MIN + i, { org: `O${i}`, os: 'public', venue: `V${i}` }));
    s.apply(fact(1, 'X0', NOW - MIN));
    s.apply(fact(2, 'Y0', NOW - MIN));
    expect(s.eventCount(1)).toBe(3);
    expect(s.orgs.size).toBe(3);
    expect(s.getEvent(1, 'X9')).toBeUndefined();
    expect((s.eventData(1, 'X0', NOW) as any).funnel.views).toBe(2);
    expect((s.eventData(2, 'Y0', NOW) as any).funnel.views).toBe(1);
    expect(refused).toEqual(['event:X3', 'event:X4', 'event:X5', 'event:X6', 'event:X7', 'event:X8', 'event:X9']);
  });

  it('always tracks an event the catalog or a secret-key source owns, past the limit', () => {
    const s = new LiveState(DAY, { limits });
    for (let i = 0; i < 5; i++) s.apply(fact(1, `X${i}`, NOW - 10 * MIN + i));
    s.apply(fact(1, 'CAT', NOW - MIN, { org: 'O1', os: 'catalog' }));
    s.apply(fact(1, 'SALE', NOW - MIN, { org: 'O1', os: 'secret', kind: 'order', tickets: 2, amount: 10, currency: 'EUR' }));
    expect((s.eventData(1, 'CAT', NOW) as any).funnel.views).toBe(1);
    expect((s.eventData(1, 'SALE', NOW) as any).funnel.orders).toBe(1);
    expect(s.eventCount(1)).toBe(5);
  });

  it('the count follows events put in or taken out from outside (a tenant swapped in by an erasure, a reset)', () => {
    const s = new LiveState(DAY, { limits });
    for (let i = 0; i < 3; i++) s.apply(fact(1, `X${i}`, NOW - 10 * MIN + i));
    s.events.delete('1\u0000X0');
    s.apply(fact(1, 'NEW', NOW - MIN));
    expect(s.getEvent(1, 'NEW')).toBeDefined();
    s.reset(DAY);
    expect(s.eventCount(1)).toBe(0);
  });

  it('a recompute in occurred_at order tracks the same events as the live state that saw them arrive out of order, below the limit', () => {
    const facts = [2, 0, 1].map((i) => fact(1, `X${i}`, NOW - 10 * MIN + i));
    const live = new LiveState(DAY, { limits });
    facts.forEach((f) => live.apply(f));
    const again = new LiveState(DAY, { limits });
    [...facts].sort((a, b) => a.at - b.at).forEach((f) => again.apply(f));
    expect([...again.events.keys()].sort()).toEqual([...live.events.keys()].sort());
  });

  it('counts at most maxLanes gates of an event, so its capacity message stays small; the first gates keep counting', () => {
    const refused: string[] = [];
    const s = new LiveState(DAY, { limits, onRefused: (what) => refused.push(what) });
    for (let i = 0; i < 100; i++) s.apply(scan(1, 'GATEV1', `G${i}`, NOW - 10_000 + i));
    s.apply(scan(1, 'GATEV1', 'G0', NOW - 1000));
    const cap = s.capacityData(1, 'GATEV1', NOW) as any;
    expect(Object.keys(cap.gates)).toEqual(['G0', 'G1']);
    expect(cap.gates.G0.entries).toBe(2);
    expect(cap.entries).toBe(3);
    expect(refused.length).toBe(98);
  });

  it("takes in a catalog gate's lanes past the limit, up to twice it", () => {
    const s = new LiveState(DAY, { limits, knownGate: (_t, event, gate) => event === 'GATEV1' && gate.startsWith('North') });
    for (let i = 0; i < 10; i++) s.apply(scan(1, 'GATEV1', `G${i}`, NOW - 10_000 + i));
    s.apply(scan(1, 'GATEV1', 'North', NOW - 1000));
    s.apply(scan(1, 'GATEV1', 'North\u0000dev-2', NOW - 900));
    s.apply(scan(1, 'GATEV1', 'North\u0000dev-3', NOW - 800));
    const cap = s.capacityData(1, 'GATEV1', NOW) as any;
    expect(Object.keys(cap.gates)).toEqual(['G0', 'G1', 'North']);
    expect(cap.gates.North.entries).toBe(2);
  });
});
