// REST: minting dashboard tokens and a read-only mirror of the live topics for pages and scripts.
//   POST /api/v1/tokens                       secret key → {"token","expires_at"}
//   GET  /api/v1/live/events/{event_id}         secret key or token → the topic's current snapshot
//   GET  /api/v1/live/events/{event_id}/capacity
//   GET  /api/v1/live/dashboard/{org_id}
//   GET  /api/v1/live/events/{event_id}/history, /api/v1/live/dashboard/{org_id}/history   per minute (history.ts)
import { fail } from '../http/errors.js';
import { isIdText, type Parsed, type Where } from '../http/params.js';
import { createRouter, type AuditSink, type RouteInfo, type RouterAuthz, type RouterDeps } from '../http/router.js';
import type { KeyResolver } from '../http/auth.js';
import type { Reply, TemplatedApp } from '../http/uws.js';
import type { Queryable } from '../store/db.js';
import { historyReply } from './history.js';
import type { LiveCore } from './core.js';
import { bearer } from '../http/auth.js';
import { parseTokenRequest, TOKEN_PREFIX, withinKey, type EventOwners, type MintingKey, type Scope, type TokenScope } from './token.js';
import { allowed, type Topic } from './topics.js';
import { withResolved } from './access.js';
import { can, readsWholeTenant, type Principal as Who } from '../authz/principal.js';
import { permissionsFor, type Permission } from '../authz/roles.js';

export interface LiveRouteDeps {
  core: LiveCore;
  keys: KeyResolver;
  /** The store, for the per-minute history. */
  db: Queryable;
  /** The audit log (token minting is recorded). */
  audit?: AuditSink;
  /** Role overrides and event owners for the router's checks, and the server's route listing (issue 18). */
  access?: { authz: RouterAuthz; listing: RouteInfo[] };
}

/** The ids of a token's scope as POST /api/v1/tokens answers them. Pure. */
export function tokenScopeFields(s: TokenScope): Record<string, unknown> {
  switch (s.role) {
    case 'organizer':
      return { org_id: s.org };
    case 'gate':
      return { event_ids: s.events };
    case 'venue':
    case 'venue_manager':
      return { venue_ids: s.venues };
    case 'artist':
      return { artist_ids: s.artists };
    case 'promoter':
      return { event_ids: s.events, org_ids: s.orgs };
    case 'ad_account':
      return { org_ids: s.orgs };
    case 'media':
    case 'admin':
      return {};
  }
}

const EVENTS = '/api/v1/live/events/';
const DASH = '/api/v1/live/dashboard/';

/** An event or organizer id in the path: 1-128 characters, no control characters. Pure. */
export const topicId = (where: Where, field: string, raw: string): Parsed<string> =>
  isIdText(raw)
    ? { ok: true, value: raw }
    : { ok: false, error: { code: 'invalid_field', in: where, field, message: raw.length >= 1 && raw.length <= 128 ? 'The id must not contain control characters (NUL, tabs, line breaks, U+007F-U+009F).' : `The id must be 1-128 characters; got ${raw.length}.` } };

export function registerLiveRoutes(app: TemplatedApp, deps: LiveRouteDeps): void {
  const { core, keys } = deps;
  const routerDeps: RouterDeps = {
    app,
    log: core.log,
    trustProxy: core.config.trustProxy,
    keys,
    tokens: { prefix: TOKEN_PREFIX, verify: (token) => core.check(token) },
    audit: deps.audit,
    authz: deps.access?.authz,
    listing: deps.access?.listing,
  };
  const router = createRouter(routerDeps);

  router.add({
    method: 'post', path: '/api/v1/tokens', auth: 'secret', permission: 'mint_tokens', resource: 'tenant', body: {},
    audit: (_req, reply) => {
      const { token: _token, ...shown } = reply.body as { token: string; role: string };
      return { action: 'token.minted', target: `role:${shown.role}`, details: shown };
    },
    handler: async ({ principal, body, info }) => {
      const tenant = principal.tenant.tenant_id;
      const req = parseTokenRequest(tenant, body);
      if (!req.ok) return fail('invalid_field', req.message, { field: req.field, in: 'body' });
      // The minting key's role and scope (the key cache, 5 s): a token never covers more than its key.
      const found = await keys.check(bearer(info.headers.authorization) ?? '');
      if (!found.ok) return fail(found.code);
      const key: MintingKey = { id: found.lookup.key_id, role: found.lookup.role ?? 'admin', scope: found.lookup.scope ?? {} };
      // The tenant's overrides: a token's role may not have a permission the key's role lacks.
      const overrides = deps.access && key.role !== 'admin' ? await deps.access.authz.overrides(tenant) : {};
      // The token's events as the router's scope checks see them (the catalog's row whole when it knows the
      // event, else the live owner): a write-key row naming a venue never puts a catalog event in a venue's scope.
      const events = new Map<string, EventOwners | undefined>();
      if (key.role !== 'admin' && 'events' in req.scope) {
        for (const id of req.scope.events) {
          if (deps.access) events.set(id, await deps.access.authz.event(tenant, id));
          else {
            const o = core.ownerOf(tenant, id);
            events.set(id, o && { organizer_id: o.org, venue_id: o.venue, artist_ids: o.artists });
          }
        }
      }
      const within = withinKey(req.scope, key, (event) => events.get(event), (role) => permissionsFor(role, overrides));
      if (!within.ok) {
        const what = within.field === 'role'
          ? `role ${JSON.stringify(within.id)} (a token of that role would have a permission, or an id, this key has not)`
          : `${within.field} ${JSON.stringify(within.id)}`;
        return fail('forbidden', `The key minting this token does not cover ${what}.`, { field: within.field, id: within.id, permission: 'mint_tokens' });
      }
      const minted = core.mintToken({ ...req.scope, key: key.id }, req.ttlS);
      return { status: 201, body: { ...minted, role: req.scope.role, ...tokenScopeFields(req.scope), key_id: key.id } };
    },
  });

  /** Whether the principal sees money: view_revenue with its tenant's overrides (issue 18). */
  const seesRevenue = async (who: Who | null): Promise<boolean> =>
    who === null || can(who, 'view_revenue', deps.access ? await deps.access.authz.overrides(who.tenant) : {});
  /** Whether the principal reads this analytics tenant-wide: view_all_analytics with its tenant's overrides. */
  const wholeTenant = async (who: Who | null, permission: Permission): Promise<boolean> =>
    who !== null && readsWholeTenant(who, permission, deps.access ? await deps.access.authz.overrides(who.tenant) : {});
  /** The organizer roll-up has no revenue-free variant: without view_revenue it is refused, naming it. */
  const rollUpRefusal = (who: Who | null): Reply =>
    fail('forbidden', 'The organizer roll-up includes revenue: this key or token also needs view_revenue.', { permission: 'view_revenue', role: who?.role ?? null });

  /**
   * A token whose minting key was revoked: the router's synchronous check refuses it once this node knows; a
   * node that never saw the key reads its status here first, so no data goes out before that (key-status.ts).
   */
  const revokedKey = async (scope: Scope): Promise<Reply | null> =>
    (await core.keyRevoked(scope)) ? fail('invalid_token', 'The key that minted this token was revoked; mint a new token with a valid key.') : null;

  /**
   * The topic rule (topics.ts allowed) with the event resolved as the router's scope check resolved it: the
   * catalog's row from the store when this node does not hold the event (one over before it started). This
   * node's memory alone refused an organizer its past event here while a node that held it answered 200.
   */
  const topicAllowed = async (scope: Scope, topic: Topic, wide = false): Promise<boolean> => {
    if (!deps.access || (topic.kind !== 'event' && topic.kind !== 'capacity')) return core.allowed(scope, topic, wide);
    const ownerOf = withResolved(core.ownerOf, scope.tenant, topic.event, await deps.access.authz.event(scope.tenant, topic.event));
    return allowed(scope, topic, ownerOf, wide);
  };

  /** The topic's current snapshot, for a key or token that covers it (`wide`: it reads the topic tenant-wide). */
  const snapshotOf = async (scope: Scope, topic: Topic, wide = false): Promise<Reply> => {
    const gone = await revokedKey(scope);
    if (gone) return gone;
    if (!(await topicAllowed(scope, topic, wide))) return fail('forbidden');
    await core.prepare([{ tenant: scope.tenant, topic }]);
    return { status: 200, text: { body: core.hub.peek(scope.tenant, topic, core.now()), type: 'application/json' }, headers: { 'Cache-Control': 'no-store' } };
  };

  // Declared routes (issue 18): the router checks the permission and the scope like every other /api/v1 route.
  router.add({
    method: 'get', path: `${EVENTS}:event_id/history`, auth: 'token', permission: 'view_event_analytics', resource: { event: 'event_id' }, params: { event_id: topicId }, query: ['minutes', 'to', 'totals', 'token'],
    handler: async ({ principal, params, info, who }) => (await revokedKey(principal.scope)) ?? historyReply({ core, db: deps.db, allowed: topicAllowed }, 'event', params.event_id, principal.scope, info, await seesRevenue(who), await wholeTenant(who, 'view_event_analytics')),
  });
  router.add({
    method: 'get', path: `${DASH}:org_id/history`, auth: 'token', permission: 'view_event_analytics', resource: { organizer: 'org_id' }, params: { org_id: topicId }, query: ['minutes', 'to', 'totals', 'token'],
    handler: async ({ principal, params, info, who }) => (await revokedKey(principal.scope)) ?? ((await seesRevenue(who)) ? historyReply({ core, db: deps.db, allowed: topicAllowed }, 'org', params.org_id, principal.scope, info, true, await wholeTenant(who, 'view_event_analytics')) : rollUpRefusal(who)),
  });
  router.add({
    method: 'get', path: `${EVENTS}:event_id/capacity`, auth: 'token', permission: 'view_capacity', resource: { event: 'event_id' }, params: { event_id: topicId }, query: ['token'],
    handler: async ({ principal, params, who }) => snapshotOf(principal.scope, { kind: 'capacity', event: params.event_id }, await wholeTenant(who, 'view_capacity')),
  });
  router.add({
    method: 'get', path: `${EVENTS}:event_id`, auth: 'token', permission: 'view_event_analytics', resource: { event: 'event_id' }, params: { event_id: topicId }, query: ['token'],
    // view_event_analytics is the funnel; the money in it needs view_revenue too (else the revenue-free variant).
    // With the tenant's overrides (an artist granted view_revenue sees it), as the same role's key and topic do.
    handler: async ({ principal, params, who }) => snapshotOf(principal.scope, (await seesRevenue(who)) ? { kind: 'event', event: params.event_id } : { kind: 'event', event: params.event_id, revenue: false }, await wholeTenant(who, 'view_event_analytics')),
  });
  router.add({
    method: 'get', path: `${DASH}:org_id`, auth: 'token', permission: 'view_event_analytics', resource: { organizer: 'org_id' }, params: { org_id: topicId }, query: ['token'],
    handler: async ({ principal, params, who }) => (await seesRevenue(who)) ? snapshotOf(principal.scope, { kind: 'dashboard', org: params.org_id }, await wholeTenant(who, 'view_event_analytics')) : rollUpRefusal(who),
  });
}
