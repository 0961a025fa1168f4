// An order is one event, also when its commit is attempted more than once or it was erased before the upgrade.
// The writer claims an order from the rows as received; the enricher strips an erased order's id off its late copy.
// Before, it stripped it off the very row objects the writer kept: a commit attempted again (after a deadlock
// between lanes, after a neighbour's data error) or spooled after a failed commit and replayed found no order to
// claim, and stored the erased order's re-send as a second order (fresh, counted twice). And migration 049 learnt
// the orders from tx_events only: an order erased before the upgrade (its rows deleted, its digest kept in
// gdpr_erased_orders) re-sent after it was stored again. On the embedded store, at the writer (failures injected).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../server/config/index.js';
import { idDigest } from '../server/identity/crypto.js';
import { createEnricher } from '../server/identity/persons.js';
import { createValidation } from '../server/ingest/validate.js';
import { createGroupWriter } from '../server/ingest/writer.js';
import { openEmbedded, StoreUnavailableError, type Db } from '../server/store/db.js';
import { createEventStore, type EventRow, type EventStore } from '../server/store/events.js';
import { migrate, readMigrations } from '../server/store/migrate.js';
import { createSpool } from '../server/store/spool.js';
import { silent, tmpDir } from './helpers.js';

const limits = loadConfig({}).limits;
const validation = createValidation();
const dirs: string[] = [];
const dir = () => {
  const d = tmpDir('txl-order-retry-');
  dirs.push(d);
  return d;
};

/** An order event as the server channel validates it, under a new random event_id each call. */
function orderRow(tenantId: number, orderId: string | number, name = 'order_completed'): EventRow {
  const payload = name === 'order_completed'
    ? { gross_amount: 50, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1, price: 50 }] }
    : { gross_amount: 20, currency: 'EUR', items: [{ product_id: 'P1', qty: 1, price: 20 }] };
  return validated(tenantId, { event_name: name, source_system: name === 'order_completed' ? 'backend' : 'shop', entities: { order_id: orderId }, payload });
}

function validated(tenantId: number, ev: Record<string, unknown>): EventRow {
  const out = validation.check(
    {
      event_id: crypto.randomUUID(), occurred_at: new Date(Date.now() - 60_000).toISOString(),
      consent_snapshot: { analytics: false, marketing: false, data_processing: true }, ...ev,
    },
    { tenantId, receivedAt: new Date(), ip: null, userAgent: null, channel: 'server', idSalt: 'a'.repeat(64) },
    limits,
  );
  if (out.kind !== 'ok') throw new Error(`invalid test event: ${JSON.stringify(out.errors)}`);
  return out.row;
}

const newTenant = async (db: Db, name: string) =>
  Number((await db.query<{ tenant_id: string }>('INSERT INTO tenants (name) VALUES ($1) RETURNING tenant_id::text', [name])).rows[0].tenant_id);
const erase = (db: Db, tenantId: number, orderId: string) =>
  db.query('INSERT INTO gdpr_erased_orders (tenant_id, order_sha256) VALUES ($1, $2)', [tenantId, idDigest(tenantId, 'order', orderId)]);
const storedOrders = async (db: Db, tenantId: number, name = 'order_completed') =>
  (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM tx_events WHERE tenant_id = $1 AND event_name = $2', [tenantId, name])).rows[0].n;

afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('an erased order re-sent stays a duplicate when its commit is attempted again', () => {
  let db: Db;
  // The next insert throws this (once), after the enricher ran on the attempt's rows.
  let failNext: (() => Error) | null = null;
  // The next insert of exactly this many rows throws a data error (once).
  let dataErrorAt = 0;
  // An insert of a row with this event id waits for the gate (so that the requests behind it form one group).
  let gate: { eventId: string; open: Promise<void> } | null = null;
  const real = createEventStore();
  const events: EventStore = {
    ...real,
    insert: async (q, rows, orders) => {
      if (gate && rows.some((r) => r.event_id === gate!.eventId)) await gate.open;
      if (failNext) {
        const err = failNext();
        failNext = null;
        throw err;
      }
      if (dataErrorAt > 0 && rows.length === dataErrorAt) {
        dataErrorAt = 0;
        throw Object.assign(new Error('new row violates check constraint'), { code: '23514' });
      }
      return real.insert(q, rows, orders);
    },
  };
  const committed: EventRow[] = [];
  const writer = () =>
    createGroupWriter({
      db, events, spool: createSpool(path.join(dir(), 'spool'), 1 << 24, silent), log: silent, retryMs: 100,
      hooks: { enrichers: [{ name: 'identity.enrich', run: createEnricher() }], committed: [{ name: 'capture', run: (rows) => void committed.push(...rows) }] },
    });

  /** An order stored, then erased: its re-send is a duplicate (first attempt, nothing injected). */
  async function erasedOrder(w: ReturnType<typeof writer>, tenantId: number, orderId: string) {
    expect((await w.append({ events: [orderRow(tenantId, orderId)], rejected: [] })).fresh).toEqual([true]);
    await erase(db, tenantId, orderId);
    const again = await w.append({ events: [orderRow(tenantId, orderId)], rejected: [] });
    expect(again).toMatchObject({ spooled: false, fresh: [false], held: [{ order_id: orderId }] });
  }

  beforeAll(async () => {
    db = await openEmbedded(dir(), silent);
    await migrate(db, silent);
  }, 120_000);
  afterAll(async () => {
    await db?.close();
  });

  it('after a deadlock between lanes (40P01: the group is committed again)', async () => {
    const t = await newTenant(db, 'retry-deadlock');
    const w = writer();
    await erasedOrder(w, t, 'ERASED-D');
    failNext = () => Object.assign(new Error('deadlock detected'), { code: '40P01' });
    const row = orderRow(t, 'ERASED-D');
    const r = await w.append({ events: [row], rejected: [] });
    expect(failNext).toBeNull();
    expect(r).toMatchObject({ spooled: false, fresh: [false], held: [{ order_id: 'ERASED-D' }] });
    expect(await storedOrders(db, t)).toBe(1);
    // The row handed to the writer is as it was sent: the enricher anonymised its own copy.
    expect(row.entities).toEqual({ order_id: 'ERASED-D' });
    await w.close();
  }, 60_000);

  it("after a neighbour's data error (each request of the group is committed on its own)", async () => {
    const t = await newTenant(db, 'retry-neighbour');
    const w = writer();
    await erasedOrder(w, t, 'ERASED-N');
    // A request in flight while two more queue behind it: those two form one group.
    let open!: () => void;
    const blocker = orderRow(t, 'BLOCKER-N');
    gate = { eventId: blocker.event_id, open: new Promise<void>((r) => (open = r)) };
    const first = w.append({ events: [blocker], rejected: [] });
    const resent = w.append({ events: [orderRow(t, 'ERASED-N')], rejected: [] });
    const other = w.append({ events: [orderRow(t, 'OTHER-N')], rejected: [] });
    dataErrorAt = 2;
    open();
    expect((await first).fresh).toEqual([true]);
    gate = null;
    expect(await resent).toMatchObject({ spooled: false, fresh: [false], held: [{ order_id: 'ERASED-N' }] });
    expect((await other).fresh).toEqual([true]);
    expect(dataErrorAt).toBe(0);
    expect(await storedOrders(db, t)).toBe(3);
    await w.close();
  }, 60_000);

  it('after the database failed mid-commit (spooled as received, replayed, dropped as a duplicate)', async () => {
    const t = await newTenant(db, 'retry-spool');
    const w = writer();
    await erasedOrder(w, t, 'ERASED-S');
    failNext = () => new StoreUnavailableError('database unreachable: test');
    // Answered from the spool: the database cannot be asked whether it holds the order.
    const row = orderRow(t, 'ERASED-S');
    expect(await w.append({ events: [row], rejected: [] })).toEqual({ spooled: true, fresh: [true] });
    for (let i = 0; i < 100 && (!w.status().storeUp || w.status().spoolBytes > 0); i++) await new Promise((r) => setTimeout(r, 100));
    expect(w.status()).toMatchObject({ storeUp: true, spoolBytes: 0 });
    await w.idle();
    expect(await storedOrders(db, t)).toBe(1);
    expect(row.entities).toEqual({ order_id: 'ERASED-S' });
    await w.close();
  }, 60_000);

  it('hands the committed hooks the enriched rows (an erased order\'s payment without its order id), the sender\'s rows untouched', async () => {
    const t = await newTenant(db, 'retry-hooks');
    const w = writer();
    await erasedOrder(w, t, 'ERASED-H');
    const payment = validated(t, { event_name: 'payment_succeeded', source_system: 'payments', entities: { order_id: 'ERASED-H' }, payload: { provider: 'stripe', amount: 50, currency: 'EUR' } });
    failNext = () => Object.assign(new Error('could not serialize access'), { code: '40001' });
    committed.length = 0;
    expect((await w.append({ events: [payment], rejected: [] })).fresh).toEqual([true]);
    expect(committed.map((r) => [r.event_id, r.entities])).toEqual([[payment.event_id, {}]]);
    expect(payment.entities).toEqual({ order_id: 'ERASED-H' });
    const stored = (await db.query<{ entities: unknown }>('SELECT entities FROM tx_events WHERE event_id = $1', [payment.event_id])).rows[0];
    expect(stored.entities).toEqual({});
    await w.close();
  }, 60_000);

  it('a numeric order id is its decimal text on both sides (writer, backfill, held_by); one past 2^53 or in exponent form 1e21 is refused', async () => {
    const t = await newTenant(db, 'numeric-orders');
    const w = writer();
    const n = 1e15;
    const first = orderRow(t, n);
    expect((await w.append({ events: [first], rejected: [] })).fresh).toEqual([true]);
    // As an older version left it, then migration 049's backfill.
    await db.query('DELETE FROM tx_order_ids WHERE tenant_id = $1', [t]);
    const text = readMigrations().find((m) => m.version === 49)!.sql;
    await db.exec(text.slice(text.indexOf('INSERT INTO tx_order_ids')));
    const again = await w.append({ events: [orderRow(t, '1000000000000000')], rejected: [] });
    expect(again).toMatchObject({ fresh: [false], held: [{ order_id: '1000000000000000', held_by: first.event_id }] });
    for (const bad of [1e21, 2 ** 53, 1.5]) {
      const out = validation.check(
        { event_id: crypto.randomUUID(), event_name: 'order_completed', source_system: 'backend', occurred_at: new Date().toISOString(), consent_snapshot: { data_processing: true }, entities: { order_id: bad }, payload: { gross_amount: 50, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1, price: 50 }] } },
        { tenantId: t, receivedAt: new Date(), ip: null, userAgent: null, channel: 'server', idSalt: 'a'.repeat(64) },
        limits,
      );
      expect(out.kind, String(bad)).toBe('rejected');
      expect(out.kind === 'rejected' ? out.errors.map((e) => e.field) : [], String(bad)).toContain('entities.order_id');
    }
    await w.close();
  }, 60_000);
});

it('migration 049 learns the orders erased before it: re-sent after the upgrade (ticket or shop), each is a duplicate', async () => {
  const db = await openEmbedded(dir(), silent);
  try {
    const all = readMigrations();
    await migrate(db, silent, all.filter((m) => m.version < 49));
    const t = await newTenant(db, 'erased-before-049');
    const store = createEventStore();
    // Before the upgrade: KEPT stored; GONE and GONE-SHOP stored and erased (the erasure deletes the rows, the
    // tombstone stays).
    await db.tx((q) => store.insert(q, [orderRow(t, 'KEPT')]));
    await erase(db, t, 'GONE');
    await erase(db, t, 'GONE-SHOP');
    await migrate(db, silent, all);
    const w = createGroupWriter({
      db, events: store, spool: createSpool(path.join(dir(), 'spool'), 1 << 24, silent), log: silent,
      hooks: { enrichers: [{ name: 'identity.enrich', run: createEnricher() }] },
    });
    const resent = [orderRow(t, 'KEPT'), orderRow(t, 'GONE'), orderRow(t, 'GONE-SHOP', 'order_completed_shop')];
    const r = await w.append({ events: resent, rejected: [] });
    expect(r.fresh).toEqual([false, false, false]);
    // The stored one is named; an erased one is held by no event that is still stored.
    expect(r.held?.map((h) => h?.held_by ?? 'none')).toEqual([expect.any(String), 'none', 'none']);
    expect(r.held?.[0]?.held_by).not.toBeNull();
    expect(await storedOrders(db, t)).toBe(1);
    expect(await storedOrders(db, t, 'order_completed_shop')).toBe(0);
    await w.close();
  } finally {
    await db.close();
  }
}, 120_000);
