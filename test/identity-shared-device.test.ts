// Identity stitching on a shared device (a box-office till, a family laptop): one visitor id, several buyers.
// An event that names its own customer (an order's customer.external_id, a points event's customer_external_id)
// is that customer's, never another person's through the shared visitor id: not by the visitor's backfill when
// another buyer's order links the visitor, not by the in-memory stamping of the same commit, not by the
// enricher's newest link. Erasing one buyer leaves the other's order and person whole. On both stores.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, eventsOf, orderEvent, webEvent, type Tenant } from './helpers.js';
import { api, batch, identify, minutesAgo, serverEvents } from './identity-helpers.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

describe.each(['embedded', 'postgres'])('identity on a shared device (%s store)', (store) => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let scratch: ScratchDatabase | undefined;
  let base: string;
  let t: Tenant;

  beforeAll(async () => {
    if (store === 'postgres') scratch = await scratchDatabase('ident_shared');
    server = await bootServer(scratch ? { DATABASE_URL: scratch.url } : {});
    base = server.url;
    t = await createTenant(base, 'ident-shared');
  });
  afterAll(async () => {
    await server?.close();
    await scratch?.drop();
  });

  const order = (visitor: string, customer: string, orderId: string, at: string, gross: number, consent = true) => orderEvent({
    visitor_id: visitor, session_id: `s-${visitor}`, occurred_at: at,
    entities: { order_id: orderId, event_entity_id: 'E1' },
    payload: { gross_amount: gross, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1, price: gross }], consent_data_processing: consent, customer: { external_id: customer } },
  });
  const page = (visitor: string, at: string) =>
    webEvent({ visitor_id: visitor, session_id: `s-${visitor}`, occurred_at: at, event_name: 'page_view', entities: {}, payload: {}, context: { page: { path: '/' } } });
  const personOf = async (external: string) => (await api(base, t, 'GET', `/api/v1/persons?external_id=${external}`)).json.person_id as number;
  const byEvent = async (visitor: string) => Object.fromEntries((await eventsOf(base, t, `visitor_id=${visitor}&limit=1000`)).map((e) => [e.event_id, e.person_id]));

  it('one request with X\'s then Y\'s order on one visitor: each order is its own buyer\'s; the visitor\'s web events follow the links', async () => {
    const v = 'v-till-1';
    const before = page(v, minutesAgo(30));
    expect((await batch(base, t, [before])).json.accepted).toBe(1);
    const ox = order(v, 'cust-till-X', 'ORD-TX', minutesAgo(20), 40);
    const oy = order(v, 'cust-till-Y', 'ORD-TY', minutesAgo(19), 70);
    expect((await serverEvents(base, t, { events: [ox, oy] })).json).toMatchObject({ accepted: 2, rejected: [] });
    const [px, py] = [await personOf('cust-till-X'), await personOf('cust-till-Y')];
    expect(px).not.toBe(py);
    const after = page(v, minutesAgo(5));
    expect((await batch(base, t, [after])).json.accepted).toBe(1);

    const by = await byEvent(v);
    expect([by[ox.event_id], by[oy.event_id]]).toEqual([px, py]);
    // README "Identity stitching": the first link backfills the visitor's earlier events; the newest evidence wins new ones.
    expect([by[before.event_id], by[after.event_id]]).toEqual([px, py]);

    // Each buyer's stats count their own order only.
    const y = (await api(base, t, 'GET', `/api/v1/persons/${py}`)).json;
    expect(y).toMatchObject({ total_orders: 1, avg_order_value: 70 });
    expect((await api(base, t, 'GET', `/api/v1/persons/${px}`)).json).toMatchObject({ total_orders: 1, avg_order_value: 40 });

    // Erasing X leaves Y's order and Y's person whole.
    expect((await api(base, t, 'DELETE', `/api/v1/persons/${px}`)).status).toBe(200);
    const left = await eventsOf(base, t, 'event_name=order_completed&limit=1000');
    expect(left.find((e) => e.event_id === ox.event_id)).toBeUndefined();
    expect(left.find((e) => e.event_id === oy.event_id)).toMatchObject({ person_id: py, entities: { order_id: 'ORD-TY' } });
    const yAfter = (await api(base, t, 'GET', `/api/v1/persons/${py}`));
    expect(yAfter.status).toBe(200);
    expect(yAfter.json).toMatchObject({ external_id: 'cust-till-Y', total_orders: 1, avg_order_value: 70, last_purchase_at: y.last_purchase_at });
    expect(yAfter.json.identity_links).toEqual([expect.objectContaining({ visitor_id: v, order_id: 'ORD-TY' })]);
  });

  for (const [first, second] of [['X', 'Y'], ['Y', 'X']]) {
    it(`two requests on one visitor, ${first}'s order then ${second}'s: each order is its own buyer's, and erasing X leaves Y whole`, async () => {
      const v = `v-till-${first}${second}`;
      const cust = (who: string) => `cust-${first}${second}-${who}`;
      const o1 = order(v, cust(first), `ORD-${first}${second}-1`, minutesAgo(20), first === 'X' ? 40 : 70);
      expect((await serverEvents(base, t, o1)).json.accepted).toBe(1);
      const mid = page(v, minutesAgo(15));
      expect((await batch(base, t, [mid])).json.accepted).toBe(1);
      const o2 = order(v, cust(second), `ORD-${first}${second}-2`, minutesAgo(10), second === 'X' ? 40 : 70);
      expect((await serverEvents(base, t, o2)).json.accepted).toBe(1);
      const [p1, p2] = [await personOf(cust(first)), await personOf(cust(second))];
      const by = await byEvent(v);
      expect([by[o1.event_id], by[mid.event_id], by[o2.event_id]]).toEqual([p1, p1, p2]);

      const [px, py] = first === 'X' ? [p1, p2] : [p2, p1];
      const oy = first === 'X' ? o2 : o1;
      expect((await api(base, t, 'DELETE', `/api/v1/persons/${px}`)).status).toBe(200);
      const left = await eventsOf(base, t, 'event_name=order_completed&limit=1000');
      expect(left.find((e) => e.event_id === oy.event_id)).toMatchObject({ person_id: py });
      expect((await api(base, t, 'GET', `/api/v1/persons/${py}`)).json).toMatchObject({ external_id: cust('Y'), total_orders: 1, avg_order_value: 70 });
    });
  }

  for (const link of ['login', 'order'] as const) {
    it(`X's ${link} on the shared visitor does not take Y's order stored earlier without data-processing consent, nor a later one`, async () => {
      const v = `v-till-nc-${link}`;
      const cy = `cust-nc-${link}-Y`;
      const seen = page(v, minutesAgo(30));
      const oy = order(v, cy, `ORD-NC-${link}-1`, minutesAgo(25), 70, false);
      expect((await batch(base, t, [seen])).json.accepted).toBe(1);
      expect((await serverEvents(base, t, oy)).json.accepted).toBe(1);
      const ox = order(v, `cust-nc-${link}-X`, `ORD-NC-${link}-X`, minutesAgo(20), 40);
      const px = link === 'login'
        ? (await identify(base, t, { visitor_id: v, external_id: `cust-nc-${link}-X` })).json.person_id
        : ((await serverEvents(base, t, ox)).json.accepted === 1 ? await personOf(`cust-nc-${link}-X`) : null);
      expect(px).toEqual(expect.any(Number));
      const by = await byEvent(v);
      expect([by[seen.event_id], by[oy.event_id]]).toEqual([px, null]);
      // Nor does the enricher give X a later order of Y's through the visitor's link; a web event is X's.
      const later = order(v, cy, `ORD-NC-${link}-2`, minutesAgo(5), 30, false);
      const web = page(v, minutesAgo(4));
      expect((await serverEvents(base, t, later)).json.accepted).toBe(1);
      expect((await batch(base, t, [web])).json.accepted).toBe(1);
      const again = await byEvent(v);
      expect([again[later.event_id], again[web.event_id]]).toEqual([null, px]);
      // X's export and erasure leave Y's orders (unattributed, on X's visitor, naming Y) alone.
      const exported = (await api(base, t, 'GET', `/api/v1/persons/${px}/export`)).json;
      expect(JSON.stringify(exported)).not.toContain(cy);
      expect((await api(base, t, 'DELETE', `/api/v1/persons/${px}`)).status).toBe(200);
      const left = await byEvent(v);
      expect([oy.event_id, later.event_id].map((id) => id in left)).toEqual([true, true]);
    });
  }

  it('a points event naming Y on a visitor linked to X is Y\'s, in the same request as X\'s order or later', async () => {
    const v = 'v-till-points';
    const py = (await identify(base, t, { visitor_id: 'v-points-own', external_id: 'cust-pts-Y' })).json.person_id;
    const ox = order(v, 'cust-pts-X', 'ORD-PX', minutesAgo(20), 40);
    const pts = { event_id: crypto.randomUUID(), event_name: 'points_earned', occurred_at: minutesAgo(19), visitor_id: v, idempotency_key: 'pts-till-1', payload: { points: 5, customer_external_id: 'cust-pts-Y' } };
    const pts2 = { ...pts, event_id: crypto.randomUUID(), occurred_at: minutesAgo(9), idempotency_key: 'pts-till-2' };
    expect((await serverEvents(base, t, { events: [ox, pts] })).json.accepted).toBe(2);
    expect((await serverEvents(base, t, pts2)).json.accepted).toBe(1);
    const px = await personOf('cust-pts-X');
    const got = Object.fromEntries((await eventsOf(base, t, 'event_name=points_earned&limit=1000')).map((e) => [e.idempotency_key, e.person_id]));
    expect([got['pts-till-1'], got['pts-till-2']]).toEqual([py, py]);
    expect((await byEvent(v))[ox.event_id]).toBe(px);
  });
});
