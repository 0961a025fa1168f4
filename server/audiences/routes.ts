// The audience API (README "Audiences"), tenant secret key with the permission target_users (the ad_account
// role's): estimate, build and rebuild, versions and member pages, coefficient overrides, the fitted model and
// recommendations. Bodies are checked by schemas.ts; outcomes of the service become replies here.
import type { Router } from '../http/router.js';
import { fail, paramFail } from '../http/errors.js';
import { collect, cursor, cursorVersionMismatch, id, idPage, int, nextCursor, pageOf, text } from '../http/params.js';
import type { Reply } from '../http/uws.js';
import { parseBuild, parseCoefficients, parseEstimate, parseEstimateRequest } from './schemas.js';
import { SEED_COEFFICIENTS } from './score.js';
import { attemptInfo, type AudienceService, type Outcome } from './service.js';
import type { AudienceStore } from './store.js';

export interface AudienceRouteDeps {
  store: AudienceStore;
  service: AudienceService;
}

const reply = <T>(o: Outcome<T>, status = 200): Reply => {
  if (o.ok) return { status, body: o.value };
  return o.code === 'invalid_field' ? fail(o.code, o.message, { field: o.field, in: 'body' }) : fail(o.code, o.message);
};
// Persons of every organizer: a key limited to some organizers is refused (router 'whole_tenant').
const P = { permission: 'target_users', resource: 'whole_tenant' } as const;

/** An audience version in a path: the same bounds as `?version=` (the column is an int). */
const versionParam = (where: 'path', field: string, raw: string | null | undefined) => int(where, field, raw, { min: 1, max: 1_000_000 });

export function registerAudienceRoutes(router: Router, deps: AudienceRouteDeps): void {
  const { store, service } = deps;
  const tid = (p: { tenant: { tenant_id: number } }) => p.tenant.tenant_id;

  router.add({
    method: 'post', path: '/api/v1/audience/estimate', auth: 'secret', ...P, body: { limit: 64 * 1024, parse: (v) => parseEstimateRequest(v) },
    handler: async ({ body, principal }) => reply(await service.estimate(tid(principal), body)),
  });

  router.add({
    method: 'post', path: '/api/v1/audience/build', auth: 'secret', ...P, body: { limit: 64 * 1024, parse: parseBuild },
    audit: (_req, r) => ({ action: 'audience.built', target: `audience:${(r.body as { id: number }).id}`, details: { version: (r.body as { version: number }).version } }),
    handler: async ({ body, principal }) => reply(await service.build(tid(principal), { audienceId: null, name: body.name, body }), 201),
  });

  router.add({
    method: 'post', path: '/api/v1/audiences/:id/rebuild', auth: 'secret', ...P, params: { id },
    audit: ({ params }, r) => ({ action: 'audience.rebuilt', target: `audience:${params.id}`, details: { version: (r.body as { version: number }).version } }),
    handler: async ({ params, principal }) => {
      const a = await store.get(tid(principal), params.id);
      if (!a) return fail('not_found', `No audience ${params.id} for this tenant.`);
      // The stored definition is re-checked like a request body: an event_id is resolved from today's catalog.
      const body = parseEstimate(a.definition);
      if (!body.ok) return fail('conflict', `The stored definition of audience ${params.id} no longer parses (${body.error.message}).`);
      return reply(await service.build(tid(principal), { audienceId: params.id, name: String(a.name), body: body.value }), 201);
    },
  });

  router.add({
    method: 'get', path: '/api/v1/audiences', auth: 'secret', ...P, query: ['limit', 'cursor'],
    handler: async ({ info, principal }) => {
      const p = idPage(info.query, 'audiences');
      if (!p.ok) return paramFail(p.error);
      const page = pageOf(await store.list(tid(principal), p.value.after ?? 0, p.value.limit + 1), p.value.limit);
      return { status: 200, body: { audiences: page.rows, next_cursor: nextCursor('audiences', page, (a) => [a.id]) } };
    },
  });

  router.add({
    method: 'get', path: '/api/v1/audiences/:id', auth: 'secret', ...P, params: { id }, query: [],
    handler: async ({ params, principal }) => {
      const a = await store.get(tid(principal), params.id);
      if (!a) return fail('not_found', `No audience ${params.id} for this tenant.`);
      const versions = await store.versions(tid(principal), params.id);
      const live = versions.filter((v) => v.deleted_at === null);
      return { status: 200, body: { id: params.id, name: a.name, definition: a.definition, latest_version: live[0]?.version ?? null, latest: live[0] ?? null, versions: versions.length, created_at: a.created_at, updated_at: a.updated_at } };
    },
  });

  router.add({
    method: 'get', path: '/api/v1/audiences/:id/versions', auth: 'secret', ...P, params: { id }, query: [],
    handler: async ({ params, principal }) => {
      if (!(await store.get(tid(principal), params.id))) return fail('not_found', `No audience ${params.id} for this tenant.`);
      return { status: 200, body: { versions: await store.versions(tid(principal), params.id) } };
    },
  });

  router.add({
    method: 'del', path: '/api/v1/audiences/:id/versions/:version', auth: 'secret', ...P, params: { id, version: versionParam },
    audit: ({ params }) => ({ action: 'audience.version_deleted', target: `audience:${params.id}`, details: { version: params.version } }),
    handler: async ({ params, principal }) => {
      const ok = await store.deleteVersion(tid(principal), params.id, params.version);
      return ok ? { status: 200, body: { deleted: true } } : fail('not_found', `No undeleted version ${params.version} of audience ${params.id}.`);
    },
  });

  router.add({
    method: 'get', path: '/api/v1/audiences/:id/members', auth: 'secret', ...P, params: { id }, query: ['version', 'limit', 'cursor'],
    handler: async ({ info, params, principal }) => {
      const q = collect({
        version: int('query', 'version', info.query.get('version'), { min: 1, max: 1_000_000, def: 0 }),
        limit: int('query', 'limit', info.query.get('limit'), { min: 1, max: 10_000, def: 1000 }),
        after: cursor(info.query.get('cursor'), `audience_${params.id}`, ['version', 'id']),
      });
      if (!q.ok) return paramFail(q.error);
      // A cursor carries the version it pages; with another ?version= it would silently page that one.
      if (q.value.after && q.value.version && Number(q.value.after[0]) !== q.value.version) return paramFail(cursorVersionMismatch(q.value.version));
      const t = tid(principal);
      // No such audience is the audience's own 404 (as GET /api/v1/audiences/{id}), not a missing version.
      if (!(await store.get(t, params.id))) return fail('not_found', `No audience ${params.id} for this tenant.`);
      const version = q.value.after ? Number(q.value.after[0]) : q.value.version || (await store.latestVersion(t, params.id));
      if (!version) return fail('not_found', `Audience ${params.id} has no version to read.`);
      const state = await store.versionState(t, params.id, version);
      if (state !== 'ok') return fail('not_found', state === 'deleted' ? `Version ${version} of audience ${params.id} was deleted.` : `No version ${version} of audience ${params.id}.`);
      const page = pageOf(await store.members(t, params.id, version, q.value.after ? Number(q.value.after[1]) : 0, q.value.limit + 1), q.value.limit);
      const next = nextCursor(`audience_${params.id}`, page, (m) => [version, m.person_id]);
      return { status: 200, body: { audience_id: params.id, version, members: page.rows, next_cursor: next } };
    },
  });

  router.add({
    method: 'get', path: '/api/v1/audience/coefficients', auth: 'secret', ...P, query: [],
    handler: async ({ principal }) => {
      const c = await store.coefficients(tid(principal));
      return { status: 200, body: { coefficients: c.coefficients, overridden: c.overridden, seed: SEED_COEFFICIENTS } };
    },
  });

  router.add({
    method: 'put', path: '/api/v1/audience/coefficients', auth: 'secret', ...P, body: { limit: 4096, parse: parseCoefficients },
    audit: ({ body }) => ({ action: 'audience.coefficients_set', target: 'audience_coefficients', details: { ...body } }),
    handler: async ({ body, principal }) => {
      await store.putCoefficients(tid(principal), body);
      return { status: 200, body: { coefficients: body, overridden: true, seed: SEED_COEFFICIENTS } };
    },
  });

  router.add({
    method: 'del', path: '/api/v1/audience/coefficients', auth: 'secret', ...P,
    audit: () => ({ action: 'audience.coefficients_reset', target: 'audience_coefficients' }),
    handler: async ({ principal }) => {
      await store.deleteCoefficients(tid(principal));
      return { status: 200, body: { coefficients: SEED_COEFFICIENTS, overridden: false, seed: SEED_COEFFICIENTS } };
    },
  });

  router.add({
    method: 'get', path: '/api/v1/audience/model', auth: 'secret', ...P, query: [],
    handler: async ({ principal }) => {
      const m = await store.fitted(tid(principal));
      // The job's last attempt that stored no fit (a stored fit clears it): why there is none, or why the stored
      // one was not refitted since.
      const attempt = attemptInfo(await store.fitAttempt(tid(principal)));
      if (!m) return { status: 200, body: { model: 'fitted', available: false, reason: null, tried_at: null, ...attempt } };
      return {
        status: 200,
        body: {
          model: 'fitted', available: true, in_use: m.status === 'in_use', status: m.status, reason: m.reason, intercept: m.model.intercept, weights: m.model.weights, fit: m.fit, fitted_at: m.fittedAt,
          ...(attempt.reason ? { last_attempt: attempt } : {}),
        },
      };
    },
  });

  router.add({
    method: 'get', path: '/api/v1/recommendations', auth: 'secret', ...P, query: ['person_id', 'visitor_id', 'limit'],
    handler: async ({ info, principal }) => {
      const q = collect({
        person: int('query', 'person_id', info.query.get('person_id'), { min: 1, max: Number.MAX_SAFE_INTEGER, def: 0 }),
        visitor: text('query', 'visitor_id', info.query.get('visitor_id'), { max: 64 }),
        limit: int('query', 'limit', info.query.get('limit'), { min: 1, max: 100, def: 10 }),
      });
      if (!q.ok) return paramFail(q.error);
      if ((q.value.person > 0) === (q.value.visitor !== null)) return fail('invalid_field', 'Send exactly one of person_id and visitor_id.', { field: 'person_id', in: 'query' });
      const t = tid(principal);
      const person = q.value.person || (await store.personOfVisitor(t, q.value.visitor!));
      if (!person) return fail('not_found', `Visitor ${JSON.stringify(q.value.visitor)} is not linked to a person (identity links).`);
      const r = await service.recommend(t, person, q.value.limit);
      return r.ok ? { status: 200, body: { ...r.value, visitor_id: q.value.visitor } } : reply(r);
    },
  });
}
