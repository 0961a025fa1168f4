// GDPR export and erasure of one person leave other persons' data alone when the two share an email, a phone, a
// device (a visitor id linked to both) or a session id (two visitors at one till): another person's rejected
// bodies are neither exported nor deleted, the other person's session row is not exported, and the shared device
// is not tombstoned while the other person is still linked to it (their offline queue is stored for them, whole).
// On both stores: PostgreSQL's sessions come from the deferred projector.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, eventsOf, orderEvent, webEvent, type Tenant } from './helpers.js';
import { api, batch, identify, minutesAgo, serverEvents } from './identity-helpers.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

const page = (visitor: string, session: string, path: string, at: string) =>
  webEvent({ visitor_id: visitor, session_id: session, occurred_at: at, event_name: 'page_view', entities: {}, payload: {}, context: { page: { path } } });
/** An add_to_cart the validator refuses (cart_value not a number): kept as a rejected raw body. */
const badCart = (visitor: string, session: string, cart: string) =>
  webEvent({ visitor_id: visitor, session_id: session, event_name: 'add_to_cart', entities: { event_entity_id: 'E1', cart_id: cart }, payload: { cart_value: 'x', currency: 'EUR' } });

describe.each(['embedded', 'postgres'])('GDPR of one person of several sharing ids (%s store)', (store) => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let scratch: ScratchDatabase | undefined;
  let base: string;
  let t: Tenant;

  beforeAll(async () => {
    if (store === 'postgres') scratch = await scratchDatabase('gdpr_shared_persons');
    server = await bootServer(scratch ? { DATABASE_URL: scratch.url } : {});
    base = server.url;
    t = await createTenant(base, 'gdpr-shared-persons');
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await scratch?.drop();
  });

  const rejectedIds = async () => (await api(base, t, 'GET', '/api/v1/tx/rejected?limit=1000')).json.rejected.map((r: any) => r.event_id);

  it('another person\'s rejected bodies with the same email or from a shared device are neither exported nor erased', async () => {
    // E and F, one family: the same email; each on their own visitor, and both on the family's laptop VX (F last).
    const pe = (await identify(base, t, { visitor_id: 'v-fam-e', external_id: 'cust-fam-e', email: 'fam2@x.com', phone: '+40721000005', country: 'RO' })).json.person_id;
    const pf = (await identify(base, t, { visitor_id: 'v-fam-f', external_id: 'cust-fam-f', email: 'fam2@x.com', phone: '+40721000006', country: 'RO' })).json.person_id;
    await identify(base, t, { visitor_id: 'v-fam-x', external_id: 'cust-fam-e' });
    await identify(base, t, { visitor_id: 'v-fam-x', external_id: 'cust-fam-f' });
    expect(pe).not.toBe(pf);
    // E's own rejected event, from E's visitor.
    const eBad = badCart('v-fam-e', 's-fam-e', 'cart-e');
    // F's rejected order: names only F's visitor, customer and order, and the shared email (stored as its digest).
    const fOrder = orderEvent({
      visitor_id: 'v-fam-f', session_id: 's-fam-f', entities: { order_id: 'ORD-FAM-F-0001', event_entity_id: 'E1' },
      payload: { currency: 'EUR', consent_data_processing: true, customer: { external_id: 'cust-fam-f', email: 'fam2@x.com', country: 'RO' } },
    });
    // F's rejected add_to_cart from the shared laptop.
    const fCart = badCart('v-fam-x', 's-fam-x', 'cart-f');
    expect((await batch(base, t, [eBad, fCart])).json.rejected).toHaveLength(2);
    expect((await serverEvents(base, t, fOrder)).json.rejected).toHaveLength(1);
    expect(await rejectedIds()).toEqual(expect.arrayContaining([eBad.event_id, fOrder.event_id, fCart.event_id]));

    const ex = await api(base, t, 'GET', `/api/v1/persons/${pe}/export`);
    expect(ex.status).toBe(200);
    expect(ex.json.rejected_events.map((r: any) => r.event_id)).toEqual([eBad.event_id]);
    const del = await api(base, t, 'DELETE', `/api/v1/persons/${pe}`);
    expect(del.json.removed).toMatchObject({ rejected_events: 1 });
    const left = await rejectedIds();
    expect(left).toEqual(expect.arrayContaining([fOrder.event_id, fCart.event_id]));
    expect(left).not.toContain(eBad.event_id);
    // F's export still lists both of F's bodies (F's email and, now that E is gone, the laptop are F's alone).
    const fx = await api(base, t, 'GET', `/api/v1/persons/${pf}/export`);
    expect(fx.json.rejected_events.map((r: any) => r.event_id).sort()).toEqual([fOrder.event_id, fCart.event_id].sort());
  });

  it('two visitors in one session: each export lists only its own person\'s session row and rejected bodies', async () => {
    const pa = (await identify(base, t, { visitor_id: 'v-till-a', external_id: 'cust-till-a' })).json.person_id;
    const pb = (await identify(base, t, { visitor_id: 'v-till-b', external_id: 'cust-till-b' })).json.person_id;
    // One box-office till session: B first, then A; B also has a session of their own, and a rejected event in the till session.
    expect((await batch(base, t, [page('v-till-b', 's-till', '/b', minutesAgo(20)), page('v-till-a', 's-till', '/a', minutesAgo(19))])).json.accepted).toBe(2);
    expect((await batch(base, t, [page('v-till-b', 's-till-b-own', '/b2', minutesAgo(10))])).json.accepted).toBe(1);
    const bBad = badCart('v-till-b', 's-till', 'cart-till-b');
    expect((await batch(base, t, [bBad])).json.rejected).toHaveLength(1);
    // The till session's row holds both visitors' events; it is A's (the person of its latest event) though it
    // names B's visitor (its first). Reading it waits for the sessions projector.
    expect((await api(base, t, 'GET', '/api/v1/sessions/s-till')).json).toMatchObject({ visitor_id: 'v-till-b', person_id: pa, events_count: 2 });
    expect((await api(base, t, 'GET', '/api/v1/sessions/s-till-b-own')).json).toMatchObject({ person_id: pb });

    const bx = await api(base, t, 'GET', `/api/v1/persons/${pb}/export`);
    expect(bx.json.sessions.map((s: any) => s.session_id)).toEqual(['s-till-b-own']);
    expect(bx.json.rejected_events.map((r: any) => r.event_id)).toEqual([bBad.event_id]);
    const ax = await api(base, t, 'GET', `/api/v1/persons/${pa}/export`);
    expect(ax.json.sessions.map((s: any) => s.session_id)).toEqual(['s-till']);
    expect(ax.json.rejected_events).toEqual([]);

    // Erasing A deletes none of B's rejected bodies.
    expect((await api(base, t, 'DELETE', `/api/v1/persons/${pa}`)).json.removed).toMatchObject({ rejected_events: 0 });
    expect(await rejectedIds()).toContain(bBad.event_id);
  });

  it('a device linked to A then B: after A\'s erasure a late event of it is stored for B, whole', async () => {
    const v = 'v-shared-device-ab';
    const pa = (await identify(base, t, { visitor_id: v, external_id: 'cust-dev-a' })).json.person_id;
    const pb = (await identify(base, t, { visitor_id: v, external_id: 'cust-dev-b' })).json.person_id;
    expect((await api(base, t, 'DELETE', `/api/v1/persons/${pa}`)).status).toBe(200);
    // B's offline queue: an event that occurred before A's erasure.
    const late = webEvent({ visitor_id: v, session_id: 's-dev-b', occurred_at: minutesAgo(5), event_name: 'add_to_cart', entities: { event_entity_id: 'E1', cart_id: 'cart-dev-b' }, payload: { cart_value: 50, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1, price: 50 }] } });
    expect((await batch(base, t, [late])).json.accepted).toBe(1);
    const s = (await eventsOf(base, t)).find((e) => e.event_id === late.event_id)!;
    expect(s).toMatchObject({ visitor_id: v, session_id: 's-dev-b', person_id: pb, entities: { cart_id: 'cart-dev-b' } });
    expect(s.context.anonymised).toBeUndefined();
    // Once B is erased too, the device is no one's: a late event of it is then stored anonymised.
    expect((await api(base, t, 'DELETE', `/api/v1/persons/${pb}`)).status).toBe(200);
    const later = webEvent({ visitor_id: v, session_id: 's-dev-b', occurred_at: minutesAgo(4), event_name: 'page_view', entities: {}, payload: {}, context: { page: { path: '/x' } }, event_id: crypto.randomUUID() });
    expect((await batch(base, t, [later])).json.accepted).toBe(1);
    const s2 = (await eventsOf(base, t)).find((e) => e.event_id === later.event_id)!;
    expect(s2.person_id).toBeNull();
    expect(s2.context.anonymised).toBe(true);
  });
});
