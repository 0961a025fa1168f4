// Segments end to end on the embedded store (README "Segments"): the compiled filters select exactly the persons
// the in-memory reference evaluator selects (not/or, time windows, feature-store values, RFM), versions stay
// readable after an edit, the refresh job drops a person whose consent was withdrawn, GDPR erase removes them
// from every version, evaluation times reach /metrics, bad filters are 400 with the field.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluate, type Filter, type PersonRecord } from '../server/segments/grammar.js';
import { ADMIN, bootServer, createTenant, orderEvent, postEvents, request, webEvent, type Tenant } from './helpers.js';
import { api, identify } from './identity-helpers.js';
import { featuresCaughtUp, seedPersons } from './audiences-helpers.js';
import { BLANK } from '../server/audiences/personas.fixture.js';
import { clearOfMidnight } from './midnight.js';

const DAY = 86_400_000;
const N = 12;
const admin = { authorization: `Bearer ${ADMIN}` };
/** The setup hook's budget, and the whole run: the hook, then five tests of 60 s at most. */
const HOOK_MS = 330_000;
const RUN_MS = HOOK_MS + 5 * 60_000;
/** Views are stamped up to 65 s before the hook reads the clock. */
const BACK_MS = 90_000;

describe('segments', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  let ids: Record<string, number>;
  const records = new Map<number, PersonRecord>();
  const call = (method: string, p: string, body?: unknown) => api(base, t, method, p, body);
  const city = (i: number) => (i % 3 === 0 ? 'Cluj' : i % 3 === 1 ? 'Iasi' : null);

  beforeAll(async () => {
    // "Views today" must fall on the same UTC day as the reads: not an hour back (the first hour after midnight
    // read yesterday's), and no midnight between the views (a minute back) and the end of the last test.
    await clearOfMidnight(BACK_MS, RUN_MS);
    server = await bootServer();
    base = server.url;
    t = await createTenant(base, 'segments');
    const now = Date.now();
    const people = Object.fromEntries(Array.from({ length: N }, (_, i) => [`s${i}`, {
      facts: { ...BLANK, city: city(i), totalOrders: i % 4, genreAffinity: { rock: 10 * i } },
      consent: i !== 11,
    }]));
    // Behaviour: views today (i+1 of them for s0..s5), carts three days ago (s2, s3), an order two days ago (s3).
    const web: Record<string, unknown>[] = [];
    const at = { view: now - 60_000, cart: now - 3 * DAY, order: now - 2 * DAY };
    for (let i = 0; i < 6; i++) for (let k = 0; k <= i; k++) web.push(webEvent({ visitor_id: `vis-${i}`, session_id: `ses-${i}`, occurred_at: new Date(at.view - k * 1000).toISOString() }));
    for (const i of [2, 3]) web.push(webEvent({ event_name: 'add_to_cart', visitor_id: `vis-${i}`, session_id: `ses-c${i}`, occurred_at: new Date(at.cart).toISOString(), entities: { event_entity_id: 'E1', cart_id: `c${i}` }, payload: { items: [{ ticket_type_id: 'GA', qty: 1 }], cart_value: 50, currency: 'EUR' } }));
    const posted = await postEvents(base, t, web);
    expect(posted.rejected).toEqual([]);
    for (let i = 0; i < 6; i++) expect((await identify(base, t, { visitor_id: `vis-${i}`, external_id: `s${i}` })).json.linked).toBe(true);
    const order = orderEvent({ occurred_at: new Date(at.order).toISOString(), entities: { order_id: 'O-s3', event_entity_id: 'E1' }, payload: { gross_amount: 50, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1 }], consent_data_processing: true, customer: { external_id: 's3' } } });
    expect((await postEvents(base, t, [order])).accepted).toBe(1);
    // Persons after their events, affinities after the feature job saw those events (it would rewrite them).
    ids = await seedPersons(base, t, server.db, people, { afterOrders: () => featuresCaughtUp(base) });
    // RFM scores are the feature store's job output; two scripted rows (over the job's own, when its hourly run
    // came after the persons above).
    await server.db.query(`INSERT INTO fs_person_scores (tenant_id, person_id, recency_days, frequency, monetary, rfm_recency_score, rfm_frequency_score, rfm_monetary_score, customer_segment, sessions_30d, active_ms_30d, interactions_30d, engagement_score, computed_at)
      VALUES ($1, $2, 1, 5, 500, 5, 5, 5, 'vip', 3, 1000, 10, 0.9, now()), ($1, $3, 300, 1, 10, 1, 1, 1, 'lost', 0, 0, 0, 0.1, now())
      ON CONFLICT (tenant_id, person_id) DO UPDATE SET recency_days = EXCLUDED.recency_days, frequency = EXCLUDED.frequency,
        monetary = EXCLUDED.monetary, rfm_recency_score = EXCLUDED.rfm_recency_score, rfm_frequency_score = EXCLUDED.rfm_frequency_score,
        rfm_monetary_score = EXCLUDED.rfm_monetary_score, customer_segment = EXCLUDED.customer_segment, sessions_30d = EXCLUDED.sessions_30d,
        active_ms_30d = EXCLUDED.active_ms_30d, interactions_30d = EXCLUDED.interactions_30d, engagement_score = EXCLUDED.engagement_score,
        computed_at = EXCLUDED.computed_at`, [t.tenant_id, ids.s0, ids.s1]);
    const today = Math.floor(at.view / DAY) * DAY;
    for (let i = 0; i < N; i++) {
      records.set(ids[`s${i}`], {
        city: city(i), total_orders: i % 4, events_attended: 0, avg_order_value: null, last_purchase_at: null, marketing_consent: i !== 11,
        artist: {}, genre: { rock: 10 * i },
        daily: i < 6 ? [{ day: today, views: i + 1, carts: 0, checkouts: 0, purchases: 0, attendance: 0 }] : [],
        scores: i === 0 ? { segment: 'vip', recency: 5, frequency: 5, monetary: 5, engagement: 0.9 } : i === 1 ? { segment: 'lost', recency: 1, frequency: 1, monetary: 1, engagement: 0.1 } : null,
        events: [
          ...(i < 6 ? [{ name: 'event_view', event_id: 'E1', at: at.view }] : []),
          ...(i === 2 || i === 3 ? [{ name: 'add_to_cart', event_id: 'E1', at: at.cart }] : []),
          ...(i === 3 ? [{ name: 'order_completed', event_id: 'E1', at: at.order }] : []),
        ],
      });
    }
  }, BACK_MS + RUN_MS + HOOK_MS); // the longest wait for midnight, then the hook's own budget
  afterAll(async () => {
    await server?.close();
  });

  const expected = (f: Filter, marketingOnly: boolean) =>
    [...records.entries()].filter(([, r]) => (!marketingOnly || r.marketing_consent) && evaluate(f, r, Date.now())).map(([id]) => id).sort((a, b) => a - b);
  const members = async (id: number, version?: number) => {
    const r = await call('GET', `/api/v1/segments/${id}/members?limit=5${version ? `&version=${version}` : ''}`);
    const out: number[] = r.json.members.map((m: { person_id: number }) => m.person_id);
    let next = r.json.next_cursor;
    while (next) {
      const p = await call('GET', `/api/v1/segments/${id}/members?limit=5&cursor=${next}`);
      out.push(...p.json.members.map((m: { person_id: number }) => m.person_id));
      next = p.json.next_cursor;
    }
    return out;
  };

  const FILTERS: [string, Filter][] = [
    ['or', { or: [{ attribute: 'city', op: 'eq', value: 'Cluj' }, { affinity: 'genre', id: 'rock', gte: 75 }] }],
    ['not + activity', { and: [{ not: { attribute: 'city', op: 'eq', value: 'Cluj' } }, { activity: 'views', within_days: 1, gte: 2 }] }],
    ['did within 2 days', { did: 'add_to_cart', within_days: 2 }],
    ['did within 4 days', { did: 'add_to_cart', within_days: 4 }],
    ['carted, no order', { and: [{ did: 'add_to_cart', event_id: 'E1', within_days: 4 }, { not: { did: 'order_completed', event_id: 'E1', within_days: 7 } }] }],
    ['rfm segment', { rfm: 'segment', in: ['vip', 'at_risk'] }],
    ['not rfm + orders', { and: [{ not: { rfm: 'recency', lte: 2 } }, { attribute: 'total_orders', op: 'gte', value: 2 }] }],
    ['consent', { not: { consent: 'marketing' } }],
  ];

  it('selects exactly the persons the reference evaluator selects, size estimate on save', async () => {
    for (const [name, f] of FILTERS) {
      for (const marketingOnly of [false, true]) {
        const r = await call('POST', '/api/v1/segments', { name, filters: f, marketing_only: marketingOnly });
        expect(r.status, name).toBe(201);
        const want = expected(f, marketingOnly);
        expect(r.json, name).toMatchObject({ version: 1, size_estimate: want.length });
        expect(await members(r.json.id), `${name} marketing_only=${marketingOnly}`).toEqual(want);
      }
    }
    // The scripted data makes the filters discriminate (none is trivially all or nothing).
    expect(expected(FILTERS[0][1], false).length).toBeGreaterThan(0);
    expect(expected(FILTERS[2][1], false)).toEqual([]);
    expect(expected(FILTERS[4][1], false)).toEqual([ids.s2]);
  });

  it('matches cities and genres whatever their case or surrounding spaces, on either side (README "Audiences": trimmed, lower-cased)', async () => {
    // A person whose city was stored in another case is in Cluj too.
    await server.db.query("UPDATE persons SET city = ' cLUJ ' WHERE person_id = $1", [ids.s0]);
    records.get(ids.s0)!.city = ' cLUJ ';
    const pairs: [Filter, Filter][] = [
      [{ attribute: 'city', op: 'eq', value: 'Cluj' }, { attribute: 'city', op: 'eq', value: 'CLUJ ' }],
      [{ attribute: 'city', op: 'in', value: ['Iasi'] }, { attribute: 'city', op: 'in', value: [' iasi', 'Nowhere'] }],
      [{ attribute: 'city', op: 'neq', value: 'Cluj' }, { attribute: 'city', op: 'neq', value: 'cluj' }],
      [{ affinity: 'genre', id: 'rock', gte: 40 }, { affinity: 'genre', id: ' ROCK', gte: 40 }],
    ];
    for (const [plain, cased] of pairs) {
      const want = expected(plain, false);
      expect(want.length, JSON.stringify(plain)).toBeGreaterThan(0);
      const r = await call('POST', '/api/v1/segments', { name: 'any case', filters: cased, marketing_only: false });
      expect(r.json.size_estimate, JSON.stringify(cased)).toBe(want.length);
      expect(await members(r.json.id), JSON.stringify(cased)).toEqual(want);
    }
    expect(expected({ attribute: 'city', op: 'eq', value: 'Cluj' }, false)).toContain(ids.s0);
  });

  it('an edit is a new version; the old version keeps its definition and members', async () => {
    const v1 = { attribute: 'city', op: 'eq', value: 'Cluj' } as const;
    const c = await call('POST', '/api/v1/segments', { name: 'Cluj', filters: v1 });
    const id = c.json.id;
    const e = await call('PUT', `/api/v1/segments/${id}`, { filters: { attribute: 'city', op: 'eq', value: 'Iasi' } });
    expect(e.json).toMatchObject({ id, version: 2, size_estimate: expected({ attribute: 'city', op: 'eq', value: 'Iasi' }, true).length });
    const got = await call('GET', `/api/v1/segments/${id}`);
    expect(got.json).toMatchObject({ version: 2, current_version: 2, name: 'Cluj', filters: { value: 'Iasi' }, error_count: 0 });
    expect(typeof got.json.computed_at).toBe('string');
    expect((await call('GET', `/api/v1/segments/${id}?version=1`)).json.filters).toEqual(v1);
    expect(await members(id, 1)).toEqual(expected(v1, true));
    expect((await call('GET', `/api/v1/segments/${id}/versions`)).json.versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    expect((await call('GET', `/api/v1/segments/${id}?version=3`)).status).toBe(404);
  });

  it('the refresh job drops a person whose marketing consent was withdrawn; erase removes them from every version', async () => {
    const c = await call('POST', '/api/v1/segments', { name: 'views', filters: { activity: 'views', within_days: 1, gte: 1 } });
    const id = c.json.id;
    await call('PUT', `/api/v1/segments/${id}`, { name: 'views 2' });
    expect(await members(id, 1)).toContain(ids.s4);
    await call('PUT', '/api/v1/catalog/persons', { items: [{ id: 's4', marketing_consent: false }] });
    expect(await members(id, 2)).toContain(ids.s4);
    const before = (await call('GET', `/api/v1/segments/${id}`)).json.computed_at;
    const run = await request('POST', `${base}/api/admin/jobs/segments.refresh/run`, undefined, admin);
    expect(run.json.status).toBe('succeeded');
    expect(await members(id, 1)).not.toContain(ids.s4);
    expect(await members(id, 2)).not.toContain(ids.s4);
    expect((await call('GET', `/api/v1/segments/${id}`)).json.computed_at > before).toBe(true);

    const count = async () => Number((await server.db.query<{ n: number }>('SELECT count(*)::int AS n FROM segment_members WHERE person_id = $1', [ids.s5])).rows[0].n);
    expect(await count()).toBeGreaterThan(2);
    const ex = await call('GET', `/api/v1/persons/${ids.s5}/export`);
    expect(ex.json.segment_members.length).toBeGreaterThan(2);
    expect((await call('DELETE', `/api/v1/persons/${ids.s5}`)).status).toBe(200);
    expect(await count()).toBe(0);
    await request('POST', `${base}/api/admin/jobs/segments.refresh/run`, undefined, admin);
    expect(await count()).toBe(0);

    const metrics = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
    expect(metrics).toMatch(new RegExp(`tx_segment_eval_seconds\\{tenant="${t.tenant_id}",segment="${id}",version="2"\\} \\d`));
    expect(metrics).toMatch(/tx_segment_evaluations_total\{outcome="ok"\} [1-9]/);
    // Without an operator token a scraper sees the totals but no series naming a tenant.
    const open = await (await fetch(`${base}/metrics`)).text();
    expect(open).toMatch(/tx_segment_evaluations_total\{outcome="ok"\} [1-9]/);
    expect(open).not.toMatch(/tenant="/);
    expect(open).toContain('# per-tenant series omitted');
  });

  it('refuses bad filters and bodies with 400 naming the field', async () => {
    const cases: [unknown, string][] = [
      [{ name: 'x' }, 'filters'],
      [{ filters: { consent: 'marketing' } }, 'name'],
      [{ name: 'x', filters: { and: [{ attribute: 'shoe', op: 'eq', value: 1 }] } }, 'filters.and[0].attribute'],
      [{ name: 'x', filters: { did: 'event_view', within_days: 99999 } }, 'filters.within_days'],
      [{ name: 'x', filters: { did: 'not_an_event', within_days: 3 } }, 'filters.did'],
      [{ name: 'x', filters: { consent: 'marketing' }, colour: 'red' }, 'colour'],
      [{ name: 'x', filters: { consent: 'marketing' }, marketing_only: 'yes' }, 'marketing_only'],
    ];
    for (const [body, field] of cases) {
      const r = await call('POST', '/api/v1/segments', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error.field).toBe(field);
    }
    expect((await call('PUT', '/api/v1/segments/999999', { name: 'x' })).status).toBe(404);
    expect((await call('PUT', '/api/v1/segments/1', {})).status).toBe(400);
    expect((await call('GET', '/api/v1/segments/1/members?cursor=abc')).status).toBe(400);
  });
});
