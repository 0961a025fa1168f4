// Adapters without I/O: each provider's answer classification and the request each builds (a recording HttpPost).
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { createHttpPost, neverSent, platformEventId, unanswered, type Destination, type HttpAnswer, type HttpPost, type OutboxItem } from './adapter.js';
import { classifyGa4, ga4Adapter, ga4Event, ga4TransactionId } from './adapter-ga4.js';
import { classifyGoogle, googleAdapter } from './adapter-google.js';
import { classifyMeta, metaAdapter } from './adapter-meta.js';
import { classifyTiktok, tiktokAdapter } from './adapter-tiktok.js';

const ans = (status: number, json: unknown = null, retryAfterMs?: number): HttpAnswer => ({ status, json, text: JSON.stringify(json), retryAfterMs });
const NOW = Date.UTC(2026, 10, 30, 12);
const item = (over: Partial<OutboxItem> = {}): OutboxItem => ({
  id: 1, event_id: '0b0e8a1c-1111-4a4a-8888-000000000001', event_name: 'order_completed', occurred_at: new Date(NOW - 60_000).toISOString(), legal_basis: 'consent',
  data: { order_id: 'O-1', value: 120, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 2, price: 60 }], url: 'https://t.example/c', user_agent: 'UA', ip: '203.0.113.0', visitor_id: 'v-1', gclid: 'G1', fbc: 'fb.1.1.F' },
  user_data: { em: 'a'.repeat(64), ph: 'b'.repeat(64) }, attempts: 1, ...over,
});
const dest = (provider: Destination['provider'], settings: Record<string, unknown>, secrets = { access_token: 'tok', api_secret: 'sec' }): Destination => ({ tenantId: 1, name: `${provider}:1`, provider, codeId: 1, settings, secrets });
const recorder = () => {
  const calls: { url: string; body: any; headers?: Record<string, string> }[] = [];
  const http: HttpPost = async (url, body, headers) => (calls.push({ url, body, headers }), ans(200, { events_received: 1, code: 0 }));
  return { calls, http };
};

describe('answer classification', () => {
  it('Meta: throttles and transient Graph codes retry, token and permission errors hold the destination, other 4xx invalid', () => {
    expect(classifyMeta(ans(200, { events_received: 3 }))).toEqual({ kind: 'ok' });
    expect(classifyMeta(ans(400, { error: { code: 17, message: 'User request limit reached' } })).kind).toBe('retry');
    expect(classifyMeta(ans(500, { error: { code: 2, message: 'unexpected' } })).kind).toBe('retry');
    // A 401/403 holds the destination even with a generic code in the body; a throttle code is still retried.
    expect(classifyMeta(ans(401, { error: { code: 2, message: 'Service temporarily unavailable' } })).kind).toBe('held');
    expect(classifyMeta(ans(403, { error: { code: 1, message: 'An unknown error occurred' } })).kind).toBe('held');
    expect(classifyMeta(ans(403, { error: { code: 4, message: 'Application request limit reached' } })).kind).toBe('retry');
    expect(classifyMeta(ans(429, null, 30_000))).toMatchObject({ kind: 'retry', retryAfterMs: 30_000 });
    expect(classifyMeta(ans(400, { error: { code: 190, message: 'Invalid OAuth access token' } })).kind).toBe('held');
    for (const code of [10, 200, 294, 102, 3, 803]) expect(classifyMeta(ans(400, { error: { code, message: 'x' } })).kind, String(code)).toBe('held');
    // Code 100 is a bad parameter (a row's), except "object does not exist or missing permissions" (the pixel's).
    expect(classifyMeta(ans(400, { error: { code: 100, error_subcode: 33, message: 'Unsupported post request.' } })).kind).toBe('held');
    expect(classifyMeta(ans(400, { error: { code: 100, message: "Unsupported post request. Object with ID '1' does not exist, cannot be loaded due to missing permissions, or does not support this operation." } })).kind).toBe('held');
    expect(classifyMeta(ans(401, null)).kind).toBe('held');
    // Meta's explanation for the advertiser is kept (bounded), not only `message`.
    const why = classifyMeta(ans(400, { error: { code: 100, error_subcode: 2804003, message: 'Invalid parameter', error_user_title: 'Event Time Too Far In The Past', error_user_msg: 'The event_time is more than 7 days old.' } }));
    expect(why).toEqual({ kind: 'invalid', error: 'Meta error 100/2804003: Invalid parameter — Event Time Too Far In The Past: The event_time is more than 7 days old.' });
    const long = classifyMeta(ans(400, { error: { code: 100, message: 'm'.repeat(2000), error_user_title: 't'.repeat(1000), error_user_msg: 'u'.repeat(5000) } }));
    expect('error' in long && long.error.length).toBeLessThanOrEqual(750);
    expect('error' in long && long.error).toContain('m'.repeat(300) + ' — ' + 't'.repeat(100) + ': ' + 'u'.repeat(300));
    expect(classifyMeta(ans(400, { error: { code: 100, error_subcode: 2804003, message: 'event_time too old' } }))).toEqual({ kind: 'invalid', error: 'Meta error 100/2804003: event_time too old' });
    expect(classifyMeta(ans(0, null)).kind).toBe('retry');
  });
  it('TikTok: its own codes inside HTTP 200', () => {
    expect(classifyTiktok(ans(200, { code: 0 })).kind).toBe('ok');
    expect(classifyTiktok(ans(200, { code: 40100, message: 'rate' })).kind).toBe('retry');
    expect(classifyTiktok(ans(200, { code: 40001, message: 'auth' })).kind).toBe('held');
    expect(classifyTiktok(ans(200, { code: 40002, message: 'auth' })).kind).toBe('held');
    expect(classifyTiktok(ans(200, { code: 40000, message: 'bad' })).kind).toBe('invalid');
    expect(classifyTiktok(ans(503)).kind).toBe('retry');
  });
  it('Google and GA4: 401/403 (UNAUTHENTICATED, PERMISSION_DENIED) hold the destination, other 4xx invalid, 429/5xx retry', () => {
    expect(classifyGoogle(ans(200, { requestId: 'r' })).kind).toBe('ok');
    expect(classifyGoogle(ans(400, { error: { status: 'INVALID_ARGUMENT', message: 'x' } }))).toEqual({ kind: 'invalid', error: 'Google 400 INVALID_ARGUMENT: x' });
    expect(classifyGoogle(ans(403)).kind).toBe('held');
    expect(classifyGoogle(ans(401, { error: { code: 401, status: 'UNAUTHENTICATED', message: 'Request had invalid authentication credentials.' } })).kind).toBe('held');
    expect(classifyGoogle(ans(400, { error: { status: 'PERMISSION_DENIED', message: 'x' } })).kind).toBe('held');
    expect(classifyGa4(ans(401)).kind).toBe('held');
    expect(classifyGoogle(ans(429)).kind).toBe('retry');
    expect(classifyGa4(ans(204)).kind).toBe('ok');
    expect(classifyGa4(ans(502)).kind).toBe('retry');
  });
  it('GA4: a 2xx answer carrying validationMessages is refused, with the description (GA4 never answers an error status)', () => {
    expect(classifyGa4(ans(200, { validationMessages: [] })).kind).toBe('ok');
    expect(classifyGa4({ status: 204, json: null, text: '' }).kind).toBe('ok');
    const bad = ans(200, { validationMessages: [{ fieldPath: 'events[0].params.currency', description: 'Currency code is invalid', validationCode: 'VALUE_INVALID' }] });
    expect(classifyGa4(bad)).toEqual({ kind: 'invalid', error: 'GA4 validation: events[0].params.currency: Currency code is invalid (VALUE_INVALID)' });
    // About the destination itself: the destination is held, no bisection.
    expect(classifyGa4(ans(200, { validationMessages: [{ fieldPath: 'measurement_id', description: 'Measurement ID is invalid', validationCode: 'VALUE_REQUIRED' }] })).kind).toBe('held');
  });
});

describe('requests', () => {
  it('Meta: pixel path, token, website event with unhashed ip/ua/fbc, hashes dropped without advanced matching', async () => {
    const { calls, http } = recorder();
    await metaAdapter('http://m/')!.send(dest('meta', { pixel_id: '123456789012345', test_event_code: 'TEST1', advanced_matching: false }), [item({ user_data: { em: 'a'.repeat(64), external_id: 'c'.repeat(64) } })], http);
    expect(calls[0].url).toBe('http://m/v25.0/123456789012345/events?access_token=tok');
    expect(calls[0].body.test_event_code).toBe('TEST1');
    const e = calls[0].body.data[0];
    expect(e).toMatchObject({ event_name: 'Purchase', action_source: 'website', event_time: Math.floor((NOW - 60_000) / 1000), user_data: { client_ip_address: '203.0.113.0', client_user_agent: 'UA', fbc: 'fb.1.1.F' } });
    expect(e.user_data.em).toBeUndefined();
    // external_id is a customer information parameter too (README: dropped with the others).
    expect(e.user_data.external_id).toBeUndefined();
    // Without the hashes, what is left must still be enough to match.
    expect(metaAdapter('http://m/').check(dest('meta', { pixel_id: '123456789012345', advanced_matching: false }), item({ data: { order_id: 'O' } }), NOW)).toMatch(/no customer information/);
  });
  it('TikTok leaves the hashed e-mail, phone and external id out without advanced matching, and keeps its cookie and ip', async () => {
    const r = recorder();
    await tiktokAdapter('http://t').send(dest('tiktok', { pixel_id: 'D17TA5JC77UDOT6CA5FG', advanced_matching: false }), [item({ user_data: { em: 'a'.repeat(64), ph: 'b'.repeat(64), external_id: 'c'.repeat(64) }, data: { ...item().data, ttp: 'TTP1' } })], r.http);
    expect(r.calls[0].body.data[0].user).toEqual({ ttp: 'TTP1', ip: '203.0.113.0', user_agent: 'UA' });
  });
  it('Meta refuses before sending: older than 7 days, nothing to match; and a backend order without a page is system_generated', async () => {
    const a = metaAdapter('http://m');
    const d = dest('meta', { pixel_id: '123456789012345' });
    expect(a.check(d, item({ occurred_at: new Date(NOW - 8 * 86_400_000).toISOString() }), NOW)).toMatch(/7 days/);
    expect(a.check(d, item({ user_data: null, data: { order_id: 'O' } }), NOW)).toMatch(/no customer information/);
    expect(a.configProblem(dest('meta', { pixel_id: '123456789012345' }, {} as never))).toMatch(/access_token/);
    const { calls, http } = recorder();
    await a.send(d, [item({ data: { order_id: 'O', value: 1, currency: 'EUR' } })], http);
    expect(calls[0].body.data[0].action_source).toBe('system_generated');
  });
  it('TikTok, Google and GA4 build their documented bodies', async () => {
    const r = recorder();
    await tiktokAdapter('http://t').send(dest('tiktok', { pixel_id: 'D17TA5JC77UDOT6CA5FG' }), [item()], r.http);
    expect(r.calls[0]).toMatchObject({ url: 'http://t/open_api/v1.3/event/track/', headers: { 'Access-Token': 'tok' }, body: { event_source: 'web', event_source_id: 'D17TA5JC77UDOT6CA5FG' } });
    expect(r.calls[0].body.data[0]).toMatchObject({ event: 'CompletePayment', user: { email: 'a'.repeat(64), phone: 'b'.repeat(64) }, properties: { value: 120, currency: 'EUR' } });

    const g = googleAdapter('http://g');
    const gd = dest('google_ads', { conversion_id: 'AW-1', custom_params: { customer_id: '123-456-7890', conversion_action_id: '42' } });
    expect(g.configProblem(dest('google_ads', { conversion_id: 'AW-1' }))).toMatch(/customer_id/);
    // Where they are kept now (server-only settings); custom_params above: a code stored before migration 028.
    expect(g.configProblem(dest('google_ads', { conversion_id: 'AW-1', customer_id: '1234567890', conversion_action_id: '42' }))).toBeNull();
    await g.send(gd, [item({ legal_basis: 'legitimate_interest' })], r.http);
    expect(r.calls[1].body).toMatchObject({ encoding: 'HEX', destinations: [{ operatingAccount: { accountType: 'GOOGLE_ADS', accountId: '1234567890' }, productDestinationId: '42' }] });
    expect(r.calls[1].body.events[0]).toMatchObject({ transactionId: 'O-1', adIdentifiers: { gclid: 'G1' }, consent: { adUserData: 'CONSENT_DENIED' } });

    const ga = ga4Adapter('http://a');
    expect(ga.check(dest('ga4', {}), item({ occurred_at: new Date(NOW - 73 * 3_600_000).toISOString() }), NOW)).toMatch(/72 hours/);
    await ga.send(dest('ga4', { measurement_id: 'G-ABC123' }), [item(), item({ id: 2, data: { visitor_id: 'v-2', order_id: 'O-2' } })], r.http);
    expect(r.calls.slice(2).map((c) => c.body.client_id)).toEqual(['v-1', 'v-2']);
    expect(r.calls[2].url).toBe('http://a/mp/collect?measurement_id=G-ABC123&api_secret=sec');
    expect(r.calls[2].body.events[0]).toMatchObject({ name: 'purchase', params: { transaction_id: 'O-1', value: 120, currency: 'EUR', items: [{ item_id: 'GA', quantity: 2, price: 60 }] } });
  });
  it('GA4 reports the clients it already sent when a later client fails (GA4 does not deduplicate: they must not be sent again)', async () => {
    const bodies: any[] = [];
    const http: HttpPost = async (_url, body) => (bodies.push(body), (body as any).client_id === 'v-2' ? ans(503) : ans(204));
    const rows = [item({ id: 1 }), item({ id: 2, data: { visitor_id: 'v-2' } }), item({ id: 3, data: { visitor_id: 'v-3' } }), item({ id: 4 })];
    const out = await ga4Adapter('http://a').send(dest('ga4', { measurement_id: 'G-ABC123' }), rows, http);
    expect(out).toEqual({ kind: 'partial', sent: [1, 4], rest: { kind: 'retry', error: expect.stringMatching(/503/) } });
    expect(bodies.map((b) => b.client_id)).toEqual(['v-1', 'v-2']);
    // The first client failing: nothing was sent, the batch's answer is that failure.
    const first = await ga4Adapter('http://a').send(dest('ga4', { measurement_id: 'G-ABC123' }), [rows[1], rows[0]], http);
    expect(first.kind).toBe('retry');
  });
  it('GA4: an order id longer than 100 characters becomes a distinct transaction_id of 100 (cutting it merged two orders sharing their first 100)', () => {
    const a = 'ORDER-' + 'x'.repeat(94) + '-A-0001';
    const b = 'ORDER-' + 'x'.repeat(94) + '-B-0002';
    const ta = ga4Event(item({ data: { order_id: a } })).params as Record<string, string>;
    const tb = ga4Event(item({ data: { order_id: b } })).params as Record<string, string>;
    expect(ta.transaction_id).not.toBe(tb.transaction_id);
    expect(ta.transaction_id).toHaveLength(100);
    expect(ta.transaction_id).toBe(`${a.slice(0, 83)}-${crypto.createHash('sha256').update(a).digest('hex').slice(0, 16)}`);
    // Up to 100 characters it is the order id itself; the same id always gives the same transaction_id.
    expect(ga4TransactionId('O'.repeat(100))).toBe('O'.repeat(100));
    expect(ga4TransactionId(a)).toBe(ta.transaction_id);
  });
  it('GA4 asks for the lease of the rows still waiting before each further client\'s request', async () => {
    const log: string[] = [];
    const http: HttpPost = async (_url, body) => (log.push(`send ${(body as any).client_id}`), ans(204));
    const rows = [item({ id: 1 }), item({ id: 2, data: { visitor_id: 'v-2' } }), item({ id: 3, data: { visitor_id: 'v-3' } }), item({ id: 4 })];
    const out = await ga4Adapter('http://a').send(dest('ga4', { measurement_id: 'G-ABC123' }), rows, http, async (ids) => void log.push(`sent ${ids}`), async (ids) => void log.push(`lease ${ids}`));
    expect(out).toEqual({ kind: 'ok' });
    expect(log).toEqual(['send v-1', 'sent 1,4', 'lease 2,3', 'send v-2', 'sent 2', 'lease 3', 'send v-3', 'sent 3']);
  });
  it('GA4 uses the browser\'s own client id and its stream\'s session id when the event has them, else the visitor id', async () => {
    const r = recorder();
    const browser = item({ data: { ...item().data, ga_client_id: '1234567890.1700000000', ga_session_ids: { 'G-ABC123': '1700000123', 'G-OTHER1': '99' } } });
    await ga4Adapter('http://a').send(dest('ga4', { measurement_id: 'G-ABC123' }), [browser, item({ id: 2, data: { visitor_id: 'v-2', order_id: 'O-2' } })], r.http);
    expect(r.calls.map((c) => c.body.client_id)).toEqual(['1234567890.1700000000', 'v-2']);
    expect(r.calls[0].body.events[0].params).toMatchObject({ session_id: '1700000123', engagement_time_msec: 1 });
    expect(r.calls[1].body.events[0].params.session_id).toBeUndefined();
  });
});

describe('a request without an answer: did it leave?', () => {
  const TIMED_OUT: HttpAnswer = { status: 0, json: null, text: 'network error: The operation was aborted due to timeout' };
  const REFUSED: HttpAnswer = { status: 0, json: null, text: 'network error: fetch failed (ECONNREFUSED)', notSent: true };
  const rows = [item({ id: 1 }), item({ id: 2, data: { visitor_id: 'v-2' } }), item({ id: 3, data: { visitor_id: 'v-3' } })];
  const ga4 = dest('ga4', { measurement_id: 'G-ABC123' });

  it('GA4: a timed-out request\'s rows are unconfirmed (GA4 may have counted them), the clients after it are plain retries', async () => {
    const answers = [ans(204), TIMED_OUT];
    const out = await ga4Adapter('http://a').send(ga4, rows, async () => answers.shift() ?? ans(204));
    expect(out).toEqual({ kind: 'partial', sent: [1], rest: { kind: 'retry', error: TIMED_OUT.text, unconfirmed: [2] } });
  });

  it('GA4: a request that never left (connection refused) or was answered 5xx is a plain retry', async () => {
    expect(await ga4Adapter('http://a').send(ga4, rows, async () => REFUSED)).toEqual({ kind: 'retry', error: REFUSED.text });
    expect(await ga4Adapter('http://a').send(ga4, rows, async () => ans(503))).toMatchObject({ kind: 'retry' });
    expect(await ga4Adapter('http://a').send(ga4, rows, async () => ans(503))).not.toHaveProperty('unconfirmed');
  });

  it('GA4 sends no further client once the dispatcher says the destination\'s time is up: the rest are deferred', async () => {
    const r = recorder();
    const out = await ga4Adapter('http://a').send(ga4, rows, r.http, undefined, async () => false);
    expect(r.calls).toHaveLength(1);
    expect(out).toMatchObject({ kind: 'partial', sent: [1], rest: { kind: 'deferred' } });
  });

  it('Meta keeps retrying a timeout (it deduplicates by event_id): no unconfirmed rows', async () => {
    expect(await metaAdapter('http://m').send(dest('meta', { pixel_id: '123456789012345' }), rows, async () => TIMED_OUT)).toEqual({ kind: 'retry', error: TIMED_OUT.text });
  });

  it('createHttpPost: a refused connection never left; a timeout (the server took the request) may have', async () => {
    // A port nothing listens on.
    const closed = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => closed.once('listening', r));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const refused = await createHttpPost(5_000)(`http://127.0.0.1:${port}/mp/collect`, {});
    expect(refused).toMatchObject({ status: 0, notSent: true });
    expect(refused.text).toMatch(/ECONNREFUSED/);
    expect(unanswered(refused)).toBe(false);
    // A server that reads the request and never answers: the abort comes after the request was sent.
    let got = 0;
    const hang = http.createServer((req) => void req.resume().on('end', () => got++)).listen(0, '127.0.0.1');
    await new Promise((r) => hang.once('listening', r));
    try {
      const timedOut = await createHttpPost(200)(`http://127.0.0.1:${(hang.address() as net.AddressInfo).port}/mp/collect`, { a: 1 });
      expect(timedOut.status).toBe(0);
      expect(timedOut.notSent).toBeUndefined();
      expect(unanswered(timedOut)).toBe(true);
      expect(got).toBe(1);
    } finally {
      hang.closeAllConnections();
      await new Promise((r) => hang.close(r));
    }
    // The causes fetch reports.
    expect(neverSent(Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND' }) }))).toBe(true);
    expect(neverSent(Object.assign(new TypeError('fetch failed'), { cause: new AggregateError([Object.assign(new Error('a'), { code: 'ECONNREFUSED' }), Object.assign(new Error('b'), { code: 'ENETUNREACH' })]) }))).toBe(true);
    expect(neverSent(Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) }))).toBe(false);
    expect(neverSent(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))).toBe(false);
  });
});

describe('the event id Meta and TikTok deduplicate by', () => {
  it('is a purchase\'s order id (two reports of one order, and the pixel\'s purchase, count once) and any other event\'s tx event id', async () => {
    const meta = recorder();
    const tiktok = recorder();
    const cart = item({ id: 3, event_id: '0b0e8a1c-3333-4a4a-8888-000000000003', event_name: 'add_to_cart', data: { ...item().data, order_id: undefined, cart_id: 'C-1' } });
    // The backend reported order O-1 twice, under two tx event ids.
    const orders = [item(), item({ id: 2, event_id: '0b0e8a1c-2222-4a4a-8888-000000000002' })];
    await metaAdapter('http://m').send(dest('meta', { pixel_id: '123456789012345' }), [...orders, cart], meta.http);
    await tiktokAdapter('http://t').send(dest('tiktok', { pixel_id: 'D17TA5JC77UDOT6CA5FG' }), [...orders, cart], tiktok.http);
    expect(meta.calls[0].body.data.map((e: any) => [e.event_name, e.event_id])).toEqual([['Purchase', 'O-1'], ['Purchase', 'O-1'], ['AddToCart', cart.event_id]]);
    expect(tiktok.calls[0].body.data.map((e: any) => [e.event, e.event_id])).toEqual([['CompletePayment', 'O-1'], ['CompletePayment', 'O-1'], ['AddToCart', cart.event_id]]);
    // A numeric order id (a backend's JSON number) is sent as its text; an order without one keeps its tx event id.
    expect(platformEventId(item({ data: { order_id: 1042 as unknown as string } }))).toBe('1042');
    expect(platformEventId(item({ data: { value: 1 } }))).toBe(item().event_id);
    expect(platformEventId(item({ data: { order_id: '' } }))).toBe(item().event_id);
    // Only a purchase: another event carrying an order id keeps its own id.
    expect(platformEventId(item({ event_name: 'checkout_started', event_id: 'e-ck', data: { order_id: 'O-9' } }))).toBe('e-ck');
  });
});
