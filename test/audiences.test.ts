// The audience API end to end on the embedded store (README "Audiences"): seed_v1 for six scripted personas
// equals the hand computation (estimate and every built member), coefficient overrides, catalog events as
// hypotheses, versions and member pages, the fitted model from past events' buyers with held-out quality,
// recommendations, bad input answered 4xx with the field, permissions, GDPR erase and consent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHeldOut } from '../server/audiences/fit.js';
import { BLANK, HYPOTHESIS, personas, type Persona } from '../server/audiences/personas.fixture.js';
import { features, propensity, seedModel, SEED_COEFFICIENTS, sigmoid, type Coefficients, type PersonFacts } from '../server/audiences/score.js';
import { ADMIN, bootServer, createTenant, orderEvent, postEvents, request, type Tenant } from './helpers.js';
import { api } from './identity-helpers.js';
import { featuresCaughtUp, seedPersons } from './audiences-helpers.js';

const admin = { authorization: `Bearer ${ADMIN}` };

describe('audiences', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  let ids: Record<string, number>;
  let people: Record<string, Persona>;
  const call = (method: string, p: string, body?: unknown, who: Tenant = t) => api(base, who, method, p, body);

  beforeAll(async () => {
    server = await bootServer();
    base = server.url;
    t = await createTenant(base, 'audiences');
    people = personas(Date.now());
    ids = await seedPersons(base, t, server.db, { ...people, no_consent: { facts: people.fan.facts, consent: false } }, { afterOrders: () => featuresCaughtUp(base) });
  }, 180_000);
  afterAll(async () => {
    await server?.close();
  });

  it('estimates seed_v1 exactly as the hand-computed personas (only persons with marketing consent)', async () => {
    const r = await call('POST', '/api/v1/audience/estimate', { event_hypothesis: HYPOTHESIS, min_propensity: 0 });
    expect(r.status).toBe(200);
    const ps = Object.values(people).map((p) => p.p);
    const sum = ps.reduce((a, b) => a + b, 0);
    expect(r.json).toMatchObject({ eligible_users: 6, consented_persons: 6, model: 'seed_v1', currency: 'EUR', compare: { model: 'fitted', available: false } });
    expect(r.json.expected_buyers).toBeCloseTo(Math.round(sum * 10) / 10, 9);
    expect(r.json.expected_gmv).toBeCloseTo(Math.round(sum * 60 * 100) / 100, 9);
    const dist = { '0.0-0.2': 0, '0.2-0.4': 0, '0.4-0.6': 0, '0.6-0.8': 0, '0.8-1.0': 0 } as Record<string, number>;
    for (const p of ps) dist[['0.0-0.2', '0.2-0.4', '0.4-0.6', '0.6-0.8', '0.8-1.0'][Math.min(Math.floor(p * 5), 4)]]++;
    expect(r.json.distribution).toEqual(dist);
    expect(typeof r.json.computed_in_ms).toBe('number');
    // The threshold admits by propensity: only the personas at or above it.
    const high = await call('POST', '/api/v1/audience/estimate', { event_hypothesis: HYPOTHESIS, min_propensity: 0.75 });
    expect(high.json.eligible_users).toBe(ps.filter((p) => p >= 0.75).length);
  });

  it('builds an audience whose members carry the hand-computed propensity; a rebuild is a new version and the old stays readable until deleted', async () => {
    const b = await call('POST', '/api/v1/audience/build', { name: 'Rock in Cluj', event_hypothesis: HYPOTHESIS, min_propensity: 0 });
    expect(b.status).toBe(201);
    expect(b.json).toMatchObject({ version: 1, member_count: 6, model: 'seed_v1' });
    const id = b.json.id;
    const all: { person_id: number; propensity: number }[] = [];
    let cursor = '';
    for (let i = 0; i < 10; i++) {
      const page = await call('GET', `/api/v1/audiences/${id}/members?limit=4${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      all.push(...page.json.members);
      if (!page.json.next_cursor) break;
      cursor = page.json.next_cursor;
    }
    expect(all.map((m) => m.person_id)).toEqual(Object.keys(people).map((k) => ids[k]).sort((a, b) => a - b));
    for (const [k, p] of Object.entries(people)) expect(all.find((m) => m.person_id === ids[k])!.propensity).toBeCloseTo(p.p, 9);

    // A tenant override of the coefficients: the next version scores with them.
    const c: Coefficients = { ...SEED_COEFFICIENTS, a: 1, g: 0.5 };
    expect((await call('PUT', '/api/v1/audience/coefficients', c)).status).toBe(200);
    const rb = await call('POST', `/api/v1/audiences/${id}/rebuild`);
    expect(rb.json).toMatchObject({ id, version: 2, member_count: 6 });
    const v2 = await call('GET', `/api/v1/audiences/${id}/members?version=2`);
    const fan = v2.json.members.find((m: { person_id: number }) => m.person_id === ids.fan);
    expect(fan.propensity).toBeCloseTo(sigmoid(4 * (1 * 0.6 + 0.3 + 0.15 + 0.1 * 0.9 + 0.1 * Math.exp(-9 / 90) + 0.1 * 0.75 - 0.5 * 0.5)), 9);
    expect(fan.propensity).toBeCloseTo(propensity(seedModel(c), people.fan.x), 12);
    expect((await call('DELETE', '/api/v1/audience/coefficients')).json.overridden).toBe(false);

    const versions = await call('GET', `/api/v1/audiences/${id}/versions`);
    expect(versions.json.versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    expect((await call('GET', `/api/v1/audiences/${id}/members?version=1`)).json.members).toHaveLength(6);
    expect((await call('DELETE', `/api/v1/audiences/${id}/versions/1`)).status).toBe(200);
    expect((await call('GET', `/api/v1/audiences/${id}/members?version=1`)).status).toBe(404);
    expect((await call('GET', `/api/v1/audiences/${id}`)).json).toMatchObject({ latest_version: 2, versions: 2 });
    expect((await call('GET', `/api/v1/audiences/${id}/members`)).json.version).toBe(2);

    // The list: every audience once, oldest first, paged, with its newest live version's figures.
    const built = (await call('POST', '/api/v1/audience/build', { name: 'Second', event_hypothesis: { ...HYPOTHESIS, genres: ['rock'] }, min_propensity: 0 })).json;
    const second = built.id;
    const seen: any[] = [];
    for (let next = ''; ;) {
      const page = await call('GET', `/api/v1/audiences?limit=1${next ? `&cursor=${next}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...page.json.audiences);
      if (!page.json.next_cursor) break;
      next = page.json.next_cursor;
    }
    const mine = seen.filter((a) => a.id === id || a.id === second);
    expect(mine.map((a) => [a.id, a.name, a.latest_version])).toEqual([[id, 'Rock in Cluj', 2], [second, 'Second', 1]]);
    expect(mine[0]).toMatchObject({ member_count: 6, built_at: expect.any(String), created_at: expect.any(String) });
    // The figures as the build answered them (rounded the same way), in the list and on the audience.
    expect([mine[1].expected_buyers, mine[1].expected_gmv]).toEqual([built.expected_buyers, built.expected_gmv]);
    expect((await call('GET', `/api/v1/audiences/${second}`)).json.latest).toMatchObject({ expected_buyers: built.expected_buyers, expected_gmv: built.expected_gmv });
    expect(new Set(seen.map((a) => a.id)).size).toBe(seen.length);
  });

  it('takes the hypothesis from a catalog event: artists, genres, the venue city and the ticket price range', async () => {
    await call('PUT', '/api/v1/catalog/venues', { items: [{ id: 'V1', name: 'Arena', city: 'Cluj' }] });
    await call('PUT', '/api/v1/catalog/artists', { items: [{ id: 'A1', name: 'Band', genres: ['rock', 'pop'] }, { id: 'A2', name: 'Duo', genres: ['rock'] }] });
    const future = new Date(Date.now() + 30 * 86_400_000).toISOString();
    await call('PUT', '/api/v1/catalog/events', { items: [{ id: 'EV1', venue_id: 'V1', artist_ids: ['A1', 'A2'], title: 'Rock night', starts_at: future }] });
    await call('PUT', '/api/v1/catalog/ticket_types', { items: [{ id: 'T1', event_id: 'EV1', category: 'GA', price: 60, currency: 'RON' }, { id: 'T2', event_id: 'EV1', category: 'VIP', price: 100, currency: 'RON' }] });
    const r = await call('POST', '/api/v1/audience/estimate', { event_id: 'EV1', min_propensity: 0 });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ event_id: 'EV1', currency: 'RON', event_hypothesis: { city: 'Cluj', price_from: 60, price_to: 100 } });
    const byHand = await call('POST', '/api/v1/audience/estimate', { event_hypothesis: HYPOTHESIS, min_propensity: 0 });
    expect(r.json.expected_buyers).toBe(byHand.json.expected_buyers);
    expect((await call('POST', '/api/v1/audience/estimate', { event_id: 'nope' })).status).toBe(404);
  });

  it('refuses bad input with 4xx naming the field, never a 5xx', async () => {
    const bad: [unknown, string][] = [
      [{ event_hypothesis: HYPOTHESIS, event_id: 'EV1' }, 'event_id'],
      [{}, 'event_hypothesis'],
      [{ event_hypothesis: { ...HYPOTHESIS, colour: 'red' } }, 'event_hypothesis.colour'],
      [{ event_hypothesis: { ...HYPOTHESIS, price_from: 100, price_to: 50 } }, 'event_hypothesis.price_to'],
      [{ event_hypothesis: { ...HYPOTHESIS, price_from: -1 } }, 'event_hypothesis.price_from'],
      [{ event_hypothesis: { ...HYPOTHESIS, genres: 'rock' } }, 'event_hypothesis.genres'],
      [{ event_hypothesis: { ...HYPOTHESIS, genres: new Array(101).fill('x') } }, 'event_hypothesis.genres'],
      [{ event_hypothesis: { ...HYPOTHESIS, city: 'x'.repeat(129) } }, 'event_hypothesis.city'],
      [{ event_hypothesis: HYPOTHESIS, min_propensity: 1.5 }, 'min_propensity'],
      [{ event_hypothesis: HYPOTHESIS, model: 'gpt' }, 'model'],
      [{ event_hypothesis: HYPOTHESIS, extra: 1 }, 'extra'],
    ];
    for (const [body, field] of bad) {
      const r = await call('POST', '/api/v1/audience/estimate', body);
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(r.json.error).toMatchObject({ code: 'invalid_field', field });
    }
    const nul = await call('POST', '/api/v1/audience/estimate', { event_hypothesis: { ...HYPOTHESIS, city: 'a\u0000b' } });
    expect(nul.status).toBe(400);
    expect((await call('POST', '/api/v1/audience/build', { event_hypothesis: HYPOTHESIS })).json.error.field).toBe('name');
    expect((await call('PUT', '/api/v1/audience/coefficients', { ...SEED_COEFFICIENTS, a: 'x' })).json.error.field).toBe('a');
    expect((await call('GET', '/api/v1/audiences/99999999')).status).toBe(404);
    expect((await call('GET', '/api/v1/audiences/abc')).status).toBe(400);
    expect((await call('GET', '/api/v1/audiences/1/members?cursor=zzz')).status).toBe(400);
    expect((await call('POST', '/api/v1/audience/estimate', { event_hypothesis: HYPOTHESIS, model: 'fitted' })).status).toBe(409);
  });

  it('members of an audience that does not exist answer the audience\'s 404; "no version to read" only for one that exists', async () => {
    const none = (await call('GET', '/api/v1/audiences/99999999')).json.error.message;
    for (const q of ['', '?version=3']) {
      const r = await call('GET', `/api/v1/audiences/99999999/members${q}`);
      expect(r.status).toBe(404);
      expect(r.json.error.message, q).toBe(none);
    }
    const b = await call('POST', '/api/v1/audience/build', { name: 'Emptied', event_hypothesis: HYPOTHESIS, min_propensity: 0 });
    expect((await call('DELETE', `/api/v1/audiences/${b.json.id}/versions/1`)).status).toBe(200);
    const emptied = await call('GET', `/api/v1/audiences/${b.json.id}/members`);
    expect(emptied.status).toBe(404);
    expect(emptied.json.error.message).toBe(`Audience ${b.json.id} has no version to read.`);
  });

  it('lets the ad_account role build audiences and refuses a role without target_users', async () => {
    const mint = async (role: string) => (await call('POST', '/api/v1/keys', { role, scope: role === 'organizer' ? { organizers: ['O1'] } : {} })).json.key as string;
    const ads = await mint('ad_account');
    const org = await mint('organizer');
    const with_ = (key: string) => request('POST', `${base}/api/v1/audience/estimate`, { event_hypothesis: HYPOTHESIS }, { authorization: `Bearer ${key}` });
    expect((await with_(ads)).status).toBe(200);
    const refused = await with_(org);
    expect(refused.status).toBe(403);
    expect(refused.json.error).toMatchObject({ code: 'forbidden', permission: 'target_users' });
  });

  it('recommends upcoming events ranked by the model for a person, with the terms that drove each score', async () => {
    const future = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString();
    await call('PUT', '/api/v1/catalog/events', { items: [
      { id: 'EV2', artist_ids: [], genres: ['jazz'], city: 'Iasi', title: 'Jazz', starts_at: future(5) },
      { id: 'EV0', artist_ids: ['A1'], genres: ['rock'], city: 'Cluj', title: 'Past', starts_at: new Date(Date.now() - 86_400_000).toISOString() },
    ] });
    const r = await call('GET', `/api/v1/recommendations?person_id=${ids.fan}&limit=5`);
    expect(r.status).toBe(200);
    expect(r.json.events.map((e: { event_id: string }) => e.event_id)).toEqual(['EV1', 'EV2']);
    const ev1 = r.json.events[0];
    const h = { ...HYPOTHESIS, artist_ids: ['A1', 'A2'], genres: ['pop', 'rock'], venue_id: 'V1' };
    expect(ev1.propensity).toBeCloseTo(propensity(seedModel(SEED_COEFFICIENTS), features(people.fan.facts, h, Date.now())), 9);
    expect(ev1.terms.artist_affinity).toBeCloseTo(4 * 0.3, 9);
    expect(ev1.features).toMatchObject({ city_match: 1, genre_affinity: 0.6 });
    const none = await call('GET', `/api/v1/recommendations?person_id=${ids.no_consent}`);
    expect(none.json).toMatchObject({ personalised: false, events: [] });
    expect((await call('GET', '/api/v1/recommendations?visitor_id=unknown-visitor')).status).toBe(404);
    expect((await call('GET', '/api/v1/recommendations')).status).toBe(400);
  });

  it('fits a model per tenant from past events\' buyers and reports held-out log-loss and AUC next to seed_v1', async () => {
    const t2 = await createTenant(base, 'audiences-fit');
    const facts = (i: number): PersonFacts => ({ ...BLANK, genreAffinity: i % 2 === 0 ? { rock: 90 } : { jazz: 90 }, city: i % 4 === 0 ? 'Cluj' : 'Iasi' });
    const crowd = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`c${i}`, { facts: facts(i) }]));
    const pids = await seedPersons(base, t2, server.db, crowd);
    // Event ids chosen so that both the training and the held-out set have events.
    const names = Array.from({ length: 200 }, (_, i) => `PAST${i}`);
    const evs = [...names.filter((n) => isHeldOut(n)).slice(0, 3), ...names.filter((n) => !isHeldOut(n)).slice(0, 7)];
    const yesterday = new Date(Date.now() - 86_400_000).toISOString();
    await call('PUT', '/api/v1/catalog/events', { items: evs.map((id) => ({ id, genres: ['rock'], city: 'Cluj', starts_at: yesterday })) }, t2);
    // Rock fans buy most rock nights, jazz fans almost never.
    const orders = [];
    for (const [k, id] of evs.entries()) {
      for (let i = 0; i < 60; i++) {
        const buys = i % 2 === 0 ? (i + k) % 3 !== 0 : (i + k) % 29 === 0;
        if (buys) orders.push(orderEvent({ occurred_at: new Date(Date.now() - 3_600_000).toISOString(), entities: { order_id: `O-${id}-${i}`, event_entity_id: id }, payload: { gross_amount: 50, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1 }], consent_data_processing: true, customer: { external_id: `c${i}` } } }));
      }
    }
    const posted = await postEvents(base, t2, orders);
    expect(posted.accepted).toBe(orders.length);
    const run = await request('POST', `${base}/api/admin/jobs/audiences.fit/run`, undefined, admin);
    expect(run.status).toBe(200);
    expect(run.json.status).toBe('succeeded');
    const m = await call('GET', '/api/v1/audience/model', undefined, t2);
    expect(m.json).toMatchObject({ available: true, in_use: true, status: 'in_use', reason: null, fit: { held_out: { events: 3 }, train: { events: 7 }, status: 'in_use' } });
    expect(m.json.weights[0]).toBeGreaterThan(0);
    expect(m.json.fit.auc).toBeGreaterThan(0.8);
    expect(m.json.fit.log_loss).toBeLessThan(m.json.fit.seed_v1_held_out.log_loss);
    const e = await call('POST', '/api/v1/audience/estimate', { event_hypothesis: { genres: ['rock'], city: 'Cluj' }, min_propensity: 0.5, model: 'fitted' }, t2);
    expect(e.status).toBe(200);
    expect(e.json).toMatchObject({ model: 'fitted', fit: { auc: m.json.fit.auc }, compare: { model: 'seed_v1', eligible_users: 60 } });
    expect(e.json.eligible_users).toBeGreaterThan(20);
    expect(e.json.eligible_users).toBeLessThan(40);
    expect((await call('GET', `/api/v1/recommendations?person_id=${pids.c0}`, undefined, t2)).json.model).toBe('fitted');
  });

  it('stores a fit trained on one past event with nothing held out but keeps seed_v1 in use, saying why', async () => {
    const t3 = await createTenant(base, 'audiences-fit-one');
    const crowd = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`p${i}`, { facts: { ...BLANK, genreAffinity: { rock: i % 2 ? 10 : 90 }, avgOrderValue: 20 + i } }]));
    const pids = await seedPersons(base, t3, server.db, crowd);
    const id = Array.from({ length: 50 }, (_, i) => `ONE${i}`).find((n) => !isHeldOut(n))!;
    const yesterday = new Date(Date.now() - 86_400_000).toISOString();
    await call('PUT', '/api/v1/catalog/events', { items: [{ id, genres: ['rock'], city: 'Cluj', starts_at: yesterday }] }, t3);
    const orders = Array.from({ length: 20 }, (_, i) => orderEvent({
      occurred_at: new Date(Date.now() - 3_600_000).toISOString(), entities: { order_id: `O-${id}-${i}`, event_entity_id: id },
      payload: { gross_amount: 50, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1 }], consent_data_processing: true, customer: { external_id: `p${i * 2}` } },
    }));
    expect((await postEvents(base, t3, orders)).accepted).toBe(orders.length);
    const run = await request('POST', `${base}/api/admin/jobs/audiences.fit/run`, undefined, admin);
    expect(run.json.status).toBe('succeeded');
    const m = await call('GET', '/api/v1/audience/model', undefined, t3);
    expect(m.json).toMatchObject({ available: true, in_use: false, status: 'insufficient_holdout', fit: { held_out: { events: 0, rows: 0 }, train: { events: 1 }, status: 'insufficient_holdout' } });
    expect(m.json.reason).toContain('held-out events');
    const rec = await call('GET', `/api/v1/recommendations?person_id=${pids.p0}`, undefined, t3);
    expect(rec.status).toBe(200);
    expect(rec.json.model).toBe('seed_v1');
    // Asked for by name, or side by side, the fit answers and says it is not in use and why.
    const fitted = await call('POST', '/api/v1/audience/estimate', { event_hypothesis: HYPOTHESIS, model: 'fitted' }, t3);
    expect(fitted.status).toBe(200);
    expect(fitted.json).toMatchObject({ model: 'fitted', fit: { status: 'insufficient_holdout' }, compare: { model: 'seed_v1' } });
    expect((await call('POST', '/api/v1/audience/build', { name: 'x', event_hypothesis: HYPOTHESIS, model: 'fitted' }, t3)).status).toBe(201);
    const est = await call('POST', '/api/v1/audience/estimate', { event_hypothesis: HYPOTHESIS }, t3);
    expect(est.json).toMatchObject({ model: 'seed_v1', compare: { model: 'fitted', fit: { status: 'insufficient_holdout' } } });
  });

  it('erases a person from every audience version; a withdrawn consent leaves the next build', async () => {
    const b = await call('POST', '/api/v1/audience/build', { name: 'erase', event_hypothesis: HYPOTHESIS, min_propensity: 0 });
    await call('POST', `/api/v1/audiences/${b.json.id}/rebuild`);
    const count = async () => Number((await server.db.query<{ n: number }>('SELECT count(*)::int AS n FROM audience_members WHERE person_id = $1', [ids.lapsed])).rows[0].n);
    expect(await count()).toBeGreaterThanOrEqual(2);
    const ex = await call('GET', `/api/v1/persons/${ids.lapsed}/export`);
    expect(ex.status).toBe(200);
    expect(JSON.stringify(ex.json)).toContain('"audience_members"');
    expect((await call('DELETE', `/api/v1/persons/${ids.lapsed}`)).status).toBe(200);
    expect(await count()).toBe(0);

    await call('PUT', '/api/v1/catalog/persons', { items: [{ id: 'newcomer', marketing_consent: false }] });
    const again = await call('POST', `/api/v1/audiences/${b.json.id}/rebuild`);
    expect(again.json.member_count).toBe(4);
    const members = await call('GET', `/api/v1/audiences/${b.json.id}/members`);
    expect(members.json.members.map((m: { person_id: number }) => m.person_id)).not.toContain(ids.newcomer);
  });
});
