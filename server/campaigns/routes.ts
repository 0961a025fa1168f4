// The campaign API (README "Campaigns"), secret key. Permissions: create_campaigns to create a budget, its suite
// and submit it; manage_ads to pause, resume and override; view_ad_analytics to read. A key other than admin
// acts only on the organizers of its scope (ad_account and organizer keys; an ad_account key without ids is the
// tenant's own ad team and acts for every organizer: authz actsForAllOrganizers), and a budget's event must be its
// organizer's (the tracking codes' check, route-access.ts). The approval queue, approvals and
// the overview need approve_campaigns (the marketplace: admin by default, tenant-wide when granted to a role).
// The reads (budgets, a budget, campaigns, a campaign, the report) take an organizer dashboard token too (the dashboard's campaigns page,
// on a router that verifies tokens): the token's role is organizer, so it reads only its own organizer's.
// Budget changes, approvals and overrides are in the audit log.
import { actsForAllOrganizers, can, type Principal as Who } from '../authz/principal.js';
import type { Overrides, Permission } from '../authz/roles.js';
import { fail, paramFail } from '../http/errors.js';
import { collect, cursor, id, int, listKind, nextCursor, pageOf, text, unknownBodyField, type Parsed } from '../http/params.js';
import type { Router } from '../http/router.js';
import { eventOrganizerRefusal, scopeRefusal } from '../http/router.js';
import { eventOwnerMismatch } from '../http/route-access.js';
import type { Reply } from '../http/uws.js';
import type { Queryable } from '../store/db.js';
import { isObj, iso } from '../store/rows.js';
import { organizerReport, reportTargetRoas, trackedSeries, type ReportCampaign } from './report.js';
import { queueEntries } from './review.js';
import { revenueFree } from './revenue.js';
import { amountProblem, parseAmount, parseIds, parseNewBudget, parseOverride, parseSuite } from './schemas.js';
import { CAMPAIGN_STATUSES, currencyDecimals } from './model.js';
import { campaignStore as S, Q, toBudget, toCampaign, type Budget, type Campaign } from './store.js';
import type { CampaignsCore } from './index.js';
import type { Result } from './service.js';

type Service = CampaignsCore['service'];

/** Whether the principal acts for every organizer of the tenant (null: the server itself). */
const everyOrganizer = (who: Who | null): boolean => !who || actsForAllOrganizers(who);

const outOfScope = (who: Who | null, permission: Permission, organizer: string): Reply | null =>
  everyOrganizer(who) ? null : scopeRefusal(who!, permission, { organizer }, `organizer ${organizer}`);

const roasOf = (revenue: number, spend: number): number | null => (spend > 0 ? Math.round((revenue / spend) * 100) / 100 : null);

/** How long a client waits before sending again a hand action a platform failed for a while (a timeout, 429, 5xx). */
const PLATFORM_RETRY_AFTER_S = 10;

/**
 * The reply of a refused service result: 400 invalid_field naming the field (with `max` / `min` / `cap`), 404, 409
 * for a move the status does not allow, and 502 platform_error when the platform failed or refused the call, with
 * `platform`, `retriable` and, when retriable, Retry-After (errors.ts: a 409 is never retried by a client).
 */
const refused = (r: Exclude<Result<unknown>, { ok: true }>): Reply => {
  if (r.code === 'invalid') return fail('invalid_field', r.message, { in: 'body', field: r.field, ...(r.max === undefined ? {} : { max: r.max }), ...(r.min === undefined ? {} : { min: r.min }), ...(r.cap === undefined ? {} : { cap: r.cap }) });
  if (r.code === 'platform_error') return fail('platform_error', r.message, { platform: r.platform, retriable: r.retriable }, r.retriable ? { 'Retry-After': String(PLATFORM_RETRY_AFTER_S) } : undefined);
  return fail(r.code, r.message);
};

/**
 * The body of a route that takes no fields (submit, pause, resume): nothing, or {} (an empty body reads as {}); a
 * field is refused by name, and a body that is not a JSON object is refused before (route-input.ts readJson).
 */
const noFields = (takes: string) => (v: unknown): Parsed<Record<string, never>> => {
  const extra = isObj(v) ? Object.keys(v)[0] : undefined;
  return extra === undefined ? { ok: true, value: {} } : { ok: false, error: unknownBodyField(extra, takes) };
};

/** What the routes need of the server's roles: an event's organizer as the scope checks see it, the tenant's role overrides. */
export interface CampaignAccess {
  organizerOf(tenant: number, eventId: string): Promise<string | null>;
  /** view_revenue decides whether a reply shows the revenue and ROAS (revenue.ts). */
  overrides(tenant: number): Promise<Overrides>;
}

export function registerCampaignRoutes(router: Router, deps: { service: Service; db: Queryable; now: () => number } & CampaignAccess): void {
  const { service, db, now } = deps;
  /** Whether the principal sees the money the campaigns made: view_revenue with its tenant's overrides. */
  const seesRevenue = async (who: Who | null): Promise<boolean> => who === null || can(who, 'view_revenue', await deps.overrides(who.tenant));
  /** A 200/201 reply whose body loses the revenue and ROAS for a principal without view_revenue (revenue.ts). */
  const shown = async (who: Who | null, status: number, body: Record<string, unknown>): Promise<Reply> =>
    ({ status, body: (await seesRevenue(who)) ? body : revenueFree(body) });

  /** The 400 of a budget whose event is not a catalog event of its organizer (an unknown event passes the scope check), or null. */
  const budgetEventRefusal = async (who: Who | null, tenant: number, body: { organizer_id: string; event_id: string | null }): Promise<Reply | null> => {
    if (body.event_id === null) return null;
    const row = (await db.query<{ organizer_id: string | null }>(Q.budget_event, [tenant, body.event_id])).rows[0];
    const refuse = (message: string) => paramFail({ code: 'invalid_field', in: 'body', field: 'event_id', message });
    if (!row) return refuse(`No event ${JSON.stringify(body.event_id)} in this tenant's catalog: a budget's event must be a catalog event of organizer ${body.organizer_id} (PUT /api/v1/catalog/events syncs the catalog), or leave event_id out.`);
    if (row.organizer_id === null) return refuse(`Event ${body.event_id} has no organizer in the catalog: a budget's event must be organizer ${body.organizer_id}'s (set its organizer_id in the catalog).`);
    if (row.organizer_id !== body.organizer_id) return eventOwnerMismatch(who, 'create_campaigns', body.organizer_id, { id: body.event_id, organizer_id: row.organizer_id });
    return null;
  };

  const withBudget = async (tenant: number, budgetId: number, who: Who | null, permission: Permission): Promise<{ b: Budget } | { reply: Reply }> => {
    const b = await service.budget(tenant, budgetId);
    if (!b) return { reply: fail('not_found', `No budget ${budgetId} for this tenant.`) };
    const r = outOfScope(who, permission, b.organizer_id);
    return r ? { reply: r } : { b };
  };
  const withCampaign = async (tenant: number, cid: number, who: Who | null, permission: Permission): Promise<{ c: Campaign } | { reply: Reply }> => {
    const c = await service.campaign(tenant, cid);
    if (!c) return { reply: fail('not_found', `No campaign ${cid} for this tenant.`) };
    const r = outOfScope(who, permission, c.organizer_id);
    return r ? { reply: r } : { c };
  };

  router.add({
    method: 'post', path: '/api/v1/campaigns/budgets', auth: 'secret', permission: 'create_campaigns', resource: 'tenant', body: { limit: 64 * 1024, parse: (v) => parseNewBudget(v, Date.now()) },
    audit: (_req, reply) => ({ action: 'campaigns.budget_created', target: `budget:${(reply.body as Budget).id}`, details: { total_budget: (reply.body as Budget).total_budget, organizer_id: (reply.body as Budget).organizer_id } }),
    handler: async ({ body, principal, who }) => {
      const r = outOfScope(who, 'create_campaigns', body.organizer_id);
      if (r) return r;
      // The suite targets the event's viewers and cart abandoners: the event must be the organizer's.
      const mismatch = await eventOrganizerRefusal(who, 'create_campaigns', principal.tenant.tenant_id, body, deps.organizerOf);
      if (mismatch) return mismatch;
      // And a catalog event (the suite reads its genres, city and page), of that organizer, whatever the key.
      const unknown = await budgetEventRefusal(who, principal.tenant.tenant_id, body);
      if (unknown) return unknown;
      return { status: 201, body: await service.createBudget(principal.tenant.tenant_id, body) };
    },
  });

  router.add({
    method: 'get', path: '/api/v1/campaigns/budgets/:id', auth: 'token', permission: 'view_ad_analytics', resource: 'tenant', params: { id }, query: ['log_limit', 'log_cursor', 'token'],
    handler: async ({ params, who, info }) => {
      const tenant = who!.tenant;
      const got = await withBudget(tenant, params.id, who, 'view_ad_analytics');
      if ('reply' in got) return got.reply;
      // The log of this budget: another budget's log_next_cursor would page that log's ids here.
      const logKind = `campaign_log:${params.id}`;
      const p = collect({ limit: int('query', 'log_limit', info.query.get('log_limit'), { min: 1, max: 500, def: 100 }), before: cursor(info.query.get('log_cursor'), logKind, ['id'], 'log_cursor') });
      if (!p.ok) return paramFail(p.error);
      const logPage = pageOf((await db.query<Record<string, unknown>>(Q.budget_log, [tenant, params.id, p.value.before?.[0] ?? null, p.value.limit + 1])).rows, p.value.limit);
      const log = logPage.rows
        .map((r) => ({ ...r, id: Number(r.id), campaign_id: Number(r.campaign_id), window_start: iso(r.window_start), applied_at: r.applied_at ? iso(r.applied_at) : null, created_at: iso(r.created_at) }));
      // Spend per sync next to our tracked revenue (README: "spend and tracked revenue"); the platforms' claim
      // stays apart as conversions_platform / revenue_platform.
      const points = (await db.query<Record<string, unknown>>(Q.snapshot_series, [tenant, params.id, 24 * 60])).rows
        .map((r) => ({ at: iso(r.at), spend: Number(r.spend), clicks: Number(r.clicks), conversions: Number(r.conversions), revenue: Number(r.revenue) }));
      const credited = (await db.query<Record<string, unknown>>(Q.budget_credits, [tenant, params.id])).rows.map((r) => ({ at: Date.parse(iso(r.occurred_at)), revenue: Number(r.revenue) }));
      const series = trackedSeries(points, credited);
      const next = nextCursor(logKind, { rows: log, more: logPage.more }, (x) => [x.id]);
      return shown(who, 200, { budget: got.b, campaigns: await service.campaignsOf(tenant, params.id), optimization_log: log, log_next_cursor: next, series });
    },
  });

  router.add({
    method: 'patch', path: '/api/v1/campaigns/budgets/:id', auth: 'secret', permission: 'manage_ads', resource: 'tenant', params: { id }, body: { limit: 4096, parse: parseOverride },
    audit: ({ params, body }) => ({ action: 'campaigns.budget_changed', target: `budget:${params.id}`, details: body }),
    handler: async ({ params, body, principal, who }) => {
      const got = await withBudget(principal.tenant.tenant_id, params.id, who, 'manage_ads');
      if ('reply' in got) return got.reply;
      // Amounts in the budget's currency's decimals (JPY none, KWD three).
      for (const f of ['total_budget', 'daily_budget_limit'] as const) {
        const v = body[f];
        const bad = typeof v === 'number' ? amountProblem(v, f, got.b.currency) : null;
        if (bad && !bad.ok) return paramFail(bad.error);
      }
      // The same rule as at creation, against what the budget will hold once changed.
      const total = body.total_budget ?? Number(got.b.total_budget);
      const daily = body.daily_budget_limit === undefined ? (got.b.daily_budget_limit === null ? null : Number(got.b.daily_budget_limit)) : body.daily_budget_limit;
      if (daily !== null && daily > total) {
        const field = body.daily_budget_limit !== undefined && body.daily_budget_limit !== null ? 'daily_budget_limit' : 'total_budget';
        return paramFail({ code: 'invalid_field', in: 'body', field, message: `daily_budget_limit (${daily}) cannot be above total_budget (${total}); change both in one request or lower the limit first.` });
      }
      const r = await service.overrideBudget(principal.tenant.tenant_id, params.id, body);
      return r.ok ? { status: 200, body: r.value } : refused(r);
    },
  });

  router.add({
    method: 'post', path: '/api/v1/campaigns/budgets/:id/suite', auth: 'secret', permission: 'create_campaigns', resource: 'tenant', params: { id }, body: { limit: 4096, parse: parseSuite },
    handler: async ({ params, body, principal, who }) => {
      const got = await withBudget(principal.tenant.tenant_id, params.id, who, 'create_campaigns');
      if ('reply' in got) return got.reply;
      const r = await service.createSuite(principal.tenant.tenant_id, params.id, body.lookalike_pct, { landing_page_url: body.landing_page_url, country: body.country });
      return r.ok ? shown(who, 201, { campaigns: r.value }) : refused(r);
    },
  });

  router.add({
    method: 'post', path: '/api/v1/campaigns/budgets/:id/submit', auth: 'secret', permission: 'create_campaigns', resource: 'tenant', params: { id }, body: { limit: 1024, parse: noFields('submit takes no fields: send nothing, or {}.') },
    handler: async ({ params, principal, who }) => {
      const got = await withBudget(principal.tenant.tenant_id, params.id, who, 'create_campaigns');
      if ('reply' in got) return got.reply;
      const r = await service.submit(principal.tenant.tenant_id, params.id);
      return r.ok ? shown(who, 200, { campaigns: r.value }) : refused(r);
    },
  });

  // The approval queue across budgets, each campaign with its budget's totals and the daily budget approving it
  // now would give it (review.ts). The dashboard's #approvals page reads it; 403 there means "not a reviewer".
  // The queue, approve and reject take a dashboard token too: an admin token (POST /api/v1/tokens {"role":"admin"})
  // lets the page act without a secret key in the browser; organizer and other tokens lack approve_campaigns.
  router.add({
    method: 'get', path: '/api/v1/campaigns/review-queue', auth: 'token', permission: 'approve_campaigns', resource: 'tenant', query: ['limit', 'cursor', 'token'],
    handler: async ({ who, info }) => {
      const p = collect({ limit: int('query', 'limit', info.query.get('limit'), { min: 1, max: 500, def: 100 }), after: cursor(info.query.get('cursor'), 'campaign_review', ['id']) });
      if (!p.ok) return paramFail(p.error);
      const after = p.value.after ? Number(p.value.after[0]) : null;
      const q = await S.reviewQueue(db, who!.tenant, p.value.limit, after);
      const campaigns = queueEntries(q.pending, q.budgets, now());
      const next = nextCursor('campaign_review', { rows: q.pending, more: q.more }, (c) => [c.id]);
      return shown(who, 200, { campaigns, next_cursor: next });
    },
  });

  const PAST = { approve: 'approved', reject: 'rejected', pause: 'paused', resume: 'resumed' } as const;
  const review = (verb: 'approve' | 'reject') => router.add({
    method: 'post', path: `/api/v1/campaigns/:id/${verb}`, auth: 'token', permission: 'approve_campaigns', resource: 'tenant', params: { id }, body: { limit: 4096, parse: parseIds }, query: ['token'],
    audit: ({ params, body }, reply) => ({ action: `campaigns.${PAST[verb]}`, target: `campaign:${params.id}`, details: { status: (reply.body as { campaign?: Campaign }).campaign?.status ?? null, note: body.note } }),
    handler: async ({ params, body, who }) => {
      const tenant = who!.tenant;
      if (verb === 'approve') {
        const out = await service.approve(tenant, [params.id]);
        return out.ok ? shown(who, 200, { campaign: out.value[0] }) : refused(out);
      }
      const out = await service.reject(tenant, [params.id], body.note);
      return out.ok ? shown(who, 200, { campaign: out.value[0] }) : refused(out);
    },
  });
  review('approve');
  review('reject');

  // One campaign with its own optimisation log (the decisions about it), and the campaigns of the tenant paged by
  // id: the budget reads' permission and scope (the organizer of the campaign's budget).
  router.add({
    method: 'get', path: '/api/v1/campaigns/:id', auth: 'token', permission: 'view_ad_analytics', resource: 'tenant', params: { id }, query: ['log_limit', 'log_cursor', 'token'],
    handler: async ({ params, who, info }) => {
      const tenant = who!.tenant;
      const got = await withCampaign(tenant, params.id, who, 'view_ad_analytics');
      if ('reply' in got) return got.reply;
      // The log of this campaign: another campaign's log_next_cursor would page that log's ids here.
      const logKind = `campaign_own_log:${params.id}`;
      const p = collect({ limit: int('query', 'log_limit', info.query.get('log_limit'), { min: 1, max: 500, def: 100 }), before: cursor(info.query.get('log_cursor'), logKind, ['id'], 'log_cursor') });
      if (!p.ok) return paramFail(p.error);
      const page = pageOf((await db.query<Record<string, unknown>>(Q.campaign_log, [tenant, got.c.budget_id, params.id, p.value.before?.[0] ?? null, p.value.limit + 1])).rows, p.value.limit);
      const log = page.rows.map((r) => ({ ...r, id: Number(r.id), campaign_id: Number(r.campaign_id), window_start: iso(r.window_start), applied_at: r.applied_at ? iso(r.applied_at) : null, created_at: iso(r.created_at) }));
      return shown(who, 200, { campaign: got.c, optimization_log: log, log_next_cursor: nextCursor(logKind, { rows: log, more: page.more }, (x) => [x.id]) });
    },
  });

  router.add({
    method: 'get', path: '/api/v1/campaigns', auth: 'token', permission: 'view_ad_analytics', resource: 'tenant', query: ['budget_id', 'status', 'limit', 'cursor', 'token'],
    handler: async ({ who, info }) => {
      const rawBudget = info.query.get('budget_id');
      const p = collect({
        budget: rawBudget === null || rawBudget === '' ? { ok: true as const, value: null } : id('query', 'budget_id', rawBudget),
        status: text('query', 'status', info.query.get('status'), { max: 32 }),
        limit: int('query', 'limit', info.query.get('limit'), { min: 1, max: 500, def: 100 }),
      });
      if (!p.ok) return paramFail(p.error);
      const status = p.value.status;
      if (status !== null && !(CAMPAIGN_STATUSES as readonly string[]).includes(status)) return paramFail({ code: 'invalid_field', in: 'query', field: 'status', message: `status is one of ${CAMPAIGN_STATUSES.join(', ')}.` });
      // The cursor holds the filters it was made under: with others it would skip rows of this listing.
      const kind = listKind('campaigns', { budget_id: p.value.budget, status });
      const before = cursor(info.query.get('cursor'), kind, ['id']);
      if (!before.ok) return paramFail(before.error);
      const all = everyOrganizer(who);
      const rows = (await db.query<Record<string, unknown>>(Q.list_campaigns, [who!.tenant, all, all ? [] : (who!.scope.organizers ?? []), p.value.budget, status, before.value?.[0] ?? null, p.value.limit + 1])).rows;
      const page = pageOf(rows.map(toCampaign), p.value.limit);
      return shown(who, 200, { campaigns: page.rows, next_cursor: nextCursor(kind, page, (c) => [c.id]) });
    },
  });

  const toggle = (verb: 'pause' | 'resume') => router.add({
    method: 'post', path: `/api/v1/campaigns/:id/${verb}`, auth: 'secret', permission: 'manage_ads', resource: 'tenant', params: { id }, body: { limit: 1024, parse: noFields(`${verb} takes no fields: send nothing, or {}.`) },
    audit: ({ params }) => ({ action: `campaigns.${PAST[verb]}`, target: `campaign:${params.id}` }),
    handler: async ({ params, principal, who }) => {
      const got = await withCampaign(principal.tenant.tenant_id, params.id, who, 'manage_ads');
      if ('reply' in got) return got.reply;
      const r = await service.setActive(principal.tenant.tenant_id, params.id, verb === 'resume');
      return r.ok ? shown(who, 200, { campaign: r.value }) : refused(r);
    },
  });
  toggle('pause');
  toggle('resume');

  router.add({
    method: 'put', path: '/api/v1/campaigns/:id/daily-budget', auth: 'secret', permission: 'manage_ads', resource: 'tenant', params: { id }, body: { limit: 1024, parse: parseAmount },
    audit: ({ params, body }) => ({ action: 'campaigns.daily_budget_changed', target: `campaign:${params.id}`, details: { daily_budget: body } }),
    handler: async ({ params, body, principal, who }) => {
      const got = await withCampaign(principal.tenant.tenant_id, params.id, who, 'manage_ads');
      if ('reply' in got) return got.reply;
      const r = await service.setDailyBudget(principal.tenant.tenant_id, params.id, body);
      return r.ok ? shown(who, 200, { campaign: r.value }) : refused(r);
    },
  });

  router.add({
    method: 'get', path: '/api/v1/campaigns/report', auth: 'token', permission: 'view_ad_analytics', resource: 'tenant', query: ['organizer_id', 'currency', 'token'],
    handler: async ({ who, info }) => {
      const org = text('query', 'organizer_id', info.query.get('organizer_id'), { max: 128, required: true });
      if (!org.ok) return paramFail(org.error);
      const r = outOfScope(who, 'view_ad_analytics', org.value!);
      if (r) return r;
      const tenant = who!.tenant;
      const all = (await db.query<Record<string, unknown>>(Q.organizer_report, [tenant, org.value])).rows;
      // Amounts in different currencies never add up: one report per currency, by default the one holding the
      // largest total budget; `currencies` lists the others to ask for with ?currency=.
      const byCurrency = new Map<string, number>();
      // One row per campaign: each budget counted once.
      for (const b of new Map(all.map((x) => [Number(x.budget_id), x])).values()) byCurrency.set(String(b.currency), (byCurrency.get(String(b.currency)) ?? 0) + Number(b.total_budget));
      const currencies = [...byCurrency.keys()].sort();
      const asked = text('query', 'currency', info.query.get('currency'), { max: 3 });
      if (!asked.ok) return paramFail(asked.error);
      // The codes a budget may be created in (schemas.ts): ZZZ would report "You invested 0.00 ZZZ".
      if (asked.value !== null && currencyDecimals(asked.value) === null) {
        return paramFail({ code: 'invalid_field', in: 'query', field: 'currency', message: `currency ${JSON.stringify(asked.value)} is not an ISO 4217 currency in use (EUR, USD, RON, JPY, …).` });
      }
      const main = [...byCurrency.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0] ?? null;
      const chosen = asked.value ?? main;
      const rows = all.filter((x) => String(x.currency) === chosen);
      const ids = rows.filter((x) => x.campaign_id !== null).map((x) => Number(x.campaign_id));
      const credits = await S.credits(db, tenant, ids);
      const budgets = new Map(rows.map((x) => [Number(x.budget_id), { total: Number(x.total_budget), currency: String(x.currency) }]));
      const campaigns: ReportCampaign[] = rows.filter((x) => x.campaign_id !== null).map((x) => {
        const m = (typeof x.performance_metrics === 'string' ? JSON.parse(x.performance_metrics) : x.performance_metrics) as Record<string, unknown>;
        const cr = credits.get(Number(x.campaign_id));
        return {
          id: Number(x.campaign_id), name: String(x.name), platform: String(x.platform), campaign_type: String(x.campaign_type), status: String(x.campaign_status),
          spend: Number(x.budget_spent), platform_conversions: Number(m.conversions ?? 0), platform_revenue: Number(m.revenue_generated ?? 0),
          orders: cr?.orders ?? 0, tickets: cr?.tickets ?? 0, revenue: cr?.revenue ?? 0,
        };
      });
      const total = [...budgets.values()].reduce((s, b) => s + b.total, 0);
      const currency = chosen ?? 'EUR';
      // Without view_revenue: spend, sales and tickets, and sentences that reveal no ROAS (organizerReport).
      const money = await seesRevenue(who);
      return shown(who, 200, { organizer_id: org.value, ...organizerReport(currency, total, campaigns, reportTargetRoas(rows), money), campaigns, currencies });
    },
  });

  router.add({
    method: 'get', path: '/api/v1/campaigns/overview', auth: 'secret', permission: 'approve_campaigns', resource: 'tenant', query: [],
    handler: async ({ principal, who }) => {
      const tenant = principal.tenant.tenant_id;
      const rows = (await db.query<Record<string, unknown>>(Q.admin_overview, [tenant])).rows.map((x) => ({
        organizer_id: String(x.organizer_id), currency: String(x.currency), budgets: Number(x.budgets), total_budget: Number(x.total_budget), active: Number(x.active), pending_review: Number(x.pending_review),
        // As in the organizer report: sales, revenue and roas_tracked from our own tracking; the platforms' claim
        // under *_platform (it was an unlabelled `roas`).
        spend: Number(x.spend), sales: Number(x.sales), revenue: Number(x.tracked_revenue), roas_tracked: roasOf(Number(x.tracked_revenue), Number(x.spend)),
        conversions_platform: Number(x.conversions), revenue_platform: Number(x.revenue), roas_platform: roasOf(Number(x.revenue), Number(x.spend)),
      }));
      const queue = (await db.query<Record<string, unknown>>(Q.review_queue, [tenant, 100, null])).rows.map(toCampaign);
      return shown(who, 200, { organizers: rows, review_queue: queue });
    },
  });

  router.add({
    method: 'get', path: '/api/v1/campaigns/budgets', auth: 'token', permission: 'view_ad_analytics', resource: 'tenant', query: ['organizer_id', 'limit', 'cursor', 'token'],
    handler: async ({ who, info }) => {
      const p = collect({
        organizer: text('query', 'organizer_id', info.query.get('organizer_id'), { max: 128 }),
        limit: int('query', 'limit', info.query.get('limit'), { min: 1, max: 500, def: 100 }),
      });
      if (!p.ok) return paramFail(p.error);
      // The cursor holds the filter it was made under: with another organizer it would skip rows of this listing.
      const kind = listKind('campaign_budgets', { organizer_id: p.value.organizer });
      const before = cursor(info.query.get('cursor'), kind, ['id']);
      if (!before.ok) return paramFail(before.error);
      const all = everyOrganizer(who);
      const page = pageOf((await db.query<Record<string, unknown>>(Q.list_budgets, [who!.tenant, all, all ? [] : (who!.scope.organizers ?? []), p.value.organizer, before.value?.[0] ?? null, p.value.limit + 1])).rows, p.value.limit);
      const budgets = page.rows.map(toBudget);
      const next = nextCursor(kind, { rows: budgets, more: page.more }, (b) => [b.id]);
      return { status: 200, body: { budgets, next_cursor: next } };
    },
  });
}
