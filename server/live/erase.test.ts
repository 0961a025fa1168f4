// GDPR erasure of the hot state: raw ids never get in (pseudonyms from the start), a person's pseudonyms are
// all renamed away, and every live number stays as it was; over the bus, every node does the same.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.js';
import type { Db } from '../store/db.js';
import type { EventRow } from '../store/events.js';
import { createMemoryBus, MemoryNetwork } from './bus.js';
import { eraseFromState, expandFromState, targetsOf, type EraseRequest } from './erase.js';
import { toFact, utcDay } from './facts.js';
import { createLive } from './index.js';
import { createPseudonymizer, createRenamer } from './pseudo.js';
import { E1, E2, funnelRows, MIN, NOW, row } from './rows.fixture.js';
import { LiveState } from './state.js';

const DAY = utcDay(NOW);
const SECRET = 'erase-test-secret-0123456789abcdef0123456789';
const pseudo = createPseudonymizer(SECRET);

/** Every string anywhere inside a value (Map keys and values, Set members, arrays, object fields, private ones too). */
export function stringsIn(root: unknown): Set<string> {
  const out = new Set<string>();
  const seen = new WeakSet<object>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string') return void out.add(v);
    if (v === null || typeof v !== 'object') return;
    if (seen.has(v)) return;
    seen.add(v);
    if (v instanceof Map) for (const [k, x] of v) (walk(k), walk(x));
    else if (v instanceof Set || Array.isArray(v)) for (const x of v) walk(x);
    else if (!ArrayBuffer.isView(v)) for (const x of Object.values(v)) walk(x);
  };
  walk(root);
  return out;
}

const contains = (strings: Set<string>, needles: string[]) => needles.filter((n) => [...strings].some((s) => s.includes(n)));

/** Maria browses E1, checks out cart-maria, pays; her backend order names only the order and the cart. */
function mariaRows(at = NOW - 8 * MIN) {
  const v = { visitor_id: 'v-maria', session_id: 's-maria' };
  const ent = { event_entity_id: 'E1', organizer_id: 'O1' };
  const rows: EventRow[] = [
    row('event_view', at, { ...v, entities: ent }),
    row('event_view', at, { ...v, entities: { event_entity_id: 'E2', organizer_id: 'O1' } }),
    row('add_to_cart', at + 1000, { ...v, entities: { ...ent, cart_id: 'cart-maria' }, payload: { items: [], cart_value: 1, currency: 'EUR' } }),
    row('checkout_started', at + 2000, { ...v, entities: { ...ent, cart_id: 'cart-maria' }, payload: { cart_value: 1, currency: 'EUR' } }),
    row('order_completed', at + 3000, { source_system: 'backend', entities: { ...ent, order_id: 'order-maria', cart_id: 'cart-maria' }, payload: { gross_amount: 100, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 2 }] } }),
    // A second checkout of hers, still open: it must stay counted as active.
    row('checkout_started', at + 4000, { ...v, entities: { ...ent, cart_id: 'cart-maria-2' }, payload: { cart_value: 1, currency: 'EUR' } }),
  ];
  const ids: EraseRequest = {
    tenantId: 1,
    visitorIds: ['v-maria'],
    sessionIds: ['s-maria'],
    orderIds: ['order-maria'],
    eventIds: rows.map((r) => r.event_id),
  };
  return { rows, ids };
}

const RAW = ['v-maria', 's-maria', 'cart-maria', 'order-maria'];

function pseudonymsOf(ids: EraseRequest): string[] {
  return [
    ...ids.visitorIds.map((v) => pseudo(1, 'visitor', v)),
    ...ids.sessionIds.map((s) => pseudo(1, 'session', s)),
    pseudo(1, 'cart', 'cart-maria'),
    pseudo(1, 'cart', 'cart-maria-2'),
    ...ids.eventIds.map((e) => pseudo(1, 'event', e)),
  ];
}

function build(rows: EventRow[]): LiveState {
  const s = new LiveState(DAY);
  for (const r of rows) {
    const f = toFact(r, DAY, pseudo);
    if (f) s.applyShared(f);
  }
  return s;
}

const numbers = (s: LiveState) => ({ e1: s.eventData(1, 'E1', NOW), e2: s.eventData(1, 'E2', NOW), o1: s.dashboardData(1, 'O1', NOW) });

describe('pseudonymised facts', () => {
  it('carry no raw id; the same id gives the same pseudonym, per tenant and kind', () => {
    const r = row('checkout_started', NOW, { visitor_id: 'v-1', session_id: 's-1', entities: { event_entity_id: 'E', cart_id: 'c-1', order_id: 'o-1' } });
    const f = toFact(r, DAY, pseudo)!;
    expect(f.event).toBe('E');
    const raw = ['v-1', 's-1', 'c-1', 'o-1', r.event_id];
    expect(contains(stringsIn(f), raw)).toEqual([]);
    expect(f.visitor).toBe(pseudo(1, 'visitor', 'v-1'));
    expect(f.visitor).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(f.id).toBe(pseudo(1, 'event', r.event_id.toUpperCase()));
    expect(pseudo(2, 'visitor', 'v-1')).not.toBe(f.visitor);
    expect(pseudo(1, 'session', 'v-1')).not.toBe(f.visitor);
    expect(createPseudonymizer(SECRET + 'x')(1, 'visitor', 'v-1')).not.toBe(f.visitor);
  });
});

describe('erasing a person from the hot state', () => {
  it('renames every pseudonym of theirs away and leaves every number as it was', () => {
    const { rows, ids } = mariaRows();
    const s = build([...funnelRows(E1), ...funnelRows(E2), ...rows]);
    const before = numbers(s);
    expect((before.e1 as any).funnel.active_checkouts).toBeGreaterThan(0);
    const mine = pseudonymsOf(ids);
    // Raw ids never got in; her pseudonyms did.
    expect(contains(stringsIn(s), RAW)).toEqual([]);
    expect(contains(stringsIn(s), mine).length).toBeGreaterThan(0);
    // Someone else's pseudonym, for the "untouched" check.
    const other = pseudo(1, 'session', 'E1-s3');
    expect(contains(stringsIn(s), [other])).toEqual([other]);

    const t = targetsOf(ids, pseudo);
    expandFromState(s, t);
    // Both of her carts were found through her checkouts.
    expect(t.completion.has(`c:${pseudo(1, 'cart', 'cart-maria')}`)).toBe(true);
    expect(t.completion.has(`c:${pseudo(1, 'cart', 'cart-maria-2')}`)).toBe(true);
    const counts = eraseFromState(s, t, createRenamer().rename);
    // E1: two checkouts; completions c:cart-maria (E1), and the visitor in E1, E2 and O1's exact sets; one order.
    expect(counts).toEqual({ checkouts: 2, completion_ids: 1, visitor_entries: 3, ticker_entries: 1 });

    expect(contains(stringsIn(s), mine)).toEqual([]);
    expect(contains(stringsIn(s), [other])).toEqual([other]);
    expect(numbers(s)).toEqual(before);
    // Later on, the window logic still works on the renamed entries: her open checkout expires like any other.
    const later = NOW + 25 * MIN;
    expect((s.eventData(1, 'E1', later) as any).funnel.active_checkouts).toBeLessThan((before.e1 as any).funnel.active_checkouts);
  });

  it('finds a cart (and session) through the completions written by the same order when no checkout is held', () => {
    const s = new LiveState(DAY);
    const order = row('order_completed', NOW - MIN, { visitor_id: 'v-maria', session_id: 's-maria', entities: { event_entity_id: 'E1', order_id: 'order-maria', cart_id: 'cart-maria' }, payload: { gross_amount: 5, currency: 'EUR', items: [] } });
    const otherOrder = row('order_completed', NOW - 2 * MIN, { entities: { event_entity_id: 'E1', order_id: 'o-x', cart_id: 'cart-x' }, payload: { gross_amount: 5, currency: 'EUR', items: [] } });
    for (const r of [order, otherOrder]) s.apply(toFact(r, DAY, pseudo)!);
    const t = targetsOf({ tenantId: 1, visitorIds: ['v-maria'], sessionIds: [], orderIds: ['order-maria'], eventIds: [] }, pseudo);
    expandFromState(s, t);
    expect(t.completion.has(`c:${pseudo(1, 'cart', 'cart-maria')}`)).toBe(true);
    expect(t.completion.has(`c:${pseudo(1, 'cart', 'cart-x')}`)).toBe(false);
    const counts = eraseFromState(s, t, createRenamer().rename);
    expect(counts).toMatchObject({ completion_ids: 3, visitor_entries: 1 });
    expect(contains(stringsIn(s), [pseudo(1, 'cart', 'cart-maria'), pseudo(1, 'visitor', 'v-maria'), pseudo(1, 'session', 's-maria')])).toEqual([]);
    expect(contains(stringsIn(s), [pseudo(1, 'cart', 'cart-x')])).toHaveLength(1);
  });

  it('touches only the tenant of the person', () => {
    const s = new LiveState(DAY);
    for (const tenant of [1, 2]) s.apply(toFact(row('event_view', NOW, { tenant_id: tenant, visitor_id: 'v-maria', entities: { event_entity_id: 'E' } }), DAY, pseudo)!);
    const counts = eraseFromState(s, targetsOf({ tenantId: 1, visitorIds: ['v-maria'], sessionIds: [], orderIds: [], eventIds: [] }, pseudo), createRenamer().rename);
    expect(counts.visitor_entries).toBe(1);
    expect(contains(stringsIn(s.getEvent(2, 'E')), [pseudo(2, 'visitor', 'v-maria')])).toHaveLength(1);
  });
});

describe('Live.erase across nodes (memory bus)', () => {
  it('the node that erases tells the others, which rename alike: every node keeps the same numbers', async () => {
    const net = new MemoryNetwork();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'txl-erase-'));
    const config = loadConfig({ DATA_DIR: dir, LIVE_TOKEN_SECRET: SECRET, PORT: '0' });
    const log = pino({ level: 'silent' });
    const mk = () => createLive({ config, db: {} as Db, log, now: () => NOW, bus: createMemoryBus(net), mirror: null });
    const [a, b] = [await mk(), await mk()];
    try {
      const { rows, ids } = mariaRows();
      a.onCommitted([...funnelRows(E1), ...rows]);
      const settle = () => new Promise((r) => setTimeout(r, 20));
      await settle();
      const view = (l: typeof a) => numbers(l.core.state);
      const before = view(a);
      expect(view(b)).toEqual(before);
      const mine = pseudonymsOf(ids);
      for (const l of [a, b]) expect(contains(stringsIn(l.core.state), mine).length).toBeGreaterThan(0);

      const counts = await a.erase({ ...ids, personId: 7 } as EraseRequest);
      expect(counts).toMatchObject({ checkouts: 2, completion_ids: 1, ticker_entries: 1 });
      await settle();
      for (const l of [a, b]) {
        expect(contains(stringsIn(l.core.state), [...mine, ...RAW])).toEqual([]);
        expect(view(l)).toEqual(before);
      }
      // Both nodes renamed alike: their states still agree once more facts arrive.
      a.onCommitted([row('checkout_started', NOW - MIN, { visitor_id: 'v-new', entities: { event_entity_id: 'E1', cart_id: 'cart-new' } })]);
      await settle();
      expect(view(b)).toEqual(view(a));
      expect(await a.erase({ tenantId: 1, visitorIds: [], sessionIds: [], orderIds: [], eventIds: [] })).toEqual({});
    } finally {
      await a.close();
      await b.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
