// What one request with the public write key may cost the store. An event over MAX_EVENT_BYTES is rejected but
// kept for the tenant to see: it is charged to the key's rate by its size (as invalid JSON is, and a gzipped body
// by its size once decompressed) and kept truncated to MAX_EVENT_BYTES, so oversized events fill the store no
// faster than good ones. The User-Agent header, copied into every stored event, is capped at the 1024
// characters the body's own context.user_agent may have. Each 429 here comes from a bucket drained by one
// request: refilling it takes more than 10 s at 1 unit/s.
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, eventsOf, getJson, postJson, request, webEvent, type Tenant } from './helpers.js';

const MAX_EVENT_BYTES = 32 * 1024;
const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';

describe('ingest limits with the public write key', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  beforeAll(async () => {
    server = await bootServer({ RATE_LIMIT_EVENTS_PER_SEC: '1', RATE_LIMIT_BURST: '20' });
  }, 60_000);
  afterAll(async () => server?.close());

  const rejectedOf = async (t: Tenant) => (await getJson(`${server.url}/api/v1/tx/rejected?limit=100`, { authorization: `Bearer ${t.secret_key}` })).json.rejected as any[];

  it('charges an oversized event by its size, like invalid JSON: a second 520 KB event right after the first is refused with 429', async () => {
    const t = await createTenant(server.url, 'big-event');
    const big = () => webEvent({ payload: { price_from: 50, currency: 'EUR', pad: 'x'.repeat(520_000) } });
    const first = await postJson(`${server.url}/api/tx/events`, big(), { 'x-tx-key': t.write_key, 'user-agent': BROWSER });
    expect(first.status).toBe(200);
    expect(first.json.rejected[0].errors[0].code).toBe('event_too_large');
    // 520 KB is 16 units of MAX_EVENT_BYTES: the 20-unit bucket has 4 left.
    const second = await postJson(`${server.url}/api/tx/events`, big(), { 'x-tx-key': t.write_key, 'user-agent': BROWSER });
    expect(second.status).toBe(429);
    expect(second.json.error.code).toBe('rate_limited');
    expect(await rejectedOf(t)).toHaveLength(1);
  });

  it('keeps an oversized rejected event truncated to MAX_EVENT_BYTES, marked, with its event_id, event_name and reason', async () => {
    const t = await createTenant(server.url, 'big-kept');
    const ev = webEvent({ payload: { price_from: 50, currency: 'EUR', pad: 'é'.repeat(200_000) } });
    const r = await postJson(`${server.url}/api/tx/events`, ev, { 'x-tx-key': t.write_key, 'user-agent': BROWSER });
    expect(r.json.rejected[0].errors[0].code).toBe('event_too_large');
    const [kept] = await rejectedOf(t);
    expect(kept).toMatchObject({ event_id: ev.event_id, event_name: 'event_view', reasons: [{ code: 'event_too_large', field: '$' }] });
    const body: string = kept.raw_body;
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MAX_EVENT_BYTES + 200);
    expect(body).not.toContain('\ufffd'); // cut between characters, not inside one
    expect(body.startsWith(JSON.stringify(ev).slice(0, 200))).toBe(true);
    expect(body).toMatch(/…<truncated: the event is \d+ bytes; only its first 32768 \(MAX_EVENT_BYTES\) are kept>$/);
  });

  it('keeps a huge non-object event of a batch truncated too', async () => {
    const t = await createTenant(server.url, 'big-string');
    const r = await postJson(`${server.url}/api/tx/events/batch`, { events: ['y'.repeat(200_000), webEvent()] }, { 'x-tx-key': t.write_key, 'user-agent': BROWSER });
    expect(r.status).toBe(200);
    expect(r.json.accepted).toBe(1);
    expect(r.json.rejected[0].errors[0].code).toBe('invalid_type');
    const [kept] = await rejectedOf(t);
    expect(Buffer.byteLength(kept.raw_body)).toBeLessThanOrEqual(MAX_EVENT_BYTES + 200);
    expect(kept.raw_body).toMatch(/^"yyyy/);
  });

  it('charges a gzipped invalid body by its size once decompressed: a second one right after the first is refused with 429', async () => {
    const t = await createTenant(server.url, 'big-gzip');
    const body = zlib.gzipSync(Buffer.from(`{"events": [ ${'z'.repeat(520_000)}`));
    expect(body.length).toBeLessThan(5_000);
    const post = () =>
      fetch(`${server.url}/api/tx/events/batch`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', 'x-tx-key': t.write_key } });
    const first = await post();
    expect(first.status).toBe(400);
    expect(((await first.json()) as any).error.code).toBe('invalid_json');
    const second = await post();
    expect(second.status).toBe(429);
    expect(await rejectedOf(t)).toHaveLength(1);
  });
});

describe('the User-Agent header in stored events', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  beforeAll(async () => {
    server = await bootServer();
    t = await createTenant(server.url, 'long-ua');
  }, 60_000);
  afterAll(async () => server?.close());

  it('is capped at 1024 characters like context.user_agent, and still flags a bot and detects the device', async () => {
    const pad = ' '.padEnd(60_000, 'a');
    const bot = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)' + pad;
    const browser = BROWSER + pad;
    const botRes = await postJson(`${server.url}/api/tx/events/batch`, { events: [webEvent({ visitor_id: 'bot' }), webEvent({ visitor_id: 'bot' })] }, { 'x-tx-key': t.write_key, 'user-agent': bot });
    expect(botRes.json).toMatchObject({ accepted: 2, flagged_bots: 2 });
    const human = await postJson(`${server.url}/api/tx/events/batch`, { events: [webEvent({ visitor_id: 'human' })] }, { 'x-tx-key': t.write_key, 'user-agent': browser });
    expect(human.json).toMatchObject({ accepted: 1, flagged_bots: 0 });
    const stored = await eventsOf(server.url, t);
    expect(stored).toHaveLength(3);
    for (const ev of stored) {
      const ua: string = ev.context.user_agent;
      expect(ua.length).toBe(1024);
      expect((ev.visitor_id === 'bot' ? bot : browser).startsWith(ua)).toBe(true);
      expect(ev.context.is_bot).toBe(ev.visitor_id === 'bot');
      if (ev.visitor_id === 'human') expect(ev.context.device).toMatchObject({ device_type: 'desktop', os: 'Linux', browser: 'Chrome' });
    }
  });

  it('keeps a context.user_agent sent in the body over the header', async () => {
    const r = await request('POST', `${server.url}/api/tx/events`, webEvent({ visitor_id: 'own-ua', context: { user_agent: BROWSER } }), { 'x-tx-key': t.write_key, 'user-agent': 'x'.repeat(5000) });
    expect(r.json.accepted).toBe(1);
    const [ev] = (await eventsOf(server.url, t)).filter((e) => e.visitor_id === 'own-ua');
    expect(ev.context.user_agent).toBe(BROWSER);
  });

  it('refuses a number beyond a double\'s range in an undeclared payload or context field, naming it, instead of storing null; 1e308 and -0 are stored', async () => {
    // JSON.stringify cannot write 1e309: the numbers go in as text, where a marker string stood.
    const post = (vid: string, where: 'payload' | 'context', literal: string) => {
      const ev = webEvent({ visitor_id: vid, [where]: where === 'payload' ? { price_from: 50, currency: 'EUR', extra: 'MARK' } : { clock_skew_ms: 'MARK' } });
      return request('POST', `${server.url}/api/tx/events`, JSON.stringify(ev).replace('"MARK"', literal), { 'x-tx-key': t.write_key, 'user-agent': BROWSER });
    };
    const cases: [string, 'payload' | 'context', string, string][] = [
      ['inf', 'payload', '1e309', 'payload.extra'],
      ['neg-inf', 'payload', '-1e309', 'payload.extra'],
      ['digits', 'payload', '9'.repeat(30_000), 'payload.extra'],
      ['skew', 'context', '1e309', 'context.clock_skew_ms'],
    ];
    for (const [vid, where, literal, field] of cases) {
      const r = await post(`huge-${vid}`, where, literal);
      expect(r.status).toBe(200);
      expect(r.json.accepted).toBe(0);
      expect(r.json.rejected[0].errors).toContainEqual({ code: 'invalid_type', field, message: expect.stringMatching(new RegExp(`'${field}'.*Infinity \\(beyond ±1\\.8e308\\)`)) });
    }
    expect((await post('huge-max', 'payload', '1e308')).json.accepted).toBe(1);
    expect((await post('huge-negzero', 'payload', '-0')).json.accepted).toBe(1);
    const stored = (await eventsOf(server.url, t)).filter((e) => String(e.visitor_id).startsWith('huge-'));
    expect(stored.map((e) => [e.visitor_id, e.payload.extra]).sort()).toEqual([['huge-max', 1e308], ['huge-negzero', 0]]);
  });
});
