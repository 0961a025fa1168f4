// The propensity model of seed 001 Faza 6 as pure functions. The store computes the same features and the same
// sigmoid set-based in SQL (sql/queries/audiences.sql); these mirror it for tests' hand computations, for the
// fitted model's training (fit.ts) and for the recommendation's per-term explanation. `now` is always injected.

/** The seed's coefficients a…g (genre, artist, city, price fit, recency, attendance, discount penalty). */
export interface Coefficients {
  a: number;
  b: number;
  c: number;
  d: number;
  e: number;
  f: number;
  g: number;
}

export const SEED_COEFFICIENTS: Coefficients = { a: 0.3, b: 0.3, c: 0.15, d: 0.1, e: 0.1, f: 0.1, g: 0.05 };
export const COEFFICIENT_NAMES = ['a', 'b', 'c', 'd', 'e', 'f', 'g'] as const;

/** Feature names in the order of every weight vector (intercept first in a Model). */
export const FEATURES = ['genre_affinity', 'artist_affinity', 'city_match', 'price_fit', 'recency', 'attendance_rate', 'discount_rate'] as const;
export type FeatureVector = [number, number, number, number, number, number, number];

/** A logistic model: propensity = sigmoid(intercept + Σ weights[i]·x[i]). */
export interface Model {
  intercept: number;
  weights: FeatureVector;
}

/** What the formula needs of a person (persons row + feature-store rows). */
export interface PersonFacts {
  city: string | null;
  avgOrderValue: number | null;
  lastPurchaseAt: Date | null;
  totalOrders: number;
  eventsAttended: number;
  /** Affinity scores by artist id / genre (fs_person_affinity_*). */
  artistAffinity: Record<string, number>;
  genreAffinity: Record<string, number>;
  /** Share of the person's orders that used a discount code, 0..1 (fs_person_daily). */
  discountRate: number;
}

/** The event, real or hypothetical, the propensity is about. */
export interface Hypothesis {
  artist_ids: string[];
  genres: string[];
  city: string;
  venue_id: string;
  price_from: number;
  price_to: number;
  ticket_category: string;
}

const DAY_MS = 86_400_000;

/**
 * Whitespace trimmed off both ends of a city or genre: what String.prototype.trim strips (tab, line breaks, the
 * no-break and other Unicode spaces, U+FEFF) plus U+0085, U+180E and U+200B. The SQL side (audience_name_key,
 * migration 055) trims this very list with btrim: SQL's one-argument btrim strips ASCII spaces only.
 */
export const NAME_SPACE = '\t\n\v\f\r \u0085\u00a0\u1680\u180e\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u200b\u2028\u2029\u202f\u205f\u3000\ufeff';

/**
 * Case folding of names as a fixed table, the same in SQL (audience_name_key: lower() of ASCII under COLLATE "C"
 * and translate() of the rest): A–Z and every capital of Latin-1, Latin Extended-A/B and Additional, Greek and
 * Cyrillic with a one-letter lower case, plus İ → i (JS lower-cases it to i + U+0307, libc to i, so "İzmir" and
 * "izmir" agree) and final ς → σ. A fixed table because PostgreSQL's lower() follows the database's LC_CTYPE and
 * C library (ASCII only under "C", different Unicode versions elsewhere); other letters match as written.
 */
const FOLD_BLOCKS: readonly (readonly [number, number])[] = [[0x41, 0x5a], [0xc0, 0x24f], [0x370, 0x3ff], [0x400, 0x52f], [0x1e00, 0x1eff]];
export const NAME_FOLD: ReadonlyMap<string, string> = (() => {
  const m = new Map<string, string>([['\u0130', 'i'], ['\u03c2', '\u03c3']]);
  for (const [from, to] of FOLD_BLOCKS) {
    for (let c = from; c <= to; c++) {
      const ch = String.fromCharCode(c);
      const lower = ch.toLowerCase();
      if (lower !== ch && lower.length === 1) m.set(ch, lower);
    }
  }
  return m;
})();

const EDGE_SPACE = new RegExp(`^[${NAME_SPACE}]+|[${NAME_SPACE}]+$`, 'g');
const FOLDED = new RegExp(`[${[...NAME_FOLD.keys()].join('')}]`, 'g');

/**
 * A city or genre as matched: trimmed and case-folded ("cluj" is " Cluj", "İZMİR" is "izmir"), the same in SQL
 * (audience_name_key) for every string: estimates, builds, snapshots, recommendations and segment filters agree.
 */
export const normName = (s: string): string => s.replace(EDGE_SPACE, '').replace(FOLDED, (c) => NAME_FOLD.get(c) as string);
const normKeys = (scores: Record<string, number>): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(scores)) out[normName(k)] = v;
  return out;
};
/** The seed's default average order value for a person without orders. */
export const DEFAULT_AOV = 50;

/**
 * Mean affinity over the hypothesis' ids the person has a row for, /100, capped at 1 (the seed's
 * `whereIn(…)->avg('affinity_score') ?? 0`: ids without a row do not pull the mean down).
 */
export function meanAffinity(scores: Record<string, number>, ids: string[]): number {
  const have = [...new Set(ids)].filter((id) => Object.prototype.hasOwnProperty.call(scores, id)).map((id) => scores[id]);
  if (have.length === 0) return 0;
  return Math.min(have.reduce((s, x) => s + x, 0) / have.length / 100, 1);
}

/** The ticket price the seed compares spend with: mid of from/to (to absent or 0 → from); null = no price given. */
export function targetPrice(h: Pick<Hypothesis, 'price_from' | 'price_to'>): number | null {
  if (!(h.price_from > 0)) return null;
  const to = h.price_to > 0 ? h.price_to : h.price_from;
  return (h.price_from + to) / 2;
}

/** The seven terms for one person and one event. Pure. */
export function features(p: PersonFacts, h: Hypothesis, now: number): FeatureVector {
  const genre = h.genres.length ? meanAffinity(normKeys(p.genreAffinity), h.genres.map(normName)) : 0;
  const artist = h.artist_ids.length ? meanAffinity(p.artistAffinity, h.artist_ids) : 0;
  const city = normName(h.city) !== '' && p.city !== null && normName(p.city) === normName(h.city) ? 1 : 0;
  const target = targetPrice(h);
  const price = target === null ? 1 : 1 - Math.min(Math.abs((p.avgOrderValue ?? DEFAULT_AOV) - target) / 100, 1);
  // Carbon's diffInDays: whole days, absolute.
  const recency = p.lastPurchaseAt ? Math.exp(-Math.floor(Math.abs(now - p.lastPurchaseAt.getTime()) / DAY_MS) / 90) : 0;
  const attendance = Math.min(p.eventsAttended / Math.max(p.totalOrders, 1), 1);
  const discount = Math.min(Math.max(p.discountRate, 0), 1);
  return [genre, artist, city, price, recency, attendance, discount];
}

/** seed_v1 as a logistic model: sigmoid(4·(a·x1 + … + f·x6 − g·x7)). */
export function seedModel(c: Coefficients): Model {
  return { intercept: 0, weights: [4 * c.a, 4 * c.b, 4 * c.c, 4 * c.d, 4 * c.e, 4 * c.f, -4 * c.g] };
}

export const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

export function linear(m: Model, x: readonly number[]): number {
  let z = m.intercept;
  for (let i = 0; i < m.weights.length; i++) z += m.weights[i] * x[i];
  return z;
}

export const propensity = (m: Model, x: readonly number[]): number => sigmoid(linear(m, x));

/** Each term's contribution to the linear score (what drove a recommendation). */
export function contributions(m: Model, x: readonly number[]): Record<(typeof FEATURES)[number], number> {
  return Object.fromEntries(FEATURES.map((f, i) => [f, m.weights[i] * x[i]])) as Record<(typeof FEATURES)[number], number>;
}

export const BUCKETS = ['0.0-0.2', '0.2-0.4', '0.4-0.6', '0.6-0.8', '0.8-1.0'] as const;

/** The seed's distribution bucket of a propensity (upper bounds exclusive, 0.8-1.0 closed). */
export const bucketOf = (p: number): (typeof BUCKETS)[number] => BUCKETS[Math.min(Math.floor(p * 5), 4)];

/** The value the seed expects per admitted person: propensity × price_from (50 without a price). */
export const expectedValuePrice = (h: Pick<Hypothesis, 'price_from'>): number => (h.price_from > 0 ? h.price_from : DEFAULT_AOV);

export interface EstimateSummary {
  eligible_users: number;
  expected_buyers: number;
  expected_gmv: number;
  distribution: Record<(typeof BUCKETS)[number], number>;
}

/** The seed's per-person loop (the reference the SQL must equal, and the bench's baseline). Pure. */
export function estimateLoop(persons: PersonFacts[], h: Hypothesis, m: Model, minPropensity: number, now: number): EstimateSummary {
  const distribution = Object.fromEntries(BUCKETS.map((b) => [b, 0])) as EstimateSummary['distribution'];
  let n = 0;
  let buyers = 0;
  const price = expectedValuePrice(h);
  for (const p of persons) {
    const pr = propensity(m, features(p, h, now));
    if (pr < minPropensity) continue;
    n++;
    buyers += pr;
    distribution[bucketOf(pr)]++;
  }
  return { eligible_users: n, expected_buyers: round(buyers, 1), expected_gmv: round(buyers * price, 2), distribution };
}

export const round = (x: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};
