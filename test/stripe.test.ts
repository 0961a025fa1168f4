// Stripe webhooks over real HTTP, with the tests acting as Stripe: payloads signed exactly as Stripe
// documents (Stripe-Signature: t=<unix s>,v1=<hex HMAC-SHA256(endpoint secret, "<t>.<raw body>")>).
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromMinorUnits } from '../server/integrations/stripe/events.js';
import { verifyStripeSignature, stripeSignature } from '../server/integrations/stripe/verify.js';
import { bootServer, createTenant, eventsOf, orderEvent, until, type Tenant } from './helpers.js';
import { api, serverEvents, stripeHeader, whereIs } from './identity-helpers.js';

const SECRET = 'whsec_' + crypto.randomBytes(24).toString('base64url');

function stripeEvent(type: string, object: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    id: 'evt_' + crypto.randomBytes(12).toString('hex'),
    object: 'event',
    api_version: '2024-06-20',
    created: Math.floor(Date.now() / 1000) - 5,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: { object },
    ...extra,
  };
}

const paymentIntent = (id: string, orderId: string | null, amount = 12_350, currency = 'eur') => ({
  id, object: 'payment_intent', amount, amount_received: amount, currency, status: 'succeeded',
  latest_charge: `ch_${id.slice(3)}`, payment_method_types: ['card'],
  metadata: orderId ? { order_id: orderId, visitor_id: 'v-stripe' } : {},
});

describe('stripe webhooks', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  let url: string;

  // Pretty-printed like Stripe's own deliveries: any re-serialisation changes the bytes.
  const send = (body: string, signature: string | null, target = url) =>
    fetch(target, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8', ...(signature ? { 'stripe-signature': signature } : {}) }, body }).then(async (r) => ({ status: r.status, json: (await r.json()) as any }));
  const deliver = (evt: unknown, t0?: number) => {
    const body = JSON.stringify(evt, null, 2);
    return send(body, stripeHeader(SECRET, body, t0));
  };

  beforeAll(async () => {
    server = await bootServer();
    base = server.url;
    t = await createTenant(base, 'stripe');
    url = `${base}/api/v1/webhooks/stripe/${t.tenant_id}`;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('stores the webhook secret encrypted and never returns it', async () => {
    // The refusal names where (in, field) and what was sent without echoing it: a secret is never repeated back.
    expect((await api(base, t, 'PUT', '/api/v1/settings/stripe', { webhook_secret: 'sk_live_nope' })).json.error).toEqual({
      code: 'invalid_field', in: 'body', field: 'webhook_secret',
      message: 'webhook_secret must be the endpoint\'s signing secret from the Stripe dashboard ("whsec_" and 8-200 letters, digits or + / = _ -); got a string of 12 characters not starting with "whsec_".',
    });
    expect((await api(base, t, 'PUT', '/api/v1/settings/stripe', { webhook_secret: 5 })).json.error).toMatchObject({ in: 'body', field: 'webhook_secret', message: expect.stringMatching(/; got a number \(5\)\.$/) });
    expect((await api(base, t, 'GET', '/api/v1/settings/stripe')).json.stripe.configured).toBe(false);
    // Not configured yet: refused, and Stripe will retry.
    const early = await deliver(stripeEvent('payment_intent.succeeded', paymentIntent('pi_early', 'O-early')));
    expect(early).toMatchObject({ status: 400, json: { error: { code: 'webhook_not_configured' } } });

    const put = await api(base, t, 'PUT', '/api/v1/settings/stripe', { webhook_secret: SECRET });
    expect(put.status).toBe(200);
    expect(put.json.stripe).toMatchObject({ configured: true, webhook_url: `/api/v1/webhooks/stripe/${t.tenant_id}` });
    expect(put.text).not.toContain(SECRET);
    const got = await api(base, t, 'GET', '/api/v1/settings/stripe');
    expect(got.json.stripe.webhook_secret_hint).toBe(`${SECRET.slice(0, 6)}…${SECRET.slice(-4)}`);
    expect(got.text).not.toContain(SECRET);
    // Not in plaintext anywhere in the database; the stored value is an AES-256-GCM envelope.
    expect(await whereIs(server.db, [SECRET, SECRET.slice(6)])).toEqual({});
    const { rows } = await server.db.query<{ ciphertext: string }>('SELECT ciphertext FROM tenant_secrets WHERE tenant_id = $1', [t.tenant_id]);
    expect(rows[0].ciphertext).toMatch(/^v1\.[0-9a-f]{8}\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect((await api(base, { ...t, secret_key: t.write_key }, 'PUT', '/api/v1/settings/stripe', { webhook_secret: SECRET })).status).toBe(403);
  });

  it('accepts a valid signature and maps payment_intent.succeeded onto payment_succeeded', async () => {
    const evt = stripeEvent('payment_intent.succeeded', paymentIntent('pi_ok1', 'O-100'));
    const r = await deliver(evt);
    expect(r).toMatchObject({ status: 200, json: { received: true, event_name: 'payment_succeeded', accepted: 1, duplicates: 0 } });
    const [stored] = await eventsOf(base, t, 'event_name=payment_succeeded');
    expect(stored).toMatchObject({
      idempotency_key: evt.id,
      source_system: 'payments',
      visitor_id: 'v-stripe',
      occurred_at: new Date(evt.created * 1000).toISOString(),
      entities: { order_id: 'O-100' },
      payload: { provider: 'stripe', provider_tx_id: 'pi_ok1', amount: 123.5, currency: 'EUR', method: 'card' },
    });
  });

  it('rejects a bad signature, a stale or future timestamp, a re-serialised body and a missing header with 400', async () => {
    const evt = stripeEvent('payment_intent.succeeded', paymentIntent('pi_bad', 'O-bad'));
    const body = JSON.stringify(evt, null, 2);
    // Timestamps are taken when each request is built, never once for the whole test, and stay 10 s clear of
    // the 300 s tolerance: a second ticking between signing and checking must not change the outcome. The
    // exact boundary (300 in, 301 out) is proven with an injected clock in the unit test below.
    const nowS = () => Math.floor(Date.now() / 1000);
    const cases: [string, () => string | null, string, string][] = [
      ['wrong secret', () => stripeHeader('whsec_other', body), body, 'invalid_signature'],
      ['tampered signature', () => stripeHeader(SECRET, body).replace(/v1=([0-9a-f])/, (_m, c) => `v1=${c === '0' ? '1' : '0'}`), body, 'invalid_signature'],
      ['stale t (310 s old)', () => stripeHeader(SECRET, body, nowS() - 310), body, 'timestamp_outside_tolerance'],
      ['future t (310 s ahead)', () => stripeHeader(SECRET, body, nowS() + 310), body, 'timestamp_outside_tolerance'],
      ['re-serialised body', () => stripeHeader(SECRET, body), JSON.stringify(JSON.parse(body)), 'invalid_signature'],
      ['signature of another timestamp', () => {
        const now = nowS();
        return stripeHeader(SECRET, body, now).replace(`t=${now}`, `t=${now - 1}`);
      }, body, 'invalid_signature'],
      ['no header', () => null, body, 'missing_signature'],
      ['no v1', () => `t=${nowS()}`, body, 'malformed_signature'],
    ];
    for (const [name, header, sent, code] of cases) {
      const r = await send(sent, header());
      expect({ name, status: r.status, code: r.json.error?.code }).toEqual({ name, status: 400, code });
    }
    expect(await eventsOf(base, t, 'event_name=payment_succeeded').then((e) => e.filter((x) => x.entities.order_id === 'O-bad'))).toHaveLength(0);
    // Inside the tolerance on both sides, and with several v1 values (secret rotation), it is accepted.
    const early = await send(body, stripeHeader(SECRET, body, nowS() - 290, ['00'.repeat(32), 'zz']));
    expect(early.status).toBe(200);
    const evt2 = stripeEvent('payment_intent.succeeded', paymentIntent('pi_ahead', 'O-ahead'));
    const body2 = JSON.stringify(evt2);
    expect((await send(body2, stripeHeader(SECRET, body2, nowS() + 290))).status).toBe(200);
    // A well-formed id without a tenant is 404; a malformed one is the sender's mistake, a 400 naming the path parameter.
    expect((await send(body2, stripeHeader(SECRET, body2), `${base}/api/v1/webhooks/stripe/999999`))).toMatchObject({ status: 404, json: { error: { code: 'unknown_tenant' } } });
    for (const [raw, got] of [['%00', '"\\u0000"'], ['abc', '"abc"'], ['0', '"0"'], ['%ZZ', null]] as const) {
      const r = await send(body2, stripeHeader(SECRET, body2), `${base}/api/v1/webhooks/stripe/${raw}`);
      expect({ raw, status: r.status, error: r.json.error }).toEqual({
        raw, status: 400,
        error: { code: 'invalid_field', in: 'path', field: 'tenant_id', message: got ? `tenant_id must be an integer between 1 and ${Number.MAX_SAFE_INTEGER} (got ${got}).` : expect.stringContaining('"%ZZ" is not valid percent-encoded UTF-8') },
      });
    }
  });

  it('creates one tx event when the same Stripe event is delivered 5 times concurrently', async () => {
    const evt = stripeEvent('payment_intent.succeeded', paymentIntent('pi_dupe', 'O-dupe'));
    const body = JSON.stringify(evt, null, 2);
    const results = await Promise.all(Array.from({ length: 5 }, () => send(body, stripeHeader(SECRET, body))));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(results.reduce((n, r) => n + r.json.accepted, 0)).toBe(1);
    expect(results.reduce((n, r) => n + r.json.duplicates, 0)).toBe(4);
    const stored = (await eventsOf(base, t, 'event_name=payment_succeeded')).filter((e) => e.entities.order_id === 'O-dupe');
    expect(stored).toHaveLength(1);
    // A later redelivery (new signature, same event) is still a duplicate.
    expect((await deliver(evt)).json).toMatchObject({ accepted: 0, duplicates: 1 });
  });

  it('maps failures, refunds and disputes, finding the order through the payment intent', async () => {
    const failed = stripeEvent('payment_intent.payment_failed', {
      ...paymentIntent('pi_f1', 'O-200', 5000), status: 'requires_payment_method', amount_received: 0,
      last_payment_error: { code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' },
    });
    const ok = stripeEvent('payment_intent.succeeded', paymentIntent('pi_f1', 'O-200', 5000));
    // Charges and disputes carry no order metadata: the order is found through the payment intent seen before.
    const refund1 = stripeEvent('charge.refunded', { id: 'ch_f1', object: 'charge', amount: 5000, amount_refunded: 2000, currency: 'eur', refunded: false, payment_intent: 'pi_f1', metadata: {} });
    (refund1.data as any).previous_attributes = { amount_refunded: 0, refunded: false };
    const refund2 = stripeEvent('charge.refunded', { id: 'ch_f1', object: 'charge', amount: 5000, amount_refunded: 5000, currency: 'eur', refunded: true, payment_intent: 'pi_f1', metadata: {} });
    (refund2.data as any).previous_attributes = { amount_refunded: 2000, refunded: false };
    const dispute = stripeEvent('charge.dispute.created', { id: 'dp_1', object: 'dispute', amount: 3000, currency: 'eur', charge: 'ch_f1', payment_intent: 'pi_f1', reason: 'fraudulent', metadata: {} });
    const yen = stripeEvent('payment_intent.succeeded', paymentIntent('pi_yen', 'O-yen', 1500, 'jpy'));
    for (const e of [failed, ok, refund1, refund2, dispute, yen]) expect((await deliver(e)).json).toMatchObject({ accepted: 1 });

    const all = await eventsOf(base, t);
    const of = (id: string) => all.find((e) => e.idempotency_key === id)!;
    expect(of(failed.id)).toMatchObject({ event_name: 'payment_failed', entities: { order_id: 'O-200' }, payload: { amount: 50, currency: 'EUR', failure_code: 'insufficient_funds', failure_message: 'Your card has insufficient funds.' } });
    expect(of(refund1.id)).toMatchObject({ event_name: 'refund_completed', entities: { order_id: 'O-200' }, payload: { amount: 20, is_partial: true, provider: 'stripe' } });
    expect(of(refund2.id)).toMatchObject({ event_name: 'refund_completed', payload: { amount: 30, is_partial: false } });
    expect(of(dispute.id)).toMatchObject({ event_name: 'chargeback_opened', entities: { order_id: 'O-200' }, payload: { amount: 30, reason: 'fraudulent', provider_dispute_id: 'dp_1' } });
    expect(of(yen.id).payload).toMatchObject({ amount: 1500, currency: 'JPY' });
  });

  it("lists the Stripe objects of a person's orders in their GDPR export, and erases them with the person", async () => {
    const order = orderEvent({ visitor_id: 'v-stripe-export', entities: { order_id: 'O-export-1', event_entity_id: 'E1' }, payload: { gross_amount: 50, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1 }], consent_data_processing: true, customer: { external_id: 'cust-stripe-export' } } });
    expect((await serverEvents(base, t, order)).json.accepted).toBe(1);
    expect((await deliver(stripeEvent('payment_intent.succeeded', paymentIntent('pi_export1', 'O-export-1', 5000)))).json).toMatchObject({ accepted: 1 });
    const person = await until(async () => {
      const r = await api(base, t, 'GET', '/api/v1/persons?external_id=cust-stripe-export');
      return r.status === 200 ? r.json : null;
    });
    const ex = await api(base, t, 'GET', `/api/v1/persons/${person.person_id}/export`);
    expect(ex.status).toBe(200);
    expect(ex.json.stripe_objects.map((o: any) => [o.object_id, o.order_id]).sort()).toEqual([['ch_export1', 'O-export-1'], ['pi_export1', 'O-export-1']]);
    expect((await api(base, t, 'DELETE', `/api/v1/persons/${person.person_id}`)).json.removed.stripe_objects).toBe(2);
    expect(await whereIs(server.db, ['pi_export1', 'ch_export1'])).toEqual({});
  });

  it('after an erasure, a redelivery or a new event about the erased order maps no Stripe object to it again', async () => {
    const order = orderEvent({ visitor_id: 'v-stripe-erased', entities: { order_id: 'O-erased-1', event_entity_id: 'E1' }, payload: { gross_amount: 100, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1 }], consent_data_processing: true, customer: { external_id: 'cust-stripe-erased' } } });
    expect((await serverEvents(base, t, order)).json.accepted).toBe(1);
    const paid = stripeEvent('payment_intent.succeeded', paymentIntent('pi_erased1', 'O-erased-1', 10_000));
    expect((await deliver(paid)).json).toMatchObject({ accepted: 1 });
    const pid = (await api(base, t, 'GET', '/api/v1/persons?external_id=cust-stripe-erased')).json.person_id;
    expect((await api(base, t, 'DELETE', `/api/v1/persons/${pid}`)).json.removed.stripe_objects).toBe(2);

    // Stripe redelivers the payment (a duplicate), then sends a new event with the order in its metadata.
    expect((await deliver(paid)).json).toMatchObject({ accepted: 0, duplicates: 1 });
    const again = stripeEvent('payment_intent.succeeded', paymentIntent('pi_erased2', 'O-erased-1', 10_000));
    expect((await deliver(again)).json).toMatchObject({ accepted: 1 });
    expect(await whereIs(server.db, ['pi_erased1', 'ch_erased1', 'pi_erased2', 'ch_erased2'])).not.toHaveProperty('stripe_objects');
    // A dispute of that payment then finds no order: it is not linked to the erased order.
    const dispute = stripeEvent('charge.dispute.created', { id: 'dp_erased', object: 'dispute', amount: 10_000, currency: 'eur', charge: 'ch_erased1', payment_intent: 'pi_erased1', reason: 'fraudulent', metadata: {} });
    expect((await deliver(dispute)).json).toMatchObject({ received: true, ignored: true });
    expect((await eventsOf(base, t)).some((e) => e.event_name === 'chargeback_opened' && e.payload.provider_dispute_id === 'dp_erased')).toBe(false);
  });

  it('refuses malformed UTF-8 (never replaced by U+FFFD) and rejects unusable order ids and amounts naming the field', async () => {
    // Correctly signed bytes with 0xff inside metadata.order_id: 400 naming the offset, nothing stored.
    const text = JSON.stringify(stripeEvent('payment_intent.succeeded', paymentIntent('pi_utf8', 'ORD-X-1')));
    const at = Buffer.byteLength(text.slice(0, text.indexOf('ORD-X-1') + 4));
    const bytes = Buffer.from(text);
    bytes[at] = 0xff;
    const ts = Math.floor(Date.now() / 1000);
    const sig = crypto.createHmac('sha256', SECRET).update(Buffer.concat([Buffer.from(`${ts}.`), bytes])).digest('hex');
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': `t=${ts},v1=${sig}` }, body: bytes });
    expect(r.status).toBe(400);
    expect(((await r.json()) as any).error).toMatchObject({ code: 'invalid_json', in: 'body', field: '$', message: expect.stringContaining(`offset ${at}`) });
    // Signed but not JSON: the whole body, where it breaks, and to send JSON; not V8's raw text.
    const cut = text.slice(0, 6); // {"id":
    const cutSig = stripeHeader(SECRET, cut);
    expect(await send(cut, cutSig)).toEqual({ status: 400, json: { error: { code: 'invalid_json', in: 'body', field: '$', message: `The body is not valid JSON: the body ends before its JSON value does at position 6 (line 1, column 7). Send the body as JSON, e.g. {"name": "value"} (JSON.stringify), encoded as UTF-8.` } } });
    // Signed JSON that is not an event object: acknowledged and rejected naming the whole event, `$`, never null.
    expect(await send('[1]', stripeHeader(SECRET, '[1]'))).toMatchObject({ status: 200, json: { rejected: [{ errors: [{ code: 'invalid_stripe_event', field: '$', message: 'The body is not a Stripe event object; got an array.' }] }] } });
    expect(await whereIs(server.db, ['pi_utf8', 'ORD-\ufffd'])).toEqual({});

    const bad = async (object: Record<string, unknown>, field: string, type = 'payment_intent.succeeded') => {
      const evt = stripeEvent(type, object);
      const res = await deliver(evt);
      expect(res).toMatchObject({ status: 200, json: { received: true, accepted: 0, rejected: [{ errors: [{ code: 'invalid_stripe_event', field }] }] } });
      const kept = await api(base, t, 'GET', '/api/v1/tx/rejected?limit=100');
      expect(kept.json.rejected.some((x: any) => x.raw_body.includes(evt.id) && x.reasons[0].field === field)).toBe(true);
    };
    for (const id of ['ORD-\u0000-1', 'ORD-\u0007-1', 'ORD-\ud800-1', 'O'.repeat(300)]) {
      await bad(paymentIntent('pi_badorder', id), 'data.object.metadata.order_id');
    }
    await bad({ ...paymentIntent('pi_neg', 'O-neg'), amount: -500, amount_received: -500 }, 'data.object.amount');
    const refund = { id: 'ch_neg', object: 'charge', amount: 5000, amount_refunded: 1000, currency: 'eur', payment_intent: 'pi_f1', metadata: {} };
    const evt = stripeEvent('charge.refunded', refund);
    (evt.data as any).previous_attributes = { amount_refunded: 3000 };
    const res = await deliver(evt);
    expect(res.json.rejected[0].errors[0]).toMatchObject({ code: 'invalid_stripe_event', field: 'data.object.amount_refunded' });
    expect((await eventsOf(base, t)).some((e) => ['pi_badorder', 'pi_neg', 'ch_neg'].includes(e.payload.provider_tx_id ?? e.payload.provider_charge_id))).toBe(false);
  });

  it('keeps a refused payment intent\'s shipping and billing details only as digests in its rejected body', async () => {
    const person = {
      receipt_email: 'alicia.probe@example.com',
      shipping: { name: 'Alicia Probescu', phone: '+40 721 234 567', carrier: 'Posta', address: { line1: 'Strada Probei 42', line2: 'Ap. 7', city: 'Clujprobe', state: 'CJ', postal_code: '400777', country: 'RO' } },
      charges: { object: 'list', data: [{ id: 'ch_pii', billing_details: { name: 'Alicia Probescu', email: 'alicia.probe@example.com', phone: '0721234567', address: { line1: 'Strada Probei 42', postal_code: '400777', city: 'Clujprobe' } } }] },
    };
    const evt = stripeEvent('payment_intent.succeeded', { ...paymentIntent('pi_pii', 'O-pii'), ...person, amount: -5, amount_received: -5 });
    const res = await deliver(evt);
    expect(res.json.rejected[0].errors[0]).toMatchObject({ field: 'data.object.amount' });
    const kept = (await api(base, t, 'GET', '/api/v1/tx/rejected?limit=100')).json.rejected.find((x: any) => x.raw_body.includes(evt.id));
    for (const clear of ['Alicia', 'Probescu', 'Probei', 'Ap. 7', 'Clujprobe', '"CJ"', '400777', 'alicia.probe', '721 234 567', '0721234567']) expect(kept.raw_body).not.toContain(clear);
    const digest = 'sha256:' + crypto.createHash('sha256').update('alicia probescu').digest('hex');
    expect(kept.raw_body).toContain(`"name": "${digest}"`);
    for (const keptAsSent of ['"Posta"', '"RO"', '"pi_pii"', '"O-pii"']) expect(kept.raw_body).toContain(keptAsSent);
  });

  it('acknowledges and ignores unknown event types and events without an order', async () => {
    const unknown = await deliver(stripeEvent('customer.created', { id: 'cus_1', object: 'customer' }));
    expect(unknown).toMatchObject({ status: 200, json: { received: true, ignored: true } });
    const orphan = await deliver(stripeEvent('charge.dispute.created', { id: 'dp_x', object: 'dispute', amount: 1, currency: 'eur', charge: 'ch_unknown', metadata: {} }));
    expect(orphan).toMatchObject({ status: 200, json: { received: true, ignored: true } });
    expect((await eventsOf(base, t)).some((e) => e.payload.provider_dispute_id === 'dp_x')).toBe(false);
  });
});

describe('stripe signature verification (unit)', () => {
  const body = Buffer.from('{"id":"evt_1"}');
  const t = 1_700_000_000;
  it('matches the documented construction and checks every v1 value in constant time', () => {
    const sig = crypto.createHmac('sha256', 'whsec_x').update(`${t}.{"id":"evt_1"}`).digest('hex');
    expect(stripeSignature('whsec_x', t, body)).toBe(sig);
    expect(verifyStripeSignature(body, `t=${t},v1=${'a'.repeat(64)},v1=${sig},v0=abc`, 'whsec_x', t + 300)).toEqual({ ok: true, timestamp: t });
    expect(verifyStripeSignature(body, `t=${t},v1=${sig}`, 'whsec_x', t + 301)).toMatchObject({ ok: false, code: 'timestamp_outside_tolerance' });
    expect(verifyStripeSignature(body, `t=${t},v1=${sig}`, 'whsec_x', t - 301)).toMatchObject({ ok: false, code: 'timestamp_outside_tolerance' });
    expect(verifyStripeSignature(body, `t=${t},v0=${sig}`, 'whsec_x', t)).toMatchObject({ ok: false, code: 'malformed_signature' });
    expect(verifyStripeSignature(body, `t=abc,v1=${sig}`, 'whsec_x', t)).toMatchObject({ ok: false, code: 'malformed_signature' });
  });
  it('converts minor units per currency', () => {
    expect([fromMinorUnits(1999, 'eur'), fromMinorUnits(1999, 'JPY'), fromMinorUnits(1999, 'kwd')]).toEqual([19.99, 1999, 1.999]);
  });
});
