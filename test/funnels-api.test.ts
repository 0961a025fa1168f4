// POST /api/v1/analytics/funnels on a running server: events through the public ingest API, the answer's
// shape, the seed 003 preset, 4xx with the field at fault (never a 5xx on bad input), and permissions: media
// keys are refused, an organizer key sees only its events.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, postEvents, postJson, request, webEvent, type Tenant } from './helpers.js';

const URL_ = '/api/v1/analytics/funnels';
// One origin for every event (a clock read per event made the expected 120 s come out as 120.001 s).
const T0 = Math.floor((Date.now() - 3_600_000) / 1000) * 1000;
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

describe('funnels API', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  const funnel = (body: unknown, key = t.secret_key) => postJson(`${base}${URL_}`, body, { authorization: `Bearer ${key}` });
  const range = () => ({ from: new Date(Date.now() - 86_400_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() });

  beforeAll(async () => {
    // Every tenant gets a funnel index after its first funnel: the tests below hold both paths to one answer.
    server = await bootServer({ FUNNEL_INDEX_MIN_QUERY_MS: '0' });
    base = server.url;
    t = await createTenant(base, 'funnels');
    const journey = (v: string, event: string, names: string[], utm?: string) =>
      names.map((name, i) => webEvent({
        event_name: name, visitor_id: v, session_id: `s-${v}`, occurred_at: at(i * 30), entities: { event_entity_id: event },
        context: utm ? { utm: { source: utm } } : {},
        payload: name === 'ticket_link_click' ? { ticket_url: 'https://tickets.example/x' } : name === 'event_view' ? { price_from: 10, currency: 'EUR' } : {},
      }));
    const all = [
      ...journey('a', 'E1', ['event_card_impression', 'event_card_click', 'event_view', 'event_interest_marked', 'ticket_link_click'], 'google'),
      ...journey('b', 'E1', ['event_card_impression', 'event_card_click', 'event_view'], 'google'),
      ...journey('c', 'E2', ['event_card_impression', 'event_card_click'], 'fb'),
      ...journey('d', 'E2', ['event_card_impression']),
    ];
    const r = await postEvents(base, t, all);
    expect(r.rejected).toEqual([]);
    expect(r.accepted).toBe(all.length);
    // E1 belongs to organizer O1 in the catalog.
    expect((await request('PUT', `${base}/api/v1/catalog/organizers`, { items: [{ id: 'O1', name: 'One' }] }, { authorization: `Bearer ${t.secret_key}` })).status).toBe(200);
    expect((await request('PUT', `${base}/api/v1/catalog/events`, { items: [{ id: 'E1', organizer_id: 'O1', title: 'Gig' }] }, { authorization: `Bearer ${t.secret_key}` })).status).toBe(200);
  }, 120_000);
  afterAll(async () => server?.close());

  it('answers the seed 003 preset per step, with a breakdown', async () => {
    const r = await funnel({ preset: 'event_discovery', window_s: 3600, ...range(), breakdown: 'context.utm.source' });
    expect(r.status).toBe(200);
    expect(r.json.steps.map((s: { event_name: string; count: number }) => [s.event_name, s.count])).toEqual([
      ['event_card_impression', 4], ['event_card_click', 3], ['event_view', 2], ['event_interest_marked', 1], ['ticket_link_click', 1],
    ]);
    expect(r.json.steps[1]).toMatchObject({ conversion_from_previous: 0.75, drop_off: 1, median_time_from_previous_s: 30 });
    expect(r.json.steps[4]).toMatchObject({ conversion_from_first: 0.25, median_time_from_first_s: 120, p90_time_from_first_s: 120 });
    expect(r.json.breakdown.groups.map((g: { value: string | null; steps: { count: number }[] }) => [g.value, g.steps.map((s) => s.count)])).toEqual([
      ['google', [2, 2, 2, 1, 1]], ['fb', [1, 1, 0, 0, 0]], [null, [1, 0, 0, 0, 0]],
    ]);
    expect(r.json).toMatchObject({ window_s: 3600, by: 'visitor' });
  });

  it('refuses bad input with 400 and the field, and unknown keys', async () => {
    const cases: [unknown, string][] = [
      [{ steps: [{ event_name: 'event_view' }], window_s: 60, ...range() }, 'steps'],
      [{ steps: [{ event_name: 'event_view' }, { event_name: 'add_to_cart', filters: [{ field: 'payload.x', op: 'sql', value: 1 }] }], window_s: 60, ...range() }, 'steps[1].filters[0].op'],
      [{ preset: 'event_discovery', window_s: -1, ...range() }, 'window_s'],
      [{ preset: 'event_discovery', window_s: 60, from: 'x', to: 'y' }, 'from'],
      [{ preset: 'event_discovery', window_s: 60, ...range(), breakdown: 'payload' }, 'breakdown'],
      [{ preset: 'event_discovery', window_s: 60, ...range(), by: 'x' }, 'by'],
    ];
    for (const [body, f] of cases) {
      const r = await funnel(body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error).toMatchObject({ code: 'invalid_field', field: f, in: 'body' });
    }
    const nul = await request('POST', `${base}${URL_}`, '{"preset":"event_discovery\\u0000","window_s":1}', { authorization: `Bearer ${t.secret_key}`, 'content-type': 'application/json' });
    expect(nul.status).toBe(400);
    expect((await request('POST', `${base}${URL_}`, '{', { authorization: `Bearer ${t.secret_key}`, 'content-type': 'application/json' })).status).toBe(400);
    expect((await funnel({ preset: 'event_discovery', window_s: 60, ...range() }, t.write_key)).status).toBe(403);
    expect((await funnel({ preset: 'event_discovery', window_s: 60, ...range() }, 'tx_sk_nope')).status).toBe(401);
  });

  it('refuses a media key and limits an organizer key to its events', async () => {
    const mint = async (role: string, scope?: object) => {
      const r = await postJson(`${base}/api/v1/keys`, { role, ...(scope ? { scope } : {}) }, { authorization: `Bearer ${t.secret_key}` });
      expect(r.status, r.text).toBe(201);
      return r.json.key as string;
    };
    const media = await funnel({ preset: 'event_discovery', window_s: 3600, ...range() }, await mint('media'));
    expect(media.status).toBe(403);
    expect(media.json.error).toMatchObject({ code: 'forbidden', permission: 'view_event_analytics' });
    const org = await funnel({ preset: 'event_discovery', window_s: 3600, ...range() }, await mint('organizer', { organizers: ['O1'] }));
    expect(org.status).toBe(200);
    expect(org.json.steps.map((s: { count: number }) => s.count)).toEqual([2, 2, 2, 1, 1]);

    // Amounts need view_revenue: an artist (no revenue by default) may not list or bisect them through a funnel.
    const artist = await mint('artist', { artists: ['A1'] });
    const steps = [{ event_name: 'event_card_click' }, { event_name: 'event_view' }];
    const byPrice = await funnel({ steps, window_s: 3600, ...range(), breakdown: 'payload.price_from' }, artist);
    expect(byPrice.status).toBe(403);
    expect(byPrice.json.error).toMatchObject({ code: 'forbidden', permission: 'view_revenue', field: 'breakdown' });
    const bisect = await funnel({ steps: [steps[0], { event_name: 'event_view', filters: [{ field: 'payload.price_from', op: 'gt', value: 5 }] }], window_s: 3600, ...range() }, artist);
    expect(bisect.json.error).toMatchObject({ permission: 'view_revenue', field: 'steps[1].filters[0].field' });
    expect((await funnel({ steps, window_s: 3600, ...range(), breakdown: 'context.utm.source' }, artist)).status).toBe(200);
    // The tenant may grant the artist revenue; then the same funnel is answered.
    const grant = async (on: boolean | null) =>
      expect((await request('PUT', `${base}/api/v1/roles/artist`, { permissions: { view_revenue: on } }, { authorization: `Bearer ${t.secret_key}` })).status).toBe(200);
    await grant(true);
    try {
      expect((await funnel({ steps, window_s: 3600, ...range(), breakdown: 'payload.price_from' }, artist)).status).toBe(200);
    } finally {
      await grant(null);
    }
  });

  it('answers from the node\'s funnel index once the tenant has one, the same as the store; fresh reads the store', async () => {
    const body = { preset: 'event_discovery', window_s: 3600, ...range(), breakdown: 'context.utm.source' };
    const store = await funnel({ ...body, fresh: true });
    expect(store.json.source).toBe('store');
    // The index is read in the background after a store funnel (this tenant's took ≥ FUNNEL_INDEX_MIN_QUERY_MS = 0).
    await expect.poll(async () => (await funnel(body)).json.source, { timeout: 20_000 }).toBe('index');
    const fromIndex = await funnel(body);
    expect(fromIndex.json.index_read_at).toMatch(/^\d{4}-/);
    const strip = (j: Record<string, unknown>) => ({ ...j, source: undefined, index_read_at: undefined, computed_in_ms: undefined });
    expect(strip(fromIndex.json)).toEqual(strip(store.json));
    // A new event counts at once.
    const r = await postEvents(base, t, [webEvent({ event_name: 'event_card_impression', visitor_id: 'e', session_id: 's-e', occurred_at: at(0), entities: { event_entity_id: 'E2' } })]);
    expect(r.accepted).toBe(1);
    const after = await funnel(body);
    expect(after.json.source).toBe('index');
    expect(after.json.steps[0].count).toBe(fromIndex.json.steps[0].count + 1);
    expect((await funnel({ ...body, fresh: 'yes' })).json.error).toMatchObject({ code: 'invalid_field', field: 'fresh' });
  });

  it('the preset\'s interest step leaves out an un-marking (interested: false), from the store and from the index alike', async () => {
    const marks = (v: string, interested: boolean) => ['event_card_impression', 'event_card_click', 'event_view', 'event_interest_marked', 'ticket_link_click'].map((name, i) => webEvent({
      event_name: name, visitor_id: v, session_id: `s-${v}`, occurred_at: at(i * 30), entities: { event_entity_id: 'E9' },
      payload: name === 'event_interest_marked' ? { interested } : name === 'ticket_link_click' ? { ticket_url: 'https://tickets.example/x' } : name === 'event_view' ? { price_from: 10, currency: 'EUR' } : {},
    }));
    expect((await postEvents(base, t, [...marks('x', false), ...marks('y', true)])).accepted).toBe(10);
    const body = { preset: 'event_discovery', window_s: 3600, ...range(), breakdown: 'entities.event_entity_id' };
    const e9 = (j: any) => j.breakdown.groups.find((g: { value: string | null }) => g.value === 'E9').steps.map((x: { count: number }) => x.count);
    const store = await funnel({ ...body, fresh: true });
    expect(store.json.source).toBe('store');
    expect(e9(store.json)).toEqual([2, 2, 2, 1, 1]);
    await expect.poll(async () => (await funnel(body)).json.source, { timeout: 20_000 }).toBe('index');
    expect(e9((await funnel(body)).json)).toEqual([2, 2, 2, 1, 1]);
  });
});
