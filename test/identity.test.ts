// Identity stitching and server-side events, end to end over HTTP on the embedded store and over the
// Postgres wire protocol.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, eventsOf, orderEvent, webEvent, wireDatabase, type Tenant } from './helpers.js';
import { api, batch, identify, minutesAgo, serverEvents, sha256, whereIs } from './identity-helpers.js';

const modes = [
  { name: 'embedded store', wire: false },
  { name: 'postgres wire', wire: true },
];

describe.each(modes)('identity on $name', ({ wire }) => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let pgWire: Awaited<ReturnType<typeof wireDatabase>> | null = null;
  let base: string;
  let t: Tenant;

  beforeAll(async () => {
    const env: Record<string, string> = {};
    if (wire) {
      pgWire = await wireDatabase();
      Object.assign(env, { DATABASE_URL: pgWire.url, DATABASE_POOL_MAX: '1', ENCRYPTION_KEY: 'ab'.repeat(32) });
    }
    server = await bootServer(env);
    base = server.url;
    t = await createTenant(base, 'stitch');
  });
  afterAll(async () => {
    await server?.close();
    await pgWire?.close();
  });

  const ofVisitor = async (tenant: Tenant, visitor: string) => eventsOf(base, tenant, `visitor_id=${visitor}&limit=1000`);

  it('links an anonymous visitor with two sessions on a consented order: every earlier event carries the person id', async () => {
    const v = 'v-anna';
    const s1 = [
      webEvent({ visitor_id: v, session_id: 's-anna-1', occurred_at: minutesAgo(180), event_name: 'page_view', entities: {}, payload: {}, context: { page: { path: '/' }, utm: { source: 'newsletter' } } }),
      webEvent({ visitor_id: v, session_id: 's-anna-1', occurred_at: minutesAgo(179) }),
      webEvent({ visitor_id: v, session_id: 's-anna-1', occurred_at: minutesAgo(178), event_name: 'page_engagement', entities: {}, payload: { active_ms: 1000, total_ms: 3000 } }),
    ];
    const s2 = [
      webEvent({ visitor_id: v, session_id: 's-anna-2', occurred_at: minutesAgo(60), event_name: 'page_view', entities: {}, payload: {} }),
      webEvent({ visitor_id: v, session_id: 's-anna-2', occurred_at: minutesAgo(59), event_name: 'add_to_cart', entities: { cart_id: 'c1', event_entity_id: 'E1' }, payload: { items: [{ ticket_type_id: 'GA', qty: 2 }], cart_value: 100, currency: 'EUR' } }),
    ];
    expect((await batch(base, t, [...s1, ...s2])).json.accepted).toBe(5);
    expect((await ofVisitor(t, v)).every((e) => e.person_id === null)).toBe(true);

    const order = orderEvent({
      event_id: undefined,
      visitor_id: v,
      session_id: 's-anna-2',
      occurred_at: minutesAgo(55),
      entities: { order_id: 'ORD-1', event_entity_id: 'E1' },
      payload: {
        gross_amount: 100, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 2, price: 50 }], consent_data_processing: true,
        customer: { external_id: 'cust-1', email: '  Anna.Pop@Example.COM ', phone: '+40 721 000 111', city: 'Cluj' },
      },
    });
    delete order.event_id;
    const r = await serverEvents(base, t, order);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ accepted: 1, duplicates: 0, rejected: [] });

    const person = await api(base, t, 'GET', '/api/v1/persons?external_id=cust-1');
    expect(person.status).toBe(200);
    const pid = person.json.person_id;
    expect(person.json.email_sha256).toBe(sha256('anna.pop@example.com'));
    expect(person.json.phone_sha256).toBe(sha256('40721000111'));

    const evs = await ofVisitor(t, v);
    expect(evs).toHaveLength(6);
    expect(evs.map((e) => e.person_id)).toEqual(Array(6).fill(pid));
    const stored = evs.find((e) => e.event_name === 'order_completed')!;
    expect(stored.idempotency_key).toBe('order_completed_ORD-1');
    expect(stored.source_system).toBe('backend');
    const { match_keys: matchKeys, ...customer } = stored.payload.customer;
    expect(customer).toEqual({ external_id: 'cust-1', city: 'Cluj', email_sha256: sha256('anna.pop@example.com'), phone_sha256: sha256('40721000111') });
    // The ad platforms' own normalisations, kept as digests only (README "Server-side conversions").
    expect(Object.keys(matchKeys).sort()).toEqual(['google', 'meta', 'tiktok']);
    for (const keys of Object.values(matchKeys as Record<string, Record<string, string>>)) for (const d of Object.values(keys)) expect(d).toMatch(/^[0-9a-f]{64}$/);

    // Contact data exists nowhere in plaintext.
    expect(await whereIs(server.db, ['Anna.Pop', 'anna.pop', '721 000', '721000111'])).toEqual({});

    // Both sessions are attributed; the link records its source and order.
    for (const s of ['s-anna-1', 's-anna-2']) expect((await api(base, t, 'GET', `/api/v1/sessions/${s}`)).json.person_id).toBe(pid);
    const detail = await api(base, t, 'GET', `/api/v1/persons/${pid}`);
    expect(detail.json.identity_links).toEqual([expect.objectContaining({ visitor_id: v, link_source: 'order_completed', order_id: 'ORD-1', confidence: 1 })]);

    // Later events of the linked visitor get the person id at ingest, and so does a late copy of an old event.
    const later = webEvent({ visitor_id: v, session_id: 's-anna-3', occurred_at: minutesAgo(5) });
    const late = webEvent({ visitor_id: v, session_id: 's-anna-1', occurred_at: minutesAgo(177) });
    await batch(base, t, [later, late]);
    const again = await ofVisitor(t, v);
    expect(again.find((e) => e.event_id === later.event_id)!.person_id).toBe(pid);
    expect(again.find((e) => e.event_id === late.event_id)!.person_id).toBe(pid);

    // Payments of the order inherit the order's person.
    const pay = await serverEvents(base, t, { event_id: crypto.randomUUID(), event_name: 'payment_succeeded', occurred_at: minutesAgo(54), entities: { order_id: 'ORD-1' }, payload: { provider: 'stripe', amount: 100, currency: 'EUR' } });
    expect(pay.json.accepted).toBe(1);
    const [payment] = await eventsOf(base, t, 'event_name=payment_succeeded');
    expect(payment).toMatchObject({ person_id: pid, source_system: 'payments' });

    // A retried order is a duplicate; nothing is linked twice.
    const retry = await serverEvents(base, t, { events: [order] });
    expect(retry.json).toMatchObject({ accepted: 0, duplicates: 1 });
    expect((await api(base, t, 'GET', `/api/v1/persons/${pid}`)).json.identity_links).toHaveLength(1);
  });

  it('links nothing when the order has no data-processing consent', async () => {
    const v = 'v-noconsent';
    await batch(base, t, [webEvent({ visitor_id: v, session_id: 's-nc', occurred_at: minutesAgo(30) }), webEvent({ visitor_id: v, session_id: 's-nc', occurred_at: minutesAgo(29) })]);
    const r = await serverEvents(base, t, orderEvent({
      visitor_id: v, session_id: 's-nc', occurred_at: minutesAgo(28),
      payload: { gross_amount: 10, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1 }], consent_data_processing: false, customer: { external_id: 'cust-nc', email: 'nc@example.com' } },
    }));
    expect(r.json.accepted).toBe(1);
    expect((await ofVisitor(t, v)).map((e) => e.person_id)).toEqual([null, null, null]);
    expect((await api(base, t, 'GET', '/api/v1/persons?external_id=cust-nc')).status).toBe(404);
    expect((await api(base, t, 'GET', '/api/v1/sessions/s-nc')).json.person_id).toBeNull();
    // Without consent the contact data is still stored only as a digest.
    expect(await whereIs(server.db, ['nc@example.com'])).toEqual({});
  });

  it('identify (login) links and backfills; a visitor linked to two persons keeps both links and the newest wins', async () => {
    const v = 'v-shared';
    const first = [webEvent({ visitor_id: v, session_id: 's-sh-1', occurred_at: minutesAgo(50) }), webEvent({ visitor_id: v, session_id: 's-sh-1', occurred_at: minutesAgo(49) })];
    await batch(base, t, first);
    const a = await identify(base, t, { visitor_id: v, external_id: 'cust-a', email: 'a@example.com' });
    expect(a.status).toBe(200);
    expect(a.json).toMatchObject({ linked: true, person_created: true, link_created: true, backfilled_events: 2, backfilled_sessions: 1, previous_person_id: null });
    const again = await identify(base, t, { visitor_id: v, external_id: 'cust-a' });
    expect(again.json).toMatchObject({ linked: true, person_id: a.json.person_id, person_created: false, link_created: false, backfilled_events: 0 });

    const mid = webEvent({ visitor_id: v, session_id: 's-sh-2', occurred_at: minutesAgo(1) });
    await batch(base, t, [mid]);
    const b = await identify(base, t, { visitor_id: v, external_id: 'cust-b' });
    expect(b.json).toMatchObject({ linked: true, person_created: true, previous_person_id: a.json.person_id, backfilled_events: 0 });
    const after = webEvent({ visitor_id: v, session_id: 's-sh-2', occurred_at: new Date().toISOString() });
    await batch(base, t, [after]);

    const evs = await ofVisitor(t, v);
    const by = Object.fromEntries(evs.map((e) => [e.event_id, e.person_id]));
    expect([by[first[0].event_id], by[first[1].event_id], by[mid.event_id]]).toEqual([a.json.person_id, a.json.person_id, a.json.person_id]);
    expect(by[after.event_id]).toBe(b.json.person_id);
    const linksA = (await api(base, t, 'GET', `/api/v1/persons/${a.json.person_id}`)).json.identity_links;
    const linksB = (await api(base, t, 'GET', `/api/v1/persons/${b.json.person_id}`)).json.identity_links;
    expect(linksA).toEqual([expect.objectContaining({ visitor_id: v, link_source: 'login' })]);
    expect(linksB).toEqual([expect.objectContaining({ visitor_id: v, link_source: 'login', metadata: expect.objectContaining({ previous_person_id: a.json.person_id }) })]);

    const refused = await identify(base, t, { visitor_id: 'v-x', external_id: 'cust-x', consent_data_processing: false });
    expect(refused.json).toEqual({ linked: false, reason: 'no_consent', person_id: null, person_created: false, visitor_id: refused.json.visitor_id, link_created: false, previous_person_id: null, backfilled_events: 0, backfilled_sessions: 0 });
    // Anything but a boolean is refused, never read as consent.
    for (const consent of ['no', 0, 'false', {}]) {
      const r = await identify(base, t, { visitor_id: 'v-y', external_id: 'cust-y', consent_data_processing: consent });
      expect(r.status).toBe(400);
      expect(r.json.error).toMatchObject({ code: 'invalid_field', field: 'consent_data_processing', in: 'body' });
    }
    expect((await identify(base, t, { visitor_id: 'v-y', external_id: 'cust-y', email: 'a\u0000@b.c' })).json.error).toMatchObject({ field: 'email', in: 'body' });
    expect((await identify(base, t, { external_id: 'cust-x' })).status).toBe(400);
    // A national phone number takes the customer's country; without one it gets no digest; a bad country is refused.
    const ro = await identify(base, t, { visitor_id: 'v-ro', external_id: 'cust-ro', phone: '0721 234 567', country: 'ro' });
    expect(ro.status).toBe(200);
    expect((await api(base, t, 'GET', `/api/v1/persons/${ro.json.person_id}`)).json.phone_sha256).toBe(sha256('40721234567'));
    const none = await identify(base, t, { visitor_id: 'v-nc', external_id: 'cust-nc', phone: '0721 234 567' });
    expect((await api(base, t, 'GET', `/api/v1/persons/${none.json.person_id}`)).json.phone_sha256).toBeNull();
    for (const country of ['ROU', 'R1', 40, '']) {
      const r = await identify(base, t, { visitor_id: 'v-bc', external_id: 'cust-bc', phone: '0721 234 567', country });
      expect([r.status, r.json.error?.field]).toEqual([400, 'country']);
    }
    // A misspelt field is refused with its name, not dropped.
    const typo = await identify(base, t, { visitor_id: 'v-y', external_id: 'cust-y', emial: 'a@b.c' });
    expect([typo.status, typo.json.error]).toEqual([400, expect.objectContaining({ code: 'invalid_field', field: 'emial', in: 'body' })]);
  });

  it('server-events takes only server-side events with the secret key', async () => {
    const ok = orderEvent();
    const r = await serverEvents(base, t, { events: [webEvent(), ok, orderEvent({ source_system: 'web' }), { event_name: 'points_earned', idempotency_key: 'pts-1', payload: { points: 10, customer_external_id: 'cust-1' } }] });
    expect(r.status).toBe(200);
    expect(r.json.accepted).toBe(2);
    expect(r.json.rejected.map((x: any) => [x.index, x.errors[0].code])).toEqual([[0, 'not_a_server_event'], [2, 'invalid_value']]);
    // Names every object inherits are not server events either (they passed an `in` check and got a function as source_system).
    const inherited = await serverEvents(base, t, { events: ['toString', 'constructor', '__proto__'].map((event_name) => orderEvent({ event_name })) });
    expect(inherited.json.rejected.map((x: any) => x.errors)).toEqual([0, 1, 2].map(() => [expect.objectContaining({ code: 'not_a_server_event', field: 'event_name' })]));
    const [points] = await eventsOf(base, t, 'event_name=points_earned');
    const cust1 = (await api(base, t, 'GET', '/api/v1/persons?external_id=cust-1')).json.person_id;
    expect(points).toMatchObject({ source_system: 'backend', person_id: cust1 });
    expect((await serverEvents(base, { ...t, secret_key: t.write_key }, ok)).status).toBe(403);
    expect((await api(base, null, 'POST', '/api/v1/server-events', ok)).status).toBe(401);
    expect((await serverEvents(base, t, '{"events":')).status).toBe(400);
  });

  it('a server event refused for its source is kept with its event_id, and scrubbed like any rejected body', async () => {
    const ev = orderEvent({
      source_system: 'web', context: { ip: '198.51.100.77' },
      payload: { gross_amount: 10, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1 }], customer: { external_id: 'cust-scrub', first_name: 'Ioana', last_name: 'Popescu', email: 'ioana@example.org' } },
    });
    const r = await serverEvents(base, t, { events: [ev] });
    expect(r.json.rejected).toEqual([{ index: 0, event_id: ev.event_id, errors: [expect.objectContaining({ code: 'invalid_value', field: 'source_system' })] }]);
    const kept = (await api(base, t, 'GET', '/api/v1/tx/rejected?limit=100')).json.rejected.find((x: any) => x.event_id === ev.event_id);
    expect(kept).toMatchObject({ event_name: 'order_completed' });
    for (const clear of ['Ioana', 'Popescu', 'ioana@example.org', '198.51.100.77']) expect(kept.raw_body).not.toContain(clear);
    expect(JSON.parse(kept.raw_body).context.ip).toBe('198.51.100.0');
  });
});
