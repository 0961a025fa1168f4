// The snapshot estimate equals the seed formula (score.ts, the reference the SQL is held to) for the six
// scripted personas and for generated persons, with both models; erased persons leave it; rows must come in
// id order.
import { describe, expect, it } from 'vitest';
import { HYPOTHESIS, personas } from './personas.fixture.js';
import { BUCKETS, features, propensity, seedModel, SEED_COEFFICIENTS, type FeatureVector, type Hypothesis, type PersonFacts } from './score.js';
import { columnsFrom, forgetPerson, indexOf, scoreColumns, type AffinityRows, type SnapshotRow } from './snapshot.js';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const seed = seedModel(SEED_COEFFICIENTS);
const fitted = { intercept: -1.5, weights: [2, 1.5, 0.5, 0.2, 1, 0.5, -0.5] as FeatureVector };

/** A person as the snapshot query and the affinity query return them (ids from 10, step 7). */
function asStore(list: PersonFacts[], h: Hypothesis): { rows: SnapshotRow[]; aff: AffinityRows } {
  const rows: SnapshotRow[] = [];
  const aff: AffinityRows = { person_id: [], genre_mean: [], artist_mean: [] };
  const mean = (scores: Record<string, number>, ids: string[]) => {
    const have = [...new Set(ids)].filter((id) => id in scores).map((id) => scores[id]);
    return have.length ? have.reduce((a, b) => a + b, 0) / have.length : null;
  };
  list.forEach((p, i) => {
    const id = 10 + 7 * i;
    rows.push({
      person_id: id, city: p.city, aov: p.avgOrderValue, last_purchase_s: p.lastPurchaseAt ? p.lastPurchaseAt.getTime() / 1000 : null,
      total_orders: p.totalOrders, events_attended: p.eventsAttended, discount_rate: p.discountRate || null,
    });
    const g = mean(p.genreAffinity, h.genres);
    const a = mean(p.artistAffinity, h.artist_ids);
    if (g !== null || a !== null) {
      aff.person_id.push(id);
      aff.genre_mean.push(g);
      aff.artist_mean.push(a);
    }
  });
  return { rows, aff };
}

/** The reference: score.ts per person. */
function reference(list: PersonFacts[], h: Hypothesis, min: number) {
  const ps = list.map((p) => features(p, h, NOW));
  const p = ps.map((x) => propensity(seed, x));
  const q = ps.map((x) => propensity(fitted, x));
  const buckets = BUCKETS.map((_, b) => p.filter((v) => v >= min && Math.min(Math.floor(v * 5), 4) === b).length);
  return {
    consented: list.length, eligible: p.filter((v) => v >= min).length, buyers: p.filter((v) => v >= min).reduce((s, v) => s + v, 0), buckets,
    other: { eligible: q.filter((v) => v >= min).length, buyers: q.filter((v) => v >= min).reduce((s, v) => s + v, 0) },
  };
}

function expectSame(got: ReturnType<typeof scoreColumns>, want: ReturnType<typeof reference>) {
  expect(got.consented).toBe(want.consented);
  expect(got.eligible).toBe(want.eligible);
  expect(got.buckets).toEqual(want.buckets);
  expect(got.buyers).toBeCloseTo(want.buyers, 9);
  expect(got.other!.eligible).toBe(want.other.eligible);
  expect(got.other!.buyers).toBeCloseTo(want.other.buyers, 9);
}

describe('estimate over a snapshot', () => {
  const list = Object.values(personas(NOW)).map((p) => p.facts);

  for (const min of [0, 0.6, 0.65, 0.8]) {
    it(`equals the seed formula for the six personas at min_propensity ${min}, fitted model alongside`, () => {
      const { rows, aff } = asStore(list, HYPOTHESIS);
      expectSame(scoreColumns(columnsFrom(1, rows, new Date(NOW)), aff, HYPOTHESIS, seed, fitted, min, NOW), reference(list, HYPOTHESIS, min));
    });
  }

  it('matches the city case-insensitively, as score.features does', () => {
    const people = [{ ...list[0], city: 'Cluj' }, { ...list[1], city: 'CLUJ ' }, { ...list[2], city: 'Iasi' }];
    const h = { ...HYPOTHESIS, city: 'cluj' };
    const { rows, aff } = asStore(people, h);
    const got = scoreColumns(columnsFrom(1, rows, new Date(NOW)), aff, h, seed, fitted, 0, NOW);
    expectSame(got, reference(people, h, 0));
    expect(people.map((p) => features(p, h, NOW)[2])).toEqual([1, 1, 0]);
  });

  it('equals the seed formula for 5,000 generated persons and hypotheses without city, price or ids', () => {
    let s = 42;
    const r = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const people: PersonFacts[] = Array.from({ length: 5000 }, () => ({
      city: r() < 0.1 ? null : `c${Math.floor(r() * 5)}`, avgOrderValue: r() < 0.2 ? null : Math.round(r() * 30000) / 100,
      lastPurchaseAt: r() < 0.3 ? null : new Date(NOW - Math.floor(r() * 400 * 86_400_000)), totalOrders: Math.floor(r() * 6), eventsAttended: Math.floor(r() * 6),
      genreAffinity: (r() < 0.5 ? { g1: r() * 150, g2: r() * 90 } : {}) as Record<string, number>, artistAffinity: (r() < 0.2 ? { A1: r() * 120 } : {}) as Record<string, number>, discountRate: r() < 0.5 ? 0 : r(),
    }));
    for (const h of [
      { ...HYPOTHESIS, genres: ['g1', 'g2'], artist_ids: ['A1', 'A9'], city: 'c2' },
      { ...HYPOTHESIS, genres: [], artist_ids: [], city: '', price_from: 0, price_to: 0 },
      { ...HYPOTHESIS, genres: ['g2'], city: 'nowhere', price_from: 40, price_to: 0 },
    ]) {
      const { rows, aff } = asStore(people, h);
      expectSame(scoreColumns(columnsFrom(1, rows, new Date(NOW)), aff, h, seed, fitted, 0.62, NOW), reference(people, h, 0.62));
    }
  });

  it('ignores affinity rows of persons outside the snapshot (no consent when it was taken)', () => {
    const { rows, aff } = asStore(list, HYPOTHESIS);
    const more: AffinityRows = { person_id: [...aff.person_id, 3, 99_999], genre_mean: [...aff.genre_mean, 100, 100], artist_mean: [...aff.artist_mean, null, 100] };
    expectSame(scoreColumns(columnsFrom(1, rows, new Date(NOW)), more, HYPOTHESIS, seed, fitted, 0.6, NOW), reference(list, HYPOTHESIS, 0.6));
  });

  it('an erased person is no longer counted, and erasing twice or an unknown id changes nothing', () => {
    const { rows, aff } = asStore(list, HYPOTHESIS);
    const cols = columnsFrom(1, rows, new Date(NOW));
    expect(forgetPerson(cols, rows[0].person_id)).toBe(true);
    expect(forgetPerson(cols, rows[0].person_id)).toBe(false);
    expect(forgetPerson(cols, 11)).toBe(false);
    expectSame(scoreColumns(cols, aff, HYPOTHESIS, seed, fitted, 0.6, NOW), reference(list.slice(1), HYPOTHESIS, 0.6));
  });

  it('refuses rows out of id order (the binary-search join needs them sorted)', () => {
    const { rows } = asStore(list, HYPOTHESIS);
    expect(() => columnsFrom(1, [rows[1], rows[0]], new Date(NOW))).toThrow(RangeError);
  });

  it('finds every id and no other by binary search', () => {
    const ids = new Float64Array([2, 3, 5, 8, 13, 21]);
    expect([2, 3, 5, 8, 13, 21].map((x) => indexOf(ids, x))).toEqual([0, 1, 2, 3, 4, 5]);
    expect([1, 4, 22].map((x) => indexOf(ids, x))).toEqual([-1, -1, -1]);
    expect(indexOf(new Float64Array(0), 1)).toBe(-1);
  });
});
