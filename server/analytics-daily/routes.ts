// The daily analytics read API (README "Daily analytics"):
//   GET /api/v1/analytics/users/{person_id}?from=&to=  secret key, view_persons
//   GET /api/v1/analytics/artists/{id}?from=&to=       secret key or token, view_artist_analytics, scope: the artist
//   GET /api/v1/analytics/venues/{id}?from=&to=        secret key or token, view_venue_analytics, scope: the venue
// Neither the artist nor the venue table carries money, so view_revenue decides nothing here.
import { fail, paramFail } from '../http/errors.js';
import type { Router } from '../http/router.js';
import { personIdParam } from '../identity/routes.js';
import { topicId } from '../live/routes.js';
import type { AnalyticsDailyReader } from './index.js';
import { parseDailyRange, type EntityKind } from './model.js';

export interface AnalyticsDailyRouteDeps {
  reader: AnalyticsDailyReader;
  now(): number;
}

const NO_STORE = { 'Cache-Control': 'no-store' };
const iso = (ms: number) => new Date(ms).toISOString();

export function registerAnalyticsDailyRoutes(router: Router, deps: AnalyticsDailyRouteDeps): void {
  const { reader } = deps;

  router.add({
    method: 'get', path: '/api/v1/analytics/users/:id', auth: 'secret', permission: 'view_persons', resource: 'tenant', params: { id: personIdParam }, query: ['from', 'to', 'bucket'],
    handler: async ({ params, principal, info }) => {
      const range = parseDailyRange(info.query, deps.now());
      if (!range.ok) return paramFail(range.error);
      const daily = await reader.user(principal.tenant.tenant_id, params.id, range.value);
      if (!daily) return fail('not_found', 'No such person for this tenant (or it was erased).');
      return { status: 200, body: { person_id: params.id, from: iso(range.value.from), to: iso(range.value.to), daily }, headers: NO_STORE };
    },
  });

  const entityRoute = (kind: EntityKind, path: string) => router.add({
    method: 'get', path, auth: 'token', permission: kind === 'artist' ? 'view_artist_analytics' : 'view_venue_analytics', query: ['from', 'to', 'bucket'],
    resource: kind === 'artist' ? { artist: 'id' } : { venue: 'id' }, params: { id: topicId },
    handler: async ({ params, principal, info }) => {
      const range = parseDailyRange(info.query, deps.now());
      if (!range.ok) return paramFail(range.error);
      const daily = await reader.entity(principal.scope.tenant, kind, params.id, range.value);
      return { status: 200, body: { [`${kind}_id`]: params.id, from: iso(range.value.from), to: iso(range.value.to), daily }, headers: NO_STORE };
    },
  });
  entityRoute('artist', '/api/v1/analytics/artists/:id');
  entityRoute('venue', '/api/v1/analytics/venues/:id');
}
