// The feature store (issue 13) on the embedded TimescaleDB (continuous aggregates) and on plain PostgreSQL 15
// (job-refreshed tables): a scripted dataset sent through the public ingest API, then every aggregate compared
// with an independent JS recount of the raw rows (features-reference.ts), affinities with the seed formula,
// timings with hand-computed values, incremental runs with a full recompute, late events after a refresh, and
// a GDPR erasure. Event times lie on the three previous UTC days, clear of midnight.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, bootServer, createTenant, orderEvent, request, tmpDir, webEvent, type Tenant } from './helpers.js';
import { identify } from './identity-helpers.js';
import { mintToken, sendEvents } from './live-helpers.js';
import { affinity, eventDaily, hourlyFunnel, personDaily, ticketPrefs, type RawRow } from './features-reference.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const D0 = Math.floor(Date.now() / DAY) * DAY - 3 * DAY;
const at = (day: number, h: number, m: number, s = 0) => new Date(D0 + day * DAY + h * HOUR + m * 60_000 + s * 1000).toISOString();
const admin = { authorization: `Bearer ${ADMIN}` };

const ARTISTS = [{ id: 'A1', genres: ['rock', 'indie'] }, { id: 'A2', genres: ['pop'] }, { id: 'A3', genres: ['rock'] }];
const EVENTS = [
  { id: 'E1', organizer_id: 'O1', artist_ids: ['A1', 'A2'] },
  { id: 'E2', organizer_id: 'O1', artist_ids: ['A3'] },
  { id: 'E3', organizer_id: 'O2', artist_ids: ['A1'] },
];
const TYPES: Record<string, { category: string; price: number; currency: string }> = {
  'GA-E1': { category: 'GA', price: 50, currency: 'EUR' }, 'VIP-E2': { category: 'VIP', price: 150, currency: 'EUR' },
  'EB-E3': { category: 'EarlyBird', price: 30, currency: 'EUR' }, 'PREM-E1': { category: 'Premium', price: 300, currency: 'EUR' },
};
const genresOf = (e: string) => EVENTS.find((x) => x.id === e)!.artist_ids.flatMap((a) => ARTISTS.find((x) => x.id === a)!.genres);
const artistsOf = (e: string) => EVENTS.find((x) => x.id === e)?.artist_ids ?? [];

const web = (visitor: string, name: string, when: string, entities: Record<string, unknown>, payload: Record<string, unknown> = {}) =>
  webEvent({ visitor_id: visitor, session_id: `s-${visitor}`, event_name: name, occurred_at: when, entities, payload });
const view = (v: string, e: string, when: string) => web(v, 'event_view', when, { event_entity_id: e }, {});
const cart = (v: string, e: string, when: string, type: string, n: number) =>
  web(v, 'add_to_cart', when, { event_entity_id: e, cart_id: `c-${v}-${e}` }, { items: [{ ticket_type_id: type, qty: n }], cart_value: n * TYPES[type].price, currency: 'EUR' });
const checkout = (v: string, e: string, when: string) => web(v, 'checkout_started', when, { event_entity_id: e, cart_id: `c-${v}-${e}` }, { cart_value: 1, currency: 'EUR' });
const order = (v: string, e: string, when: string, type: string, n: number, extra: Record<string, unknown> = {}) => orderEvent({
  visitor_id: v, occurred_at: when, entities: { event_entity_id: e, order_id: `o-${v}-${e}` },
  payload: { gross_amount: n * TYPES[type].price, net_amount: n * TYPES[type].price * 0.9, currency: 'EUR', items: [{ ticket_type_id: type, qty: n, price: TYPES[type].price }], ...extra },
});
const entry = (v: string, e: string, when: string, ticket: string) =>
  webEvent({ source_system: 'scanner', visitor_id: v, event_name: 'entry_granted', occurred_at: when, entities: { event_entity_id: e, ticket_id: ticket }, payload: { gate_id: 'G1' } });
/** A scan of a ticket leaving (scan_type 'exit'): no entry, no attendance (README "Live layer"). */
const exitScan = (v: string, e: string, when: string, ticket: string) =>
  webEvent({ source_system: 'scanner', visitor_id: v, event_name: 'entry_granted', occurred_at: when, entities: { event_entity_id: e, ticket_id: ticket }, payload: { gate_id: 'G1', scan_type: 'exit' } });
/** A gate scanner's entry naming the ticket's order, without a visitor: the order's person attends. */
const orderScan = (e: string, when: string, ticket: string, orderId: string) => {
  const { visitor_id: _v, session_id: _s, ...x } = webEvent({ source_system: 'scanner', event_name: 'entry_granted', occurred_at: when,
    entities: { event_entity_id: e, ticket_id: ticket, order_id: orderId }, payload: { gate_id: 'G1', scan_type: 'entry' } });
  return x;
};
const snapshot = (e: string, when: string, gate: string, inside: number) =>
  webEvent({ source_system: 'scanner', visitor_id: 'gate-device', event_name: 'capacity_snapshot', occurred_at: when, entities: { event_entity_id: e }, payload: { gate_id: gate, current_inside: inside } });

/** The scripted dataset (timings below are computed by hand from it). */
function dataset() {
  return [
    view('v1', 'E1', at(0, 10, 0)), web('v1', 'ticket_type_selected', at(0, 10, 1), { event_entity_id: 'E1' }, { ticket_type_id: 'GA-E1', qty: 2 }),
    cart('v1', 'E1', at(0, 10, 2), 'GA-E1', 2), checkout('v1', 'E1', at(0, 10, 5)),
    web('v1', 'payment_attempted', at(0, 10, 6), { event_entity_id: 'E1', order_id: 'o-v1-E1' }, { amount: 100, currency: 'EUR' }),
    view('v2', 'E1', at(0, 10, 10)), cart('v2', 'E1', at(0, 10, 11), 'GA-E1', 1),
    view('v5', 'E1', at(0, 10, 20)), view('v5', 'E1', at(0, 10, 21)),
    ...[0, 1, 2].map((i) => web('v5', 'event_card_impression', at(0, 11, i), { event_entity_id: 'E1' }, { position: i })),
    web('v5', 'event_card_click', at(0, 11, 5), { event_entity_id: 'E1' }, {}),
    view('v2', 'E2', at(1, 9, 0)), cart('v2', 'E2', at(1, 9, 30), 'VIP-E2', 1), checkout('v2', 'E2', at(1, 9, 40)),
    view('v2', 'E3', at(1, 11, 0)),
    view('v3', 'E3', at(1, 14, 0)), cart('v3', 'E3', at(1, 14, 5), 'EB-E3', 4), checkout('v3', 'E3', at(1, 14, 7)),
    entry('v1', 'E1', at(2, 12, 0), 't1'), entry('v3', 'E3', at(2, 13, 0), 't3a'), entry('v3', 'E3', at(2, 13, 1), 't3b'),
    snapshot('E1', at(2, 12, 0), 'G1', 10), snapshot('E1', at(2, 12, 1), 'G2', 5), snapshot('E1', at(2, 12, 2), 'G1', 12), snapshot('E1', at(2, 12, 3), 'G2', 2),
    view('v4', 'E1', at(2, 15, 0)), view('v4', 'E2', at(2, 15, 2)),
    web('v4', 'event_card_impression', at(2, 15, 3), { event_entity_id: 'E1' }, {}), web('v4', 'event_card_click', at(2, 15, 3, 30), { event_entity_id: 'E1' }, {}),
    web('v4', 'event_interest_marked', at(2, 15, 4), { event_entity_id: 'E1' }, { interested: true }),
    web('v4', 'ticket_link_click', at(2, 15, 5), { event_entity_id: 'E1' }, { ticket_url: 'https://t.example/e1' }),
    web('v4', 'page_engagement', at(2, 15, 6), {}, { active_ms: 30_000, total_ms: 40_000 }),
    order('v1', 'E1', at(0, 10, 9, 30), 'GA-E1', 2, { discount_code: 'X' }),
    order('v2', 'E2', at(1, 9, 45), 'VIP-E2', 1, { affiliate_id: 'aff1' }),
    order('v3', 'E3', at(1, 14, 8), 'EB-E3', 4, { currency: 'RON' }),
    // v1 leaves E1 9 minutes after entering; v2's ticket is scanned at E2's gate, the scan naming only the order.
    exitScan('v1', 'E1', at(2, 12, 9), 't1'),
    orderScan('E2', at(2, 14, 0), 't2', 'o-v2-E2'),
  ];
}

interface Store {
  name: string;
  env(): Promise<Record<string, string>>;
  drop(): Promise<void>;
}

function plainStore(): Store {
  let scratch: ScratchDatabase | undefined;
  return {
    name: 'plain PostgreSQL',
    async env() {
      scratch = await scratchDatabase('fs');
      return { DATABASE_URL: scratch.url };
    },
    async drop() {
      await scratch?.drop().catch(() => undefined);
    },
  };
}

const embeddedStore = (): Store => ({ name: 'embedded TimescaleDB', env: async () => ({}), drop: async () => undefined });

describe.each([embeddedStore(), plainStore()])('feature store on $name', (store: Store) => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  const persons: Record<string, number> = {};
  const sk = () => ({ authorization: `Bearer ${t.secret_key}` });
  const run = async (job: string) => {
    const r = await request('POST', `${server.url}/api/admin/jobs/${job}/run`, undefined, admin);
    expect(r.json?.status, `${job}: ${r.text}`).toBe('succeeded');
    return r.json;
  };
  const raw = async () => (await server.db.query<RawRow>('SELECT event_name, occurred_at, visitor_id, person_id, entities, payload, is_bot FROM tx_events WHERE tenant_id = $1', [t.tenant_id])).rows;
  const series = async (path: string, q: string) => {
    const r = await request('GET', `${server.url}/api/v1/analytics/${path}?${q}`, undefined, sk());
    expect(r.status, r.text).toBe(200);
    return r.json;
  };
  const incremental = async () => {
    for (const j of ['features.refresh', 'features.timings', 'features.persons', 'features.attendance', 'features.scores']) await run(j);
  };

  beforeAll(async () => {
    server = await bootServer({ ...(await store.env()), DATA_DIR: tmpDir(), DEMO_TENANT: '0' });
    t = await createTenant(server.url, 'fs');
    const put = async (kind: string, items: unknown[]) => expect((await request('PUT', `${server.url}/api/v1/catalog/${kind}`, { items }, sk())).status).toBe(200);
    await put('artists', ARTISTS.map((a) => ({ ...a, name: a.id })));
    await put('events', EVENTS.map((e) => ({ ...e, title: e.id })));
    await put('ticket_types', Object.entries(TYPES).map(([id, x]) => ({ id, ...x, currency: 'EUR' })));
    for (const v of ['v1', 'v2', 'v3', 'v4']) {
      const r = await identify(server.url, t, { visitor_id: v, external_id: `cust-${v}` });
      persons[v] = r.json.person_id;
    }
    await sendEvents(server.url, t, dataset());
    await incremental();
  }, 180_000);
  afterAll(async () => {
    await server?.close();
    await store.drop();
  });

  it('fs_event_funnel_hourly through GET /api/v1/analytics/events/{id} equals a recount of tx_events, per hour and currency', async () => {
    const ref = hourlyFunnel(await raw());
    for (const e of ['E1', 'E2', 'E3']) {
      const body = await series(`events/${e}`, `bucket=hour&from=${at(0, 0, 0)}&to=${at(3, 0, 0)}`);
      expect(body.series).toHaveLength(72);
      for (const p of body.series) {
        const want = ref.get(`${e}|${p.ts}`) ?? { page_views: 0, ticket_selections: 0, add_to_carts: 0, checkout_starts: 0, payment_attempts: 0, orders_completed: 0, tickets_sold: 0, revenue_gross: {} };
        const { avg_time_to_cart_ms: _a, avg_time_to_checkout_ms: _b, avg_checkout_duration_ms: _c, ts: _t, ...got } = p;
        expect(got, `${e} ${p.ts}`).toEqual(want);
      }
    }
  });

  it('fs_event_daily and fs_person_daily equal recounts of tx_events (unique viewers exact)', async () => {
    const rows = await raw();
    const daily = (await server.db.query<any>(`SELECT event_entity_id, date, sum(views)::int AS views, sum(add_to_cart)::int AS add_to_cart, sum(checkouts_started)::int AS checkouts_started,
      sum(orders)::int AS orders, sum(tickets_sold)::float8 AS tickets_sold, sum(revenue)::float8 AS revenue, sum(impressions)::int AS impressions, sum(unique_viewers)::int AS unique_viewers,
      sum(clicks)::int AS clicks, sum(interested)::int AS interested, sum(ticket_link_clicks)::int AS ticket_link_clicks FROM fs_event_daily WHERE tenant_id = $1 GROUP BY 1, 2`, [t.tenant_id])).rows;
    const got = new Map(daily.map(({ event_entity_id, date, ...r }) => [`${event_entity_id}|${new Date(date).toISOString()}`, r]));
    expect(got).toEqual(eventDaily(rows));
    const pd = (await server.db.query<any>(`SELECT person_id::text AS person_id, date, sum(views_count)::int AS views_count, sum(carts_count)::int AS carts_count, sum(checkouts_count)::int AS checkouts_count,
      sum(purchases_count)::int AS purchases_count, sum(attendance_count)::int AS attendance_count, sum(gross_amount)::float8 AS gross_amount, sum(net_amount)::float8 AS net_amount,
      sum(discount_orders)::int AS discount_orders, sum(affiliate_orders)::int AS affiliate_orders FROM fs_person_daily WHERE tenant_id = $1 GROUP BY 1, 2`, [t.tenant_id])).rows;
    expect(new Map(pd.map(({ person_id, date, ...r }) => [`${person_id}|${new Date(date).toISOString()}`, r]))).toEqual(personDaily(rows));
  });

  it('timings equal the hand-computed per-visitor values', async () => {
    const hour = async (e: string, day: number, h: number) => (await series(`events/${e}`, `bucket=hour&from=${at(day, h, 0)}&to=${at(day, h + 1, 0)}`)).series[0];
    // E1, day 0, 10:00: v1 view 10:00 → cart 10:02 (120 s), v2 10:10 → 10:11 (60 s); v1 → checkout 10:05; checkout → order 10:09:30.
    expect(await hour('E1', 0, 10)).toMatchObject({ avg_time_to_cart_ms: 90_000, avg_time_to_checkout_ms: 300_000, avg_checkout_duration_ms: 270_000 });
    expect(await hour('E2', 1, 9)).toMatchObject({ avg_time_to_cart_ms: 1_800_000, avg_time_to_checkout_ms: 2_400_000, avg_checkout_duration_ms: 300_000 });
    expect(await hour('E3', 1, 14)).toMatchObject({ avg_time_to_cart_ms: 300_000, avg_time_to_checkout_ms: 420_000, avg_checkout_duration_ms: 60_000 });
    const p1 = (await request('GET', `${server.url}/api/v1/features/persons/${persons.v1}?from=${at(0, 0, 0)}&to=${at(3, 0, 0)}`, undefined, sk())).json;
    expect(p1.daily[0]).toMatchObject({ date: at(0, 0, 0).slice(0, 10), views_count: 1, purchases_count: 1, gross_amount: 100, avg_order_value: 100, avg_decision_time_ms: 570_000,
      discount_usage_rate: 1, affiliate_rate: 0, discount_orders: 1, affiliate_orders: 0, currency: 'EUR' });
    // t1 entered at 12:00 and left at 12:09: one entry, the last one at 12:00 (an exit scan is no entry).
    const att = (await series('events/E1', 'bucket=day')).attendance;
    expect(att).toMatchObject({ tickets_sold: 2, entries: 1, no_show_rate: 0.5, peak_inside: 17, first_entry_at: at(2, 12, 0), last_entry_at: at(2, 12, 0) });
    expect(p1.daily.find((d: any) => d.date === at(2, 0, 0).slice(0, 10))).toMatchObject({ attendance_count: 1 });
  });

  it('affinities equal the seed formula within 1e-6 (highest first); ticket preferences equal a JS reference', async () => {
    const rows = await raw();
    for (const v of ['v1', 'v2', 'v3', 'v4']) {
      const body = (await request('GET', `${server.url}/api/v1/features/persons/${persons[v]}`, undefined, sk())).json;
      const asOf = Date.parse(body.as_of);
      for (const [kind, of, key] of [['artists', artistsOf, 'artist_id'], ['genres', genresOf, 'genre']] as const) {
        const ref = affinity(rows, persons[v], of, asOf);
        const got = body.affinity[kind];
        expect(got.map((a: any) => a[key]).sort()).toEqual([...ref.keys()].sort());
        for (const a of got) {
          const want = ref.get(a[key])!;
          expect(Math.abs(a.affinity_score - want.score), `${v} ${a[key]}`).toBeLessThan(1e-6);
          expect([a.views_count, a.purchases_count, a.attendance_count, Date.parse(a.last_interaction_at)]).toEqual([want.views, want.purchases, want.attendance, want.last]);
        }
        const scores = got.map((a: any) => a.affinity_score);
        expect(scores).toEqual([...scores].sort((x: number, y: number) => y - x));
      }
      const prefs = ticketPrefs(rows, persons[v], TYPES);
      expect(body.ticket_prefs.sort((a: any, b: any) => a.ticket_category.localeCompare(b.ticket_category)))
        .toEqual(prefs.sort((a, b) => a.ticket_category.localeCompare(b.ticket_category)));
    }
  });

  it('an entry scan naming an attributed order is the buyer\'s attendance: at ingest, and backfilled when the order comes later', async () => {
    const scans = async () => new Map((await raw()).filter((r) => r.event_name === 'entry_granted').map((r) => [String(r.entities.ticket_id), r.person_id === null ? null : Number(r.person_id)]));
    expect((await scans()).get('t2')).toBe(persons.v2);
    const day2 = at(2, 0, 0).slice(0, 10);
    const p2 = (await request('GET', `${server.url}/api/v1/features/persons/${persons.v2}`, undefined, sk())).json;
    expect(p2.daily.find((d: any) => d.date === day2)).toMatchObject({ attendance_count: 1 });
    expect(p2.affinity.artists.find((a: any) => a.artist_id === 'A3')).toMatchObject({ attendance_count: 1 });
    expect((await request('GET', `${server.url}/api/v1/persons/${persons.v2}`, undefined, sk())).json).toMatchObject({ events_attended: 1 });
    // A scan stored before its order (consented: it stitches its customer) gets the person with the order's backfill.
    await sendEvents(server.url, t, [orderScan('E3', at(2, 13, 30), 't4', 'o-v4-E3')]);
    expect((await scans()).get('t4')).toBeNull();
    await sendEvents(server.url, t, [order('v4', 'E3', at(2, 13, 20), 'EB-E3', 1, { consent_data_processing: true, customer: { external_id: 'cust-v4' } })]);
    expect((await scans()).get('t4')).toBe(persons.v4);
    await incremental();
    const p4 = (await request('GET', `${server.url}/api/v1/features/persons/${persons.v4}`, undefined, sk())).json;
    expect(p4.daily.find((d: any) => d.date === day2)).toMatchObject({ attendance_count: 1, purchases_count: 1 });
    expect((await request('GET', `${server.url}/api/v1/persons/${persons.v4}`, undefined, sk())).json).toMatchObject({ events_attended: 1 });
  });

  const snap = async () => {
    const out: Record<string, unknown[]> = {};
    for (const [table, order] of [['fs_person_affinity_artist_raw', 'person_id, artist_id'], ['fs_person_affinity_genre_raw', 'person_id, genre'], ['fs_person_ticket_pref', 'person_id, ticket_category'],
      ['fs_event_funnel_timings', 'event_entity_id, hour'], ['fs_person_daily_timings', 'person_id, date'], ['fs_event_attendance', 'event_entity_id']]) {
      out[table] = (await server.db.query(`SELECT * FROM ${table} WHERE tenant_id = $1 ORDER BY ${order}`, [t.tenant_id])).rows.map((r: any) =>
        ({ ...r, score_at_last: r.score_at_last === undefined ? undefined : Math.round(r.score_at_last * 1e9) / 1e9 }));
    }
    return out;
  };

  it('an incremental run leaves the same rows as a full recompute', async () => {
    // More rows, then the incremental jobs; then a full recompute must change nothing.
    await sendEvents(server.url, t, [view('v3', 'E1', at(2, 16, 0)), cart('v3', 'E1', at(2, 16, 3), 'PREM-E1', 1), order('v3', 'E1', at(2, 16, 9), 'PREM-E1', 1)]);
    await incremental();
    const inc = await snap();
    expect(inc.fs_person_ticket_pref.some((r: any) => r.ticket_category === 'Premium')).toBe(true);
    await run('features.full');
    const after = await snap();
    for (const table of Object.keys(inc)) expect(after[table], table).toEqual(inc[table]);
    // The aggregates too, however often it runs (on plain PostgreSQL each run added the oldest day's buckets again).
    const rows = async () => (await server.db.query<{ n: string; views: string }>(
      'SELECT (SELECT count(*) FROM fs_event_daily WHERE tenant_id = $1) + (SELECT count(*) FROM fs_event_funnel_hourly WHERE tenant_id = $1) AS n, (SELECT sum(views) FROM fs_event_daily WHERE tenant_id = $1) AS views', [t.tenant_id])).rows[0];
    const once = await rows();
    await run('features.full');
    expect(await rows()).toEqual(once);
  });

  it('counts a late event after the next refresh; scores follow the segment rules', async () => {
    const q = `bucket=hour&from=${at(0, 10, 0)}&to=${at(0, 11, 0)}`;
    const before = (await series('events/E1', q)).series[0].page_views;
    await sendEvents(server.url, t, [view('v5', 'E1', at(0, 10, 30))]);
    await run('features.refresh');
    expect((await series('events/E1', q)).series[0].page_views).toBe(before + 1);
    const sc = (await server.db.query<any>('SELECT * FROM fs_person_scores WHERE tenant_id = $1', [t.tenant_id])).rows;
    expect(sc.length).toBeGreaterThan(0);
    const { segmentOf } = await import('../server/features/model.js');
    for (const s of sc) {
      const rfm = s.rfm_recency_score === null ? null : { frequency: s.frequency, recencyDays: s.recency_days, r: s.rfm_recency_score, f: s.rfm_frequency_score, m: s.rfm_monetary_score };
      expect(s.customer_segment).toBe(segmentOf(rfm));
    }
  });

  it('organizer series sums its events; bad query parameters are 400 naming the field', async () => {
    const q = `bucket=day&from=${at(0, 0, 0)}&to=${at(3, 0, 0)}`;
    const org = await series('organizers/O1', q);
    const e1 = await series('events/E1', q);
    const e2 = await series('events/E2', q);
    expect(org.series.map((p: any) => p.page_views)).toEqual(e1.series.map((p: any, i: number) => p.page_views + e2.series[i].page_views));
    for (const [query, field] of [['bucket=week', 'bucket'], ['from=yesterday', 'from'], ['from=2020-01-01T00:00:00Z&bucket=hour', 'from'], ['x=1', 'x']]) {
      const r = await request('GET', `${server.url}/api/v1/analytics/events/E1?${query}`, undefined, sk());
      expect([r.status, r.json.error.field]).toEqual([400, field]);
    }
    expect((await request('GET', `${server.url}/api/v1/features/persons/999999`, undefined, sk())).status).toBe(404);
  });

  it('tokens see only their scope: an organizer its events and roll-up, an artist its events without revenue', async () => {
    const get = (p: string, token: string) => request('GET', `${server.url}/api/v1/analytics/${p}?bucket=day`, undefined, { authorization: `Bearer ${token}` });
    const org = await mintToken(server.url, t, { role: 'organizer', org_id: 'O1' });
    expect((await get('events/E1', org)).status).toBe(200);
    expect((await get('organizers/O1', org)).status).toBe(200);
    expect((await get('events/E3', org)).json.error).toMatchObject({ code: 'forbidden', scope: 'event E3' });
    expect((await get('organizers/O2', org)).status).toBe(403);
    const artist = await mintToken(server.url, t, { role: 'artist', artist_ids: ['A3'] });
    const e2 = await get('events/E2', artist);
    expect(e2.status).toBe(200);
    expect(e2.json.revenue).toBe(false);
    expect(e2.json.series.every((p: any) => !('revenue_gross' in p))).toBe(true);
    expect((await get('events/E1', artist)).status).toBe(403);
    expect((await get('organizers/O1', artist)).json.error).toMatchObject({ code: 'forbidden' });
  });

  it('after a catalog change (an event\'s artists, a ticket type\'s category) the next incremental run equals a full recompute', async () => {
    const put = async (kind: string, items: unknown[]) => expect((await request('PUT', `${server.url}/api/v1/catalog/${kind}`, { items }, sk())).json.upserted).toBe(items.length);
    const v1 = async () => (await request('GET', `${server.url}/api/v1/features/persons/${persons.v1}`, undefined, sk())).json;
    const names = (p: any) => [p.affinity.artists.map((a: any) => a.artist_id).sort(), p.affinity.genres.map((g: any) => g.genre).sort(), p.ticket_prefs.map((x: any) => x.ticket_category).sort()];
    expect(names(await v1())).toEqual([['A1', 'A2'], ['indie', 'pop', 'rock'], ['GA']]);
    const change = async (artists: string[], category: string) => {
      await put('events', [{ id: 'E1', organizer_id: 'O1', artist_ids: artists, title: 'E1' }]);
      await put('ticket_types', [{ id: 'GA-E1', ...TYPES['GA-E1'], category, currency: 'EUR' }]);
      await incremental();
      const inc = await snap();
      await run('features.full');
      const after = await snap();
      for (const table of Object.keys(inc)) expect(inc[table], table).toEqual(after[table]);
    };
    await change(['A3'], 'General');
    expect(names(await v1())).toEqual([['A3'], ['rock'], ['General']]);
    // And back (the later tests read the catalog of the dataset).
    await change(['A1', 'A2'], 'GA');
    expect(names(await v1())).toEqual([['A1', 'A2'], ['indie', 'pop', 'rock'], ['GA']]);
  });

  it('an erased person disappears from every aggregate after the erasure (its days refreshed by the erase)', async () => {
    const r = await request('DELETE', `${server.url}/api/v1/persons/${persons.v2}`, undefined, sk());
    expect(r.status, r.text).toBe(200);
    expect(r.json.removed.external.features.aggregate_refreshes).toBeGreaterThan(0);
    const rows = await raw();
    expect(rows.some((x) => x.visitor_id === 'v2')).toBe(false);
    const ref = hourlyFunnel(rows);
    const body = await series('events/E2', `bucket=hour&from=${at(1, 0, 0)}&to=${at(2, 0, 0)}`);
    for (const p of body.series) expect(p.page_views, p.ts).toBe(ref.get(`E2|${p.ts}`)?.page_views ?? 0);
    const left = (await server.db.query<{ n: number }>(`SELECT (SELECT count(*) FROM fs_person_daily WHERE person_id = $1) + (SELECT count(*) FROM fs_person_affinity_artist WHERE person_id = $1)
      + (SELECT count(*) FROM fs_person_ticket_pref WHERE person_id = $1) + (SELECT count(*) FROM fs_person_scores WHERE person_id = $1) AS n`, [persons.v2])).rows[0];
    expect(Number(left.n)).toBe(0);
    const timings = (await series('events/E2', `bucket=hour&from=${at(1, 9, 0)}&to=${at(1, 10, 0)}`)).series[0];
    expect(timings.avg_time_to_cart_ms).toBeNull();
  });

  it('after an erasure the other persons\' scores equal a recompute (RFM quintiles and engagement without the erased person)', async () => {
    const scores = async () => (await server.db.query(`SELECT person_id::text AS person_id, frequency, monetary::float8 AS monetary, rfm_recency_score, rfm_frequency_score,
      rfm_monetary_score, customer_segment, sessions_30d, active_ms_30d::float8 AS active_ms_30d, interactions_30d, engagement_score
      FROM fs_person_scores WHERE tenant_id = $1 ORDER BY person_id`, [t.tenant_id])).rows;
    await run('features.scores');
    const before = await scores();
    const r = await request('DELETE', `${server.url}/api/v1/persons/${persons.v1}`, undefined, sk());
    expect(r.status, r.text).toBe(200);
    const erased = await scores();
    expect(erased.some((s: any) => Number(s.person_id) === persons.v1)).toBe(false);
    expect(erased).not.toEqual(before.filter((s: any) => Number(s.person_id) !== persons.v1));
    await run('features.scores');
    expect(erased).toEqual(await scores());
  });

  it('a person buying in two currencies: the average and the band are in the currency with most tickets, against that currency\'s quartiles', async () => {
    const put = async (kind: string, items: unknown[]) => expect((await request('PUT', `${server.url}/api/v1/catalog/${kind}`, { items }, sk())).status).toBe(200);
    // RON types 100, 200, 300, 400 (quartiles 175, 250, 325); the EUR ones keep theirs (GA 50 … Premium 300).
    await put('ticket_types', [100, 200, 300, 400].map((price, i) => ({ id: `RON-${i}`, event_id: 'E1', category: i === 3 ? 'VIP' : 'RON', price, currency: 'RON' })));
    const v5 = (await identify(server.url, t, { visitor_id: 'v5', external_id: 'cust-v5' })).json.person_id;
    const buy = (n: number, when: string, currency: string, items: unknown[]) => orderEvent({
      visitor_id: 'v5', occurred_at: when, entities: { event_entity_id: 'E1', order_id: `o-v5-${n}` }, payload: { gross_amount: 1, net_amount: 1, currency, items },
    });
    await sendEvents(server.url, t, [
      buy(1, at(0, 12, 0), 'RON', [{ ticket_type_id: 'RON-3', qty: 3, price: 380 }]), // VIP in RON: 3 × 380
      buy(2, at(0, 13, 0), 'EUR', [{ ticket_type_id: 'VIP-E2', qty: 1, price: 150 }]), // VIP in EUR: 1 × 150
      buy(3, at(0, 14, 0), 'EUR', [{ ticket_type_id: 'RON-0', qty: 2 }]), // no line price: the catalog's 100 RON
    ]);
    await incremental();
    const prefs = (await request('GET', `${server.url}/api/v1/features/persons/${v5}`, undefined, sk())).json.ticket_prefs;
    const by = Object.fromEntries(prefs.map((p: any) => [p.ticket_category, p]));
    // 380 RON is above the RON third quartile (325): premium. Mixed with 150 EUR it would have read 322.5, "high".
    expect(by.VIP).toMatchObject({ purchases_count: 2, avg_price: 380, currency: 'RON', price_band: 'premium' });
    expect(by.RON).toMatchObject({ purchases_count: 1, avg_price: 100, currency: 'RON', price_band: 'low' });
    // Dearer RON types move the RON quartiles (100 … 2000: 225, 350, 850), and the bands with them.
    await put('ticket_types', [1000, 2000].map((price, i) => ({ id: `RON-${4 + i}`, event_id: 'E1', category: 'Gold', price, currency: 'RON' })));
    await incremental();
    const after = Object.fromEntries((await request('GET', `${server.url}/api/v1/features/persons/${v5}`, undefined, sk())).json.ticket_prefs.map((p: any) => [p.ticket_category, p]));
    expect(after.VIP).toMatchObject({ avg_price: 380, currency: 'RON', price_band: 'high' });
    expect(after.RON).toMatchObject({ avg_price: 100, currency: 'RON', price_band: 'low' });
    // preference_score is the share of the person's purchases: an order of both categories counts for both.
    expect([after.VIP.preference_score, after.RON.preference_score]).toEqual([2 / 3, 1 / 3]);
    await sendEvents(server.url, t, [buy(4, at(0, 15, 0), 'EUR', [{ ticket_type_id: 'VIP-E2', qty: 1, price: 150 }, { ticket_type_id: 'RON-0', qty: 1 }])]);
    await incremental();
    const mixed = Object.fromEntries((await request('GET', `${server.url}/api/v1/features/persons/${v5}`, undefined, sk())).json.ticket_prefs.map((p: any) => [p.ticket_category, p]));
    expect([mixed.VIP.purchases_count, mixed.VIP.preference_score, mixed.RON.purchases_count, mixed.RON.preference_score]).toEqual([3, 3 / 4, 2, 2 / 4]);
    const rows = async () => (await server.db.query('SELECT * FROM fs_person_ticket_pref WHERE tenant_id = $1 ORDER BY person_id, ticket_category', [t.tenant_id])).rows;
    const inc = await rows();
    await run('features.full');
    expect(await rows()).toEqual(inc);
  });

  it('rows computed before migration 036 (an average without a currency) are recomputed by the next persons run: it equals a full recompute', async () => {
    const rows = async () => (await server.db.query('SELECT * FROM fs_person_ticket_pref WHERE tenant_id = $1 ORDER BY person_id, ticket_category', [t.tenant_id])).rows;
    await run('features.full');
    const want = await rows();
    // As migration 036 left them: no currency, the old (mixed) average, and a band.
    const old = await server.db.query(`UPDATE fs_person_ticket_pref SET currency = NULL, price_band = 'premium', avg_price = avg_price + 1
      WHERE tenant_id = $1 AND avg_price IS NOT NULL RETURNING person_id`, [t.tenant_id]);
    expect(old.rows.length).toBeGreaterThan(1);
    expect(await rows()).not.toEqual(want);
    await run('features.persons');
    expect(await rows()).toEqual(want);
    await run('features.full');
    expect(await rows()).toEqual(want);
  });

  it('a catalog whose ticket types carry no currency: a catalog-priced line is in the order\'s currency, and every currency is banded against the types without one (as before 036) until it has types of its own', async () => {
    const t2 = await createTenant(server.url, 'fs-nocur');
    const sk2 = { authorization: `Bearer ${t2.secret_key}` };
    const put = async (items: unknown[]) => expect((await request('PUT', `${server.url}/api/v1/catalog/ticket_types`, { items }, sk2)).json.upserted).toBe(items.length);
    const untyped: Record<string, { category: string; price: number; currency?: string }> = Object.fromEntries(Object.entries(TYPES).map(([id, { currency: _c, ...x }]) => [id, x]));
    await put(Object.entries(untyped).map(([id, x]) => ({ id, ...x })));
    const w = Object.fromEntries(await Promise.all(['w1', 'w2'].map(async (v) => [v, (await identify(server.url, t2, { visitor_id: v, external_id: `cust-${v}` })).json.person_id])));
    const buy = (v: string, n: number, when: string, currency: string, items: unknown[]) => orderEvent({
      visitor_id: v, occurred_at: when, entities: { event_entity_id: 'E1', order_id: `o-${v}-${n}` }, payload: { gross_amount: 1, net_amount: 1, currency, items },
    });
    await sendEvents(server.url, t2, [
      buy('w1', 1, at(0, 12, 0), 'EUR', [{ ticket_type_id: 'GA-E1', qty: 2, price: 50 }]), // GA: 50 EUR, the line's
      buy('w1', 2, at(0, 13, 0), 'RON', [{ ticket_type_id: 'VIP-E2', qty: 1 }]), // VIP: the catalog's 150, in the order's RON
      buy('w2', 1, at(1, 12, 0), 'EUR', [{ ticket_type_id: 'PREM-E1', qty: 1 }]), // Premium: the catalog's 300, in EUR
      buy('w2', 2, at(1, 13, 0), 'RON', [{ ticket_type_id: 'EB-E3', qty: 4, price: 30 }]), // EarlyBird: 30 RON, the line's
    ]);
    const raw2 = async () => (await server.db.query<RawRow>('SELECT event_name, occurred_at, visitor_id, person_id, entities, payload, is_bot FROM tx_events WHERE tenant_id = $1', [t2.tenant_id])).rows;
    const prefs = async (v: string) => Object.fromEntries((await request('GET', `${server.url}/api/v1/features/persons/${w[v]}`, undefined, sk2)).json.ticket_prefs
      .map((p: any) => [p.ticket_category, [p.avg_price, p.currency, p.price_band]]));
    const rows = async () => (await server.db.query('SELECT * FROM fs_person_ticket_pref WHERE tenant_id = $1 ORDER BY person_id, ticket_category', [t2.tenant_id])).rows;
    /** Incremental runs, then: the reference over `types`, and a full recompute changes nothing. */
    const check = async (types: typeof untyped) => {
      await incremental();
      const r = await raw2();
      for (const v of ['w1', 'w2']) {
        const got = (await request('GET', `${server.url}/api/v1/features/persons/${w[v]}`, undefined, sk2)).json.ticket_prefs;
        expect(got.sort((a: any, b: any) => a.ticket_category.localeCompare(b.ticket_category)), v)
          .toEqual(ticketPrefs(r, w[v], types).sort((a, b) => a.ticket_category.localeCompare(b.ticket_category)));
      }
      const inc = await rows();
      await run('features.full');
      expect(await rows()).toEqual(inc);
    };
    // Every price of the catalog, whatever the currency: 30, 50, 150, 300 (quartiles 45, 100, 187.5), the bands before 036.
    await check(untyped);
    expect(await prefs('w1')).toEqual({ GA: [50, 'EUR', 'mid'], VIP: [150, 'RON', 'high'] });
    expect(await prefs('w2')).toEqual({ Premium: [300, 'EUR', 'premium'], EarlyBird: [30, 'RON', 'low'] });
    // A type without a currency and without buyers moves the fallback quartiles (30 … 1000: 50, 150, 300): a re-band.
    const more: typeof untyped = { ...untyped, 'GOLD-E1': { category: 'Gold', price: 1000 } };
    await put([{ id: 'GOLD-E1', ...more['GOLD-E1'] }]);
    await check(more);
    expect(await prefs('w1')).toEqual({ GA: [50, 'EUR', 'low'], VIP: [150, 'RON', 'mid'] });
    expect(await prefs('w2')).toEqual({ Premium: [300, 'EUR', 'high'], EarlyBird: [30, 'RON', 'low'] });
    // Types in RON (10, 20: quartiles 12.5, 15, 17.5) band the RON rows; EUR keeps the fallback ones.
    const ron: typeof untyped = { ...more, 'R1-E1': { category: 'Cheap', price: 10, currency: 'RON' }, 'R2-E1': { category: 'Cheap', price: 20, currency: 'RON' } };
    await put(['R1-E1', 'R2-E1'].map((id) => ({ id, ...ron[id] })));
    await check(ron);
    expect(await prefs('w1')).toEqual({ GA: [50, 'EUR', 'low'], VIP: [150, 'RON', 'premium'] });
    expect(await prefs('w2')).toEqual({ Premium: [300, 'EUR', 'high'], EarlyBird: [30, 'RON', 'premium'] });
  });
});
