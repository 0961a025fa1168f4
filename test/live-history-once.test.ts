// The dashboard's "Last 60 minutes" counts every row once (probe: the chart summed 36/48/41 while the live total
// said 35/46/40). Rows dated before a live snapshot but committed after it were in the history read up to the
// snapshot's `ts` and again in the live differences after it. Now the page reads the history up to now with the
// day's totals of the same read (?totals=day) and counts live only what the totals hold beyond them
// (client/dashboard/series.ts): history + live = the live total, whatever was in flight around the snapshot.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyDay, historyMinutes, MinuteSeries } from '../client/dashboard/series.js';
import { bootServer, createTenant, getJson, postEvents, webEvent, wireDatabase, type Tenant } from './helpers.js';
import { mintToken } from './live-helpers.js';

describe.each([['embedded'], ['pg']])('history + live count each row once (%s)', (store) => {
  let pg: Awaited<ReturnType<typeof wireDatabase>> | null = null;
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  let token: string;
  let n = 0;

  /** Views of ORG-O's event, dated `back` ms before `at`. */
  const views = async (count: number, at: number, back = 8000) => {
    const evs = Array.from({ length: count }, () => webEvent({ occurred_at: new Date(at - back).toISOString(), visitor_id: `v${++n}`, session_id: `s${n}`, entities: { event_entity_id: 'EO1', organizer_id: 'ORG-O' } }));
    const r = await postEvents(base, t, evs);
    expect(r.status).toBe(200);
    await server.sink.idle();
  };
  const live = async () => {
    const r = await getJson(`${base}/api/v1/live/dashboard/ORG-O`, { authorization: `Bearer ${token}` });
    expect(r.status).toBe(200);
    return { at: r.json.ts as number, views: r.json.data.totals.funnel.views as number, orders: r.json.data.totals.funnel.orders as number, tickets_sold: r.json.data.totals.funnel.tickets_sold as number };
  };
  const history = (q: string) => getJson(`${base}/api/v1/live/dashboard/ORG-O/history?minutes=60${q}`, { authorization: `Bearer ${token}` });
  const chartSum = (s: MinuteSeries, now: number) => s.points(now).reduce((a, p) => a + (p.views ?? 0), 0);

  beforeAll(async () => {
    if (store === 'pg') pg = await wireDatabase();
    server = await bootServer({ RATE_LIMIT_EVENTS_PER_SEC: '100000', RATE_LIMIT_BURST: '100000', ...(pg ? { DATABASE_URL: pg.url, DATABASE_POOL_MAX: '1' } : {}) });
    base = server.url;
    t = await createTenant(base, `once-${store}`);
    token = await mintToken(base, t, { role: 'organizer', org_id: 'ORG-O', ttl_s: 3600 });
  });
  afterAll(async () => {
    await server?.close();
    await pg?.close();
  });

  it('rows dated before the snapshot, committed after it, count once; day_totals and the minutes are one read', async () => {
    // Skip the last seconds of a UTC day: the live day would roll over under the test.
    if (Date.now() % 86_400_000 > 86_400_000 - 20_000) await new Promise((r) => setTimeout(r, 21_000));
    await views(3, Date.now());
    const snap = await live(); // the page's first live message
    const s = new MinuteSeries(60);
    s.observe(snap.at, snap, {});
    // Dated 8 s before the snapshot, committed after it: the race of the probe, made certain.
    await views(2, snap.at);
    const mid = await live();
    s.observe(mid.at, mid, {});
    expect(mid.views).toBe(5);

    // The old read (to = the snapshot's ts) holds those two as well: with the live differences, 7 for 5 rows.
    const old = await history(`&to=${snap.at}`);
    expect(old.json.series.reduce((a: number, p: { views: number }) => a + p.views, 0)).toBe(5);
    expect(old.json.day_totals).toBeUndefined();
    const before = new MinuteSeries(60);
    before.observe(snap.at, snap, {});
    before.observe(mid.at, mid, {});
    before.seedHistory(historyMinutes(old.json)!);
    expect(chartSum(before, mid.at)).toBe(7); // what the page drew before this fix

    const h = await history('&totals=day');
    expect(h.status).toBe(200);
    const day = historyDay(h.json);
    expect(day).toMatchObject({ views: 5, orders: 0, tickets_sold: 0, revenue: {} });
    expect(h.json.day_totals.day).toBe(new Date(Date.parse(h.json.to)).toISOString().slice(0, 10));
    expect(s.seedHistory(historyMinutes(h.json)!, day)).toBe(true);
    expect(chartSum(s, mid.at)).toBe(5);

    // After the read: one more row dated in the past, and one the history had that this page saw only now.
    await views(1, Date.now());
    const end = await live();
    s.observe(end.at, end, {});
    expect(end.views).toBe(6);
    expect(chartSum(s, end.at)).toBe(end.views);
  });

  it('totals before this node applied rows the read saw wait for them (no count, no start over)', () => {
    const T = Date.UTC(2026, 10, 21, 18, 0, 30);
    const s = new MinuteSeries(60);
    s.observe(T, { views: 3, orders: 0, tickets_sold: 0 }, {});
    // The store had 5 rows when the history was read; the node had applied 3.
    const minutes = Array.from({ length: 60 }, (_, i) => ({ ts: new Date(T - (59 - i) * 60_000 - 30_000).toISOString(), views: i === 59 ? 5 : 0, orders: 0, tickets_sold: 0, revenue: {} }));
    expect(s.seedHistory(minutes, { to: T + 500, views: 5, orders: 0, tickets_sold: 0, revenue: {} })).toBe(true);
    expect(chartSum(s, T + 500)).toBe(5);
    expect(s.observe(T + 1000, { views: 4, orders: 0, tickets_sold: 0 }, {})).toBe(false);
    expect(chartSum(s, T + 1000)).toBe(5);
    s.observe(T + 2000, { views: 7, orders: 0, tickets_sold: 0 }, {});
    expect(chartSum(s, T + 2000)).toBe(7);
  });

  it('refuses a totals other than day', async () => {
    const r = await history('&totals=week');
    expect({ status: r.status, code: r.json.error?.code, field: r.json.error?.field }).toEqual({ status: 400, code: 'invalid_field', field: 'totals' });
  });
});
