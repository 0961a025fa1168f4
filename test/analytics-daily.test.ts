// Daily analytics per user, artist and venue (issue 17 item 2, README "Daily analytics") on the embedded
// TimescaleDB and on plain PostgreSQL 15: a scripted dataset sent through the public ingest API, then every
// daily figure compared with a recount of the raw tx_events rows written here (not the server's SQL), and the
// artist/venue scope of tokens. Event times lie on the three previous UTC days, clear of midnight.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, bootServer, createTenant, request, tmpDir, webEvent, type Tenant } from './helpers.js';
import { identify } from './identity-helpers.js';
import { mintToken, sendEvents } from './live-helpers.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const D0 = Math.floor(Date.now() / DAY) * DAY - 3 * DAY;
const at = (day: number, h: number, m = 0) => new Date(D0 + day * DAY + h * HOUR + m * 60_000).toISOString();
const admin = { authorization: `Bearer ${ADMIN}` };

// A1 plays E1 and E2, A2 plays E3; V1 hosts E1 (day 2) and E3 (after the range), V2 hosts E2 (day 0).
const EVENTS = [
  { id: 'E1', organizer_id: 'O1', venue_id: 'V1', artist_ids: ['A1'], starts_at: at(2, 20) },
  { id: 'E2', organizer_id: 'O1', venue_id: 'V2', artist_ids: ['A1'], starts_at: at(0, 20) },
  { id: 'E3', organizer_id: 'O2', venue_id: 'V1', artist_ids: ['A2'], starts_at: at(10, 20) },
];

const web = (v: string, name: string, when: string, entities: Record<string, unknown>, payload: Record<string, unknown> = {}, session = `s-${v}`) =>
  webEvent({ visitor_id: v, session_id: session, event_name: name, occurred_at: when, entities, payload });

function dataset() {
  return [
    // v1, day 0 in two sessions; day 1 in one.
    web('v1', 'event_view', at(0, 9), { event_entity_id: 'E1' }), web('v1', 'event_card_click', at(0, 9, 1), { event_entity_id: 'E1' }),
    web('v1', 'event_interest_marked', at(0, 9, 2), { event_entity_id: 'E1' }, { interested: true }),
    web('v1', 'event_interest_marked', at(0, 9, 3), { event_entity_id: 'E2' }, { interested: false }),
    web('v1', 'ticket_link_click', at(0, 9, 4), { event_entity_id: 'E1' }, { ticket_url: 'https://t.example/e1' }),
    web('v1', 'search_performed', at(0, 9, 5), {}, { query: 'rock' }),
    web('v1', 'artist_click', at(0, 9, 6), { artist_id: 'A1' }), web('v1', 'artist_followed', at(0, 9, 7), { artist_id: 'A1' }, { followed: true }),
    web('v1', 'venue_click', at(0, 14), { venue_id: 'V1' }, {}, 's-v1-b'), web('v1', 'venue_followed', at(0, 14, 30), { venue_id: 'V1' }, {}, 's-v1-b'),
    web('v1', 'review_submitted', at(1, 10), { artist_id: 'A1' }, { review_id: 'r1', target_type: 'artist', rating: 4 }),
    web('v1', 'share', at(1, 10, 2), { artist_id: 'A1' }, { content_type: 'artist' }),
    web('v1', 'event_view', at(1, 10, 3), { event_entity_id: 'E2' }),
    // v1 and A2: an unfollow with no follow before it, a follow, the same follow again: one follower, never -1.
    web('v1', 'artist_followed', at(1, 9), { artist_id: 'A2' }, { followed: false }), web('v1', 'artist_followed', at(1, 9, 1), { artist_id: 'A2' }),
    web('v1', 'artist_followed', at(2, 9), { artist_id: 'A2' }),
    // v2: follows then unfollows A1, engages with r1, reviews V1, sees impressions, enters E1.
    web('v2', 'artist_followed', at(0, 11), { artist_id: 'A1' }), web('v2', 'artist_followed', at(1, 11), { artist_id: 'A1' }, { followed: false }),
    web('v2', 'review_liked', at(1, 11, 5), {}, { review_id: 'r1', liked: true }), web('v2', 'review_commented', at(2, 11), {}, { review_id: 'r1' }),
    web('v2', 'review_submitted', at(2, 11, 5), { venue_id: 'V1' }, { review_id: 'r2', target_type: 'venue', rating: 3 }),
    web('v2', 'review_submitted', at(2, 11, 6), { venue_id: 'V1' }, { review_id: 'r3', target_type: 'venue', rating: 4 }),
    ...[0, 1, 2].map((i) => web('v2', 'event_card_impression', at(1, 12, i), { event_entity_id: i < 2 ? 'E1' : 'E2' }, { position: i })),
    web('v2', 'event_card_impression', at(2, 12), { event_entity_id: 'E3' }), web('v2', 'event_card_click', at(2, 12, 1), { event_entity_id: 'E3' }),
    web('v2', 'venue_click', at(1, 13), { venue_id: 'V1' }),
    webEvent({ source_system: 'scanner', visitor_id: 'v2', event_name: 'entry_granted', occurred_at: at(2, 19), entities: { event_entity_id: 'E1', ticket_id: 't2' }, payload: { gate_id: 'G1' } }),
    // ... and leaves 9 minutes later: an exit scan takes one off inside, it is no attendance (README "Live layer").
    webEvent({ source_system: 'scanner', visitor_id: 'v2', event_name: 'entry_granted', occurred_at: at(2, 19, 9), entities: { event_entity_id: 'E1', ticket_id: 't2' }, payload: { gate_id: 'G1', scan_type: 'exit' } }),
    // At E1's gates: t5 and t6 enter, t5 leaves and comes back (a re-entry is no new attendee), t7 entered the day
    // before and again today (counted on its first day only).
    ...([[1, 18, 't7'], [2, 18, 't5'], [2, 18, 't6'], [2, 18, 't5', 'exit'], [2, 18, 't5', 'reentry'], [2, 18, 't7']] as const).map(([d, h, ticket, scan], i) =>
      webEvent({ source_system: 'scanner', visitor_id: `gate-${i}`, event_name: 'entry_granted', occurred_at: at(d, h, i), entities: { event_entity_id: 'E1', ticket_id: ticket }, payload: { gate_id: 'G2', ...(scan ? { scan_type: scan } : {}) } })),
    // An anonymous visitor's (v9) rows count for artists and venues, never for a person.
    web('v9', 'artist_click', at(2, 8), { artist_id: 'A1' }), web('v9', 'event_card_impression', at(2, 8, 1), { event_entity_id: 'E1' }),
  ];
}

type Raw = { event_id: string; event_name: string; occurred_at: Date; session_id: string | null; visitor_id: string | null; person_id: string | null; entities: Record<string, string>; payload: Record<string, unknown>; is_bot: boolean };
const dayOf = (d: Date) => new Date(Math.floor(d.getTime() / DAY) * DAY).toISOString();

/** seed 003 analytics_user_daily, counted row by row. */
function userRecount(rows: Raw[], person: number, days: string[]) {
  return days.map((date) => {
    const mine = rows.filter((r) => Number(r.person_id) === person && !r.is_bot && dayOf(r.occurred_at) === date);
    const n = (name: string, ok: (r: Raw) => boolean = () => true) => mine.filter((r) => r.event_name === name && ok(r)).length;
    const spans = new Map<string, number[]>();
    for (const r of mine) if (r.session_id) spans.set(r.session_id, [...(spans.get(r.session_id) ?? []), r.occurred_at.getTime()]);
    const total = [...spans.values()].reduce((s, ts) => s + (Math.max(...ts) - Math.min(...ts)) / 1000, 0);
    return {
      date, events_viewed: n('event_view'), events_clicked: n('event_card_click'), events_interested: n('event_interest_marked', (r) => r.payload.interested !== false),
      ticket_links_clicked: n('ticket_link_click'), reviews_written: n('review_submitted'), reviews_liked: n('review_liked', (r) => r.payload.liked !== false),
      reviews_commented: n('review_commented'), shares_sent: n('share'), sessions_count: spans.size, total_time_seconds: Math.round(total),
      avg_session_duration_seconds: spans.size ? Math.round(total / spans.size) : null, searches_performed: n('search_performed'),
    };
  });
}

/** seed 003 analytics_artist_daily / analytics_venue_daily, counted row by row. */
function entityRecount(rows: Raw[], kind: 'artist' | 'venue', id: string, days: string[]) {
  const key = `${kind}_id`;
  const events = EVENTS.filter((e) => (kind === 'artist' ? e.artist_ids.includes(id) : e.venue_id === id));
  const ids = new Set(events.map((e) => e.id));
  const human = rows.filter((r) => !r.is_bot);
  const own = human.filter((r) => r.entities[key] === id);
  const reviews = own.filter((r) => r.event_name === 'review_submitted' && (r.payload.target_type ?? kind) === kind);
  const reviewIds = new Set(reviews.map((r) => r.payload.review_id));
  // Each follower's state (person, else visitor): a follow counts when not following, an unfollow when following.
  const change = new Map<Raw, number>();
  const state = new Map<string, boolean>();
  for (const r of own.filter((x) => x.event_name === `${kind}_followed`).sort((a, b) => a.occurred_at.getTime() - b.occurred_at.getTime())) {
    const who = r.person_id != null ? `p${r.person_id}` : `v${r.visitor_id}`;
    const on = r.payload.followed !== false;
    const was = state.get(who) ?? false;
    change.set(r, on && !was ? 1 : !on && was ? -1 : 0);
    state.set(who, on);
  }
  const follows = (r: Raw) => change.get(r) ?? 0;
  return days.map((date) => {
    const end = new Date(date).getTime() + DAY;
    const on = (r: Raw) => dayOf(r.occurred_at) === date;
    const rated = reviews.filter(on);
    const rating = rated.length ? Math.round((rated.reduce((s, r) => s + Number(r.payload.rating), 0) / rated.length) * 100) / 100 : null;
    const onEvents = (name: string) => human.filter((r) => on(r) && r.event_name === name && ids.has(r.entities.event_entity_id)).length;
    // Attendance as the feature store's attendance.entries counts it: distinct tickets (a row without one, which
    // ingest refuses, would be its own), exit scans no entry; each ticket on the day of its first entry to the event.
    const firstEntry = new Map<string, Date>();
    for (const r of human) {
      if (r.event_name !== 'entry_granted' || r.payload.scan_type === 'exit' || !ids.has(r.entities.event_entity_id)) continue;
      const k = `${r.entities.event_entity_id}|${r.entities.ticket_id ?? `row ${r.event_id}`}`;
      if (!firstEntry.has(k) || r.occurred_at < firstEntry.get(k)!) firstEntry.set(k, r.occurred_at);
    }
    const row: Record<string, unknown> = {
      date,
      profile_views: own.filter((r) => on(r) && r.event_name === `${kind}_click`).length,
      new_followers: own.filter((r) => on(r) && follows(r) === 1).length,
      total_followers: own.filter((r) => r.occurred_at.getTime() < end).reduce((s, r) => s + follows(r), 0),
    };
    if (kind === 'artist') row.active_events = events.filter((e) => new Date(e.starts_at).getTime() >= new Date(date).getTime()).length;
    else row.events_hosted = events.filter((e) => dayOf(new Date(e.starts_at)) === date).length;
    row.event_impressions = onEvents('event_card_impression');
    if (kind === 'artist') row.event_clicks = onEvents('event_card_click');
    else row.event_attendance = [...firstEntry.values()].filter((d) => dayOf(d) === date).length;
    row.reviews_received = rated.length;
    row[kind === 'artist' ? 'avg_rating' : 'avg_venue_rating'] = rating;
    if (kind === 'artist') {
      row.total_engagement = human.filter((r) => on(r) && ((r.event_name === 'review_liked' && r.payload.liked !== false) || r.event_name === 'review_commented') && reviewIds.has(r.payload.review_id)).length
        + own.filter((r) => on(r) && r.event_name === 'share').length;
    }
    return row;
  });
}

interface Store { name: string; env(): Promise<Record<string, string>>; drop(): Promise<void> }

function plainStore(): Store {
  let scratch: ScratchDatabase | undefined;
  return {
    name: 'plain PostgreSQL',
    async env() {
      scratch = await scratchDatabase('ad');
      return { DATABASE_URL: scratch.url };
    },
    async drop() {
      await scratch?.drop().catch(() => undefined);
    },
  };
}
const embeddedStore = (): Store => ({ name: 'embedded TimescaleDB', env: async () => ({}), drop: async () => undefined });

describe.each([embeddedStore(), plainStore()])('daily analytics on $name', (store: Store) => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  const persons: Record<string, number> = {};
  const sk = () => ({ authorization: `Bearer ${t.secret_key}` });
  const days = [0, 1, 2].map((d) => new Date(D0 + d * DAY).toISOString());
  const range = `from=${days[0]}&to=${new Date(D0 + 3 * DAY).toISOString()}`;
  const raw = async () => (await server.db.query<Raw>('SELECT event_id::text, event_name, occurred_at, session_id, visitor_id, person_id, entities, payload, is_bot FROM tx_events WHERE tenant_id = $1', [t.tenant_id])).rows;
  const get = async (path: string, headers = sk()) => request('GET', `${server.url}/api/v1/analytics/${path}`, undefined, headers);

  beforeAll(async () => {
    server = await bootServer({ ...(await store.env()), DATA_DIR: tmpDir(), DEMO_TENANT: '0' });
    t = await createTenant(server.url, 'ad');
    expect((await request('PUT', `${server.url}/api/v1/catalog/events`, { items: EVENTS.map((e) => ({ ...e, title: e.id })) }, sk())).status).toBe(200);
    for (const v of ['v1', 'v2']) persons[v] = (await identify(server.url, t, { visitor_id: v, external_id: `cust-${v}` })).json.person_id;
    await sendEvents(server.url, t, dataset());
    const r = await request('POST', `${server.url}/api/admin/jobs/features.refresh/run`, undefined, admin);
    expect(r.json?.status, r.text).toBe('succeeded');
  }, 240_000);
  afterAll(async () => {
    await server?.close();
    await store.drop();
  }, 60_000);

  it('user daily equals a recount of the person\'s raw events', async () => {
    const rows = await raw();
    for (const v of ['v1', 'v2']) {
      const r = await get(`users/${persons[v]}?${range}`);
      expect(r.status, r.text).toBe(200);
      expect(r.json.daily).toEqual(userRecount(rows, persons[v], days));
    }
    const v1 = (await get(`users/${persons.v1}?${range}`)).json.daily;
    expect(v1[0]).toMatchObject({ sessions_count: 2, events_interested: 1, total_time_seconds: 7 * 60 + 30 * 60 });
  }, 60_000);

  it('artist and venue daily equal a recount of raw events and the catalog', async () => {
    const rows = await raw();
    for (const [kind, id] of [['artist', 'A1'], ['artist', 'A2'], ['venue', 'V1'], ['venue', 'V2']] as const) {
      const r = await get(`${kind}s/${id}?${range}`);
      expect(r.status, r.text).toBe(200);
      expect(r.json.daily, `${kind} ${id}`).toEqual(entityRecount(rows, kind, id, days));
    }
    const a1 = (await get(`artists/A1?${range}`)).json.daily;
    expect(a1.map((d: any) => d.total_followers)).toEqual([2, 1, 1]);
    const a2 = (await get(`artists/A2?${range}`)).json.daily;
    expect(a2.map((d: any) => [d.new_followers, d.total_followers])).toEqual([[0, 0], [1, 1], [0, 1]]);
    expect(a1[1]).toMatchObject({ reviews_received: 1, avg_rating: 4, total_engagement: 2, event_impressions: 3 });
    // Follows before `from` still count in the total.
    const later = await get(`artists/A1?from=${days[1]}&to=${new Date(D0 + 3 * DAY).toISOString()}`);
    expect(later.json.daily.map((d: any) => d.total_followers)).toEqual([1, 1]);
    const v1 = (await get(`venues/V1?${range}`)).json.daily;
    // Day 2: t2, t5 and t6 (t5's re-entry, t7's second day and the exits are no new attendee); day 1: t7. The days
    // add up to the feature store's entries for E1 (distinct tickets).
    expect(v1[2]).toMatchObject({ events_hosted: 1, event_attendance: 3, reviews_received: 2, avg_venue_rating: 3.5 });
    expect(v1[1]).toMatchObject({ event_attendance: 1 });
    const job = await request('POST', `${server.url}/api/admin/jobs/features.attendance/run`, undefined, admin);
    expect(job.json?.status, job.text).toBe('succeeded');
    const e1 = await get(`events/E1?${range}`);
    expect(e1.status, e1.text).toBe(200);
    expect(e1.json.attendance).toMatchObject({ entries: 4 });
    expect(v1.reduce((n: number, d: any) => n + d.event_attendance, 0)).toBe(e1.json.attendance.entries);
  }, 60_000);

  it('validates from/to and answers 404 for an unknown person', async () => {
    for (const q of ['from=yesterday', 'bucket=hour', 'x=1', `from=${new Date(D0 - 400 * DAY).toISOString()}`, `from=${days[2]}&to=${days[0]}`]) {
      const r = await get(`artists/A1?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.json.error.code).toBe('invalid_field');
    }
    expect((await get('users/999999')).status).toBe(404);
    expect((await get('users/abc')).status).toBe(400);
  }, 60_000);

  it('tokens see only their artist or venue; a venue token cannot read artists nor persons', async () => {
    const tok = async (body: Record<string, unknown>) => ({ authorization: `Bearer ${await mintToken(server.url, t, body)}` });
    const artist = await tok({ role: 'artist', artist_ids: ['A1'] });
    expect((await get('artists/A1', artist)).status).toBe(200);
    expect((await get('artists/A2', artist)).json.error).toMatchObject({ code: 'forbidden' });
    expect((await get('venues/V1', artist)).status).toBe(403);
    const venue = await tok({ role: 'venue', venue_ids: ['V1'] });
    expect((await get('venues/V1', venue)).status).toBe(200);
    expect((await get('venues/V2', venue)).status).toBe(403);
    expect((await get('artists/A1', venue)).status).toBe(403);
    expect([401, 403]).toContain((await get(`users/${persons.v1}`, venue)).status);
  }, 60_000);

  it('a follow and an unfollow of one instant go in the order they were stored, whatever their event ids', async () => {
    // Sent in that order in one batch; the unfollow's random id sorts first: it must not count as the earlier one.
    const at0 = at(1, 12);
    const follow = { ...web('v9', 'artist_followed', at0, { artist_id: 'A9' }), event_id: 'ffffffff-ffff-4fff-bfff-ffffffffffa9' };
    const unfollow = { ...web('v9', 'artist_followed', at0, { artist_id: 'A9' }, { followed: false }), event_id: '00000000-0000-4000-8000-0000000000a9' };
    await sendEvents(server.url, t, [follow, unfollow]);
    const a9 = (await get(`artists/A9?${range}`)).json.daily;
    expect(a9.map((d: any) => [d.new_followers, d.total_followers])).toEqual([[0, 0], [1, 0], [0, 0]]);
  }, 60_000);
});
