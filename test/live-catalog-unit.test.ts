// The live layer's use of the catalog (issue 11.3), pure parts: the owner precedence (catalog > secret >
// public), a catalog change moving an event in the hot state, capacity from the venue and its gates, names
// added to topic data, and the category of an order.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { applyScan, applySnapshot, capacityView, type CapacityState, type CapacityView } from '../server/live/capacity.js';
import { capacityWithMeta, changeTargets, createLiveCatalog, metaFromRow, orderCategory, type EventMeta } from '../server/live/catalog.js';
import { withCatalog } from '../server/live/catalog-sync.js';
import type { Owner } from '../server/live/facts.js';
import { decideClaim, foldClaims, type Claim } from '../server/live/owners.js';
import { LiveState } from '../server/live/state.js';
import { createTopicBuilder } from '../server/live/topic-build.js';
import type { Queryable } from '../server/store/db.js';

const NOW = Date.parse('2026-06-01T20:00:00Z');
const pub = (org: string): Owner => ({ org, source: 'public' });
const sec = (org: string): Owner => ({ org, source: 'secret' });
const cat = (org: string): Owner => ({ org, source: 'catalog' });
const claim = (o: Owner): Claim => ({ tenant: 1, event: 'E', ...o, at: new Date(NOW).toISOString() });

const meta = (o: Partial<EventMeta> = {}): EventMeta => ({
  tenant: 1, id: 'E1', organizer_id: 'O1', organizer_name: 'Org One', title: 'Summer Fest', venue_id: 'V1', capacity: null,
  gates: [{ id: 'G1', name: 'North gate', capacity: 400 }, { id: 'G2', name: 'South gate', capacity: 600 }], starts_at: null, status: 'on_sale', ...o,
});

describe('owner precedence: catalog > secret > public', () => {
  it('a catalog owner is final against public and secret claims naming another organizer', () => {
    expect(decideClaim(cat('A'), pub('B'))).toEqual({ owner: cat('A'), outcome: 'ignored' });
    expect(decideClaim(cat('A'), sec('B'))).toEqual({ owner: cat('A'), outcome: 'ignored' });
    expect(decideClaim(cat('A'), sec('A'))).toEqual({ owner: cat('A'), outcome: 'kept' });
    expect(decideClaim(cat('A'), pub('A'))).toEqual({ owner: cat('A'), outcome: 'kept' });
  });

  it('a catalog claim takes a public or secret owner, and a catalog change of organizer moves the event', () => {
    expect(decideClaim(pub('A'), cat('B'))).toEqual({ owner: cat('B'), outcome: 'replaced' });
    expect(decideClaim(sec('A'), cat('B'))).toEqual({ owner: cat('B'), outcome: 'replaced' });
    expect(decideClaim(sec('A'), cat('A'))).toEqual({ owner: cat('A'), outcome: 'confirmed' });
    expect(decideClaim(cat('A'), cat('B'))).toEqual({ owner: cat('B'), outcome: 'replaced' });
    expect(decideClaim(cat('A'), cat('A'))).toEqual({ owner: cat('A'), outcome: 'kept' });
  });

  it('the public → secret rule is unchanged', () => {
    expect(decideClaim(pub('A'), sec('B'))).toEqual({ owner: sec('B'), outcome: 'replaced' });
    expect(decideClaim(sec('A'), pub('B'))).toEqual({ owner: sec('A'), outcome: 'ignored' });
  });

  it('claims folded over a catalog owner change nothing in the store and are all conflicts', () => {
    const f = foldClaims(cat('A'), [claim(pub('B')), claim(sec('C')), claim(pub('A'))]);
    expect(f.owner).toEqual(cat('A'));
    expect(f.changed).toBe(false);
    expect(f.conflicts.map((c) => [c.org, c.source, c.owner])).toEqual([['B', 'public', 'A'], ['C', 'secret', 'A']]);
  });
});

describe('the hot state under catalog ownership', () => {
  it('a catalog owner moves the event from a public owner; later public and secret claims do not move it back', () => {
    const s = new LiveState('2026-06-01');
    const e = s.ensureEvent(1, 'E1');
    s.linkOrg(e, 'X', 'public');
    expect(s.getOrg(1, 'X')?.events.has('E1')).toBe(true);
    expect(s.linkOrg(e, 'O1', 'catalog').from).toBe('X');
    expect(s.getOrg(1, 'X')).toBeUndefined();
    expect(s.getOrg(1, 'O1')?.events.has('E1')).toBe(true);
    s.linkOrg(e, 'Y', 'secret');
    s.linkOrg(e, 'Z', 'public');
    expect([e.org, e.orgSource]).toEqual(['O1', 'catalog']);
    expect(s.linkOrg(e, 'O2', 'catalog').from).toBe('O1');
    expect(e.org).toBe('O2');
  });
});

describe('capacity from the catalog', () => {
  it('fills the venue and gate capacities when scanners send none; percent = inside / capacity', () => {
    const s: CapacityState = new Map();
    for (let i = 0; i < 100; i++) applyScan(s, 'G1', NOW - 120_000 + i, 'g');
    for (let i = 0; i < 50; i++) applyScan(s, 'G2', NOW - 120_000 + i, 'g');
    const plain = capacityView(s, NOW);
    expect([plain.capacity, plain.percent]).toEqual([null, null]);
    const v = capacityWithMeta(plain, meta());
    expect([v.capacity, v.percent]).toEqual([1000, 15]);
    expect(v.gates.G1).toMatchObject({ inside: 100, capacity: 400, percent: 25, name: 'North gate' });
    expect(v.gates.G2).toMatchObject({ inside: 50, capacity: 600, percent: 8.3, name: 'South gate' });
    // The event's own capacity comes before the sum of the gates.
    expect(capacityWithMeta(plain, meta({ capacity: 3000 })).percent).toBe(5);
  });

  it("keeps the scanner's figures when it sends them", () => {
    const s: CapacityState = new Map();
    applySnapshot(s, 'G1', NOW - 1000, { inside: 50, entries: 50, denied: 0, rate_per_minute: null, capacity: 100, venue_capacity: 200 });
    const v = capacityWithMeta(capacityView(s, NOW), meta());
    expect([v.capacity, v.percent, v.gates.G1.capacity, v.gates.G1.percent]).toEqual([200, 25, 100, 50]);
  });
  it("one gate's capacity stated by its scanner, the other's from the catalog: the event's is the sum of the gates shown, on every topic and the venue's", () => {
    // The probe's case: venue VG has G1 (100) and G2 (50); G1's scanner states 200 with 190 inside.
    const gates = [{ id: 'G1', name: null, capacity: 100 }, { id: 'G2', name: null, capacity: 50 }];
    const row = { tenant_id: '1', id: 'EG', organizer_id: 'O1', organizer_name: null, title: null, venue_id: 'VG', capacity: null, gates, starts_at: null, status: null };
    const q = { query: async () => ({ rows: [row] }) } as unknown as Queryable;
    const c = createLiveCatalog({ log: pino({ level: 'silent' }) });
    const st = new LiveState('2026-06-01');
    const e = st.ensureEvent(1, 'EG');
    applySnapshot(e.capacity, 'G1', NOW - 5000, { inside: 190, entries: 195, denied: null, rate_per_minute: null, capacity: 200, venue_capacity: null });
    applyScan(e.capacity, 'G2', NOW - 1000, 'g');
    applyScan(e.capacity, 'G2', NOW - 900, 'g');
    applyScan(e.capacity, 'G2', NOW - 800, 'x');
    return c.restore(q, '2026-06-01', []).then(() => {
      const b = createTopicBuilder({ state: st, catalog: c });
      const cap = b.build(1, { kind: 'capacity', event: 'EG' }, NOW).data as unknown as CapacityView;
      expect(cap.gates.G1).toMatchObject({ inside: 190, capacity: 200, percent: 95 });
      expect(cap.gates.G2).toMatchObject({ inside: 1, capacity: 50, percent: 2 });
      expect([cap.inside, cap.capacity, cap.percent]).toEqual([191, 250, 76.4]);
      const ev = b.build(1, { kind: 'event', event: 'EG' }, NOW).data as { capacity: CapacityView };
      expect([ev.capacity.capacity, ev.capacity.percent]).toEqual([250, 76.4]);
      const venue = b.build(1, { kind: 'venue', venue: 'VG' }, NOW).data as { capacity: number; percent: number; events: { capacity: number }[] };
      expect([venue.capacity, venue.percent, venue.events[0].capacity]).toEqual([250, 76.4, 250]);
      // With the event's own capacity in the catalog too, the scanner-stated gate still comes first (as when every gate is stated).
      expect(capacityWithMeta(capacityView(e.capacity, NOW), metaFromRow({ ...row, capacity: 1000 })).capacity).toBe(250);
    });
  });

  it('shows a catalog gate no scanner has reported yet, empty, and counts its capacity in the event\'s', () => {
    // Doors just opened: G2's scanner states 200; G1 (100) and G3 (30) have not scanned anyone yet.
    const s: CapacityState = new Map();
    applySnapshot(s, 'G2', NOW - 1000, { inside: 50, entries: 50, denied: 0, rate_per_minute: null, capacity: 200, venue_capacity: null });
    const gates = [{ id: 'G1', name: 'North', capacity: 100 }, { id: 'G2', name: 'South', capacity: 150 }, { id: 'G3', name: 'Side', capacity: 30 }];
    const v = capacityWithMeta(capacityView(s, NOW), meta({ gates }));
    expect([v.capacity, v.percent]).toEqual([330, 15.2]);
    expect(Object.keys(v.gates)).toEqual(['G1', 'G2', 'G3']);
    expect(v.gates.G1).toEqual({ inside: 0, entries: 0, denied: 0, rate_per_minute: 0, capacity: 100, percent: 0, updated_at: null, name: 'North' });
    expect(v.gates.G3).toMatchObject({ inside: 0, capacity: 30, name: 'Side' });
    // An unseen gate of unknown capacity makes the sum unknown: the event's own capacity, else none.
    const open = [...gates, { id: 'G4', name: null, capacity: null }];
    expect(capacityWithMeta(capacityView(s, NOW), meta({ gates: open })).capacity).toBeNull();
    expect(capacityWithMeta(capacityView(s, NOW), meta({ gates: open, capacity: 1000 })).capacity).toBe(1000);
  });

  it('a catalog gate no scanner reported counts on every topic: capacity, event, venue (the topic builder\'s copies)', () => {
    const gates = [{ id: 'G1', name: 'North', capacity: 100 }, { id: 'G2', name: 'South', capacity: 150 }, { id: 'G3', name: 'Side', capacity: 30 }];
    const row = { tenant_id: '1', id: 'EU', organizer_id: 'O1', organizer_name: null, title: null, venue_id: 'VU', capacity: null, gates, starts_at: null, status: null };
    const q = { query: async () => ({ rows: [row] }) } as unknown as Queryable;
    const c = createLiveCatalog({ log: pino({ level: 'silent' }) });
    const st = new LiveState('2026-06-01');
    applySnapshot(st.ensureEvent(1, 'EU').capacity, 'G2', NOW - 1000, { inside: 50, entries: 50, denied: 0, rate_per_minute: null, capacity: 200, venue_capacity: null });
    return c.restore(q, '2026-06-01', []).then(() => {
      const b = createTopicBuilder({ state: st, catalog: c });
      const cap = b.build(1, { kind: 'capacity', event: 'EU' }, NOW).data as unknown as CapacityView;
      expect([cap.capacity, cap.percent, Object.keys(cap.gates)]).toEqual([330, 15.2, ['G1', 'G2', 'G3']]);
      const ev = b.build(1, { kind: 'event', event: 'EU' }, NOW).data as { capacity: CapacityView };
      expect([ev.capacity.capacity, ev.capacity.percent]).toEqual([330, 15.2]);
      const venue = b.build(1, { kind: 'venue', venue: 'VU' }, NOW).data as { capacity: number; events: { capacity: number }[] };
      expect([venue.capacity, venue.events[0].capacity]).toEqual([330, 330]);
    });
  });

  it('names and fills gates whose ids are Object property names (__proto__, toString, constructor)', () => {
    const s: CapacityState = new Map();
    for (let i = 0; i < 2; i++) {
      applyScan(s, '__proto__', NOW - 10_000 + i, 'g');
      applyScan(s, 'toString', NOW - 9_000 + i, 'g');
      applyScan(s, 'constructor', NOW - 8_000 + i, 'g');
    }
    const gates = [{ id: '__proto__', name: 'Proto gate', capacity: 10 }, { id: 'toString', name: 'String gate', capacity: 20 }];
    const v = capacityWithMeta(capacityView(s, NOW), meta({ id: 'EP2', venue_id: 'VP', gates }));
    expect(v.inside).toBe(6);
    const wire = JSON.parse(JSON.stringify(v)) as typeof v;
    expect(Object.keys(wire.gates)).toEqual(['__proto__', 'constructor', 'toString']);
    expect(Object.getOwnPropertyDescriptor(wire.gates, '__proto__')?.value).toMatchObject({ inside: 2, capacity: 10, percent: 20, name: 'Proto gate' });
    expect(wire.gates.toString).toMatchObject({ inside: 2, capacity: 20, percent: 10, name: 'String gate' });
    expect(wire.gates.constructor).toMatchObject({ inside: 2, capacity: null, name: null });
    expect(Object.getPrototypeOf(v.gates)).toBeNull();
  });
});

describe('names in topic data', () => {
  const catalogWith = async (rows: Record<string, unknown>[]) => {
    const c = createLiveCatalog({ log: pino({ level: 'silent' }) });
    const q = { query: async () => ({ rows }) } as unknown as Queryable;
    await c.restore(q, '2026-06-01', []);
    return c;
  };
  const row = { tenant_id: '1', id: 'E1', organizer_id: 'O1', organizer_name: 'Org One', title: 'Summer Fest', venue_id: 'V1', capacity: 1000, gates: [{ id: 'G1', name: 'North gate', capacity: 400 }, 'junk', { name: 'no id' }], starts_at: new Date(NOW), status: 'on_sale' };

  it('metaFromRow keeps well-formed gates only and normalises numbers', () => {
    const m = metaFromRow({ ...row, capacity: -5 });
    expect(m.capacity).toBeNull();
    expect(m.gates).toEqual([{ id: 'G1', name: 'North gate', capacity: 400 }]);
    expect(m.starts_at).toBe(new Date(NOW).toISOString());
  });

  it('an event snapshot gains event_title and organizer_name and shows the catalog organizer before any traffic', async () => {
    const c = await catalogWith([row]);
    const s = new LiveState('2026-06-01');
    const data = withCatalog(c, 1, { kind: 'event', event: 'E1' }, s.eventData(1, 'E1', NOW));
    expect(data).toMatchObject({ event_id: 'E1', organizer_id: 'O1', event_title: 'Summer Fest', organizer_name: 'Org One', venue_id: 'V1' });
    expect(withCatalog(c, 1, { kind: 'event', event: 'other' }, s.eventData(1, 'other', NOW))).toMatchObject({ event_title: null, organizer_name: null, organizer_id: null });
  });

  it('a dashboard gains organizer_name, each event its event_title, each ticker entry its category and event_title', async () => {
    const c = await catalogWith([row]);
    const s = new LiveState('2026-06-01');
    s.applyShared({ id: 'x', tenant: 1, event: 'E1', org: 'O1', os: 'catalog', venue: null, kind: 'order', at: NOW, visitor: null, session: null, cart: null, order: null, tickets: 2, amount: 90, currency: 'EUR', cat: 'VIP' });
    const d = withCatalog(c, 1, { kind: 'dashboard', org: 'O1' }, s.dashboardData(1, 'O1', NOW)) as Record<string, any>;
    expect(d.organizer_name).toBe('Org One');
    expect(d.events[0]).toMatchObject({ event_id: 'E1', event_title: 'Summer Fest' });
    expect(d.ticker[0]).toMatchObject({ event_id: 'E1', tickets: 2, category: 'VIP', event_title: 'Summer Fest' });
  });
});

describe('order category', () => {
  const cats = new Map([['1\u0000T1', 'VIP'], ['1\u0000T2', 'GA'], ['1\u000017', 'EarlyBird']]);
  it('is the distinct sorted categories of the items found in the catalog', () => {
    expect(orderCategory(1, { items: [{ ticket_type_id: 'T1' }, { ticket_type_id: 'T2' }, { ticket_type_id: 'T1' }] }, cats)).toBe('GA, VIP');
    expect(orderCategory(1, { items: [{ ticket_type_id: 17 }] }, cats)).toBe('EarlyBird');
    expect(orderCategory(2, { items: [{ ticket_type_id: 'T1' }] }, cats)).toBeNull();
    expect(orderCategory(1, { items: 'nope' }, cats)).toBeNull();
    expect(orderCategory(1, { items: [null, 5, { ticket_type_id: { x: 1 } }] }, cats)).toBeNull();
  });
});

describe('catalog change targets', () => {
  it('events, organizers and venues change what the live layer shows; other kinds do not', () => {
    expect(changeTargets({ tenantId: 1, kind: 'events', ids: ['E1'] })).toEqual({ events: ['E1'], organizers: [], venues: [] });
    expect(changeTargets({ tenantId: 1, kind: 'venues', ids: ['V1'] })).toEqual({ events: [], organizers: [], venues: ['V1'] });
    expect(changeTargets({ tenantId: 1, kind: 'ticket_types', ids: ['T1'] })).toBeNull();
  });
});
