// The feature store's read API (README "Feature store"):
//   GET /api/v1/features/persons/{id}?from=&to=                 secret key, view_persons
//   GET /api/v1/analytics/events/{id}?from=&to=&bucket=hour|day  secret key or dashboard token, view_event_analytics
//       (the money needs view_revenue too: without it, the series without revenue_gross)
//   GET /api/v1/analytics/organizers/{id}?from=&to=&bucket=day   secret key or token, view_event_analytics + view_revenue
//   GET /api/v1/analytics/public/events/{id}?from=&to=           secret key or token, view_public_aggregates (media):
//       an event's daily audience figures a site could show publicly (views, viewers, impressions, interest,
//       ticket-link clicks): no carts, orders, tickets, conversion rates, revenue or persons
import { fail, paramFail } from '../http/errors.js';
import type { Router, RouterAuthz } from '../http/router.js';
import type { Reply } from '../http/uws.js';
import { can, type Principal as Who } from '../authz/principal.js';
import { personIdParam } from '../identity/routes.js';
import { topicId } from '../live/routes.js';
import { parseDays, parseRange } from './model.js';
import type { FeatureReader } from './read.js';

export interface FeatureRouteDeps {
  reader: FeatureReader;
  now(): number;
  /** Overrides, for view_revenue (authz/index.ts). */
  authz?: Pick<RouterAuthz, 'overrides'>;
}

const NO_STORE = { 'Cache-Control': 'no-store' };

/** What of an event's daily point is public: interest, never sales or money. */
export const PUBLIC_FIELDS = ['ts', 'page_views', 'impressions', 'unique_viewers', 'clicks', 'interested', 'ticket_link_clicks'] as const;

export function registerFeatureRoutes(router: Router, deps: FeatureRouteDeps): void {
  const { reader } = deps;
  const seesRevenue = async (who: Who | null) => who === null || can(who, 'view_revenue', deps.authz ? await deps.authz.overrides(who.tenant) : {});

  router.add({
    method: 'get', path: '/api/v1/features/persons/:id', auth: 'secret', permission: 'view_persons', resource: 'tenant', params: { id: personIdParam }, query: ['from', 'to', 'bucket'],
    handler: async ({ params, principal, info }) => {
      const now = deps.now();
      const range = parseDays(info.query, now);
      if (!range.ok) return paramFail(range.error);
      const body = await reader.person(principal.tenant.tenant_id, params.id, range.value, now);
      if (!body) return fail('not_found', 'No such person for this tenant (or it was erased).');
      return { status: 200, body, headers: NO_STORE };
    },
  });

  router.add({
    method: 'get', path: '/api/v1/analytics/events/:event_id', auth: 'token', permission: 'view_event_analytics', resource: { event: 'event_id' }, params: { event_id: topicId }, query: ['from', 'to', 'bucket'],
    handler: async ({ params, principal, info, who }) => {
      const range = parseRange(info.query, deps.now());
      if (!range.ok) return paramFail(range.error);
      const tenant = principal.scope.tenant;
      const money = await seesRevenue(who);
      const series = await reader.series(tenant, [params.event_id], range.value, money);
      const attendance = await reader.attendance(tenant, params.event_id);
      return { status: 200, body: { event_id: params.event_id, bucket: range.value.bucket, from: new Date(range.value.from).toISOString(), to: new Date(range.value.to).toISOString(), revenue: money, series, attendance }, headers: NO_STORE };
    },
  });

  router.add({
    method: 'get', path: '/api/v1/analytics/organizers/:org_id', auth: 'token', permission: 'view_event_analytics', resource: { organizer: 'org_id' }, params: { org_id: topicId }, query: ['from', 'to', 'bucket'],
    handler: async ({ params, principal, info, who }) => {
      // The roll-up has no revenue-free variant, as the live one (README "Roles and permissions").
      if (!(await seesRevenue(who))) {
        return fail('forbidden', 'The organizer roll-up includes revenue: this key or token also needs view_revenue.', { permission: 'view_revenue', role: who?.role ?? null });
      }
      const range = parseRange(info.query, deps.now(), ['day', 'hour']);
      if (!range.ok) return paramFail(range.error);
      const tenant = principal.scope.tenant;
      const events = await reader.organizerEvents(tenant, params.org_id);
      const series = await reader.series(tenant, events, range.value, true);
      return { status: 200, body: { organizer_id: params.org_id, bucket: range.value.bucket, from: new Date(range.value.from).toISOString(), to: new Date(range.value.to).toISOString(), events: events.length, series }, headers: NO_STORE };
    },
  });

  router.add({
    method: 'get', path: '/api/v1/analytics/public/events/:event_id', auth: 'token', permission: 'view_public_aggregates', resource: 'tenant', params: { event_id: topicId }, query: ['from', 'to', 'bucket'],
    handler: async ({ params, principal, info }) => {
      const range = parseRange(info.query, deps.now(), ['day']);
      if (!range.ok) return paramFail(range.error);
      const series = await reader.series(principal.scope.tenant, [params.event_id], range.value, false);
      const pub = series.map((p) => Object.fromEntries(PUBLIC_FIELDS.map((f) => [f, p[f] ?? 0])));
      return { status: 200, body: { event_id: params.event_id, bucket: 'day', from: new Date(range.value.from).toISOString(), to: new Date(range.value.to).toISOString(), series: pub }, headers: NO_STORE };
    },
  });
}
