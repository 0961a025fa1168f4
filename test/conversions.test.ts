// Server-side conversions end to end (issue 15 part 2): a purchase reaches the organizer's and the marketplace's
// destinations once each with the documented formats and hashes; 429 then 200 delivers once; a 400 is dead with
// the provider's reason (bisection keeps the good rows); consent and the legitimate-interest policy decide what
// is queued; erasure removes pending rows and hashes; the status API pages and counts.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, bootServer, createTenant, getJson, postEvents, request, until, webEvent, type Tenant } from './helpers.js';
import { addCode, auth, CUSTOMER, dispatchNow, metaCode, providerEnv, purchase } from './conversions-helpers.js';
import { startMockPlatforms, type MockPlatforms } from './mock-platforms/index.js';

const sha = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

describe('server-side conversions', () => {
  let mock: MockPlatforms;
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;

  beforeAll(async () => {
    mock = await startMockPlatforms();
    server = await bootServer({ ...providerEnv(mock), RATE_LIMIT_EVENTS_PER_SEC: '100000', RATE_LIMIT_BURST: '1000000' });
    base = server.url;
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await mock?.close();
  });

  const rowsOf = async (t: Tenant, query = '') => {
    const r = await getJson(`${base}/api/v1/conversions?limit=1000${query}`, auth(t));
    expect(r.status).toBe(200);
    return r.json as { items: any[]; counts: any[]; next_cursor: string | null };
  };
  /** Requests carrying the event (its event id; a purchase: its order id, Meta's and TikTok's event id and Google's and GA4's transaction id). */
  const sentFor = (e: Record<string, any>) => mock.received.filter((r) => r.ids.includes(e.event_id) || r.ids.includes(e.entities.order_id));

  it('sends a purchase once to the organizer\'s and the marketplace\'s destinations, with the documented payloads and hashes', { timeout: 240_000 }, async () => {
    const t = await createTenant(base, 'conv-dual');
    await addCode(base, t, metaCode('111111111111111', 'O1'));
    await addCode(base, t, metaCode('222222222222222', null));
    await addCode(base, t, { provider: 'tiktok', organizer_id: null, settings: { pixel_id: 'D17TA5JC77UDOT6CA5FG' }, secrets: { access_token: 'tt' } });
    await addCode(base, t, { provider: 'google_ads', organizer_id: 'O1', settings: { conversion_id: 'AW-1234567', custom_params: { customer_id: '1234567890', conversion_action_id: '987654' } }, secrets: { access_token: 'ya29.x' } });
    await addCode(base, t, { provider: 'ga4', organizer_id: null, settings: { measurement_id: 'G-ABCD1234' }, secrets: { api_secret: 's3cr3t' } });
    // Another organizer's code must not receive it.
    await addCode(base, t, metaCode('333333333333333', 'O2'));

    // The session's first touch carries the click ids and UTMs; the purchase arrives later from the backend.
    const touch = webEvent({ session_id: 's-1', visitor_id: 'v-1', context: { utm: { source: 'fb', campaign: 'spring' }, click_ids: { fbclid: 'FBCLID123', gclid: 'GCLID456', ttclid: 'TT789' }, page: { url: 'https://tickets.example/e/E1' } } });
    const order = purchase();
    expect((await postEvents(base, t, [touch])).accepted).toBe(1);
    expect((await postEvents(base, t, [order])).accepted).toBe(1);

    await until(async () => {
      await dispatchNow(base);
      return (await rowsOf(t)).counts.every((c) => c.pending === 0) && sentFor(order).length >= 5;
    }, 180_000, 500);

    expect(mock.problems).toEqual([]);
    const got = sentFor(order);
    const meta = got.filter((r) => r.provider === 'meta');
    expect(meta.map((r) => r.destination).sort()).toEqual(['111111111111111', '222222222222222']);
    expect(got.filter((r) => r.provider !== 'meta').map((r) => r.provider).sort()).toEqual(['ga4', 'google', 'tiktok']);

    const ev = meta[0].body.data[0];
    // The status list names the id each platform deduplicates the row by, as it was sent.
    const queued = (await rowsOf(t)).items.filter((r) => r.event_id === order.event_id);
    expect(queued.map((r) => [r.provider, r.platform_event_id, r.order_id]).sort()).toEqual([
      ['ga4', null, order.entities.order_id], ['google_ads', null, order.entities.order_id],
      ['meta', order.entities.order_id, order.entities.order_id], ['meta', order.entities.order_id, order.entities.order_id], ['tiktok', order.entities.order_id, order.entities.order_id],
    ]);
    expect(meta[0].query.access_token).toMatch(/^token-/);
    // A purchase's event id is its order id (what the pixel's purchase() sends as eventID), not the tx event's.
    expect(ev).toMatchObject({ event_name: 'Purchase', event_id: order.entities.order_id, action_source: 'website', event_source_url: 'https://tickets.example/e/E1/checkout' });
    // Meta's published example: "John_Smith@gmail.com" → 62a14e44…; the phone as digits with the country code.
    expect(ev.user_data.em).toBe('62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f');
    expect(ev.user_data.ph).toBe(sha('16169547888'));
    expect(ev.user_data.ct).toBe(sha('newyork'));
    expect(ev.user_data.external_id).toBe(sha('c-1'));
    expect(ev.user_data.client_user_agent).toBe(order.context.user_agent);
    expect(ev.user_data.client_ip_address).toBe('203.0.113.0');
    expect(ev.user_data.fbc).toMatch(/^fb\.1\.\d{13}\.FBCLID123$/);
    expect(ev.custom_data).toMatchObject({ value: 120, currency: 'EUR', order_id: order.entities.order_id, content_ids: ['GA'], num_items: 2 });

    const google = got.find((r) => r.provider === 'google')!;
    expect(google.headers.authorization).toBe('Bearer ya29.x');
    expect(google.body.destinations[0]).toEqual({ operatingAccount: { accountType: 'GOOGLE_ADS', accountId: '1234567890' }, productDestinationId: '987654' });
    const g = google.body.events[0];
    expect(g.adIdentifiers).toEqual({ gclid: 'GCLID456' });
    // Google: E.164 with "+", dots removed from gmail addresses (none here, but the underscore stays).
    expect(g.userData.userIdentifiers).toEqual([{ emailAddress: sha('john_smith@gmail.com') }, { phoneNumber: sha('+16169547888') }]);

    const tiktok = got.find((r) => r.provider === 'tiktok')!;
    expect(tiktok.body.data[0]).toMatchObject({ event: 'CompletePayment', event_id: order.entities.order_id, user: { email: sha('john_smith@gmail.com'), phone: sha('+16169547888'), ttclid: 'TT789' } });
    const ga4 = got.find((r) => r.provider === 'ga4')!;
    expect(ga4.body).toMatchObject({ client_id: 'v-1', events: [{ name: 'purchase', params: { transaction_id: order.entities.order_id, currency: 'EUR', value: 120 } }] });

    // Each destination accepted it once (two Meta pixels, TikTok, Google and GA4, all by the order id).
    expect(got.every((r) => r.status === 200)).toBe(true);
    expect(mock.accepted.get(order.entities.order_id)).toBe(5);
    expect(mock.accepted.get(order.event_id)).toBeUndefined();
    const listed = await rowsOf(t);
    expect(listed.items).toHaveLength(5);
    expect(new Set(listed.items.map((i) => i.status))).toEqual(new Set(['sent']));
    expect(new Set(listed.items.map((i) => i.legal_basis))).toEqual(new Set(['consent']));
    expect(listed.items.map((i) => i.owner).sort()).toEqual(['marketplace', 'marketplace', 'marketplace', 'organizer', 'organizer']);
    const stored = await server.db.query<{ user_data: unknown }>('SELECT user_data FROM conversion_outbox WHERE tenant_id = $1', [t.tenant_id]);
    expect(stored.rows.every((r) => r.user_data === null)).toBe(true);
    const att = (await server.db.query<any>('SELECT * FROM conversion_attributions WHERE tenant_id = $1', [t.tenant_id])).rows;
    expect(att).toHaveLength(1);
    expect(att[0]).toMatchObject({ session_id: 's-1', order_id: order.entities.order_id, utm: { source: 'fb', campaign: 'spring' }, click_ids: { fbclid: 'FBCLID123', gclid: 'GCLID456', ttclid: 'TT789' } });
    expect(att[0].first_touch.utm).toEqual({ source: 'fb', campaign: 'spring' });
    // No clear contact data anywhere in the stored event.
    const raw = JSON.stringify((await server.db.query('SELECT payload FROM tx_events WHERE tenant_id = $1', [t.tenant_id])).rows);
    expect(raw).not.toContain('John_Smith');
    expect(raw).not.toContain('616');

    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/tx_conversions_total\{provider="meta",outcome="sent"\} [1-9]/);
  });

  it('forwards an order once per destination even when it arrives under several event ids (in one commit or later)', { timeout: 240_000 }, async () => {
    const t = await createTenant(base, 'conv-order-once');
    await addCode(base, t, metaCode('444444444444444', null));
    await addCode(base, t, { provider: 'tiktok', organizer_id: null, settings: { pixel_id: 'D17TA5JC77UDOT6CA5FA' }, secrets: { access_token: 'tt' } });
    const first = purchase();
    const order = first.entities.order_id;
    // The same order again, recorded a second later. Since migration 049 the ingest itself stores an order once
    // (a re-sent order is a duplicate, test/ingest-order-once.test.ts), so only `first` reaches the outbox; the
    // outbox's own order check (023) still covers orders an older version stored twice.
    const again = () => purchase({ entities: { ...first.entities }, occurred_at: new Date(Date.parse(first.occurred_at) + 1000).toISOString() });
    expect(await postEvents(base, t, [first, again()])).toMatchObject({ accepted: 1, duplicates: 1 });
    expect(await postEvents(base, t, [again()])).toMatchObject({ accepted: 0, duplicates: 1 });
    // Another order goes as usual.
    const other = purchase();
    expect((await postEvents(base, t, [other])).accepted).toBe(1);
    await until(async () => {
      await dispatchNow(base);
      return (await rowsOf(t)).counts.every((c) => c.pending === 0);
    }, 180_000, 500);
    const items = (await rowsOf(t)).items;
    expect(items.map((i) => [i.destination.split(':')[0], i.event_id]).sort()).toEqual(
      [['meta', first.event_id], ['meta', other.event_id], ['tiktok', first.event_id], ['tiktok', other.event_id]].sort());
    const sent = mock.received.filter((r) => JSON.stringify(r.body).includes(order));
    expect(sent).toHaveLength(2);
    // Meta and TikTok got each order once, under its order id (what they deduplicate by).
    for (const p of ['meta', 'tiktok'] as const) {
      expect(mock.received.filter((r) => r.provider === p).flatMap((r) => r.ids).filter((i) => i === order || i === other.entities.order_id).sort(), p).toEqual([order, other.entities.order_id].sort());
    }

    // What an older version left: the same order queued twice for a destination. Migration 025 settles every
    // row but the first dead, naming it, and a retry of such a row is refused.
    const firstRow = items.find((i) => i.event_id === first.event_id && i.destination.startsWith('meta'));
    const dup = crypto.randomUUID();
    await server.db.query(
      `INSERT INTO conversion_outbox (tenant_id, destination, provider, code_id, owner, event_id, event_name, occurred_at, legal_basis, data, status)
       SELECT tenant_id, destination, provider, code_id, owner, $2, event_name, occurred_at, legal_basis, data, 'pending' FROM conversion_outbox WHERE id = $1`, [firstRow.id, dup]);
    const migration = fs.readFileSync(path.resolve(import.meta.dirname, '../sql/025_settle_duplicates.sql'), 'utf8');
    await server.db.exec(migration);
    const left = (await server.db.query<any>('SELECT id, status, last_error FROM conversion_outbox WHERE tenant_id = $1 AND event_id = $2', [t.tenant_id, dup])).rows[0];
    expect(left).toMatchObject({ status: 'dead', last_error: `duplicate of conversion ${firstRow.id} (the same order for this destination)` });
    const retry = await request('POST', `${base}/api/v1/conversions/${left.id}/retry`, undefined, auth(t));
    expect(retry.status).toBe(409);
    expect(retry.json.error).toMatchObject({ code: 'conflict', duplicate_of: Number(firstRow.id) });
    expect((await server.db.query<any>('SELECT status FROM conversion_outbox WHERE id = $1', [firstRow.id])).rows[0].status).toBe('sent');
  });

  it('delivers once after a 429, and a 400 is dead with the provider\'s reason while the rest of the batch is sent', { timeout: 240_000 }, async () => {
    const t = await createTenant(base, 'conv-retry');
    await addCode(base, t, metaCode('444444444444444', 'O1'));
    const first = purchase();
    mock.script('meta', [429]);
    await postEvents(base, t, [first]);
    await until(async () => {
      await dispatchNow(base);
      return (await rowsOf(t)).items[0]?.attempts >= 1;
    }, 120_000, 500);
    const afterFirst = (await rowsOf(t)).items[0];
    if (afterFirst.status === 'pending') expect(afterFirst.last_error).toMatch(/Meta error 4/);
    await until(async () => (await rowsOf(t, '&status=sent')).items.length === 1, 120_000, 500);
    expect(sentFor(first).map((r) => r.status)).toEqual([429, 200]);
    expect(mock.accepted.get(first.entities.order_id)).toBe(1);

    // Three purchases in one batch, one of which the provider refuses: bisection isolates it.
    const batch = [purchase(), purchase(), purchase()];
    mock.rejectEvent(batch[1].entities.order_id);
    await postEvents(base, t, batch);
    await until(async () => {
      await dispatchNow(base);
      const c = (await rowsOf(t)).counts[0];
      return c.pending === 0 && c.sent === 3 && c.dead === 1;
    }, 120_000, 500);
    const dead = (await rowsOf(t, '&status=dead')).items;
    expect(dead.map((d) => d.event_id)).toEqual([batch[1].event_id]);
    expect(dead[0].last_error).toMatch(/Meta error 100\/2804003: Invalid parameter/);
    for (const e of [batch[0], batch[2]]) expect(mock.accepted.get(e.entities.order_id)).toBe(1);
    expect(mock.accepted.get(batch[1].entities.order_id)).toBeUndefined();

    // A dead row can be retried by hand; a sent one cannot.
    const sent = (await rowsOf(t, '&status=sent')).items[0];
    expect((await request('POST', `${base}/api/v1/conversions/${sent.id}/retry`, undefined, auth(t))).status).toBe(409);
    expect((await request('POST', `${base}/api/v1/conversions/999999999/retry`, undefined, auth(t))).status).toBe(404);
    const retried = await request('POST', `${base}/api/v1/conversions/${dead[0].id}/retry`, undefined, auth(t));
    expect(retried.status).toBe(200);
    expect(retried.json).toEqual({ id: dead[0].id, status: 'pending' });
  });

  it('holds a destination whose token is refused: its rows stay pending, the status says why and how to fix it, a new token sends them; a destination\'s dead rows are retried in one call', { timeout: 240_000 }, async () => {
    const t = await createTenant(base, 'conv-held');
    const id = await addCode(base, t, { provider: 'google_ads', organizer_id: null, settings: { conversion_id: 'AW-7654322', customer_id: '1234567890', conversion_action_id: '55' }, secrets: { access_token: 'ya29.expired' } });
    mock.script('google', [401]);
    const order = purchase();
    await postEvents(base, t, [order]);
    await until(async () => {
      await dispatchNow(base);
      return (await rowsOf(t)).counts[0]?.status === 'held';
    }, 120_000, 500);
    const held = await rowsOf(t);
    expect(held.items.map((i) => i.status)).toEqual(['pending']);
    expect(held.counts).toEqual([expect.objectContaining({
      destination: `google_ads:${id}`, pending: 1, sent: 0, dead: 0, status: 'held',
      last_error: expect.stringMatching(new RegExp(`^Google 401.*held.*PUT /api/v1/tracking-codes/${id} with a new secrets\\.access_token`, 's')),
    })]);
    expect(Date.parse(held.counts[0].next_attempt_at)).toBeGreaterThan(Date.now());
    expect(held.counts[0].held_since).toEqual(expect.any(String));

    // The operator sets a new token: the held row goes at the next run.
    expect((await request('PUT', `${base}/api/v1/tracking-codes/${id}`, { secrets: { access_token: 'ya29.new' } }, auth(t))).status).toBe(200);
    await until(async () => {
      await dispatchNow(base);
      return (await rowsOf(t, '&status=sent')).items.length === 1;
    }, 120_000, 500);
    expect((await rowsOf(t)).counts[0]).toMatchObject({ status: 'active', last_error: null, next_attempt_at: null });
    expect(sentFor(order).map((r) => [r.status, r.headers.authorization])).toEqual([[401, 'Bearer ya29.expired'], [200, 'Bearer ya29.new']]);

    // Rows an older version let die for the token: retried in one call, except a second row of an order already sent.
    const meta = await addCode(base, t, metaCode('121212121212121', null));
    const dead = async (destination: string, orderId: string) => server.db.query(
      `INSERT INTO conversion_outbox (tenant_id, destination, provider, code_id, owner, event_id, event_name, occurred_at, legal_basis, data, user_data, status, last_error)
       VALUES ($1, $2, split_part($2, ':', 1), split_part($2, ':', 2)::bigint, 'marketplace', $3, 'order_completed', now(), 'consent', $4, $5, 'dead', 'Google 401 UNAUTHENTICATED')`,
      [t.tenant_id, destination, crypto.randomUUID(), JSON.stringify({ order_id: orderId, value: 5, currency: 'EUR' }), JSON.stringify({ em: sha('x@example.com') })]);
    await dead(`google_ads:${id}`, 'O-bulk-1');
    await dead(`google_ads:${id}`, 'O-bulk-2');
    await dead(`google_ads:${id}`, order.entities.order_id);
    await dead(`meta:${meta}`, 'O-bulk-3');
    for (const bad of [{ destination: 'google_ads' }, { destination: `google_ads:${id}`, status: 'dead' }, {}]) {
      const r = await request('POST', `${base}/api/v1/conversions/retry`, bad, auth(t));
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(r.json.error.code).toBe('invalid_field');
    }
    const bulk = await request('POST', `${base}/api/v1/conversions/retry`, { destination: `google_ads:${id}` }, auth(t));
    expect(bulk.status).toBe(200);
    expect(bulk.json).toEqual({ destination: `google_ads:${id}`, retried: 2, duplicates: 1 });
    await until(async () => {
      await dispatchNow(base);
      return (await rowsOf(t, `&destination=google_ads:${id}&status=sent`)).items.length === 3;
    }, 120_000, 500);
    expect((await rowsOf(t, `&destination=meta:${meta}`)).items.map((i) => i.status)).toEqual(['dead']);
    const audit = (await getJson(`${base}/api/v1/audit?limit=100`, auth(t))).json.audit;
    expect(audit.find((a: any) => a.action === 'conversion.retry')).toMatchObject({ target: `destination:google_ads:${id}`, details: { retried: 2 } });
  });

  it('GA4: when one client\'s request of a batch fails, the clients already accepted are not sent again (GA4 counts every copy)', { timeout: 240_000 }, async () => {
    const t = await createTenant(base, 'conv-ga4-partial');
    await addCode(base, t, { provider: 'ga4', organizer_id: null, settings: { measurement_id: 'G-PARTIAL1' }, secrets: { api_secret: 's3cr3t' } });
    const orders = [purchase({ visitor_id: 'v-ga-1', session_id: 's-ga-1' }), purchase({ visitor_id: 'v-ga-2', session_id: 's-ga-2' })];
    mock.script('ga4', [200, 503]);
    await postEvents(base, t, orders);
    await until(async () => {
      await dispatchNow(base);
      return (await rowsOf(t, '&status=sent')).items.length === 2;
    }, 180_000, 500);
    const accepted = (o: Record<string, any>) => mock.received.filter((r) => r.provider === 'ga4' && r.accepted && r.ids.includes(o.entities.order_id)).length;
    expect(orders.map(accepted)).toEqual([1, 1]);
    expect(mock.received.filter((r) => r.provider === 'ga4' && r.destination === 'G-PARTIAL1' && r.status === 503)).toHaveLength(1);
  });

  it('GA4: a 200 answer with validationMessages is not a delivery: the refused purchase is dead with the description, the others sent', { timeout: 240_000 }, async () => {
    const t = await createTenant(base, 'conv-ga4-validation');
    await addCode(base, t, { provider: 'ga4', organizer_id: null, settings: { measurement_id: 'G-VALID8' }, secrets: { api_secret: 's3cr3t' } });
    // One client with two purchases (one request), one of which GA4 refuses.
    const orders = [purchase({ visitor_id: 'v-gv', session_id: 's-gv' }), purchase({ visitor_id: 'v-gv', session_id: 's-gv' })];
    mock.rejectEvent(orders[1].entities.order_id);
    await postEvents(base, t, orders);
    await until(async () => {
      await dispatchNow(base);
      const c = (await rowsOf(t)).counts[0];
      return c?.pending === 0;
    }, 180_000, 500);
    const items = (await rowsOf(t)).items;
    const byEvent = Object.fromEntries(items.map((i) => [i.event_id, i]));
    expect(byEvent[orders[0].event_id].status).toBe('sent');
    expect(byEvent[orders[1].event_id].status).toBe('dead');
    expect(byEvent[orders[1].event_id].last_error).toMatch(/^GA4 validation: events\[0\]\.params\.transaction_id: mock: event .* refused \(VALUE_INVALID\)/);
    const ga4 = mock.received.filter((r) => r.provider === 'ga4' && r.destination === 'G-VALID8');
    expect(ga4.every((r) => r.status === 200)).toBe(true);
    expect(ga4.filter((r) => r.accepted).flatMap((r) => r.ids)).toEqual([orders[0].entities.order_id]);
  });

  it('a backend purchase is matched with the browser ids (fbp, ttp, GA4 client and session) of its visitor\'s earlier events', { timeout: 240_000 }, async () => {
    const t = await createTenant(base, 'conv-browser-ids');
    await addCode(base, t, metaCode('444444444444444', null));
    await addCode(base, t, { provider: 'tiktok', organizer_id: null, settings: { pixel_id: 'D17TA5JC77UDOT6CA5FB' }, secrets: { access_token: 'tt' } });
    await addCode(base, t, { provider: 'ga4', organizer_id: null, settings: { measurement_id: 'G-BROWSER1' }, secrets: { api_secret: 's3cr3t' } });
    const ids = { fbp: 'fb.1.1596403881668.1116446470', fbc: 'fb.1.1796000000000.OLDCLICK', ttp: '2Ho2bOEhL4lXgNMaEwmJbEIUpH3', ga_client_id: '1234567890.1700000000', ga_session_ids: { 'G-BROWSER1': '1700000123' } };
    const view = webEvent({ session_id: 's-bid', visitor_id: 'v-bid', consent_snapshot: { analytics: true, marketing: true, data_processing: false }, context: { ...ids, page: { url: 'https://tickets.example/e/E1' } } });
    expect((await postEvents(base, t, [view])).accepted).toBe(1);
    // The order comes from the backend: no cookie of the browser on it.
    const order = purchase({ session_id: 's-bid', visitor_id: 'v-bid' });
    expect((await postEvents(base, t, [order])).accepted).toBe(1);
    await until(async () => {
      await dispatchNow(base);
      return (await rowsOf(t, '&status=sent')).items.length === 3;
    }, 180_000, 500);
    const got = sentFor(order);
    expect(got.find((r) => r.provider === 'meta')!.body.data[0].user_data).toMatchObject({ fbp: ids.fbp, fbc: ids.fbc });
    expect(got.find((r) => r.provider === 'tiktok')!.body.data[0].user.ttp).toBe(ids.ttp);
    const ga4 = got.find((r) => r.provider === 'ga4')!.body;
    expect(ga4.client_id).toBe(ids.ga_client_id);
    expect(ga4.events[0].params).toMatchObject({ session_id: '1700000123', engagement_time_msec: 1 });
  });

  it('a browser event carries its own _fbc cookie\'s fbc (a returning ad-click visitor, no fbclid this session); without the cookie the session\'s fbclid builds it', { timeout: 240_000 }, async () => {
    const t = await createTenant(base, 'conv-fbc');
    await addCode(base, t, metaCode('555555555555555', null, { conversion_events: ['event_view'] }));
    const fbc = 'fb.1.1796000000000.OLDCLICK';
    const page = { url: 'https://tickets.example/e/E1' };
    const returning = webEvent({ session_id: 's-fbc', visitor_id: 'v-fbc', context: { page, fbp: 'fb.1.1596403881668.1116446470', fbc } });
    const touch = webEvent({ session_id: 's-fbc2', visitor_id: 'v-fbc2', context: { click_ids: { fbclid: 'NEWCLICK' }, page: { url: 'https://tickets.example/e/E1?fbclid=NEWCLICK' } } });
    // A second after the touch: of two events of one millisecond without sequence numbers, either may be the
    // session's first (ties go by event id, as tx_sessions.first_touch takes them).
    const later = webEvent({ session_id: 's-fbc2', visitor_id: 'v-fbc2', occurred_at: new Date(Date.parse(touch.occurred_at as string) + 1000).toISOString(), context: { page } });
    // A page's query string is the visitor's to write: an fbclid no click id looks like builds no fbc.
    const odd = webEvent({ session_id: 's-fbc3', visitor_id: 'v-fbc3', context: { click_ids: { fbclid: 'a b<>"' }, page } });
    const oddLater = webEvent({ session_id: 's-fbc3', visitor_id: 'v-fbc3', occurred_at: new Date(Date.parse(odd.occurred_at as string) + 1000).toISOString(), context: { page } });
    const posted = await postEvents(base, t, [returning, touch, odd]);
    expect(posted.rejected).toEqual([]);
    expect(posted.accepted).toBe(3);
    // The session's first touch is read from the stored events: the later event comes in a later batch.
    expect((await postEvents(base, t, [later, oddLater])).accepted).toBe(2);
    await until(async () => {
      await dispatchNow(base);
      return (await rowsOf(t, '&status=sent')).items.length === 5;
    }, 180_000, 500);
    const fbcOf = (e: Record<string, any>) => sentFor(e).find((r) => r.provider === 'meta')!.body.data.find((d: any) => d.event_id === e.event_id).user_data.fbc;
    expect(fbcOf(returning)).toBe(fbc);
    expect(fbcOf(later)).toMatch(/^fb\.1\.\d{13}\.NEWCLICK$/);
    expect([fbcOf(odd), fbcOf(oddLater)]).toEqual([undefined, undefined]);
  });

  it('takes the session\'s first touch in the order its sessions row does: of one millisecond, the lower sequence number first, whatever the event ids', { timeout: 240_000 }, async () => {
    const t = await createTenant(base, 'conv-seq');
    await addCode(base, t, metaCode('666666666666666', null));
    const at = new Date(Date.now() - 60_000).toISOString();
    // The landing page view (sequence 1) has the larger event id; the next event of that millisecond (sequence 2)
    // the smaller: by event id alone the second would be the touch, and its click ids and UTMs lost.
    const landing = webEvent({ event_id: 'ffffffff-ffff-4fff-bfff-ffffffffffff', event_name: 'page_view', occurred_at: at, sequence_no: 1, session_id: 's-seq', visitor_id: 'v-seq', context: { utm: { source: 'ig', campaign: 'autumn' }, click_ids: { fbclid: 'SEQCLICK' }, page: { url: 'https://tickets.example/e/E1?fbclid=SEQCLICK' } } });
    const next = webEvent({ event_id: '00000000-0000-4000-8000-000000000000', occurred_at: at, sequence_no: 2, session_id: 's-seq', visitor_id: 'v-seq', context: { page: { url: 'https://tickets.example/e/E1' } } });
    expect((await postEvents(base, t, [next, landing])).accepted).toBe(2);
    const order = purchase({ session_id: 's-seq', visitor_id: 'v-seq' });
    expect((await postEvents(base, t, [order])).accepted).toBe(1);
    const att = await until(async () => (await server.db.query<any>('SELECT first_touch, click_ids, utm FROM conversion_attributions WHERE tenant_id = $1', [t.tenant_id])).rows[0], 60_000, 200);
    expect(att.first_touch).toMatchObject({ utm: { source: 'ig', campaign: 'autumn' }, click_ids: { fbclid: 'SEQCLICK' } });
    expect(att.click_ids).toEqual({ fbclid: 'SEQCLICK' });
    const session = await until(async () => (await server.db.query<any>('SELECT first_touch FROM tx_sessions WHERE tenant_id = $1 AND session_id = $2', [t.tenant_id, 's-seq'])).rows[0], 60_000, 200);
    expect(session.first_touch.utm).toEqual(att.first_touch.utm);
  });

  it('is dead before sending when the provider would refuse the row, and queues nothing for a code that cannot send', { timeout: 240_000 }, async () => {
    const t = await createTenant(base, 'conv-refused');
    await addCode(base, t, metaCode('999999999999999', 'O1'));
    // A Google Ads code without its server-side account ids is a tag for the page only: no destination.
    await addCode(base, t, { provider: 'google_ads', organizer_id: 'O1', settings: { conversion_id: 'AW-7654321' }, secrets: { access_token: 'ya29.y' } });
    // No customer, no ip or user agent, no click id: nothing Meta could match.
    const bare = purchase({ context: {}, session_id: 's-bare', visitor_id: 'v-bare' }, { customer: null });
    await postEvents(base, t, [bare]);
    await until(async () => {
      await dispatchNow(base);
      return (await rowsOf(t, '&status=dead')).items.length === 1;
    }, 120_000, 500);
    const all = (await rowsOf(t)).items;
    expect(all.map((i) => [i.provider, i.status])).toEqual([['meta', 'dead']]);
    expect(all[0].last_error).toMatch(/no customer information to match/);
    expect(sentFor(bare)).toEqual([]);
  });

  it('queues nothing without marketing consent, and purchases only under the legitimate-interest policy, recorded on the row', { timeout: 240_000 }, async () => {
    const t = await createTenant(base, 'conv-consent');
    await addCode(base, t, metaCode('555555555555555', 'O1', { conversion_events: ['order_completed', 'add_to_cart'] }));
    const noConsent = { consent_snapshot: { analytics: true, marketing: false, data_processing: true } };
    const refused = purchase(noConsent, { consent_marketing: false });
    const cart = webEvent({ event_name: 'add_to_cart', consent_snapshot: { analytics: true, marketing: false, data_processing: true }, entities: { cart_id: 'K1', event_entity_id: 'E1', organizer_id: 'O1' }, payload: { items: [{ ticket_type_id: 'GA', qty: 1, price: 60 }], cart_value: 60, currency: 'EUR' } });
    await postEvents(base, t, [cart, refused]);
    await dispatchNow(base);
    expect((await rowsOf(t)).items).toEqual([]);
    expect(sentFor(refused)).toEqual([]);

    const policy = await request('PUT', `${base}/api/v1/settings/conversions`, { purchase_basis: 'legitimate_interest' }, auth(t));
    expect(policy.status).toBe(200);
    expect(policy.json.purchase_basis).toBe('legitimate_interest');
    const bad = await request('PUT', `${base}/api/v1/settings/conversions`, { purchase_basis: 'always', x: 1 }, auth(t));
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('invalid_field');

    const li = purchase(noConsent, { consent_marketing: false });
    const cart2 = { ...cart, event_id: crypto.randomUUID() };
    await postEvents(base, t, [cart2, li]);
    await until(async () => {
      await dispatchNow(base);
      return (await rowsOf(t, '&status=sent')).items.length === 1;
    }, 120_000, 500);
    const rows = (await rowsOf(t)).items;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ event_id: li.event_id, legal_basis: 'legitimate_interest', status: 'sent' });
    expect(sentFor(cart2)).toEqual([]);
  });

  it('takes a browser event\'s marketing consent from its snapshot only: an undeclared payload.consent_marketing neither grants it nor fails the batch', { timeout: 240_000 }, async () => {
    const t = await createTenant(base, 'conv-payload-consent');
    await addCode(base, t, metaCode('777777777777777', 'O1', { conversion_events: ['event_view'] }));
    const view = (marketing: boolean, consent_marketing: unknown) => webEvent({
      event_name: 'event_view', consent_snapshot: { analytics: true, marketing, data_processing: true },
      entities: { event_entity_id: 'E1', organizer_id: 'O1' }, payload: { consent_marketing },
    });
    const overrides = [view(false, true), view(false, 'yes'), view(false, 'maybe')];
    const consented = view(true, 'maybe');
    const r = await postEvents(base, t, [...overrides, consented]);
    expect(r).toMatchObject({ status: 200, accepted: 4, rejected: [] });
    await until(async () => (await rowsOf(t)).items.length > 0, 60_000, 200);
    expect((await rowsOf(t)).items.map((i) => i.event_id)).toEqual([consented.event_id]);
  });

  it('keeps and sends no clear email from a page URL: the stored event, its outbox row and Meta\'s event_source_url carry its digest', { timeout: 240_000 }, async () => {
    const t = await createTenant(base, 'conv-url-email');
    await addCode(base, t, metaCode('777777777777777', 'O1'));
    const url = 'https://dpo.example/events/E1?email=alice.dpo%40example.com&phone=%2B40721234567';
    const order = purchase({ context: { ip: '203.0.113.0', page: { url }, referrer: 'https://mail.example/?to=alice.dpo@example.com' } });
    expect((await postEvents(base, t, [order])).accepted).toBe(1);
    await until(async () => {
      await dispatchNow(base);
      return sentFor(order).some((r) => r.provider === 'meta');
    }, 180_000, 500);
    const clean = `https://dpo.example/events/E1?email=sha256:${sha('alice.dpo@example.com')}&phone=sha256:${sha('40721234567')}`;
    const sent = sentFor(order).find((r) => r.provider === 'meta')!;
    expect(sent.body.data[0].event_source_url).toBe(clean);
    const stored = (await server.db.query<any>(`SELECT context, payload FROM tx_events WHERE tenant_id = $1 AND event_id = $2`, [t.tenant_id, order.event_id])).rows[0];
    expect(stored.context.page.url).toBe(clean);
    const outbox = await server.db.query(`SELECT data::text AS data FROM conversion_outbox WHERE tenant_id = $1`, [t.tenant_id]);
    for (const text of [JSON.stringify(stored), JSON.stringify(sent.body), ...outbox.rows.map((r: any) => r.data)]) {
      expect(text).not.toMatch(/alice|40721234567|%40/);
    }
  });

  it('never forwards a late event of an erased person, and keeps no ad-platform id or click id on it', { timeout: 240_000 }, async () => {
    const t = await createTenant(base, 'conv-late-erased');
    await addCode(base, t, metaCode('888888888888888', 'O1', { conversion_events: ['order_completed', 'add_to_cart'] }));
    const order = purchase({ visitor_id: 'v-late', session_id: 's-late' }, { customer: { ...CUSTOMER, external_id: 'C-late' } });
    await postEvents(base, t, [order]);
    const person = await until(async () => {
      const p = await getJson(`${base}/api/v1/persons?external_id=C-late`, auth(t));
      return p.status === 200 ? p.json : null;
    }, 60_000, 200);
    expect((await request('DELETE', `${base}/api/v1/persons/${person.person_id}`, undefined, auth(t))).status).toBe(200);
    // From the erased visitor's offline queue, dated before the erasure.
    const late = webEvent({
      event_name: 'add_to_cart', visitor_id: 'v-late', session_id: 's-late', occurred_at: new Date(Date.now() - 60_000).toISOString(),
      context: { page: { url: 'https://tickets.example/e/E1?fbclid=FBLATE', path: '/e/E1' }, fbp: 'fb.1.1.LATEFBP', ttp: 'LATETTP', click_ids: { fbclid: 'FBLATE' } },
      entities: { cart_id: 'K-late', event_entity_id: 'E1', organizer_id: 'O1' }, payload: { items: [{ ticket_type_id: 'GA', qty: 1, price: 60 }], cart_value: 60, currency: 'EUR' },
    });
    const marker = purchase({ visitor_id: 'v-marker', session_id: 's-marker' }, { customer: { ...CUSTOMER, external_id: 'C-marker' } });
    await postEvents(base, t, [late, marker]);
    // The marker, posted after it, is queued: by then the late event had its chance.
    await until(async () => (await rowsOf(t)).items.some((i) => i.event_id === marker.event_id), 60_000, 200);
    expect((await rowsOf(t)).items.map((i) => i.event_id)).toEqual([marker.event_id]);
    const stored = (await getJson(`${base}/api/v1/tx/events?limit=10`, auth(t))).json.events.find((e: any) => e.event_id === late.event_id);
    expect(JSON.stringify(stored)).not.toMatch(/LATEFBP|LATETTP|FBLATE|K-late|v-late/);
    expect(stored.context).toMatchObject({ anonymised: true, page: { url: 'https://tickets.example/e/E1', path: '/e/E1' } });
  });

  it('erases a person\'s pending rows and hashes; the status API refuses bad filters and pages with a cursor', { timeout: 240_000 }, async () => {
    const t = await createTenant(base, 'conv-erase');
    await addCode(base, t, metaCode('666666666666666', 'O1'));
    mock.script('meta', Array(50).fill(503));
    const orders = [purchase(), purchase(), purchase({ visitor_id: 'v-2', session_id: 's-2' }, { customer: { ...CUSTOMER, external_id: 'C-2', email: 'other@example.com' } })];
    await postEvents(base, t, orders);
    await until(async () => (await rowsOf(t)).items.length === 3, 60_000, 200);
    const c1 = (await getJson(`${base}/api/v1/persons?external_id=C-1`, auth(t))).json;
    const exported = (await getJson(`${base}/api/v1/persons/${c1.person_id}/export`, auth(t))).json;
    expect(exported.conversion_outbox.map((r: any) => r.event_id).sort()).toEqual([orders[0].event_id, orders[1].event_id].sort());
    expect(exported.conversion_outbox[0].user_data.em).toBe('62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f');
    expect(exported.conversion_attributions).toHaveLength(2);
    const erased = await request('DELETE', `${base}/api/v1/persons/${c1.person_id}`, undefined, auth(t));
    expect(erased.status).toBe(200);
    const left = (await server.db.query<{ event_id: string }>('SELECT event_id::text AS event_id FROM conversion_outbox WHERE tenant_id = $1', [t.tenant_id])).rows;
    expect(left.map((r) => r.event_id)).toEqual([orders[2].event_id]);
    expect((await server.db.query('SELECT 1 FROM conversion_attributions WHERE tenant_id = $1 AND event_id = $2', [t.tenant_id, orders[0].event_id])).rows).toEqual([]);
    mock.script('meta', []);

    // Settled rows older than 30 days are pruned by conversions.prune; younger ones and pending ones stay.
    await server.db.query("UPDATE conversion_outbox SET status = 'dead', created_at = now() - interval '31 days' WHERE tenant_id = $1", [t.tenant_id]);
    const pruned = await request('POST', `${base}/api/admin/jobs/conversions.prune/run`, undefined, { authorization: `Bearer ${ADMIN}` });
    expect(pruned.status).toBe(200);
    expect((await server.db.query('SELECT 1 FROM conversion_outbox WHERE tenant_id = $1', [t.tenant_id])).rows).toEqual([]);
    await postEvents(base, t, [purchase({ visitor_id: 'v-3', session_id: 's-3' }), purchase({ visitor_id: 'v-4', session_id: 's-4' })]);
    await until(async () => (await rowsOf(t)).items.length === 2, 60_000, 200);

    const page1 = await getJson(`${base}/api/v1/conversions?limit=1`, auth(t));
    expect(page1.json.items).toHaveLength(1);
    expect(page1.json.next_cursor).toBeTruthy();
    // The second row fills its page of 1 exactly and nothing follows: the last page, next_cursor null.
    const page2 = await getJson(`${base}/api/v1/conversions?limit=1&cursor=${page1.json.next_cursor}`, auth(t));
    expect(page2.json.items).toHaveLength(1);
    expect(page2.json.items[0].id).not.toBe(page1.json.items[0].id);
    expect(page2.json.next_cursor).toBeNull();
    expect((await getJson(`${base}/api/v1/conversions?limit=2`, auth(t))).json.next_cursor).toBeNull();
    for (const q of ['status=lost', 'limit=0', 'cursor=abc', 'destination=%00']) {
      const r = await getJson(`${base}/api/v1/conversions?${q}`, auth(t));
      expect(r.status, q).toBe(400);
      expect(r.json.error.code).toBe('invalid_field');
    }
  });
});
