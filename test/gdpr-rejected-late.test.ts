// Late copies of an erased person's past that the validator rejects (README "GDPR": "late copies of their past …
// are stored without visitor, session or customer data"; "Afterwards only digests remain"): kept in
// tx_rejected_events the way a valid late copy is stored, on both stores. Before the fix the raw body was kept
// whole (visitor and session ids, the customer id, contact digests and match keys, click ids, ip).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, orderEvent, silent, webEvent, type Tenant } from './helpers.js';
import { api, batch, identify, minutesAgo, serverEvents, sha256 } from './identity-helpers.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';
import { erasureHeldAfterLinks, sentWhileWaitingOnLinks } from './gdpr-race-helpers.js';

const stores: [string, () => Promise<{ env: Record<string, string>; drop?: () => Promise<void> }>][] = [
  ['the embedded store', async () => ({ env: {} })],
  ['plain PostgreSQL 15', async () => {
    const s: ScratchDatabase = await scratchDatabase('gdpr_rej_late');
    return { env: { DATABASE_URL: s.url }, drop: () => s.drop() };
  }],
];

for (const [store, open] of stores) {
  describe(`rejected late copies of an erased person, on ${store}`, () => {
    let server: Awaited<ReturnType<typeof bootServer>>;
    let drop: (() => Promise<void>) | undefined;
    let base: string;
    let t: Tenant;

    beforeAll(async () => {
      const o = await open();
      drop = o.drop;
      server = await bootServer(o.env);
      base = server.url;
      t = await createTenant(base, 'rejlate');
    }, 120_000);
    afterAll(async () => {
      await server?.close();
      await drop?.();
    });

    const rejectedRows = async () =>
      (await server.db.query<{ event_id: string | null; event_name: string | null; raw_body: string; reasons: unknown }>(
        'SELECT event_id, event_name, raw_body, reasons FROM tx_rejected_events WHERE tenant_id = $1 ORDER BY id', [t.tenant_id],
      )).rows;

    it('keeps a rejected body naming an erased visitor or customer without their ids, contact digests, click ids or ip', async () => {
      const v = 'v-late-rej-ana';
      const s = 's-late-rej-ana';
      const cust = 'cust-late-rej-ana';
      const email = 'ana.late@example.org';
      const phone = '+40 721 555 019';
      const ctx = { ip: '203.0.113.77', user_agent: 'Mozilla/5.0 LateRej', fbc: 'fb.1.1700000000000.ClickIdAnaLate', ttp: 'ttpAnaLateCookie', page: { path: '/e/1', url: 'https://shop.example/e/1?fbclid=ClickIdAnaLate' }, utm: { source: 'news' } };
      await batch(base, t, [webEvent({ visitor_id: v, session_id: s, occurred_at: minutesAgo(60), context: ctx })]);
      const order = orderEvent({
        visitor_id: v, session_id: s, occurred_at: minutesAgo(50), context: ctx,
        payload: { gross_amount: 50, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1 }], consent_data_processing: true, customer: { external_id: cust, email, phone, country: 'RO' } },
      });
      expect((await serverEvents(base, t, order)).json).toMatchObject({ accepted: 1 });
      const pid = (await api(base, t, 'GET', `/api/v1/persons?external_id=${cust}`)).json.person_id;
      expect(typeof pid).toBe('number');
      expect((await api(base, t, 'DELETE', `/api/v1/persons/${pid}`)).status).toBe(200);
      const before = (await rejectedRows()).length;

      // Late copies of her past, each rejected: an order without items (customer only), a web add_to_cart under
      // her visitor with bad items, points with a bad amount (customer_external_id), and a body that is not JSON.
      const lateOrder = orderEvent({ occurred_at: minutesAgo(40), payload: { gross_amount: 50, currency: 'EUR', consent_data_processing: true, customer: { external_id: cust, email, phone } } });
      const lateCart = webEvent({ visitor_id: v, session_id: s, occurred_at: minutesAgo(39), event_name: 'add_to_cart', context: ctx, entities: { event_entity_id: 'E1', cart_id: 'cart-ana-late' }, payload: { items: 'bad', cart_value: 10, currency: 'EUR', email } });
      const latePoints = { event_id: crypto.randomUUID(), event_name: 'points_earned', occurred_at: minutesAgo(38), payload: { points: 'many', customer_external_id: cust } };
      // A refund of her erased order (known by its order id alone), whenever it occurred.
      const lateRefund = { event_id: crypto.randomUUID(), event_name: 'refund_completed', occurred_at: new Date(Date.now() + 60_000).toISOString(), entities: { order_id: order.entities.order_id }, payload: { amount: 'all', currency: 'EUR' } };
      // Controls: someone else's rejected event, and one under her old visitor id dated after the erasure (new data).
      const other = webEvent({ visitor_id: 'v-late-rej-other', session_id: 's-late-rej-other', occurred_at: minutesAgo(37), event_name: 'add_to_cart', context: ctx, payload: { items: 'bad' } });
      const after = webEvent({ visitor_id: v, session_id: 's-late-rej-new', occurred_at: new Date(Date.now() + 60_000).toISOString(), event_name: 'add_to_cart', payload: { items: 'bad' } });
      expect((await serverEvents(base, t, { events: [lateOrder, latePoints, lateRefund] })).json).toMatchObject({ accepted: 0, rejected: [{ index: 0 }, { index: 1 }, { index: 2 }] });
      expect((await batch(base, t, [lateCart, other, after])).json).toMatchObject({ accepted: 0, rejected: [{ index: 0 }, { index: 1 }, { index: 2 }] });
      const broken = await fetch(`${base}/api/tx/events/batch`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-tx-key': t.write_key },
        body: `{"events":[{"visitor_id":"${v}","session_id":"${s}","event_name":"page_view",`,
      });
      expect(broken.status).toBe(400);

      const rows = (await rejectedRows()).slice(before);
      expect(rows.length).toBe(7);
      const byId = (id: unknown) => rows.find((r) => r.event_id === id)!;
      const erased = [v, s, cust, order.entities.order_id, sha256(email), 'ClickIdAnaLate', 'ttpAnaLateCookie', '203.0.113', 'LateRej', 'cart-ana-late', 'match_keys'];
      const late = [lateOrder.event_id, lateCart.event_id, latePoints.event_id, lateRefund.event_id].map(byId);
      for (const r of [...late, rows.find((x) => x.event_id === null)!]) {
        const text = r.raw_body + JSON.stringify(r.reasons);
        expect(erased.filter((n) => text.includes(n))).toEqual([]);
        expect(text).not.toMatch(/"(?:email|phone)(?:_sha256)?"/);
      }

      // What makes the rejection useful stays: the name, the reasons, the shape of what was wrong.
      const cart = JSON.parse(byId(lateCart.event_id).raw_body);
      expect(byId(lateCart.event_id).event_name).toBe('add_to_cart');
      expect(cart).toMatchObject({ event_id: lateCart.event_id, event_name: 'add_to_cart', occurred_at: lateCart.occurred_at, visitor_id: null, session_id: null, entities: { event_entity_id: 'E1' }, payload: { items: 'bad', cart_value: 10, currency: 'EUR' } });
      expect(cart.context).toEqual({ page: { path: '/e/1', url: 'https://shop.example/e/1' }, utm: { source: 'news' }, anonymised: true });
      expect(JSON.stringify(byId(lateCart.event_id).reasons)).toContain('payload.items');
      const ord = JSON.parse(byId(lateOrder.event_id).raw_body);
      expect(ord).toMatchObject({ event_name: 'order_completed', entities: lateOrder.entities, payload: { gross_amount: 50, currency: 'EUR', consent_data_processing: true } });
      expect(ord.payload.customer).toBeUndefined();
      expect(JSON.parse(byId(latePoints.event_id).raw_body)).toMatchObject({ event_name: 'points_earned', payload: { points: 'many' } });
      const refund = JSON.parse(byId(lateRefund.event_id).raw_body);
      expect(refund).toMatchObject({ event_name: 'refund_completed', entities: {}, payload: { amount: 'all', currency: 'EUR' } });

      // Not hers, or not her past: kept as sent (contact data hashed as always).
      expect(JSON.parse(byId(other.event_id).raw_body)).toMatchObject({ visitor_id: 'v-late-rej-other', context: { fbc: ctx.fbc } });
      expect(JSON.parse(byId(after.event_id).raw_body)).toMatchObject({ visitor_id: v, session_id: 's-late-rej-new' });
    }, 60_000);
  });
}

// The same, for a rejected late copy committed while the erasure runs on a PostgreSQL server. The order is forced,
// not timed: the erasure is held open right after it deleted the person's identity links; the writer's commit then
// waits on those links (its look-up for rejected rows locks them); only once it is seen waiting does the erasure go
// on and commit. The tombstones must be read after that wait (a later statement), or the body is kept whole.
describe('a rejected late copy committed during its person\'s erasure (PostgreSQL)', () => {
  let scratch: ScratchDatabase | undefined;
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;

  beforeAll(async () => {
    scratch = await scratchDatabase('gdpr_rej_race');
    server = await bootServer({ DATABASE_URL: scratch.url });
    t = await createTenant(server.url, 'rejrace');
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await scratch?.drop();
  });

  it('is kept without her visitor and session ids', { timeout: 120_000 }, async () => {
    const v = 'v-rej-race-9c2';
    const linked = await identify(server.url, t, { visitor_id: v, external_id: 'cust-rej-race' });
    expect(linked.json.linked).toBe(true);

    const { erasing, release } = await erasureHeldAfterLinks(server.db, t.tenant_id, linked.json.person_id);

    const late = webEvent({ visitor_id: v, session_id: 's-rej-race-1', occurred_at: minutesAgo(5), event_name: 'add_to_cart', context: { fbc: 'fb.1.1.REJRACE' }, payload: { items: 'bad' } });
    const { sent, settled } = await sentWhileWaitingOnLinks(server.db, () => batch(server.url, t, [late]));
    expect(settled()).toBe(false);
    release();
    expect((await erasing)?.removed).toMatchObject({ identity_links: 1, persons: 1 });
    expect((await sent).json).toMatchObject({ accepted: 0, rejected: [{ index: 0 }] });
    const kept = await server.db.query<{ raw_body: string }>('SELECT raw_body FROM tx_rejected_events WHERE tenant_id = $1 AND event_id = $2', [t.tenant_id, late.event_id]);
    expect(kept.rows).toHaveLength(1);
    expect(JSON.parse(kept.rows[0].raw_body)).toMatchObject({ event_id: late.event_id, visitor_id: null, session_id: null, payload: { items: 'bad' } });
    expect(kept.rows[0].raw_body).not.toMatch(/v-rej-race|s-rej-race|REJRACE/);
  });
});
