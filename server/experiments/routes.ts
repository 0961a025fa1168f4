// Experiments over HTTP (README "Experiments"):
//   POST   /api/v1/experiments                 secret key, manage_settings: create (409 when the key exists)
//   GET    /api/v1/experiments                 list, keyset by key
//   GET    /api/v1/experiments/{key}           one
//   PUT    /api/v1/experiments/{key}           replace (the key stays: it seeds the assignment hash)
//   DELETE /api/v1/experiments/{key}
//   GET    /api/v1/experiments/{key}/results   secret key, view_all_analytics: per variant, SRM (metrics filtering
//                                              on an amount: view_revenue too); one funnel per metric, through
//                                              analytics' entry point (the funnel index when it can answer)
//   GET    /api/tx/experiments?visitor_id=…    write key, public (CORS): the visitor's running assignments
import type { Overrides } from '../authz/roles.js';
import { readsRefusal } from '../analytics/guard.js';
import { ConflictError, NotFoundError, paramFail } from '../http/errors.js';
import { corsHeaders } from '../http/ingest-routes.js';
import { collect, cursor, int, nextCursor, pageOf, text, type Parsed } from '../http/params.js';
import type { Router } from '../http/router.js';
import type { Db } from '../store/db.js';
import { experimentResults, type FunnelSource } from './results.js';
import { KEY_RE, keepStoredSplit, parseExperiment, reallocationRefusal } from './schemas.js';
import type { ExperimentStore } from './store.js';
import type { AssignmentCache } from './assign.js';

export interface ExperimentRouteDeps {
  db: Db;
  store: ExperimentStore;
  assignments: AssignmentCache;
  now(): Date;
  overrides(tenant: number): Promise<Overrides>;
  /** Analytics' funnel entry point (the tenant's funnel index when it can answer). */
  funnel: FunnelSource;
}

const keyParam = (where: 'path', field: string, raw: string): Parsed<string> =>
  KEY_RE.test(raw) ? { ok: true, value: raw } : { ok: false, error: { code: 'invalid_field', in: where, field, message: `An experiment key is 1–64 letters, digits, _ . -; got ${JSON.stringify(raw.slice(0, 40))}.` } };

const MAX_VISITOR_ID = 64;

export function registerExperimentRoutes(router: Router, deps: ExperimentRouteDeps): void {
  const { db, store } = deps;
  const missing = (key: string) => new NotFoundError('not_found', `No experiment ${JSON.stringify(key)} for this tenant.`);
  const admin = { auth: 'secret', permission: 'manage_settings', resource: 'tenant' } as const;

  router.add({
    ...admin, method: 'post', path: '/api/v1/experiments', body: { limit: 64 * 1024, parse: (v) => parseExperiment(v) },
    audit: ({ body }) => ({ action: 'experiment.created', target: body.key }),
    handler: async ({ body, principal }) => {
      const created = await store.create(db, principal.tenant.tenant_id, body, deps.now());
      if (!created) throw new ConflictError(`An experiment ${JSON.stringify(body.key)} exists; PUT /api/v1/experiments/${body.key} replaces it.`, { key: body.key });
      deps.assignments.forget(principal.tenant.tenant_id);
      return { status: 201, body: created };
    },
  });

  router.add({
    ...admin, method: 'get', path: '/api/v1/experiments', query: ['limit', 'cursor'],
    handler: async ({ info, principal }) => {
      const p = collect({
        limit: int('query', 'limit', info.query.get('limit'), { min: 1, max: 200, def: 50 }),
        after: cursor(info.query.get('cursor'), 'experiments', ['text']),
      });
      if (!p.ok) return paramFail(p.error);
      const page = pageOf(await store.list(db, principal.tenant.tenant_id, p.value.after?.[0] ?? '', p.value.limit + 1), p.value.limit);
      return { status: 200, body: { experiments: page.rows, next_cursor: nextCursor('experiments', page, (e) => [e.key]) } };
    },
  });

  router.add({
    ...admin, method: 'get', path: '/api/v1/experiments/:key', params: { key: keyParam }, query: [],
    handler: async ({ params, principal }) => {
      const e = await store.get(db, principal.tenant.tenant_id, params.key);
      if (!e) throw missing(params.key);
      return { status: 200, body: e };
    },
  });

  router.add({
    ...admin, method: 'put', path: '/api/v1/experiments/:key', params: { key: keyParam }, body: { limit: 64 * 1024 },
    audit: ({ params }) => ({ action: 'experiment.updated', target: params.key }),
    handler: async ({ params, body, principal }) => {
      const p = parseExperiment(body, params.key);
      if (!p.ok) return paramFail(p.error);
      const current = await store.get(db, principal.tenant.tenant_id, params.key);
      if (!current) throw missing(params.key);
      // Weights saved before they were rescaled on save come back rescaled: the same split, the stored ranges kept.
      const input = keepStoredSplit(current, p.value, deps.now().getTime());
      const refusal = reallocationRefusal(current, input, deps.now().getTime());
      if (refusal) throw new ConflictError(refusal, { field: 'variants' });
      const e = await store.update(db, principal.tenant.tenant_id, input, deps.now());
      if (!e) throw missing(params.key);
      deps.assignments.forget(principal.tenant.tenant_id);
      return { status: 200, body: e };
    },
  });

  router.add({
    ...admin, method: 'del', path: '/api/v1/experiments/:key', params: { key: keyParam },
    audit: ({ params }) => ({ action: 'experiment.deleted', target: params.key }),
    handler: async ({ params, principal }) => {
      if (!(await store.remove(db, principal.tenant.tenant_id, params.key))) throw missing(params.key);
      deps.assignments.forget(principal.tenant.tenant_id);
      return { status: 200, body: { deleted: params.key } };
    },
  });

  router.add({
    method: 'get', path: '/api/v1/experiments/:key/results', auth: 'secret', permission: 'view_all_analytics', resource: 'tenant', params: { key: keyParam }, query: [],
    handler: async ({ params, principal, who }) => {
      const e = await store.get(db, principal.tenant.tenant_id, params.key);
      if (!e) throw missing(params.key);
      // Conversions counted through a filter on an amount (or a customer) bisect it, as a funnel's would.
      const refused = who ? readsRefusal(e.success_metrics.map((m, i) => [{ steps: m.steps }, `success_metrics[${i}].`]), who, await deps.overrides(who.tenant)) : null;
      if (refused) return refused;
      return { status: 200, body: await experimentResults(deps.funnel, principal.tenant.tenant_id, e, deps.now()) };
    },
  });

  router.add({
    method: 'get', path: '/api/tx/experiments', auth: 'write', query: ['visitor_id', 'key'],
    headers: (info) => ({ ...corsHeaders(info.headers.origin), 'Cache-Control': 'no-store' }),
    handler: async ({ info, principal }) => {
      const v = text('query', 'visitor_id', info.query.get('visitor_id'), { max: MAX_VISITOR_ID, required: true });
      if (!v.ok) return paramFail(v.error);
      return { status: 200, body: { assignments: await deps.assignments.of(principal.tenant.tenant_id, v.value as string) } };
    },
  });
}
