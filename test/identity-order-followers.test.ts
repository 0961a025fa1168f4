// Rows that name an order (a Stripe payment, a refund, a server-side payment, a web event on the order's page)
// take their person from that order only, never from the visitor's link: on a shared device (a box-office till)
// the visitor's newest link is often another buyer. Stripe regularly delivers payment_intent.succeeded before the
// backend's order_completed; that payment stays unattributed until its order is attributed, and the order's
// backfill then stamps it. An order left unattributed (no data-processing consent) leaves its payments
// unattributed too. Over real HTTP, payloads signed as Stripe signs them. On both stores.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, eventsOf, orderEvent, webEvent, type Tenant } from './helpers.js';
import { api, batch, identify, minutesAgo, serverEvents, stripeHeader } from './identity-helpers.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

const SECRET = 'whsec_' + crypto.randomBytes(24).toString('base64url');

const stripeEvent = (type: string, object: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  id: 'evt_' + crypto.randomBytes(12).toString('hex'), object: 'event', api_version: '2024-06-20',
  created: Math.floor(Date.now() / 1000) - 5, livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null },
  type, data: { object }, ...extra,
});
const paymentIntent = (id: string, orderId: string, visitor: string, amount = 3000) => ({
  id, object: 'payment_intent', amount, amount_received: amount, currency: 'eur', status: 'succeeded',
  latest_charge: `ch_${id.slice(3)}`, payment_method_types: ['card'], metadata: { order_id: orderId, tx_vid: visitor },
});
const refund = (pi: string, amount = 3000) => ({
  id: `ch_${pi.slice(3)}`, object: 'charge', amount, amount_refunded: amount, currency: 'eur', refunded: true, payment_intent: pi, metadata: {},
});

describe.each(['embedded', 'postgres'])('rows naming an order take the order\'s person only (%s store)', (store) => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let scratch: ScratchDatabase | undefined;
  let base: string;
  let t: Tenant;

  beforeAll(async () => {
    if (store === 'postgres') scratch = await scratchDatabase('ident_followers');
    // A Postgres server keeps no key of its own in DATA_DIR: Stripe's secret is stored encrypted with this one.
    server = await bootServer(scratch ? { DATABASE_URL: scratch.url, ENCRYPTION_KEY: crypto.randomBytes(32).toString('hex') } : {});
    base = server.url;
    t = await createTenant(base, 'ident-followers');
    expect((await api(base, t, 'PUT', '/api/v1/settings/stripe', { webhook_secret: SECRET })).status).toBe(200);
  });
  afterAll(async () => {
    await server?.close();
    await scratch?.drop();
  });

  const deliver = async (evt: unknown) => {
    const body = JSON.stringify(evt, null, 2);
    const r = await fetch(`${base}/api/v1/webhooks/stripe/${t.tenant_id}`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': stripeHeader(SECRET, body) }, body });
    return { status: r.status, json: (await r.json()) as any };
  };
  const order = (visitor: string, customer: string, orderId: string, at: string, consent = true) => orderEvent({
    visitor_id: visitor, session_id: `s-${visitor}`, occurred_at: at,
    entities: { order_id: orderId, event_entity_id: 'E1' },
    payload: { gross_amount: 30, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1, price: 30 }], consent_data_processing: consent, customer: { external_id: customer } },
  });
  const serverPayment = (visitor: string, orderId: string, at: string) => ({
    event_id: crypto.randomUUID(), event_name: 'payment_succeeded', occurred_at: at, source_system: 'payments', visitor_id: visitor, session_id: `s-${visitor}`,
    entities: { order_id: orderId }, payload: { provider: 'stripe', amount: 30, currency: 'EUR' },
  });
  const personOf = async (external: string) => (await api(base, t, 'GET', `/api/v1/persons?external_id=${external}`)).json.person_id as number;
  const rowsOf = async (orderId: string) => (await eventsOf(base, t, 'limit=1000')).filter((e) => e.entities?.order_id === orderId);
  const personsOf = async (orderId: string) => Object.fromEntries((await rowsOf(orderId)).map((e) => [e.event_name, e.person_id ?? null]));
  const exported = async (person: number) => {
    const x = await api(base, t, 'GET', `/api/v1/persons/${person}/export`);
    expect(x.status).toBe(200);
    return (x.json.events as Record<string, any>[]).map((e) => `${e.event_name}:${e.entities?.order_id ?? ''}`);
  };

  it('box-office till: a Stripe payment delivered before its order is the order\'s buyer\'s, not the till\'s previous buyer\'s (export, erasure)', async () => {
    const v = `VTILL-${store}`;
    expect((await serverEvents(base, t, order(v, 'BUYER1', 'ORD-T1', minutesAgo(5)))).json).toMatchObject({ accepted: 1, rejected: [] });
    expect((await deliver(stripeEvent('payment_intent.succeeded', paymentIntent('pi_T2', 'ORD-T2', v))))).toMatchObject({ status: 200, json: { accepted: 1 } });
    // Until its order arrives the payment is no one's: the till's newest link (BUYER1) does not stamp it.
    expect(await personsOf('ORD-T2')).toEqual({ payment_succeeded: null });
    expect((await serverEvents(base, t, order(v, 'BUYER2', 'ORD-T2', minutesAgo(0)))).json).toMatchObject({ accepted: 1, rejected: [] });
    expect((await deliver(stripeEvent('charge.refunded', refund('pi_T2'), { data: { object: refund('pi_T2'), previous_attributes: { amount_refunded: 0 } } })))).toMatchObject({ status: 200, json: { accepted: 1 } });
    const [b1, b2] = [await personOf('BUYER1'), await personOf('BUYER2')];
    expect(b1).not.toBe(b2);
    expect(await personsOf('ORD-T2')).toEqual({ payment_succeeded: b2, order_completed: b2, refund_completed: b2 });
    expect(await personsOf('ORD-T1')).toEqual({ order_completed: b1 });

    expect(await exported(b1)).toEqual(['order_completed:ORD-T1']);
    expect((await exported(b2)).sort()).toEqual(['order_completed:ORD-T2', 'payment_succeeded:ORD-T2', 'refund_completed:ORD-T2']);

    // Erasing BUYER1 leaves BUYER2's order, payment and refund whole.
    expect((await api(base, t, 'DELETE', `/api/v1/persons/${b1}`)).status).toBe(200);
    expect(await rowsOf('ORD-T1')).toEqual([]);
    expect(await personsOf('ORD-T2')).toEqual({ payment_succeeded: b2, order_completed: b2, refund_completed: b2 });
  });

  it('a payment stored before the visitor was linked at all is not backfilled by another buyer\'s link, only by its own order', async () => {
    const v = `VTILL2-${store}`;
    expect((await deliver(stripeEvent('payment_intent.succeeded', paymentIntent('pi_T4', 'ORD-T4', v))))).toMatchObject({ status: 200, json: { accepted: 1 } });
    // Another buyer's order links the till (backfill by visitor), then a login of a third one (identify).
    expect((await serverEvents(base, t, order(v, 'BUYER3', 'ORD-T3', minutesAgo(3)))).json.accepted).toBe(1);
    expect((await identify(base, t, { visitor_id: v, external_id: 'BUYER5' })).json).toMatchObject({ linked: true });
    expect(await personsOf('ORD-T4')).toEqual({ payment_succeeded: null });
    expect((await serverEvents(base, t, order(v, 'BUYER4', 'ORD-T4', minutesAgo(1)))).json.accepted).toBe(1);
    const b4 = await personOf('BUYER4');
    expect(await personsOf('ORD-T4')).toEqual({ payment_succeeded: b4, order_completed: b4 });
    expect(await exported(await personOf('BUYER3'))).toEqual(['order_completed:ORD-T3']);
  });

  it('one commit with one buyer\'s order and the next buyer\'s payment: the payment waits for its own order', async () => {
    const v = `VTILL3-${store}`;
    const r = await serverEvents(base, t, { events: [order(v, 'BUYER6', 'ORD-T6', minutesAgo(4)), serverPayment(v, 'ORD-T7', minutesAgo(3))] });
    expect(r.json).toMatchObject({ accepted: 2, rejected: [] });
    expect(await personsOf('ORD-T7')).toEqual({ payment_succeeded: null });
    expect((await serverEvents(base, t, order(v, 'BUYER7', 'ORD-T7', minutesAgo(2)))).json.accepted).toBe(1);
    expect(await personsOf('ORD-T7')).toEqual({ payment_succeeded: await personOf('BUYER7'), order_completed: await personOf('BUYER7') });
  });

  it('a payment of an attributed order is that order\'s buyer\'s even when the visitor\'s newest link is someone else', async () => {
    const v = `VTILL4-${store}`;
    expect((await serverEvents(base, t, order(v, 'BUYER8', 'ORD-T8', minutesAgo(6)))).json.accepted).toBe(1);
    expect((await serverEvents(base, t, order(v, 'BUYER9', 'ORD-T9', minutesAgo(4)))).json.accepted).toBe(1);
    // A late payment of BUYER8's order, from the till now linked newest to BUYER9.
    expect((await deliver(stripeEvent('payment_intent.succeeded', paymentIntent('pi_T8', 'ORD-T8', v))))).toMatchObject({ status: 200, json: { accepted: 1 } });
    // A web event on BUYER8's order page, from the same till.
    const w = webEvent({ visitor_id: v, session_id: `s-${v}`, occurred_at: minutesAgo(1), event_name: 'page_view', entities: { order_id: 'ORD-T8' }, payload: {}, context: { page: { path: '/order' } } });
    expect((await batch(base, t, [w])).json.accepted).toBe(1);
    const b8 = await personOf('BUYER8');
    expect(await personsOf('ORD-T8')).toEqual({ order_completed: b8, payment_succeeded: b8, page_view: b8 });
  });

  it('an order without data-processing consent stays unattributed, and so do its payments, whoever the visitor is linked to', async () => {
    const v = `VTILL5-${store}`;
    expect((await serverEvents(base, t, order(v, 'BUYER10', 'ORD-T10', minutesAgo(6)))).json.accepted).toBe(1);
    expect((await deliver(stripeEvent('payment_intent.succeeded', paymentIntent('pi_T11a', 'ORD-T11', v))))).toMatchObject({ status: 200, json: { accepted: 1 } });
    expect((await serverEvents(base, t, order(v, 'BUYER11', 'ORD-T11', minutesAgo(2), false))).json.accepted).toBe(1);
    expect((await deliver(stripeEvent('payment_intent.succeeded', paymentIntent('pi_T11b', 'ORD-T11', v))))).toMatchObject({ status: 200, json: { accepted: 1 } });
    const rows = await rowsOf('ORD-T11');
    expect(rows.map((e) => [e.event_name, e.person_id ?? null]).sort()).toEqual([['order_completed', null], ['payment_succeeded', null], ['payment_succeeded', null]]);
  });
});
