// GET /api/v1/live/events/{id}/history and /api/v1/live/dashboard/{org}/history: per-minute buckets from
// the store, zero-filled, counted like the live funnel (bots and other tenants never count), with the REST
// mirror's authentication and scopes. The same SQL runs on the embedded store and over the Postgres wire (pg).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, getJson, orderEvent, postEvents, postJson, webEvent, wireDatabase, type Tenant } from './helpers.js';
import { mintToken } from './live-helpers.js';

const MIN = 60_000;
const BOT_UA = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';

describe.each([['embedded'], ['pg']])('live history (per minute, from the store: %s)', (store) => {
  let pg: Awaited<ReturnType<typeof wireDatabase>> | null = null;
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let a: Tenant;
  let b: Tenant;
  /** The pinned end of the window (`to`) and the start of its minute. */
  let T: number;
  let M: number;

  const send = async (t: Tenant, events: Record<string, unknown>[]) => {
    // Orders go with the secret key, as the tenant's backend sends them.
    const r = await postEvents(base, t, events);
    expect(r.status).toBe(200);
    expect(r.rejected).toEqual([]);
  };
  /** An instant inside the minute `k` minutes before T's minute (k = 0: T's minute, at its start). */
  const at = (k: number, s = 5) => new Date(k === 0 ? M : M - k * MIN + s * 1000).toISOString();
  const he = (org: string | null = 'ORG-H', event = 'HE1') => (org ? { event_entity_id: event, organizer_id: org } : { event_entity_id: event });
  const view = (k: number, visitor: string, entities = he(), extra: Record<string, unknown> = {}) => webEvent({ occurred_at: at(k), visitor_id: visitor, session_id: `s-${visitor}`, entities, ...extra });
  const order = (k: number, gross: number, currency: string, qtys: number[]) =>
    orderEvent({ occurred_at: at(k, 20), entities: { ...he(), order_id: `ord-${k}-${gross}` }, payload: { gross_amount: gross, currency, items: qtys.map((qty) => ({ ticket_type_id: 'GA', qty, price: 1 })) } });
  const get = (path: string, auth?: string) => getJson(`${base}${path}`, auth ? { authorization: `Bearer ${auth}` } : {});

  beforeAll(async () => {
    if (store === 'pg') pg = await wireDatabase();
    server = await bootServer({ RATE_LIMIT_EVENTS_PER_SEC: '100000', RATE_LIMIT_BURST: '100000', ...(pg ? { DATABASE_URL: pg.url, DATABASE_POOL_MAX: '1' } : {}) });
    expect(server.db.kind).toBe(store === 'pg' ? 'postgres' : 'embedded');
    base = server.url;
    a = await createTenant(base, 'history-a');
    b = await createTenant(base, 'history-b');
    T = Date.now();
    M = Math.floor(T / MIN) * MIN;
    await send(a, [
      view(45, 'old'),
      view(29, 'va'),
      view(29, 'vb'),
      webEvent({ event_name: 'add_to_cart', occurred_at: at(29, 30), visitor_id: 'va', session_id: 's-va', entities: { ...he(), cart_id: 'c-a' }, payload: { items: [{ ticket_type_id: 'GA', qty: 2, price: 50 }], cart_value: 100, currency: 'EUR' } }),
      view(20, 'vc'),
      webEvent({ event_name: 'checkout_started', occurred_at: at(20, 40), visitor_id: 'va', session_id: 's-va', entities: { ...he(), cart_id: 'c-a' }, payload: { cart_value: 100, currency: 'EUR' } }),
      order(20, 100, 'EUR', [2, 1]),
      view(15, 've', he(null)), // no organizer on the row: counts for the organizer its event is linked to
      order(10, 50.5, 'RON', [1]),
      order(10, 19.99, 'EUR', [1]),
      view(10, 'bot', he(), { context: { user_agent: BOT_UA } }), // a bot: never counts
      view(5, 'vf', he('ORG-H', 'HE2')), // the organizer's other event
      view(5, 'vx', he('ORG-X', 'HX1')), // another organizer's event
      view(4, 'vz', he('ORG-H', 'HX1')), // ORG-H names ORG-X's event: traffic of HX1, never ORG-H's
      view(0, 'vd'), // today (T's minute): links HE1 to ORG-H in the live state
    ]);
    // another tenant, same ids: never counts for tenant a
    await send(b, [view(10, 'b1'), view(10, 'b2'), order(10, 999, 'EUR', [9])]);
    // Two days back, an event ORG-H owns by its first claim, and a row of it naming no organizer: not in the
    // live state (today only), still ORG-H's history.
    const old = (m: number, visitor: string, entities: Record<string, string>) => webEvent({ occurred_at: new Date(M - 2 * 86_400_000 + m * MIN).toISOString(), visitor_id: visitor, session_id: `s-${visitor}`, entities });
    await send(a, [old(0, 'y1', { event_entity_id: 'HY1', organizer_id: 'ORG-H' }), old(1, 'y2', { event_entity_id: 'HY1' })]);
    await server.sink.idle();
  });
  afterAll(async () => {
    await server?.close();
    await pg?.close();
  });

  it('answers one zero-filled bucket per minute, counted like the live funnel (no bots, no other tenant)', async () => {
    const r = await get(`/api/v1/live/events/HE1/history?minutes=60&to=${new Date(T).toISOString()}`, a.secret_key);
    expect(r.status).toBe(200);
    const h = r.json;
    expect(h.bucket_s).toBe(60);
    expect(h.from).toBe(new Date(M - 59 * MIN).toISOString());
    expect(h.to).toBe(new Date(T).toISOString());
    expect(h.series).toHaveLength(60);
    expect(h.series.map((p: any) => Date.parse(p.ts))).toEqual(Array.from({ length: 60 }, (_, i) => M - (59 - i) * MIN));
    const zero = { views: 0, unique_visitors: 0, add_to_carts: 0, checkouts_started: 0, orders: 0, tickets_sold: 0, revenue: {} };
    const want = new Map<number, object>([
      [45, { ...zero, views: 1, unique_visitors: 1 }],
      [29, { ...zero, views: 2, unique_visitors: 2, add_to_carts: 1 }],
      [20, { ...zero, views: 1, unique_visitors: 2, checkouts_started: 1, orders: 1, tickets_sold: 3, revenue: { EUR: 100 } }],
      [15, { ...zero, views: 1, unique_visitors: 1 }],
      [10, { ...zero, orders: 2, tickets_sold: 2, revenue: { EUR: 19.99, RON: 50.5 } }],
      [0, { ...zero, views: 1, unique_visitors: 1 }],
    ]);
    h.series.forEach((p: any, i: number) => {
      const k = 59 - i;
      expect({ k, ...p }).toEqual({ k, ts: new Date(M - k * MIN).toISOString(), ...(want.get(k) ?? zero) });
    });

    // The organizer: HE1 (with its row that names no organizer) and HE2; not ORG-X's HX1.
    const org = await get(`/api/v1/live/dashboard/ORG-H/history?to=${T}`, a.secret_key);
    expect(org.status).toBe(200);
    expect(org.json.series).toHaveLength(60); // default minutes=60; `to` as epoch ms
    const sum = (s: any[], k: string) => s.reduce((n, p) => n + p[k], 0);
    expect(org.json.series[59 - 5]).toEqual({ ...zero, ts: new Date(M - 5 * MIN).toISOString(), views: 1, unique_visitors: 1 });
    expect(org.json.series[59 - 15].views).toBe(1);
    expect(sum(org.json.series, 'views')).toBe(7);
    expect(sum(org.json.series, 'orders')).toBe(3);
    const other = await get(`/api/v1/live/dashboard/ORG-X/history?to=${T}`, a.secret_key);
    expect(sum(other.json.series, 'views')).toBe(2);
    // The events it owns with no row today count too, whatever organizer their rows name.
    const back = await get(`/api/v1/live/dashboard/ORG-H/history?minutes=10&to=${M - 2 * 86_400_000 + 5 * MIN}`, a.secret_key);
    expect(sum(back.json.series, 'views')).toBe(2);

    // A shorter window leaves out the row 45 minutes back; without `to` the window ends now.
    const short = await get(`/api/v1/live/events/HE1/history?minutes=30&to=${T}`, a.secret_key);
    expect(short.json.series).toHaveLength(30);
    expect(short.json.from).toBe(new Date(M - 29 * MIN).toISOString());
    expect(sum(short.json.series, 'views')).toBe(5);
    const now = await get('/api/v1/live/events/HE1/history', a.secret_key);
    expect(now.json.series).toHaveLength(60);
    expect(Date.parse(now.json.to)).toBeGreaterThanOrEqual(T);
    expect(sum(now.json.series, 'views')).toBe(6);
    expect(sum(now.json.series, 'tickets_sold')).toBe(5);

    // Same counting as the live funnel, whatever the time of day: the live state holds today (UTC) only, so
    // its totals equal the sums of the window's buckets that fall on today (all of them, except when the
    // window reaches back across midnight).
    const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
    let live: any;
    let liveDay: string;
    for (;;) {
      const before = dayOf(Date.now());
      live = (await get('/api/v1/live/events/HE1', a.secret_key)).json.data;
      if (dayOf(Date.now()) === before) {
        liveDay = before;
        break;
      }
    }
    const today = h.series.filter((p: any) => dayOf(Date.parse(p.ts)) === liveDay);
    for (const k of ['views', 'add_to_carts', 'checkouts_started', 'orders', 'tickets_sold']) expect({ k, n: sum(today, k) }).toEqual({ k, n: live.funnel[k] });
    const revenue: Record<string, number> = {};
    for (const p of today) for (const [cur, v] of Object.entries(p.revenue as Record<string, number>)) revenue[cur] = Math.round(((revenue[cur] ?? 0) + v) * 1000) / 1000;
    expect(live.revenue).toEqual(revenue);
    // Tenant b sees only its own rows under the same ids.
    const tb = await get(`/api/v1/live/events/HE1/history?to=${T}`, b.secret_key);
    expect(tb.status).toBe(200);
    expect(tb.json.series[59 - 10]).toMatchObject({ views: 2, orders: 1, tickets_sold: 9, revenue: { EUR: 999 } });
    expect(sum(tb.json.series, 'views')).toBe(2);
  });

  it('uses the REST mirror scopes: organizer tokens of the organizer, never gate tokens or other organizers', async () => {
    const orgH = await mintToken(base, a, { role: 'organizer', org_id: 'ORG-H' });
    const orgX = await mintToken(base, a, { role: 'organizer', org_id: 'ORG-X' });
    const gate = await mintToken(base, a, { role: 'gate', event_ids: ['HE1'] });
    const ev = '/api/v1/live/events/HE1/history';
    const dash = '/api/v1/live/dashboard/ORG-H/history';

    expect((await get(ev, orgH)).status).toBe(200);
    expect((await getJson(`${base}${dash}?minutes=5&token=${encodeURIComponent(orgH)}`)).json.series).toHaveLength(5);
    for (const [path, token] of [[ev, gate], [dash, gate], [ev, orgX], [dash, orgX], ['/api/v1/live/events/HX1/history', orgH]]) {
      const r = await get(path, token);
      expect({ path, status: r.status, code: r.json.error?.code }).toEqual({ path, status: 403, code: 'forbidden' });
    }
    expect((await get(ev)).status).toBe(401);
    expect((await get(ev, a.write_key)).status).toBe(403);
    expect((await get(ev, `${orgH.slice(0, -4)}AAAA`)).json.error.code).toBe('invalid_token');
  });

  it('gives a gate token its events\' capacity and nothing else: every analytics route answers 403 naming view_event_analytics', async () => {
    const gate = await mintToken(base, a, { role: 'gate', event_ids: ['HE1'] });
    expect((await get('/api/v1/live/events/HE1/capacity', gate)).status).toBe(200);
    for (const path of ['/api/v1/live/events/HE1', '/api/v1/live/events/HE1/history', '/api/v1/analytics/events/HE1']) {
      const r = await get(path, gate);
      expect({ path, status: r.status, code: r.json.error?.code, message: r.json.error?.message }).toEqual({
        path, status: 403, code: 'forbidden', message: expect.stringContaining('view_event_analytics'),
      });
    }
  });

  it('refuses a bad minutes or to with 400 invalid_field', async () => {
    for (const q of ['minutes=0', 'minutes=1441', 'minutes=abc', 'minutes=1.5', 'minutes=-5', 'minutes=', 'to=yesterday', 'to=2026-13-45T00:00:00Z']) {
      const r = await get(`/api/v1/live/events/HE1/history?${q}`, a.secret_key);
      expect({ q, status: r.status, code: r.json.error?.code, field: r.json.error?.field, in: r.json.error?.in }).toEqual({ q, status: 400, code: 'invalid_field', field: q.split('=')[0], in: 'query' });
      // The message says the value sent.
      expect(r.json.error.message, q).toContain(`; got ${JSON.stringify(decodeURIComponent(q.split('=')[1]))}.`);
    }
    expect((await get('/api/v1/live/events/HE1/history?minutes=1441', a.secret_key)).json.error.message).toBe('minutes must be an integer between 1 and 1440 (default 60); got "1441".');
    expect((await get('/api/v1/live/events/HE1/history?to=yesterday', a.secret_key)).json.error.message).toBe('to must be an ISO-8601 timestamp like 2026-03-07T18:00:00Z or epoch milliseconds, from 1970 on (default now); got "yesterday".');
    expect((await get('/api/v1/live/dashboard/ORG-H/history?minutes=1440', a.secret_key)).json.series).toHaveLength(1440);
    expect((await get('/api/v1/live/dashboard/ORG-H/history?minutes=1', a.secret_key)).json.series).toHaveLength(1);
  });
});
