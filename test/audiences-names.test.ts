// Cities and genres match by one key in SQL and in JS (score.ts normName, its SQL twin audience_name_key of
// migration 055): "İzmir" stored matches a segment or hypothesis naming "İzmir", "IZMIR" or "izmir", and
// "Iasi" followed by a no-break space matches "Iasi", alike in the segment size, the store's estimate and build,
// and the snapshot's estimate. Before, JS trimmed Unicode spaces and lower-cased İ to i + U+0307 while the SQL
// (lower(btrim(…))) trimmed ASCII spaces only and folded İ to i by the database's C library, so each path
// counted different persons. On both stores: the key for every code point, the estimate against the snapshot,
// segment filters against the evaluator; through the server: the probe's repro.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAudienceStore } from '../server/audiences/store.js';
import { columnsFrom, scoreColumns, type SnapshotRow } from '../server/audiences/snapshot.js';
import { normName, type Hypothesis, type Model } from '../server/audiences/score.js';
import { compileFilter, evaluate, type Filter, type PersonRecord } from '../server/segments/grammar.js';
import type { Db } from '../server/store/db.js';
import { createTenantStore } from '../server/store/tenants.js';
import { bootServer, createTenant, until, type Tenant } from './helpers.js';
import { api } from './identity-helpers.js';
import { onBothStores } from './store-suites.js';

/** Names that trim or fold differently by C library, JS engine or btrim. */
const TRICKY = [
  'İzmir', ' İZMİR ', 'IZMIR', 'izmir', 'i̇zmir', 'Iasi\u00a0', '\u3000IASI\ufeff', 'Iași', 'IAȘI', '\u200bCluj\u2029', 'Cluj\u00a0Napoca',
  'ΑΘΗΝΑΣ', 'Αθηνας', 'Αθηνaς', 'МОСКВА', 'ǅ', 'ẞ', 'ß', '\u212a', 'Ⓐ', 'Ꟛ', '\u1c89', '', '\u00a0', '\t\n\v\f\r ', 'Ötztal',
];
const CITIES = ['İzmir', 'IZMIR', 'izmir', 'Iasi\u00a0', '\u3000iasi', 'Iași', 'ΑΘΗΝΑΣ', 'Αθηνας', 'Cluj', 'Ⓐ'];
const GENRES = ['İndie', 'ROCK\u00a0', 'rock', 'Éléctro', 'Σ'];

async function seed(db: Db): Promise<number> {
  const tenant = (await db.tx((q) => createTenantStore().create(q, 'names', []))).tenant_id;
  await db.query(`INSERT INTO persons (tenant_id, external_id, city, marketing_consent, total_orders, events_attended)
    SELECT $1, 'n' || o, c, true, 0, 0 FROM unnest($2::text[]) WITH ORDINALITY u(c, o)`, [tenant, CITIES]);
  await db.query(`INSERT INTO fs_person_affinity_genre_raw (tenant_id, person_id, genre, score_at_last, views_count, purchases_count, attendance_count, last_interaction_at)
    SELECT $1, p.person_id, g, 60 + o, 0, 0, 0, now() + interval '1 day'
    FROM unnest($2::text[]) WITH ORDINALITY u(g, o) JOIN persons p ON p.tenant_id = $1 AND p.external_id = 'n' || o`, [tenant, GENRES]);
  return tenant;
}

const hypothesis = (city: string, genres: string[] = []): Hypothesis => ({ artist_ids: [], genres, city, venue_id: '', price_from: 0, price_to: 0, ticket_category: '' });
// seed_v1 for a person without orders: sigmoid(0.4) = 0.599 without the city, sigmoid(1.0) = 0.731 with it, and a
// genre affinity of 60+ lifts it past 0.8: min_propensity 0.7 admits exactly the persons of the city or genre.
const SEED: Model = { intercept: 0, weights: [1.2, 1.2, 0.6, 0.4, 0.4, 0.4, -0.2] };

onBothStores('city and genre names', 'aud-names', seed, (ctx) => {
  it('audience_name_key equals normName for every code point and for names that trim or fold differently', async () => {
    const { db } = ctx();
    const all: string[] = [];
    for (let c = 1; c <= 0x2ffff; c++) if (c < 0xd800 || c > 0xdfff) all.push(String.fromCodePoint(c));
    const names = [...all, ...TRICKY, ...TRICKY.map((s) => ` ${s}\u00a0${s}\u2003`)];
    const sql = (await db.query<{ k: string[] }>('SELECT array_agg(audience_name_key(s) ORDER BY o) AS k FROM unnest($1::text[]) WITH ORDINALITY u(s, o)', [names])).rows[0].k;
    const differ = names.filter((s, i) => sql[i] !== normName(s)).map((s) => [...s].map((c) => c.codePointAt(0)!.toString(16)).join(' '));
    expect(differ).toEqual([]);
    expect((await db.query('SELECT audience_name_key(NULL) AS k')).rows[0].k).toBeNull();
    expect(normName(' İZMİR ')).toBe('izmir');
    expect(normName('Iasi\u00a0')).toBe('iasi');
  }, 120_000);

  it('counts the same persons for a hypothesis city or genre in the store estimate, the build and the snapshot', async () => {
    const { db, tenant } = ctx();
    const store = createAudienceStore(db);
    const rows = (await db.query<SnapshotRow>(`SELECT person_id::float8 AS person_id, city, NULL::float8 AS aov, NULL::float8 AS last_purchase_s,
      total_orders, events_attended, NULL::float8 AS discount_rate FROM persons WHERE tenant_id = $1 ORDER BY person_id`, [tenant])).rows;
    const cols = columnsFrom(tenant, rows, new Date());
    const now = new Date();
    const cases: [Hypothesis, number][] = [
      [hypothesis('İzmir'), 3], [hypothesis('izmir'), 3], [hypothesis('Iasi'), 2], [hypothesis('IAȘI'), 1], [hypothesis('αθηνασ'), 2],
      [hypothesis('cluj\u00a0'), 1], [hypothesis('Ⓐ'), 1], [hypothesis('', ['indie', 'Rock']), 3], [hypothesis('', ['éléctro', 'σ']), 2],
    ];
    for (const [h, want] of cases) {
      const fromStore = await store.estimate(tenant, h, SEED, null, 0.7, now);
      const fromSnapshot = scoreColumns(cols, await store.hypothesisAffinities(tenant, h, now), h, SEED, null, 0.7, now.getTime());
      expect([h.city, h.genres, fromStore.eligible, fromSnapshot.eligible]).toEqual([h.city, h.genres, want, want]);
      expect(fromSnapshot.buckets).toEqual(fromStore.buckets);
      expect(fromSnapshot.buyers).toBeCloseTo(fromStore.buyers, 9);
    }
  });

  it('segment filters on city and genre count the persons the evaluator admits', async () => {
    const { db, tenant } = ctx();
    const persons = (await db.query<{ person_id: string; city: string }>('SELECT person_id, city FROM persons WHERE tenant_id = $1', [tenant])).rows;
    const genres = (await db.query<{ person_id: string; genre: string }>('SELECT person_id, genre FROM fs_person_affinity_genre_raw WHERE tenant_id = $1', [tenant])).rows;
    const record = (p: { person_id: string; city: string }): PersonRecord => ({
      city: p.city, total_orders: 0, events_attended: 0, avg_order_value: null, last_purchase_at: null, marketing_consent: true, artist: {},
      genre: Object.fromEntries(genres.filter((g) => g.person_id === p.person_id).map((g) => [g.genre, 60])), daily: [], scores: null, events: [],
    });
    const filters: [Filter, number][] = [
      [{ attribute: 'city', op: 'eq', value: 'İzmir' }, 3], [{ attribute: 'city', op: 'eq', value: 'iasi' }, 2],
      [{ attribute: 'city', op: 'in', value: ['IZMİR', 'Ⓐ'] }, 4], [{ attribute: 'city', op: 'neq', value: 'Izmir' }, 7],
      [{ affinity: 'genre', id: 'indie', gte: 50 }, 1], [{ affinity: 'genre', id: 'Rock', gte: 50 }, 2], [{ affinity: 'genre', id: 'ÉLÉCTRO', gte: 50 }, 1],
    ];
    const now = Date.now();
    for (const [f, want] of filters) {
      const c = compileFilter(f);
      const n = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM persons p WHERE p.tenant_id = $1 AND $2::timestamptz IS NOT NULL AND ${c.sql}`, [tenant, new Date(now), ...c.params])).rows[0].n;
      expect([f, n, persons.filter((p) => evaluate(f, record(p), now)).length]).toEqual([f, want, want]);
    }
  });
});

describe('city names through the server (the probe\'s repro)', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  const call = (method: string, p: string, body?: unknown) => api(server.url, t, method, p, body);
  const estimate = (city: string, fresh?: boolean) =>
    call('POST', '/api/v1/audience/estimate', { event_hypothesis: hypothesis(city), min_propensity: 0.7, ...(fresh === undefined ? {} : { fresh }) });

  beforeAll(async () => {
    server = await bootServer({ AUDIENCE_SNAPSHOT_MIN_PERSONS: '3' });
    t = await createTenant(server.url, 'aud-names');
    const items = [['iz1', 'İzmir'], ['iz2', 'IZMIR'], ['ia1', 'Iasi\u00a0'], ['cl1', 'Cluj']].map(([id, city]) => ({ id, city, marketing_consent: true }));
    const r = await call('PUT', '/api/v1/catalog/persons', { items });
    expect(r.json).toMatchObject({ upserted: 4, rejected: [] });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it('a segment on city "İzmir" holds the persons stored as "İzmir" and "IZMIR"; "Iasi" holds "Iasi" + no-break space', async () => {
    const s = await call('POST', '/api/v1/segments', { name: 'izmir', filters: { attribute: 'city', op: 'eq', value: 'İzmir' } });
    expect(s.status).toBe(201);
    expect(s.json.size_estimate).toBe(2);
    const i = await call('POST', '/api/v1/segments', { name: 'iasi', filters: { attribute: 'city', op: 'in', value: ['Iasi'] } });
    expect(i.json.size_estimate).toBe(1);
  });

  it('the estimate from the store, from the snapshot and the build admit the same persons', async () => {
    for (const [city, want] of [['İzmir', 2], ['Iasi', 1]] as const) {
      const fresh = await estimate(city, true);
      expect(fresh.json).toMatchObject({ features_source: 'store', eligible_users: want });
      const snap = await until(async () => {
        const r = await estimate(city);
        return r.json.features_source === 'snapshot' ? r : null;
      });
      expect(snap.json.eligible_users).toBe(want);
      expect(snap.json.distribution).toEqual(fresh.json.distribution);
      const b = await call('POST', '/api/v1/audience/build', { name: `b-${want}`, event_hypothesis: hypothesis(city), min_propensity: 0.7 });
      expect(b.json.member_count).toBe(want);
    }
  });
});
