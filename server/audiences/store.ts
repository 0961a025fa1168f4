// Audiences in the store: one set-based statement per estimate and per build (sql/queries/audiences.sql),
// versions, keyset member pages, coefficient overrides and the fitted model.
import { erasedSince } from '../gdpr/erased.js';
import type { Db } from '../store/db.js';
import { queries } from '../store/queries.js';
import { iso, isoOrNull, num, type Obj } from '../store/rows.js';
import { assessFit, type FitStatus } from './fit.js';
import type { AffinityRows, SnapshotRow } from './snapshot.js';
import { normName, round, SEED_COEFFICIENTS, seedModel, targetPrice, type Coefficients, type FeatureVector, type Hypothesis, type Model } from './score.js';

const roundOrNull = (v: unknown, digits: number): number | null => (num(v) === null ? null : round(Number(v), digits));

const Q = queries('audiences.sql', [
  'features', 'estimate', 'insert_members', 'fit_rows', 'past_events', 'fit_tenants', 'event_hypothesis',
  'get_coefficients', 'put_coefficients', 'delete_coefficients', 'get_model', 'put_model', 'get_fit_attempt', 'put_fit_attempt',
  'insert_audience', 'lock_audience', 'next_version', 'insert_version', 'finish_version', 'touch_audience',
  'get_audience', 'list_audiences', 'list_versions', 'version_state', 'latest_version', 'members_page', 'delete_version',
  'person_facts', 'person_affinities', 'person_discount_rate', 'person_of_visitor', 'upcoming_events', 'consented_count',
  'snapshot_persons', 'snapshot_affinities', 'hypothesis_refs',
]);

/** The statement with the shared feature definition in place of its `/*features*\/` marker. */
export const withFeatures = (sql: string): string => sql.replace('/*features*/', Q.features);
const ESTIMATE = withFeatures(Q.estimate);
const INSERT_MEMBERS = withFeatures(Q.insert_members);
const FIT_ROWS = withFeatures(Q.fit_rows);

export interface FittedModel {
  model: Model;
  fit: Obj;
  fittedAt: string;
  /** in_use: it replaces seed_v1 where the tenant's model is used; else why not (assessFit). */
  status: FitStatus;
  reason: string | null;
}

export interface ResolvedTarget {
  hypothesis: Hypothesis;
  /** The catalog event's id when the target was one. */
  eventId: string | null;
  currency: string;
}

export interface EstimateRow {
  consented: number;
  eligible: number;
  buyers: number;
  buckets: [number, number, number, number, number];
  other: { eligible: number; buyers: number } | null;
}

export interface VersionInfo {
  version: number;
  model: string;
  hypothesis: Hypothesis;
  min_propensity: number;
  member_count: number;
  expected_buyers: number;
  expected_gmv: number;
  built_at: string;
  deleted_at: string | null;
}

const vec = (m: Model): number[] => [m.intercept, ...m.weights];
const modelOf = (intercept: unknown, weights: unknown): Model => ({ intercept: Number(intercept), weights: (weights as unknown[]).map(Number) as FeatureVector });

/** The features statement's first seven parameters for a hypothesis. */
function featureParams(tenantId: number, h: Hypothesis, now: Date, persons: number[] | null): unknown[] {
  return [tenantId, h.artist_ids, h.genres.map(normName), normName(h.city), targetPrice(h), now, persons];
}

export function createAudienceStore(db: Db) {
  return {
    async coefficients(tenantId: number): Promise<{ coefficients: Coefficients; overridden: boolean }> {
      const r = (await db.query<Obj>(Q.get_coefficients, [tenantId])).rows[0];
      if (!r) return { coefficients: SEED_COEFFICIENTS, overridden: false };
      const c = Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((k) => [k, Number(r[k])])) as unknown as Coefficients;
      return { coefficients: c, overridden: true };
    },
    async putCoefficients(tenantId: number, c: Coefficients): Promise<void> {
      await db.query(Q.put_coefficients, [tenantId, c.a, c.b, c.c, c.d, c.e, c.f, c.g]);
    },
    async deleteCoefficients(tenantId: number): Promise<void> {
      await db.query(Q.delete_coefficients, [tenantId]);
    },
    /** The tenant's stored fit, used or not; its status judged by today's rule from its held-out numbers. */
    async fitted(tenantId: number): Promise<FittedModel | null> {
      const r = (await db.query<Obj>(Q.get_model, [tenantId])).rows[0];
      if (!r) return null;
      const { status, reason } = assessFit(r.fit);
      return { model: modelOf(r.intercept, r.weights), fit: { ...(r.fit as Obj), status, reason }, fittedAt: iso(r.fitted_at), status, reason };
    },
    async putFitted(tenantId: number, m: Model, fit: Obj, at: Date): Promise<void> {
      await db.query(Q.put_model, [tenantId, m.intercept, m.weights, JSON.stringify(fit), at]);
    },
    /** The audiences.fit job's last attempt for the tenant that stored no fit (a stored fit clears it), else null. */
    async fitAttempt(tenantId: number): Promise<{ reason: string; triedAt: string } | null> {
      const r = (await db.query<Obj>(Q.get_fit_attempt, [tenantId])).rows[0];
      return r ? { reason: String(r.reason), triedAt: iso(r.tried_at) } : null;
    },
    async putFitAttempt(tenantId: number, reason: string, at: Date): Promise<void> {
      await db.query(Q.put_fit_attempt, [tenantId, reason, at]);
    },
    /** The seed model with the tenant's coefficients. */
    async seed(tenantId: number): Promise<Model> {
      return seedModel((await this.coefficients(tenantId)).coefficients);
    },
    /** What a hypothesis' venue_id and ticket_category name in the catalog ('' = not asked). */
    async hypothesisRefs(tenantId: number, venueId: string, category: string) {
      const r = (await db.query<Obj>(Q.hypothesis_refs, [tenantId, venueId, category])).rows[0];
      return {
        venueFound: r.venue_found === true, venueCity: (r.venue_city as string | null) ?? null, types: Number(r.types),
        priceFrom: num(r.price_from) ?? 0, priceTo: num(r.price_to) ?? 0, currency: typeof r.currency === 'string' ? r.currency.trim() : null,
      };
    },
    /** A catalog event as a hypothesis, null when the tenant has no such event, 'no_category' when it sells none of `category`. */
    async eventHypothesis(tenantId: number, eventId: string, category: string): Promise<(ResolvedTarget & { startsAt: string | null }) | null | 'no_category'> {
      const r = (await db.query<Obj>(Q.event_hypothesis, [tenantId, eventId, category])).rows[0];
      if (!r) return null;
      if (category !== '' && Number(r.types) === 0) return 'no_category';
      const hypothesis: Hypothesis = {
        artist_ids: (r.artist_ids as string[]) ?? [], genres: (r.genres as string[]) ?? [], city: String(r.city ?? ''), venue_id: String(r.venue_id ?? ''),
        price_from: num(r.price_from) ?? 0, price_to: num(r.price_to) ?? 0, ticket_category: category,
      };
      return { hypothesis, eventId, currency: typeof r.currency === 'string' ? r.currency.trim() : 'EUR', startsAt: isoOrNull(r.starts_at) };
    },
    async estimate(tenantId: number, h: Hypothesis, model: Model, other: Model | null, min: number, now: Date): Promise<EstimateRow> {
      const r = (await db.query<Obj>(ESTIMATE, [...featureParams(tenantId, h, now, null), vec(model), other ? vec(other) : null, min])).rows[0];
      return {
        consented: Number(r.consented), eligible: Number(r.eligible), buyers: Number(r.buyers),
        buckets: [r.b0, r.b1, r.b2, r.b3, r.b4].map(Number) as EstimateRow['buckets'],
        other: other ? { eligible: Number(r.other_eligible), buyers: Number(r.other_buyers) } : null,
      };
    },
    // --- the estimate snapshot's reads (audiences/snapshot.ts) ---
    async snapshotPage(tenantId: number, after: number, limit: number): Promise<SnapshotRow[]> {
      return (await db.query<Obj>(Q.snapshot_persons, [tenantId, after, limit])).rows.map((r) => ({
        person_id: Number(r.person_id), city: (r.city as string | null) ?? null, aov: num(r.aov), last_purchase_s: num(r.last_purchase_s),
        total_orders: Number(r.total_orders), events_attended: Number(r.events_attended), discount_rate: num(r.discount_rate),
      }));
    },
    /** Digests (identity/crypto idDigest 'person') of the tenant's persons erased at or after `at`. */
    async erasedSince(tenantId: number, at: Date): Promise<string[]> {
      return erasedSince(db, tenantId, at);
    },
    async hypothesisAffinities(tenantId: number, h: Hypothesis, now: Date): Promise<AffinityRows> {
      const r = (await db.query<Obj>(Q.snapshot_affinities, [tenantId, h.artist_ids, h.genres.map(normName), now])).rows[0];
      // A float8 array's NULL element arrives as null from pg and as NaN from the embedded store (a mean of
      // finite scores is never NaN itself).
      const nums = (v: unknown) => (v as unknown[]).map((x) => (x === null || x === undefined || Number.isNaN(Number(x)) ? null : Number(x)));
      return { person_id: (r.person_id as unknown[]).map(Number), genre_mean: nums(r.genre_mean), artist_mean: nums(r.artist_mean) };
    },
    /** A new audience (or, with `audienceId`, its next version) built in one transaction. */
    async build(tenantId: number, args: { audienceId: number | null; name: string; definition: Obj; modelName: string; model: Model; target: ResolvedTarget; min: number; price: number }, now: Date) {
      return db.tx(async (q) => {
        let id = args.audienceId;
        if (id === null) id = Number((await q.query<{ id: string }>(Q.insert_audience, [tenantId, args.name, JSON.stringify(args.definition)])).rows[0].id);
        else if ((await q.query(Q.lock_audience, [tenantId, id])).rows.length === 0) return null;
        const version = Number((await q.query<{ v: number }>(Q.next_version, [id])).rows[0].v);
        const h = args.target.hypothesis;
        await q.query(Q.insert_version, [tenantId, id, version, args.modelName, JSON.stringify({ ...h, event_id: args.target.eventId }), args.model.intercept, args.model.weights, args.min, now]);
        const ins = (await q.query<Obj>(INSERT_MEMBERS, [...featureParams(tenantId, h, now, null), vec(args.model), args.min, id, version])).rows[0];
        const n = Number(ins.n);
        const buyers = Number(ins.buyers);
        await q.query(Q.finish_version, [id, version, n, buyers, buyers * args.price]);
        await q.query(Q.touch_audience, [id]);
        return { id, version, member_count: n, expected_buyers: buyers, expected_gmv: buyers * args.price };
      });
    },
    async get(tenantId: number, id: number): Promise<Obj | null> {
      return (await db.query<Obj>(Q.get_audience, [tenantId, id])).rows[0] ?? null;
    },
    /** A page of audiences after id `after` (oldest first), each with its newest live version's figures. */
    async list(tenantId: number, after: number, limit: number): Promise<Obj[]> {
      return (await db.query<Obj>(Q.list_audiences, [tenantId, after, limit])).rows.map((r) => ({
        id: Number(r.id), name: r.name, latest_version: num(r.latest_version),
        member_count: num(r.member_count), expected_buyers: roundOrNull(r.expected_buyers, 1), expected_gmv: roundOrNull(r.expected_gmv, 2), built_at: isoOrNull(r.built_at),
        created_at: iso(r.created_at), updated_at: iso(r.updated_at),
      }));
    },
    async versions(tenantId: number, id: number): Promise<VersionInfo[]> {
      return (await db.query<Obj>(Q.list_versions, [tenantId, id])).rows.map((r) => ({
        version: Number(r.version), model: String(r.model), hypothesis: r.hypothesis as Hypothesis, min_propensity: Number(r.min_propensity),
        // Rounded as the build answered them (1 decimal buyers, 2 decimal money); stored unrounded.
        member_count: Number(r.member_count), expected_buyers: round(Number(r.expected_buyers), 1), expected_gmv: round(Number(r.expected_gmv), 2),
        built_at: iso(r.built_at), deleted_at: isoOrNull(r.deleted_at),
      }));
    },
    /** 'missing' (no such version), 'deleted', or 'ok'. */
    async versionState(tenantId: number, id: number, version: number): Promise<'missing' | 'deleted' | 'ok'> {
      const r = (await db.query<Obj>(Q.version_state, [tenantId, id, version])).rows[0];
      return !r ? 'missing' : r.deleted_at ? 'deleted' : 'ok';
    },
    async latestVersion(tenantId: number, id: number): Promise<number | null> {
      return num((await db.query<Obj>(Q.latest_version, [tenantId, id])).rows[0]?.v);
    },
    async members(tenantId: number, id: number, version: number, after: number, limit: number) {
      const rows = (await db.query<Obj>(Q.members_page, [tenantId, id, version, after, limit])).rows;
      return rows.map((r) => ({ person_id: Number(r.person_id), propensity: Number(r.propensity) }));
    },
    async deleteVersion(tenantId: number, id: number, version: number): Promise<boolean> {
      return (await db.query(Q.delete_version, [tenantId, id, version])).rows.length > 0;
    },
    // --- the fit job's reads ---
    async fitTenants(now: Date): Promise<number[]> {
      return (await db.query<Obj>(Q.fit_tenants, [now])).rows.map((r) => Number(r.tenant_id));
    },
    async consentedCount(tenantId: number): Promise<number> {
      return Number((await db.query<Obj>(Q.consented_count, [tenantId])).rows[0].n);
    },
    async pastEvents(tenantId: number, now: Date, limit: number): Promise<string[]> {
      return (await db.query<Obj>(Q.past_events, [tenantId, now, limit])).rows.map((r) => String(r.id));
    },
    async fitRows(tenantId: number, h: Hypothesis, eventId: string, now: Date, slots: number): Promise<{ x: FeatureVector; y: 0 | 1 }[]> {
      const rows = (await db.query<Obj>(FIT_ROWS, [...featureParams(tenantId, h, now, null), eventId, slots])).rows;
      return rows.map((r) => ({ x: [r.x1, r.x2, r.x3, r.x4, r.x5, r.x6, r.x7].map(Number) as FeatureVector, y: r.bought ? 1 : 0 }));
    },
    // --- recommendations' reads ---
    async personFacts(tenantId: number, personId: number) {
      const p = (await db.query<Obj>(Q.person_facts, [tenantId, personId])).rows[0];
      if (!p) return null;
      const aff = (await db.query<Obj>(Q.person_affinities, [tenantId, personId])).rows;
      const rate = num((await db.query<Obj>(Q.person_discount_rate, [tenantId, personId])).rows[0]?.rate) ?? 0;
      const pick = (kind: string) => Object.fromEntries(aff.filter((a) => a.kind === kind).map((a) => [String(a.id), Number(a.score)]));
      return {
        consent: p.marketing_consent === true,
        facts: {
          city: (p.city as string | null) ?? null, avgOrderValue: num(p.avg_order_value), lastPurchaseAt: p.last_purchase_at ? new Date(iso(p.last_purchase_at)) : null,
          totalOrders: Number(p.total_orders), eventsAttended: Number(p.events_attended), artistAffinity: pick('artist'), genreAffinity: pick('genre'), discountRate: rate,
        },
      };
    },
    async personOfVisitor(tenantId: number, visitorId: string): Promise<number | null> {
      return num((await db.query<Obj>(Q.person_of_visitor, [tenantId, visitorId])).rows[0]?.person_id);
    },
    async upcoming(tenantId: number, now: Date, limit: number) {
      return (await db.query<Obj>(Q.upcoming_events, [tenantId, now, limit])).rows.map((r) => ({
        id: String(r.id), title: (r.title as string | null) ?? null, starts_at: isoOrNull(r.starts_at),
        hypothesis: {
          artist_ids: (r.artist_ids as string[]) ?? [], genres: (r.genres as string[]) ?? [], city: String(r.city ?? ''), venue_id: String(r.venue_id ?? ''),
          price_from: num(r.price_from) ?? 0, price_to: num(r.price_to) ?? 0, ticket_category: '',
        } as Hypothesis,
      }));
    },
  };
}

export type AudienceStore = ReturnType<typeof createAudienceStore>;
