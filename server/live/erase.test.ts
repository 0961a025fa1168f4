// GDPR erasure of the hot state (policy: delete): raw ids never get in (pseudonyms from the start); after the
// store deleted a person's rows, the tenant's live state is recomputed from the store, so their pseudonyms
// and their contribution to every number (unique-visitor sketches included) are gone; over the bus, every
// node does the same; facts committed meanwhile are counted once.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../config/index.js';
import type { Db } from '../store/db.js';
import type { EventRow } from '../store/events.js';
import { createMemoryBus, MemoryNetwork } from './bus.js';
import { rebuildTenant, touchesLive, type EraseRequest } from './erase.js';
import type { Fact } from './facts.js';
import { toFact, utcDay } from './facts.js';
import type { Mirror } from './core.js';
import { createLive } from './index.js';
import { createPseudonymizer } from './pseudo.js';
import { recomputeDay } from './recompute.js';
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

/** A store for recomputeDay: the rows it holds, answered the way the recompute's keyset query pages them. */
function fakeStore(rows: EventRow[]) {
  const held = rows.map((r, i) => ({ r, id: i + 1 }));
  const db = {
    kind: 'embedded',
    async query(_sql: string, params: unknown[] = []) {
      const [from, to, afterTs, afterId] = params as [string, string, string, string];
      const after = afterTs === '-infinity' ? -Infinity : Date.parse(afterTs);
      const out = held
        .filter(({ r }) => r.occurred_at >= from && r.occurred_at < to && !r.is_bot)
        .filter(({ r, id }) => Date.parse(r.occurred_at) > after || (Date.parse(r.occurred_at) === after && id > Number(afterId)))
        .sort((a, b) => a.r.occurred_at.localeCompare(b.r.occurred_at) || a.id - b.id)
        .map(({ r, id }) => ({ ...r, id: String(id), tenant_id: String(r.tenant_id), owner: null, owner_source: null }));
      return { rows: out };
    },
  };
  return {
    db: db as unknown as Db,
    /** The store deletes rows (an erasure). */
    remove: (gone: (r: EventRow) => boolean) => held.splice(0, held.length, ...held.filter(({ r }) => !gone(r))),
    add: (r: EventRow) => held.push({ r, id: held.length + 1000 }),
  };
}

const notMaria = (r: EventRow) => r.visitor_id === 'v-maria' || r.session_id === 's-maria' || r.entities?.order_id === 'order-maria';

describe('rebuilding a tenant from the store after an erasure', () => {
  it('drops the person\'s contribution and pseudonyms; numbers equal a fresh build of what the store kept', async () => {
    const { rows, ids } = mariaRows();
    const base = [...funnelRows(E1), ...funnelRows(E2)];
    const other = row('event_view', NOW - MIN, { tenant_id: 2, visitor_id: 'v-maria', entities: { event_entity_id: 'E1', organizer_id: 'O1' } });
    const store = fakeStore([...base, ...rows, other]);
    const s = build([...base, ...rows, other]);
    const withHer = numbers(s);
    const mine = pseudonymsOf(ids);
    expect(contains(stringsIn(s), mine).length).toBeGreaterThan(0);

    store.remove(notMaria);
    const counts = await rebuildTenant({ state: s, tenant: 1, recompute: (day, on) => recomputeDay(store.db, day, pseudo, on), capture: () => () => [] });
    expect(counts).toMatchObject({ live_events_rebuilt: 2, live_facts: base.filter((r) => toFact(r, DAY, pseudo)).length });
    // Exactly what a state built from the rows the store kept shows: her views, carts, order and visitor are gone.
    expect(numbers(s)).toEqual(numbers(build(base)));
    expect((numbers(s).e1 as any).funnel.orders).toBe((withHer.e1 as any).funnel.orders - 1);
    expect((numbers(s).e1 as any).funnel.unique_visitors).toBe((withHer.e1 as any).funnel.unique_visitors - 1);
    expect(contains(stringsIn(s), [...mine, ...RAW])).toEqual([]);
    // Tenant 2 (same raw visitor id, another tenant) is untouched.
    expect(contains(stringsIn(s.getEvent(2, 'E1')), [pseudo(2, 'visitor', 'v-maria')])).toHaveLength(1);
  });

  it('a fact committed while the store is read is counted once, whether the read saw it or not', async () => {
    const { rows } = mariaRows();
    const base = funnelRows(E1);
    const store = fakeStore([...base, ...rows]);
    const s = build([...base, ...rows]);
    store.remove(notMaria);
    const seen = row('event_view', NOW - MIN, { visitor_id: 'v-late-1', entities: { event_entity_id: 'E1', organizer_id: 'O1' } });
    const unseen = row('add_to_cart', NOW - MIN, { visitor_id: 'v-late-2', entities: { event_entity_id: 'E1', organizer_id: 'O1', cart_id: 'c-late' }, payload: { items: [], cart_value: 1, currency: 'EUR' } });
    const captured: Fact[] = [];
    let capturing = false;
    // Commits land in the middle of the read: `seen` before the store is queried (the read returns it),
    // `unseen` after; both reach the hot state (and the capture) as the writer's onCommitted would.
    const commit = (r: EventRow) => {
      const f = toFact(r, DAY, pseudo)!;
      s.applyShared(f);
      if (capturing) captured.push(f);
    };
    await rebuildTenant({
      state: s,
      tenant: 1,
      recompute: async (day, on) => {
        store.add(seen);
        commit(seen);
        await recomputeDay(store.db, day, pseudo, on);
        store.add(unseen);
        commit(unseen);
      },
      capture: () => {
        capturing = true;
        return () => {
          capturing = false;
          return captured;
        };
      },
    });
    expect(numbers(s)).toEqual(numbers(build([...base, seen, unseen])));
  });
});

describe('which erasures reach the live layer', () => {
  it('those that deleted rows of today or yesterday (Redis keys may outlive midnight), or of unknown days', () => {
    const ids = { tenantId: 1, visitorIds: [], sessionIds: [], orderIds: [], eventIds: [] };
    expect(touchesLive({ ...ids, eventDays: ['2025-06-01'] }, '2025-06-01')).toBe(true);
    expect(touchesLive({ ...ids, eventDays: ['2025-03-01', '2025-05-31'] }, '2025-06-01')).toBe(true);
    expect(touchesLive({ ...ids, eventDays: ['2025-03-01'] }, '2025-06-01')).toBe(false);
    expect(touchesLive({ ...ids, eventDays: [] }, '2025-06-01')).toBe(false);
    expect(touchesLive(ids, '2025-06-01')).toBe(true);
  });
});

describe('Live.erase while Redis is down', () => {
  it('rebuilds the hot state at once and resets the tenant\'s Redis keys once Redis is back', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'txl-erase-'));
    const config = loadConfig({ DATA_DIR: dir, LIVE_TOKEN_SECRET: SECRET, PORT: '0' });
    const { rows, ids } = mariaRows();
    const e1 = funnelRows(E1);
    const store = fakeStore([...e1, ...rows]);
    let health: 'up' | 'down' = 'down';
    const resets: number[] = [];
    const mirror = {
      write: (_f: Fact[], done: () => void) => done(),
      flush: async () => undefined,
      prefetch: async () => undefined,
      uvSource: () => undefined,
      health: () => health,
      resetTenant: async (tenant: number, _day: string, finalize: () => Fact[]) => {
        if (health === 'down') throw new Error('Connection is closed.');
        finalize();
        resets.push(tenant);
        return { redis_keys_replaced: 1 };
      },
      close: async () => undefined,
    };
    const live = await createLive({ config, db: store.db, log: pino({ level: 'silent' }), now: () => NOW, bus: null, mirror: mirror as unknown as Mirror });
    try {
      live.onCommitted([...e1, ...rows]);
      store.remove(notMaria);
      expect(await live.erase({ ...ids })).toEqual({ redis_reset_deferred: 1 });
      expect(numbers(live.core.state)).toEqual(numbers(build(e1)));
      expect(resets).toEqual([]);
      health = 'up';
      await vi.waitFor(() => expect(resets).toEqual([1]), { timeout: 10_000, interval: 50 });
      expect(numbers(live.core.state)).toEqual(numbers(build(e1)));
    } finally {
      await live.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Live.erase across nodes (memory bus)', () => {
  it('the node that erases tells the others, which rebuild from the store alike: every node shows what the store kept', async () => {
    const net = new MemoryNetwork();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'txl-erase-'));
    const config = loadConfig({ DATA_DIR: dir, LIVE_TOKEN_SECRET: SECRET, PORT: '0' });
    const log = pino({ level: 'silent' });
    const { rows, ids } = mariaRows();
    const e1 = funnelRows(E1);
    const store = fakeStore([...e1, ...rows]);
    const mk = () => createLive({ config, db: store.db, log, now: () => NOW, bus: createMemoryBus(net), mirror: null });
    const [a, b] = [await mk(), await mk()];
    try {
      a.onCommitted([...e1, ...rows]);
      const settle = () => new Promise((r) => setTimeout(r, 20));
      await settle();
      const view = (l: typeof a) => numbers(l.core.state);
      expect(view(b)).toEqual(view(a));
      const mine = pseudonymsOf(ids);
      for (const l of [a, b]) expect(contains(stringsIn(l.core.state), mine).length).toBeGreaterThan(0);

      store.remove(notMaria);
      const counts = await a.erase({ ...ids, personId: 7 } as EraseRequest);
      expect(counts).toMatchObject({ live_events_rebuilt: 1, live_facts: e1.filter((r) => toFact(r, DAY, pseudo)).length });
      await settle();
      const expected = numbers(build(e1));
      for (const l of [a, b]) {
        expect(contains(stringsIn(l.core.state), [...mine, ...RAW])).toEqual([]);
        expect(view(l)).toEqual(expected);
      }
      // Both nodes still agree once more facts arrive.
      a.onCommitted([row('checkout_started', NOW - MIN, { visitor_id: 'v-new', entities: { event_entity_id: 'E1', cart_id: 'cart-new' } })]);
      await settle();
      expect(view(b)).toEqual(view(a));
    } finally {
      await a.close();
      await b.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
