// Estimates over a node's snapshot (README "Audiences", "Estimates of large tenants"): on both stores the
// snapshot's answer equals the store's one-statement estimate for generated persons and several hypotheses;
// through the server, a tenant past AUDIENCE_SNAPSHOT_MIN_PERSONS is answered from a snapshot after its first
// estimate (same numbers, `features_source`), `fresh` reads the store, and an erased person leaves the
// snapshot at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAudienceStore } from '../server/audiences/store.js';
import { createSnapshotCache } from '../server/audiences/snapshot-cache.js';
import { scoreColumns } from '../server/audiences/snapshot.js';
import { HYPOTHESIS, personas, type Persona } from '../server/audiences/personas.fixture.js';
import type { Hypothesis, Model } from '../server/audiences/score.js';
import type { Db } from '../server/store/db.js';
import { idDigest } from '../server/identity/crypto.js';
import { createTenantStore } from '../server/store/tenants.js';
import { bootServer, createTenant, silent, until, type Tenant } from './helpers.js';
import { api } from './identity-helpers.js';
import { featuresCaughtUp, seedPersons } from './audiences-helpers.js';
import { onBothStores } from './store-suites.js';

/** 3,000 persons with every kind of value (nulls, cities, spend, old and future purchases, discounts via none). */
async function generate(db: Db): Promise<number> {
  const tenant = (await db.tx((q) => createTenantStore().create(q, 'snapshot', []))).tenant_id;
  await db.query(`
    INSERT INTO persons (tenant_id, external_id, city, marketing_consent, total_orders, events_attended, last_purchase_at, avg_order_value)
    SELECT $1, 'p' || i, CASE WHEN i % 11 = 0 THEN NULL ELSE 'city' || (abs(hashtext('c' || i)) % 5) END, abs(hashtext('m' || i)) % 10 <> 0,
      abs(hashtext('o' || i)) % 8, abs(hashtext('e' || i)) % 8,
      CASE WHEN abs(hashtext('l' || i)) % 4 = 0 THEN NULL ELSE now() - (abs(hashtext('d' || i)) % 400 - 20) * interval '1 day' - (i % 97) * interval '1 minute' END,
      CASE WHEN abs(hashtext('o' || i)) % 8 = 0 THEN NULL ELSE 10 + (abs(hashtext('v' || i)) % 20000) / 100.0 END
    FROM generate_series(1, 3000) AS i`, [tenant]);
  const first = Number((await db.query<{ m: string }>('SELECT min(person_id) AS m FROM persons WHERE tenant_id = $1', [tenant])).rows[0].m);
  for (const [table, col, ids] of [['fs_person_affinity_artist_raw', 'artist_id', "'A' || (abs(hashtext('a' || i)) % 20)"], ['fs_person_affinity_genre_raw', 'genre', "'g' || (abs(hashtext('g' || i)) % 6)"]] as const) {
    await db.query(`
      INSERT INTO ${table} (tenant_id, person_id, ${col}, score_at_last, views_count, purchases_count, attendance_count, last_interaction_at)
      SELECT $1, $2::bigint + (i % 3000), ${ids}, (abs(hashtext('s' || i)) % 15000) / 100.0, 1, 0, 0, now() - (abs(hashtext('t' || i)) % 60) * interval '1 day'
      FROM generate_series(1, 6000) AS i ON CONFLICT DO NOTHING`, [tenant, first]);
  }
  return tenant;
}

const HYPOTHESES: Hypothesis[] = [
  { artist_ids: ['A1', 'A7', 'A19'], genres: ['g1', 'g4'], city: 'city2', venue_id: '', price_from: 60, price_to: 120, ticket_category: '' },
  { artist_ids: [], genres: [], city: '', venue_id: '', price_from: 0, price_to: 0, ticket_category: '' },
  { artist_ids: ['A3'], genres: ['g0', 'g1', 'g2', 'g3'], city: 'nowhere', venue_id: '', price_from: 35, price_to: 0, ticket_category: '' },
];
const FITTED: Model = { intercept: -1.2, weights: [2, 1.5, 0.5, 0.2, 1, 0.5, -0.5] };

onBothStores('estimate over a snapshot', 'aud-snap', generate, (ctx) => {
  it('equals the store\'s one-statement estimate for every hypothesis and threshold, fitted model alongside', async () => {
    const { db, tenant } = ctx();
    const store = createAudienceStore(db);
    const seed = await store.seed(tenant);
    const cache = createSnapshotCache({ source: store, log: silent, options: { maxAgeMs: 60_000, minPersons: 1, maxTenants: 1, pageSize: 700 } });
    const cols = await cache.load(tenant);
    const now = new Date();
    for (const h of HYPOTHESES) {
      for (const min of [0, 0.6, 0.7]) {
        const want = await store.estimate(tenant, h, seed, FITTED, min, now);
        const got = scoreColumns(cols, await store.hypothesisAffinities(tenant, h, now), h, seed, FITTED, min, now.getTime());
        expect(got.consented).toBe(want.consented);
        expect({ eligible: got.eligible, buckets: got.buckets, other: got.other!.eligible }).toEqual({ eligible: want.eligible, buckets: want.buckets, other: want.other!.eligible });
        expect(got.buyers).toBeCloseTo(want.buyers, 6);
        expect(got.other!.buyers).toBeCloseTo(want.other!.buyers, 6);
      }
    }
    expect(cols.size).toBeGreaterThan(2000);
  }, 60_000);
});

describe('estimates of a large tenant through the server', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  let ids: Record<string, number>;
  let people: Record<string, Persona>;
  const estimate = (body: Record<string, unknown> = {}) => api(base, t, 'POST', '/api/v1/audience/estimate', { event_hypothesis: HYPOTHESIS, min_propensity: 0, ...body });
  /** The next estimate answered from the node's snapshot (the first ones read the store while it loads). */
  const fromSnapshot = () => until(async () => {
    const r = await estimate();
    return r.json.features_source === 'snapshot' ? r : null;
  });
  const numbers = (j: Record<string, unknown>) => ({ eligible_users: j.eligible_users, consented_persons: j.consented_persons, expected_buyers: j.expected_buyers, distribution: j.distribution });

  beforeAll(async () => {
    // Six personas count as a large tenant here.
    server = await bootServer({ AUDIENCE_SNAPSHOT_MIN_PERSONS: '3' });
    base = server.url;
    t = await createTenant(base, 'aud-snapshot');
    people = personas(Date.now());
    ids = await seedPersons(base, t, server.db, { ...people, no_consent: { facts: people.fan.facts, consent: false } }, { afterOrders: () => featuresCaughtUp(base) });
  }, 180_000);
  afterAll(async () => {
    await server?.close();
  });

  it('answers the first estimate from the store, later ones from the snapshot with the same numbers', async () => {
    const first = await estimate();
    expect(first.status).toBe(200);
    expect(first.json.features_source).toBe('store');
    expect(first.json.consented_persons).toBe(6);
    const later = await fromSnapshot();
    expect(numbers(later.json)).toEqual(numbers(first.json));
    expect(Date.parse(later.json.features_as_of)).toBeLessThanOrEqual(Date.now());
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^tx_audience_snapshots 1$/m);
    expect(metrics).toMatch(/^tx_audience_snapshot_loads_total\{outcome="ok"\} [1-9]/m);
    const fresh = await estimate({ fresh: true });
    expect(fresh.json.features_source).toBe('store');
    expect(numbers(fresh.json)).toEqual(numbers(first.json));
  });

  it('leaves an erased person out of the next estimate at once, as the store does', async () => {
    await fromSnapshot();
    expect((await api(base, t, 'DELETE', `/api/v1/persons/${ids.lapsed}`)).status).toBe(200);
    const snap = await estimate();
    expect(snap.json.features_source).toBe('snapshot');
    expect(snap.json.consented_persons).toBe(5);
    expect(numbers(snap.json)).toEqual(numbers((await estimate({ fresh: true })).json));
  });

  it('an erasure on another node since the snapshot was read sends the next estimate to the store and reads the snapshot again', async () => {
    await fromSnapshot();
    // What another node's erasure leaves in the shared store: the person gone and the tombstone.
    await server.db.query('DELETE FROM persons WHERE tenant_id = $1 AND person_id = $2', [t.tenant_id, ids.big_spender]);
    await server.db.query("INSERT INTO gdpr_erasures (tenant_id, person_sha256, external_sha256, removed) VALUES ($1, $2, $3, '{}')",
      [t.tenant_id, idDigest(t.tenant_id, 'person', ids.big_spender), idDigest(t.tenant_id, 'external', 'big_spender')]);
    const next = await estimate();
    expect(next.json.features_source).toBe('store');
    expect(next.json.consented_persons).toBe(4);
    const again = await fromSnapshot();
    expect(numbers(again.json)).toEqual(numbers(next.json));
  });

  it('refuses a fresh flag that is not a boolean, naming the field', async () => {
    const r = await estimate({ fresh: 'yes' });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.json)).toContain('fresh');
  });
});
