// A columnar snapshot of a tenant's consented persons' hypothesis-independent features (city, average order
// value, last purchase, attendance rate, discount rate), and the estimate scored over it. The store's estimate
// (sql/queries/audiences.sql `estimate`) reads ~900k persons rows per request at 1M persons, which costs ~2 s on
// the embedded store whatever the plan (bench/RESULTS.md "Audiences"); here the persons are read once per
// snapshot and only the hypothesis' affinity rows (~1 in 6 persons) per request. The arithmetic is the SQL's,
// term by term (float8 throughout, the same clamps), so both paths give the same counts; audiences/
// snapshot.test.ts holds them to score.ts's `features`/`propensity`, test/audience-snapshot.test.ts to the SQL.
// Pure: `now` is passed in.
import { DEFAULT_AOV, normName, targetPrice, type Hypothesis, type Model } from './score.js';
import type { EstimateRow } from './store.js';

/** One persons row as the snapshot query returns it (numbers already float8 / int). */
export interface SnapshotRow {
  person_id: number;
  city: string | null;
  aov: number | null;
  /** Last purchase, epoch seconds. */
  last_purchase_s: number | null;
  total_orders: number;
  events_attended: number;
  /** Share of orders with a discount (fs_person_daily); null = no purchase in the feature store. */
  discount_rate: number | null;
}

export interface PersonColumns {
  tenant: number;
  size: number;
  /** person ids, ascending (binary search joins the affinity rows). */
  ids: Float64Array;
  /** Index into `cities`; -1 = no city. */
  city: Int32Array;
  cities: string[];
  /** NaN = no average order value (the seed's default applies). */
  aov: Float64Array;
  /** NaN = never purchased (recency 0). */
  lastPurchaseS: Float64Array;
  /** x6 and x7, which no hypothesis changes. */
  attendance: Float64Array;
  discount: Float64Array;
  /** 0 once the person was erased on this node (GDPR), so a snapshot never counts them again. */
  live: Uint8Array;
  /** Digests of the persons erased on this node since the read (the erasures another node made are not here). */
  forgotten: Set<string>;
  /** When the persons were read (the answer's `features_as_of`). */
  loadedAt: Date;
}

/** Builds columns page by page (the rows of a 1M-person tenant never sit in memory at once). Pure. */
export function columnsBuilder(tenant: number) {
  let cap = 1024;
  let n = 0;
  let ids = new Float64Array(cap);
  let city = new Int32Array(cap);
  let aov = new Float64Array(cap);
  let lastPurchaseS = new Float64Array(cap);
  let attendance = new Float64Array(cap);
  let discount = new Float64Array(cap);
  const cities: string[] = [];
  const cityIndex = new Map<string, number>();
  const grow = <T extends Float64Array | Int32Array>(a: T, size: number): T => {
    const b = new (a.constructor as new (n: number) => T)(size);
    b.set(a);
    return b;
  };
  return {
    push(rows: readonly SnapshotRow[]): void {
      if (n + rows.length > cap) {
        cap = Math.max(cap * 2, n + rows.length);
        [ids, aov, lastPurchaseS, attendance, discount] = [ids, aov, lastPurchaseS, attendance, discount].map((a) => grow(a, cap));
        city = grow(city, cap);
      }
      for (const r of rows) {
        if (n > 0 && !(r.person_id > ids[n - 1])) throw new RangeError('snapshot rows must be in ascending person_id order');
        ids[n] = r.person_id;
        let ci = -1;
        // Cities are kept normalised (score.ts normName): "cluj" and "Cluj" are one city.
        if (r.city !== null) {
          const name = normName(r.city);
          ci = cityIndex.get(name) ?? -1;
          if (ci < 0) cityIndex.set(name, (ci = cities.push(name) - 1));
        }
        city[n] = ci;
        aov[n] = r.aov ?? NaN;
        lastPurchaseS[n] = r.last_purchase_s ?? NaN;
        attendance[n] = Math.min(r.events_attended / Math.max(r.total_orders, 1), 1);
        discount[n] = Math.min(Math.max(r.discount_rate ?? 0, 0), 1);
        n++;
      }
    },
    done(loadedAt: Date): PersonColumns {
      return {
        tenant, size: n, ids: ids.slice(0, n), city: city.slice(0, n), cities, aov: aov.slice(0, n), lastPurchaseS: lastPurchaseS.slice(0, n),
        attendance: attendance.slice(0, n), discount: discount.slice(0, n), live: new Uint8Array(n).fill(1), forgotten: new Set(), loadedAt,
      };
    },
  };
}

/** Columns from rows in ascending person_id order (the snapshot query's order). Pure. */
export function columnsFrom(tenant: number, rows: readonly SnapshotRow[], loadedAt: Date): PersonColumns {
  const b = columnsBuilder(tenant);
  b.push(rows);
  return b.done(loadedAt);
}

/** Index of `id` in the ascending ids, or -1. Pure. */
export function indexOf(ids: Float64Array, id: number): number {
  let lo = 0;
  let hi = ids.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = ids[mid];
    if (v === id) return mid;
    if (v < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** The hypothesis' affinity means per person (the store's grouped affinity side), null = no row of that kind. */
export interface AffinityRows {
  person_id: number[];
  genre_mean: (number | null)[];
  artist_mean: (number | null)[];
}

const clampZ = (z: number) => Math.min(Math.max(z, -500), 500);

/**
 * The estimate over a snapshot: both models' admitted counts and expected buyers and the requested model's
 * distribution, as the SQL `estimate` computes them. Affinity rows of persons not in the snapshot (no consent
 * when it was taken, or newer) are ignored, as the SQL's join from persons ignores them. Pure.
 */
export function scoreColumns(c: PersonColumns, aff: AffinityRows, h: Hypothesis, model: Model, other: Model | null, min: number, nowMs: number): EstimateRow {
  const n = c.size;
  const genre = new Float64Array(n);
  const artist = new Float64Array(n);
  for (let k = 0; k < aff.person_id.length; k++) {
    const i = indexOf(c.ids, aff.person_id[k]);
    if (i < 0) continue;
    genre[i] = Math.min((aff.genre_mean[k] ?? 0) / 100, 1);
    artist[i] = Math.min((aff.artist_mean[k] ?? 0) / 100, 1);
  }
  const cityIdx = normName(h.city) === '' ? -2 : c.cities.indexOf(normName(h.city));
  const target = targetPrice(h);
  const nowS = nowMs / 1000;
  const [w1, w2, w3, w4, w5, w6, w7] = model.weights;
  const v = other?.weights;
  const out: EstimateRow = { consented: 0, eligible: 0, buyers: 0, buckets: [0, 0, 0, 0, 0], other: other ? { eligible: 0, buyers: 0 } : null };
  for (let i = 0; i < n; i++) {
    if (c.live[i] === 0) continue;
    out.consented++;
    const x3 = cityIdx >= 0 && c.city[i] === cityIdx ? 1 : 0;
    const aov = c.aov[i];
    const x4 = target === null ? 1 : 1 - Math.min(Math.abs((Number.isNaN(aov) ? DEFAULT_AOV : aov) - target) / 100, 1);
    const lp = c.lastPurchaseS[i];
    const x5 = Number.isNaN(lp) ? 0 : Math.exp(-Math.floor(Math.abs(nowS - lp) / 86400) / 90);
    const x1 = genre[i];
    const x2 = artist[i];
    const x6 = c.attendance[i];
    const x7 = c.discount[i];
    const p = 1 / (1 + Math.exp(-clampZ(model.intercept + w1 * x1 + w2 * x2 + w3 * x3 + w4 * x4 + w5 * x5 + w6 * x6 + w7 * x7)));
    if (p >= min) {
      out.eligible++;
      out.buyers += p;
      out.buckets[p < 0.2 ? 0 : p < 0.4 ? 1 : p < 0.6 ? 2 : p < 0.8 ? 3 : 4]++;
    }
    if (other && v) {
      const q = 1 / (1 + Math.exp(-clampZ(other.intercept + v[0] * x1 + v[1] * x2 + v[2] * x3 + v[3] * x4 + v[4] * x5 + v[5] * x6 + v[6] * x7)));
      if (q >= min) {
        out.other!.eligible++;
        out.other!.buyers += q;
      }
    }
  }
  return out;
}

/** Marks an erased person as gone from the snapshot; false when they were not in it. Pure on `c`. */
export function forgetPerson(c: PersonColumns, personId: number): boolean {
  const i = indexOf(c.ids, personId);
  if (i < 0 || c.live[i] === 0) return false;
  c.live[i] = 0;
  return true;
}

/** Bytes the snapshot holds (the cache's memory bound). */
export const snapshotBytes = (c: PersonColumns): number => c.size * (8 + 4 + 8 + 8 + 8 + 8 + 1);
