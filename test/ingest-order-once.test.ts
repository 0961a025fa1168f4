// An order is one event (SPEC: `order_completed_{order_id}` maps to one event id): an order_completed whose order
// the tenant already stored is answered as a duplicate, whatever event_id it carries and whenever it occurred, and
// the first one stored wins. Before, a backend that put a new random event_id on a re-sent order had it stored
// twice: persons, conversions and campaign credits deduplicated by order downstream, but the live funnel, the
// dashboard and its ticker, the feature store's aggregates, daily analytics and funnels counted it twice (two
// orders, €100 for one €50 order). The order ledger (tx_order_ids, migration 049) decides in the writer's commit.
// On the embedded store and on plain PostgreSQL 15 (several writer lanes: a re-sent order raced by lanes is stored
// once too).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, orderEvent, tmpDir, until, webEvent, type Tenant } from './helpers.js';
import { api, serverEvents, whereIs } from './identity-helpers.js';
import { liveRest, mintToken } from './live-helpers.js';
import { clearOfMidnight, MIDNIGHT_HOOK_TIMEOUT_MS } from './midnight.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

const HOUR = 3_600_000;
const MIGRATION = fs.readdirSync(path.resolve(import.meta.dirname, '../sql')).find((f) => /^049_.*\.sql$/.test(f));

/** A €50 order of the organizer's event. */
const order = (orderId: string, over: Record<string, unknown> = {}) =>
  orderEvent({
    entities: { order_id: orderId, event_entity_id: 'OE1', organizer_id: 'ORG-OO' },
    payload: { gross_amount: 50, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1, price: 50 }] },
    ...over,
  });
/** The same order as a backend without idempotency_key re-sends it: a new random event_id. */
const resent = (ev: Record<string, any>, over: Record<string, unknown> = {}) => ({ ...ev, event_id: crypto.randomUUID(), ...over });

function orderOnce(store: string, env: () => Promise<Record<string, string>>, drop: () => Promise<void>) {
  describe(`an order is stored once per order id (${store})`, () => {
    let server: Awaited<ReturnType<typeof bootServer>>;
    let base: string;
    let t: Tenant;
    const rowsOf = async (orderId: string) =>
      (await server.db.query<{ event_id: string }>(
        "SELECT event_id::text AS event_id FROM tx_events WHERE tenant_id = $1 AND entities->>'order_id' = $2 ORDER BY received_at",
        [t.tenant_id, orderId],
      )).rows.map((r) => r.event_id);

    beforeAll(async () => {
      // Live numbers are per UTC day: the run's orders must all be today's.
      await clearOfMidnight();
      server = await bootServer({ ...(await env()), RATE_LIMIT_EVENTS_PER_SEC: '100000', RATE_LIMIT_BURST: '100000' });
      base = server.url;
      t = await createTenant(base, `order-once-${store}`);
    }, MIDNIGHT_HOOK_TIMEOUT_MS);
    afterAll(async () => {
      await server?.close();
      await drop();
    });

    it('answers a re-sent order (new event_id; another request or the same batch) as a duplicate naming the stored one, and counts it once live', async () => {
      const token = await mintToken(base, t, { role: 'organizer', org_id: 'ORG-OO' });
      // The organizer sees events known to be theirs.
      expect((await api(base, null, 'POST', '/api/tx/events/batch', { events: [webEvent({ entities: { event_entity_id: 'OE1', organizer_id: 'ORG-OO' } })] }, { 'x-tx-key': t.write_key })).json).toMatchObject({ accepted: 1 });

      const a = order('OO-A');
      expect((await serverEvents(base, t, a)).json).toMatchObject({ accepted: 1, duplicates: 0, warnings: [] });
      const a2 = resent(a);
      const r2 = await serverEvents(base, t, a2);
      expect(r2.json).toMatchObject({ accepted: 0, duplicates: 1, rejected: [] });
      expect(r2.json.warnings).toEqual([{
        index: 0, event_id: a2.event_id, code: 'order_already_stored', field: 'entities.order_id', message: expect.stringContaining(a.event_id),
      }]);
      expect(r2.json.warnings[0].message).toContain('"OO-A"');
      expect(await rowsOf('OO-A')).toEqual([a.event_id]);
      // A retry of the duplicate itself (its own event_id again) is a plain duplicate.
      expect((await serverEvents(base, t, a2)).json).toMatchObject({ accepted: 0, duplicates: 1 });

      // Twice in one batch: the first wins.
      const b = order('OO-B');
      const b2 = resent(b);
      const rb = await serverEvents(base, t, { events: [b, b2] });
      expect(rb.json).toMatchObject({ accepted: 1, duplicates: 1, rejected: [] });
      expect(rb.json.warnings).toEqual([expect.objectContaining({ index: 1, event_id: b2.event_id, code: 'order_already_stored', message: expect.stringContaining(b.event_id) })]);
      expect(await rowsOf('OO-B')).toEqual([b.event_id]);

      // Another order is stored as usual, and a refund or a payment of a stored order is not an order.
      const c = order('OO-C');
      const payment = { event_id: crypto.randomUUID(), event_name: 'payment_succeeded', entities: { order_id: 'OO-C' }, payload: { provider: 'stripe', amount: 50, currency: 'EUR' } };
      const payment2 = { ...payment, event_id: crypto.randomUUID() };
      expect((await serverEvents(base, t, { events: [c, payment, payment2] })).json).toMatchObject({ accepted: 3, duplicates: 0, warnings: [] });
      expect(await rowsOf('OO-C')).toHaveLength(3);

      // Three orders of €50, once each, on the live view.
      const live = await until(async () => {
        const r = await liveRest(base, '/api/v1/live/events/OE1', token);
        return r.status === 200 && r.json.data?.funnel?.orders >= 3 ? r.json.data : null;
      }, 20_000);
      expect(live.funnel.orders).toBe(3);
      expect(live.funnel.tickets_sold).toBe(3);
      expect(live.revenue).toEqual({ EUR: 150 });
    });

    it('stores an order whose first row in the batch reuses a stored event_id (an event_view\'s, another order\'s) from its next row, and names no unrelated event', async () => {
      // The reused id is a plain duplicate and takes no part in the order: the first row of the order stored counts.
      const view = webEvent({ entities: { event_entity_id: 'OE1', organizer_id: 'ORG-OO' } });
      expect((await api(base, null, 'POST', '/api/tx/events', view, { 'x-tx-key': t.write_key })).json).toMatchObject({ accepted: 1 });
      const n = order('OO-N9', { event_id: view.event_id });
      const n2 = resent(n);
      const n3 = resent(n);
      const r = await serverEvents(base, t, { events: [n, n2, n3] });
      expect(r.json).toMatchObject({ accepted: 1, duplicates: 2, rejected: [] });
      // The third row is held by the second, the one stored; the first is only a duplicate of the event_view.
      expect(r.json.warnings).toEqual([expect.objectContaining({ index: 2, event_id: n3.event_id, code: 'order_already_stored', message: expect.stringContaining(n2.event_id) })]);
      expect(JSON.stringify(r.json.warnings)).not.toContain(view.event_id);
      expect(await rowsOf('OO-N9')).toEqual([n2.event_id]);

      // The reused id is another stored order's: that order stays held by its own event, this one is stored.
      const m = order('OO-M1');
      expect((await serverEvents(base, t, m)).json).toMatchObject({ accepted: 1 });
      const k = order('OO-K1', { event_id: m.event_id });
      const k2 = resent(k);
      const rk = await serverEvents(base, t, { events: [k, k2] });
      expect(rk.json).toMatchObject({ accepted: 1, duplicates: 1, rejected: [], warnings: [] });
      expect(await rowsOf('OO-K1')).toEqual([k2.event_id]);
      expect(await rowsOf('OO-M1')).toEqual([m.event_id]);
      // Now stored, a re-send of it is held by the event that holds it.
      const k3 = resent(k);
      const rk3 = await serverEvents(base, t, k3);
      expect(rk3.json).toMatchObject({ accepted: 0, duplicates: 1 });
      expect(rk3.json.warnings).toEqual([expect.objectContaining({ index: 0, code: 'order_already_stored', message: expect.stringContaining(k2.event_id) })]);
    });

    it('keeps an order a duplicate when it is re-sent the next day with a new occurred_at', async () => {
      const d = order('OO-D', { occurred_at: new Date(Date.now() - 26 * HOUR).toISOString() });
      expect((await serverEvents(base, t, d)).json).toMatchObject({ accepted: 1 });
      const later = resent(d, { occurred_at: new Date().toISOString() });
      const r = await serverEvents(base, t, later);
      expect(r.json).toMatchObject({ accepted: 0, duplicates: 1, warnings: [expect.objectContaining({ code: 'order_already_stored' })] });
      expect(await rowsOf('OO-D')).toEqual([d.event_id]);
    });

    it('keys the ledger per tenant and per order event: the same id is another tenant\'s order, or a shop order', async () => {
      const other = await createTenant(base, `order-once-other-${store}`);
      const e = order('OO-E');
      expect((await serverEvents(base, t, e)).json).toMatchObject({ accepted: 1 });
      expect((await serverEvents(base, other, resent(e))).json).toMatchObject({ accepted: 1, duplicates: 0 });
      const shop = { event_id: crypto.randomUUID(), event_name: 'order_completed_shop', entities: { order_id: 'OO-E' }, payload: { gross_amount: 20, currency: 'EUR', items: [{ product_id: 'P1', qty: 1, price: 20 }] } };
      expect((await serverEvents(base, t, shop)).json).toMatchObject({ accepted: 1, duplicates: 0 });
      // A shop order is one event too.
      expect((await serverEvents(base, t, resent(shop))).json).toMatchObject({ accepted: 0, duplicates: 1, warnings: [expect.objectContaining({ code: 'order_already_stored' })] });
    });

    it('stores an order raced by concurrent requests under different event ids once, answered accepted once', async () => {
      const f = order('OO-F');
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => serverEvents(base, t, i === 0 ? f : resent(f))));
      expect(answers.map((r) => r.status)).toEqual(Array(8).fill(200));
      expect(answers.reduce((n, r) => n + r.json.accepted, 0)).toBe(1);
      expect(answers.reduce((n, r) => n + r.json.duplicates, 0)).toBe(7);
      expect(await rowsOf('OO-F')).toHaveLength(1);
    });

    it('learns the orders stored before migration 049 from tx_events (its backfill), with the digest the writer computes', async () => {
      expect(MIGRATION).toBeDefined();
      const g = order('OO-G');
      const h = order('', { entities: { order_id: 4242, event_entity_id: 'OE1' } });
      const twice = order('OO-TWICE');
      expect((await serverEvents(base, t, { events: [g, h, twice] })).json).toMatchObject({ accepted: 3 });
      // As an older version left it: the events without their ledger rows, and an order stored twice.
      await server.db.query('DELETE FROM tx_order_ids WHERE tenant_id = $1', [t.tenant_id]);
      expect((await serverEvents(base, t, resent(twice))).json).toMatchObject({ accepted: 1 });
      expect(await rowsOf('OO-TWICE')).toHaveLength(2);
      await server.db.query('DELETE FROM tx_order_ids WHERE tenant_id = $1', [t.tenant_id]);
      const text = fs.readFileSync(path.resolve(import.meta.dirname, '../sql', MIGRATION!), 'utf8');
      await server.db.exec(text.slice(text.indexOf('INSERT INTO tx_order_ids')));
      for (const ev of [g, h, order('OO-A'), order('OO-D')]) {
        expect((await serverEvents(base, t, resent(ev))).json, JSON.stringify(ev.entities)).toMatchObject({ accepted: 0, duplicates: 1 });
      }
      // The first stored of an order that an older version kept twice holds it.
      const r = await serverEvents(base, t, resent(twice));
      expect(r.json).toMatchObject({ accepted: 0, duplicates: 1 });
      expect(r.json.warnings[0].message).toContain(twice.event_id);
    });

    it('keeps an erased order a duplicate (its ledger row holds a digest, no order id)', async () => {
      const ext = `cust-oo-${store}`;
      const paid = order('OO-ERASED', {
        payload: { gross_amount: 50, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1, price: 50 }], consent_data_processing: true, customer: { external_id: ext } },
      });
      expect((await serverEvents(base, t, paid)).json).toMatchObject({ accepted: 1 });
      const pid = (await until(async () => (await api(base, t, 'GET', `/api/v1/persons?external_id=${ext}`)).json?.person_id)) as number;
      expect((await api(base, t, 'DELETE', `/api/v1/persons/${pid}`)).status).toBe(200);
      expect(await rowsOf('OO-ERASED')).toEqual([]);
      expect(await whereIs(server.db, ['OO-ERASED', ext])).toEqual({});
      const late = resent(paid);
      expect((await serverEvents(base, t, late)).json).toMatchObject({ accepted: 0, duplicates: 1 });
      expect((await server.db.query('SELECT 1 FROM tx_events WHERE event_id = $1', [late.event_id])).rows).toHaveLength(0);
    });
  });
}

orderOnce('embedded', async () => ({}), async () => undefined);

let scratch: ScratchDatabase | undefined;
orderOnce(
  'plain PostgreSQL',
  async () => {
    scratch = await scratchDatabase('order_once');
    return { DATABASE_URL: scratch.url, DATA_DIR: tmpDir(), WRITER_LANES: '4' };
  },
  async () => scratch?.drop(),
);
