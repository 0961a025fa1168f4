// The public ingest endpoints as an attacker and as a new user meet them (issue 8 items 2 and 4, issue 9
// items 2 and 3): the write key in every page's source cannot add orders or revenue, a secret key is refused
// there, absurd numbers are refused with the field and the bound, `{}` gets a useful answer, and an event
// flagged as a bot is reported, not silently dropped from the live numbers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, eventsOf, getJson, orderEvent, postJson, request, until, webEvent, type Tenant } from './helpers.js';
import { mintToken } from './live-helpers.js';

const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';

describe('public ingest abuse', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;

  beforeAll(async () => {
    server = await bootServer();
    base = server.url;
  });
  afterAll(async () => {
    await server?.close();
  });

  const pub = (path: string, body: unknown, key: string, headers: Record<string, string> = {}) =>
    postJson(`${base}${path}`, body, { 'x-tx-key': key, 'user-agent': BROWSER, ...headers });
  const secret = (t: Tenant, events: unknown[]) => postJson(`${base}/api/v1/server-events`, { events }, { authorization: `Bearer ${t.secret_key}` });
  const codesOf = (r: { json: any }, index: number): string[] =>
    r.json.rejected.find((x: any) => x.index === index)?.errors.map((e: any) => `${e.code}:${e.field}`) ?? [];

  it('refuses orders, payments and backend sources sent with the write key, per event, and keeps the rest of the batch', async () => {
    const t = await createTenant(base, 'forge');
    const payment = { ...orderEvent(), event_name: 'payment_succeeded', source_system: 'payments', payload: { provider: 'stripe', amount: 5000, currency: 'EUR' } };
    const events = [
      webEvent(),
      orderEvent(), // source backend
      orderEvent({ source_system: 'web', visitor_id: 'v', session_id: 's' }), // the same order dressed as a browser event
      payment,
      webEvent({ source_system: 'shop' }), // a browser event claiming a server source
      webEvent(),
    ];
    for (const path of ['/api/tx/validate', '/api/tx/events/batch']) {
      const r = await pub(path, { events }, t.write_key);
      expect(r.status, path).toBe(200);
      expect(r.json.accepted, path).toBe(2);
      expect(r.json.rejected.map((x: any) => x.index), path).toEqual([1, 2, 3, 4]);
      expect(codesOf(r, 1)).toEqual(expect.arrayContaining(['source_requires_secret_key:source_system', 'event_requires_secret_key:event_name']));
      expect(codesOf(r, 2)).toEqual(['event_requires_secret_key:event_name']);
      expect(codesOf(r, 3)).toEqual(expect.arrayContaining(['event_requires_secret_key:event_name']));
      expect(codesOf(r, 4)).toEqual(['source_requires_secret_key:source_system']);
      expect(r.json.rejected[0].errors[0].message).toContain('/api/v1/server-events');
    }
    const single = await pub('/api/tx/events', orderEvent(), t.write_key);
    expect(single.json).toMatchObject({ accepted: 0, rejected: [{ index: 0 }] });

    expect(await eventsOf(base, t, 'event_name=order_completed')).toHaveLength(0);
    expect(await eventsOf(base, t, 'event_name=payment_succeeded')).toHaveLength(0);

    // The registry says who may send what.
    const schema = await getJson(`${base}/api/tx/schema`);
    const byName = (n: string) => schema.json.events.find((e: any) => e.name === n);
    expect(byName('order_completed').sources).toEqual(['backend', 'payments', 'shop']);
    expect(byName('event_view').sources).toContain('web');
    expect(schema.json.envelope.server_sources).toEqual(['backend', 'payments', 'shop']);

    // The tenant's backend, with the secret key, still posts the same order.
    const ok = await secret(t, [events[1]]);
    expect(ok.json).toMatchObject({ accepted: 1, rejected: [] });
    expect(await eventsOf(base, t, 'event_name=order_completed')).toHaveLength(1);
  });

  it('refuses a secret key in X-Tx-Key or ?key= as wrong_key_kind and stores nothing', async () => {
    const t = await createTenant(base, 'leaked');
    const header = await pub('/api/tx/events/batch', { events: [webEvent()] }, t.secret_key);
    expect(header.status).toBe(403);
    expect(header.json.error.code).toBe('wrong_key_kind');
    expect(header.json.error.message).toMatch(/secret key.*never/);
    const query = await request('POST', `${base}/api/tx/events?key=${t.secret_key}`, JSON.stringify(webEvent()), { 'content-type': 'text/plain' });
    expect([query.status, query.json.error.code]).toEqual([403, 'wrong_key_kind']);
    const validate = await pub('/api/tx/validate', { events: [webEvent()] }, t.secret_key);
    expect(validate.status).toBe(403);
    expect(await eventsOf(base, t)).toHaveLength(0);
  });

  it('refuses absurd numbers naming the field and the bound, and history keeps answering', async () => {
    const t = await createTenant(base, 'bounds');
    const huge = orderEvent({ entities: { order_id: 'O-huge', event_entity_id: 'BE1', organizer_id: 'ORG-BND' } });
    huge.payload.gross_amount = 1e308;
    const manyTickets = orderEvent({ entities: { order_id: 'O-many', event_entity_id: 'BE1', organizer_id: 'ORG-BND' } });
    manyTickets.payload.items = [{ ticket_type_id: 'GA', qty: 1e9, price: 1 }];
    const fine = orderEvent({ entities: { order_id: 'O-fine', event_entity_id: 'BE1', organizer_id: 'ORG-BND' } });
    const r = await secret(t, [huge, manyTickets, fine]);
    expect(r.status).toBe(200);
    expect(r.json.accepted).toBe(1);
    const errs = r.json.rejected.flatMap((x: any) => x.errors);
    expect(errs).toEqual(expect.arrayContaining([
      expect.objectContaining({ code: 'out_of_range', field: 'payload.gross_amount', message: expect.stringMatching(/at most 10000000000; got 1e\+308/) }),
      expect.objectContaining({ code: 'out_of_range', field: 'payload.items[0].qty', message: expect.stringMatching(/at most 10000; got 1000000000/) }),
    ]));
    const token = await mintToken(base, t, { role: 'organizer', org_id: 'ORG-BND' });
    const h = await getJson(`${base}/api/v1/live/events/BE1/history?minutes=60`, { authorization: `Bearer ${token}` });
    expect(h.status).toBe(200);
    const revenue = h.json.series.reduce((s: number, p: any) => s + (p.revenue.EUR ?? 0), 0);
    expect(revenue).toBe(100);
  });

  it('answers {} with every missing field (event_name required first) and never prints undefined', async () => {
    const t = await createTenant(base, 'empty');
    const r = await pub('/api/tx/events', {}, t.write_key);
    expect(r.status).toBe(200);
    const errors = r.json.rejected[0].errors;
    expect(errors[0]).toMatchObject({ code: 'required', field: 'event_name' });
    expect(errors.map((e: any) => e.field)).toEqual(expect.arrayContaining(['occurred_at', 'source_system', 'consent_snapshot', 'event_id']));
    expect(r.text).not.toContain('undefined');

    const notEvents = await pub('/api/tx/events/batch', { event: [] }, t.write_key);
    expect([notEvents.status, notEvents.json.error.message]).toEqual([400, 'Body must be {"events":[...]} (or an array of events); got an object without "events".']);
    const arrayToSingle = await pub('/api/tx/events', [webEvent()], t.write_key);
    expect(arrayToSingle.json.error.message).toContain('(got an array)');

    const typo = await pub('/api/tx/events', webEvent({ event_name: 'page_veiw', source_system: 'browser' }), t.write_key);
    const [unknown, source] = typo.json.rejected[0].errors;
    expect(unknown).toMatchObject({ code: 'unknown_event', field: 'event_name', message: expect.stringContaining('Did you mean "page_view"?') });
    expect(source).toMatchObject({ code: 'invalid_value', field: 'source_system', message: expect.stringMatching(/"browser".*one of: web, mobile/) });
  });

  it('names where every refusal is and what was sent: in and field on whole-body errors, `$` for a whole event, all of an event\'s errors at once', async () => {
    const t = await createTenant(base, 'shapes');
    const SEND = 'Send the body as JSON, e.g. {"name": "value"} (JSON.stringify), encoded as UTF-8.';
    // Not JSON: in body, the whole body, where it breaks and what to send (not V8's raw text); kept as rejected with the same field.
    const cut = await pub('/api/tx/events/batch', '{"events": [', t.write_key);
    expect([cut.status, cut.json.error]).toEqual([400, { code: 'invalid_json', in: 'body', field: '$', message: `The body is not valid JSON: the body ends before its JSON value does at position 12 (line 1, column 13). ${SEND}` }]);
    const rej = await getJson(`${base}/api/v1/tx/rejected?limit=10`, { authorization: `Bearer ${t.secret_key}` });
    expect(rej.json.rejected.find((x: any) => x.raw_body === '{"events": [')?.reasons).toEqual([cut.json.error].map(({ in: _in, ...e }: any) => e));
    // Not the shape: in body, and the field at fault (the whole body, or its "events"), with the value sent.
    expect((await pub('/api/tx/events/batch', '"x"', t.write_key)).json.error).toEqual({ code: 'invalid_body', in: 'body', field: '$', message: 'Body must be {"events":[...]} (or an array of events); got a string ("x").' });
    expect((await pub('/api/tx/events/batch', { events: 5 }, t.write_key)).json.error).toEqual({ code: 'invalid_body', in: 'body', field: 'events', message: 'Body must be {"events":[...]} (or an array of events); got "events": a number (5).' });
    expect((await pub('/api/tx/events', [webEvent()], t.write_key)).json.error).toMatchObject({ code: 'invalid_body', in: 'body', field: '$' });
    // An event that is not an object: `$`, the event as a whole (its fields are paths from it), never null.
    const notObject = await pub('/api/tx/events/batch', { events: [1, webEvent()] }, t.write_key);
    expect(notObject.json).toMatchObject({ accepted: 1, rejected: [{ index: 0, errors: [{ code: 'invalid_type', field: '$', message: 'An event must be a JSON object ({"event_name": …}); got 1 (number).' }] }] });
    // A date that does not exist is reported with the event's other errors, not only once they are fixed.
    const both = await pub('/api/tx/events', webEvent({ occurred_at: '2026-13-01T00:00:00Z', sequence_no: -1 }), t.write_key);
    expect(codesOf(both, 0)).toEqual(['out_of_range:sequence_no', 'invalid_format:occurred_at']);
    expect(both.json.rejected[0].errors[1].message).toMatch(/^occurred_at "2026-13-01T00:00:00Z" is not a real date and time/);
  });

  it('reports events flagged as bots (curl) with flagged_bots and a bot_user_agent warning; a browser is not flagged and counts live', async () => {
    const t = await createTenant(base, 'bots');
    const ev = (v: string) => webEvent({ visitor_id: v, session_id: `s-${v}`, entities: { event_entity_id: 'BOT1', organizer_id: 'ORG-BOT' } });
    const c1 = ev('c1');
    const curl = await postJson(`${base}/api/tx/events/batch`, { events: [c1, { nope: 1 }, ev('c2')] }, { 'x-tx-key': t.write_key, 'user-agent': 'curl/8.5.0' });
    expect(curl.json).toMatchObject({ accepted: 2, duplicates: 0, flagged_bots: 2 });
    expect(curl.json.warnings.map((w: any) => [w.index, w.code, w.field])).toEqual([[0, 'bot_user_agent', 'context.user_agent'], [2, 'bot_user_agent', 'context.user_agent']]);
    expect(curl.json.warnings[0].message).toContain('curl/8.5.0');
    // Sent again: duplicates, not stored again, so not flagged again; a validation says what storing would do.
    const again = await postJson(`${base}/api/tx/events/batch`, { events: [c1] }, { 'x-tx-key': t.write_key, 'user-agent': 'curl/8.5.0' });
    expect(again.json).toMatchObject({ accepted: 0, duplicates: 1, flagged_bots: 0, warnings: [] });
    const dry = await postJson(`${base}/api/tx/validate`, { events: [ev('c9'), c1] }, { 'x-tx-key': t.write_key, 'user-agent': 'curl/8.5.0' });
    expect(dry.json).toMatchObject({ accepted: 1, duplicates: 1, flagged_bots: 1 });
    expect(dry.json.warnings.map((w: any) => [w.index, w.code])).toEqual([[0, 'bot_user_agent']]);
    expect(dry.json.warnings[0].message).toMatch(/^Would be stored, but flagged as a bot/);

    const browser = await pub('/api/tx/events/batch', { events: [ev('b1')] }, t.write_key);
    expect(browser.json).toMatchObject({ accepted: 1, flagged_bots: 0, warnings: [] });

    // What the README's curl example sends (a browser's User-Agent) shows on the live dashboard; curl's own does not.
    const token = await mintToken(base, t, { role: 'organizer', org_id: 'ORG-BOT' });
    const live = await until(async () => {
      const r = await getJson(`${base}/api/v1/live/events/BOT1`, { authorization: `Bearer ${token}` });
      return r.status === 200 && r.json.data?.funnel?.views >= 1 ? r.json.data : null;
    });
    expect(live.funnel).toMatchObject({ views: 1, unique_visitors: 1 });
    // The flagged events are still stored.
    expect(await eventsOf(base, t)).toHaveLength(3);
  });
});
