// What the audience routes do, over the store: resolve the target (a hypothesis, or a catalog event), pick the
// model (seed_v1 with the tenant's coefficients, or the tenant's fitted model: asked for by name whatever its
// status, chosen by default only when its held-out evaluation puts it in use: fit.ts assessFit), estimate or
// build, and rank upcoming events for one person. Outcomes are values; the routes turn them into replies.
import type { Obj } from '../store/rows.js';
import type { EstimateBody, EstimateRequest, ModelName, Target } from './schemas.js';
import {
  BUCKETS, contributions, FEATURES, expectedValuePrice, features, normName, propensity, round, type Hypothesis, type Model,
} from './score.js';
import { ERASURE_MARGIN_MS, type SnapshotCache } from './snapshot-cache.js';
import { scoreColumns } from './snapshot.js';
import type { AudienceStore, EstimateRow, FittedModel, ResolvedTarget } from './store.js';

export type Outcome<T> = { ok: true; value: T } | { ok: false; code: 'not_found' | 'conflict'; message: string } | { ok: false; code: 'invalid_field'; field: string; message: string };

const invalid = (field: string, message: string): Outcome<never> => ({ ok: false, code: 'invalid_field', field, message });

const notFoundEvent = (id: string): Outcome<never> => ({ ok: false, code: 'not_found', message: `No catalog event ${JSON.stringify(id)} for this tenant (sync it with PUT /api/v1/catalog/events).` });
/** The 409 of `model: "fitted"` without a stored fit: why the job's last attempt stored none, else that it has not run. */
const noFit = (attempt: { reason: string; triedAt: string } | null): Outcome<never> => ({
  ok: false, code: 'conflict',
  message: attempt
    ? `This tenant has no fitted model: the audiences.fit job's last attempt (${attempt.triedAt}) could not fit one: ${attempt.reason}.`
    : 'This tenant has no fitted model yet: the audiences.fit job fits one from past events with buyers (POST /api/admin/jobs/audiences.fit/run runs it now).',
});
/** The stored fit when it replaces seed_v1 where the tenant's default model is used (recommendations), else null. */
const inUse = (f: FittedModel | null): FittedModel | null => (f?.status === 'in_use' ? f : null);

export function createAudienceService(store: AudienceStore, now: () => Date, snapshots: SnapshotCache | null = null) {
  /** The estimate over the node's snapshot of the tenant when it has a fresh one, else over the store. */
  async function estimateRow(tenantId: number, h: Hypothesis, model: Model, other: Model | null, min: number, fresh: boolean): Promise<{ row: EstimateRow; asOf: Date; source: 'snapshot' | 'store' }> {
    const at = now();
    let snap = fresh ? null : snapshots?.get(tenantId);
    // An erasure since the snapshot was read: this node's own are already out of it, another node's are not.
    if (snap && (await store.erasedSince(tenantId, new Date(snap.loadedAt.getTime() - ERASURE_MARGIN_MS))).some((d) => !snap!.forgotten.has(d))) {
      snapshots!.reload(tenantId);
      snap = null;
    }
    if (snap) {
      const aff = await store.hypothesisAffinities(tenantId, h, at);
      return { row: scoreColumns(snap, aff, h, model, other, min, at.getTime()), asOf: snap.loadedAt, source: 'snapshot' };
    }
    const row = await store.estimate(tenantId, h, model, other, min, at);
    snapshots?.consider(tenantId, row.consented);
    return { row, asOf: at, source: 'store' };
  }

  async function resolve(tenantId: number, t: Target): Promise<Outcome<ResolvedTarget>> {
    if ('hypothesis' in t) return resolveHypothesis(tenantId, t.hypothesis);
    const r = await store.eventHypothesis(tenantId, t.eventId, t.ticketCategory);
    if (r === 'no_category') return invalid('ticket_category', `Catalog event ${JSON.stringify(t.eventId)} sells no tickets of category ${JSON.stringify(t.ticketCategory)}.`);
    return r ? { ok: true, value: r } : notFoundEvent(t.eventId);
  }

  /**
   * A hypothetical event's catalog references: venue_id supplies the city (as an event's venue does), and
   * ticket_category the price range and currency of the tenant's ticket types of that category. A reference
   * that names nothing, or contradicts what is also sent, is refused rather than silently ignored.
   */
  async function resolveHypothesis(tenantId: number, h: Hypothesis): Promise<Outcome<ResolvedTarget>> {
    if (h.venue_id === '' && h.ticket_category === '') return { ok: true, value: { hypothesis: h, eventId: null, currency: 'EUR' } };
    const at = 'event_hypothesis';
    if (h.ticket_category !== '' && (h.price_from > 0 || h.price_to > 0)) {
      return invalid(`${at}.ticket_category`, `Send either ${at}.price_from/price_to or ${at}.ticket_category (whose catalog prices are used), not both.`);
    }
    const r = await store.hypothesisRefs(tenantId, h.venue_id, h.ticket_category);
    const out = { ...h };
    if (h.venue_id !== '') {
      if (!r.venueFound) return invalid(`${at}.venue_id`, `No catalog venue ${JSON.stringify(h.venue_id)} for this tenant (sync it with PUT /api/v1/catalog/venues).`);
      const city = r.venueCity ?? '';
      if (h.city !== '' && city !== '' && normName(h.city) !== normName(city)) return invalid(`${at}.city`, `Venue ${JSON.stringify(h.venue_id)} is in ${JSON.stringify(city)}, not ${JSON.stringify(h.city)}.`);
      if (h.city === '') out.city = city;
    }
    if (h.ticket_category !== '') {
      if (r.types === 0) return invalid(`${at}.ticket_category`, `No catalog ticket type of category ${JSON.stringify(h.ticket_category)} for this tenant.`);
      out.price_from = r.priceFrom;
      out.price_to = r.priceTo;
    }
    return { ok: true, value: { hypothesis: out, eventId: null, currency: (h.ticket_category !== '' && r.currency) || 'EUR' } };
  }

  /** Asked for by name (or shown side by side), the stored fit answers whatever its status: the reply carries the
   *  status and reason (inside `fit`), so the caller sees how far to trust it. Only the default choice needs in_use. */
  async function pickModels(tenantId: number, name: ModelName): Promise<Outcome<{ model: Model; other: { name: ModelName; model: Model } | null; fitted: FittedModel | null }>> {
    const seed = await store.seed(tenantId);
    const fitted = await store.fitted(tenantId);
    if (name === 'fitted') {
      if (!fitted) return noFit(await store.fitAttempt(tenantId));
      return { ok: true, value: { model: fitted.model, other: { name: 'seed_v1', model: seed }, fitted } };
    }
    return { ok: true, value: { model: seed, other: fitted ? { name: 'fitted', model: fitted.model } : null, fitted } };
  }

  return {
    resolve,
    async estimate(tenantId: number, body: EstimateRequest): Promise<Outcome<Obj>> {
      const started = performance.now();
      const target = await resolve(tenantId, body.target);
      if (!target.ok) return target;
      const models = await pickModels(tenantId, body.model);
      if (!models.ok) return models;
      const h = target.value.hypothesis;
      const price = expectedValuePrice(h);
      const { row: r, asOf, source } = await estimateRow(tenantId, h, models.value.model, models.value.other?.model ?? null, body.minPropensity, body.fresh);
      const fittedInfo = fitInfo(models.value.fitted);
      const other = models.value.other && r.other
        ? { model: models.value.other.name, eligible_users: r.other.eligible, expected_buyers: round(r.other.buyers, 1), expected_gmv: round(r.other.buyers * price, 2), ...(models.value.other.name === 'fitted' ? fittedInfo : {}) }
        : { model: 'fitted', available: false, ...attemptInfo(await store.fitAttempt(tenantId)) };
      return {
        ok: true,
        value: {
          eligible_users: r.eligible, expected_buyers: round(r.buyers, 1), expected_gmv: round(r.buyers * price, 2), currency: target.value.currency,
          distribution: Object.fromEntries(BUCKETS.map((b, i) => [b, r.buckets[i]])), model: body.model,
          ...(body.model === 'fitted' ? fittedInfo : {}),
          consented_persons: r.consented, min_propensity: body.minPropensity, event_id: target.value.eventId, event_hypothesis: h,
          compare: other, features_source: source, features_as_of: asOf.toISOString(), computed_in_ms: round(performance.now() - started, 1),
        },
      };
    },
    async build(tenantId: number, args: { audienceId: number | null; name: string; body: EstimateBody }): Promise<Outcome<Obj>> {
      const target = await resolve(tenantId, args.body.target);
      if (!target.ok) return target;
      const models = await pickModels(tenantId, args.body.model);
      if (!models.ok) return models;
      const t = args.body.target;
      const definition = { ...('hypothesis' in t ? { event_hypothesis: t.hypothesis } : { event_id: t.eventId, ticket_category: t.ticketCategory }), min_propensity: args.body.minPropensity, model: args.body.model };
      const built = await store.build(tenantId, {
        audienceId: args.audienceId, name: args.name, definition, modelName: args.body.model, model: models.value.model, target: target.value,
        min: args.body.minPropensity, price: expectedValuePrice(target.value.hypothesis),
      }, now());
      if (!built) return { ok: false, code: 'not_found', message: `No audience ${args.audienceId} for this tenant.` };
      return {
        ok: true,
        value: {
          id: built.id, name: args.name, version: built.version, model: args.body.model, member_count: built.member_count, expected_buyers: round(built.expected_buyers, 1), expected_gmv: round(built.expected_gmv, 2), currency: target.value.currency,
          // Built with the fit asked for by name: its status and reason, as the estimate answers them.
          ...(args.body.model === 'fitted' ? fitInfo(models.value.fitted) : {}),
        },
      };
    },
    /** The tenant's upcoming events ranked for one person, with each term's contribution. */
    async recommend(tenantId: number, personId: number, limit: number): Promise<Outcome<Obj>> {
      const p = await store.personFacts(tenantId, personId);
      if (!p) return { ok: false, code: 'not_found', message: `No person ${personId} for this tenant.` };
      const seed = await store.seed(tenantId);
      const fitted = inUse(await store.fitted(tenantId));
      const model = fitted?.model ?? seed;
      const name = fitted ? 'fitted' : 'seed_v1';
      if (!p.consent) return { ok: true, value: { person_id: personId, model: name, personalised: false, reason: 'no marketing consent: no profile is used', events: [] } };
      const at = now();
      const events = await store.upcoming(tenantId, at, 1000);
      const ranked = events.map((e) => {
        const x = features(p.facts, e.hypothesis, at.getTime());
        return { event_id: e.id, title: e.title, starts_at: e.starts_at, propensity: propensity(model, x), terms: contributions(model, x), features: featureObj(x) };
      }).sort((a, b) => b.propensity - a.propensity || (a.starts_at ?? '').localeCompare(b.starts_at ?? '') || a.event_id.localeCompare(b.event_id));
      return { ok: true, value: { person_id: personId, model: name, personalised: true, events: ranked.slice(0, limit) } };
    },
  };
}

/** A stored fit as the estimate and build answer it: its held-out numbers, status and reason, and when. */
const fitInfo = (f: FittedModel | null): Obj | null => (f ? { fit: f.fit, fitted_at: f.fittedAt } : null);
/** Without a stored fit: why the job's last attempt stored none, and when (nothing when it has not run). */
export const attemptInfo = (a: { reason: string; triedAt: string } | null): Obj => (a ? { reason: a.reason, tried_at: a.triedAt } : {});

const featureObj = (x: number[]): Record<string, number> => Object.fromEntries(FEATURES.map((n, i) => [n, x[i]]));

export type AudienceService = ReturnType<typeof createAudienceService>;
export type { Hypothesis };
