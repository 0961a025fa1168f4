// REST: minting dashboard tokens and a read-only mirror of the live topics for pages and scripts.
//   POST /api/v1/tokens                       secret key → {"token","expires_at"}
//   GET  /api/v1/live/events/{event_id}         secret key or token → the topic's current snapshot
//   GET  /api/v1/live/events/{event_id}/capacity
//   GET  /api/v1/live/dashboard/{org_id}
//   GET  /api/v1/live/events/{event_id}/history, /api/v1/live/dashboard/{org_id}/history   per minute (history.ts)
import { route, tenantFromSecret } from '../http/api-routes.js';
import { bearer, type KeyResolver } from '../http/auth.js';
import { errorReply, type ReqInfo, type Reply, type TemplatedApp } from '../http/uws.js';
import type { Queryable } from '../store/db.js';
import { historyHandler } from './history.js';
import type { LiveCore } from './core.js';
import { parseTokenRequest, TOKEN_PREFIX, type Scope } from './token.js';
import type { Topic } from './topics.js';

export interface LiveRouteDeps {
  core: LiveCore;
  keys: KeyResolver;
  /** The store, for the per-minute history. */
  db: Queryable;
}

const EVENTS = '/api/v1/live/events/';
const DASH = '/api/v1/live/dashboard/';

export function registerLiveRoutes(app: TemplatedApp, deps: LiveRouteDeps): void {
  const { core, keys } = deps;
  const r = (fn: Parameters<typeof route>[2], opts?: { body?: boolean }) => route(core.log, core.config.trustProxy, fn, opts);

  app.post('/api/v1/tokens', r(async (ctx) => {
    const auth = await tenantFromSecret(keys, ctx.info);
    if ('reply' in auth) return auth.reply;
    const body = await ctx.json();
    if (!body.ok) return body.reply;
    const req = parseTokenRequest(auth.tenant.tenant_id, body.value);
    if (!req.ok) return errorReply(400, 'invalid_field', req.message, { field: req.field });
    const minted = core.mintToken(req.scope, req.ttlS);
    const scope = req.scope.role === 'organizer' ? { org_id: req.scope.org } : { event_ids: req.scope.events };
    return { status: 201, body: { ...minted, role: req.scope.role, ...scope } };
  }, { body: true }));

  /** Secret key (whole tenant) or a dashboard token (its scope), as Bearer or ?token=. */
  const scopeOf = async (info: ReqInfo): Promise<{ scope: Scope } | { reply: Reply }> => {
    const token = bearer(info.headers.authorization) ?? info.query.get('token');
    if (token?.startsWith(TOKEN_PREFIX)) {
      const v = core.verify(token);
      if (!v.ok) return { reply: errorReply(401, v.reason === 'expired' ? 'token_expired' : 'invalid_token', 'The dashboard token is invalid or expired.') };
      return { scope: v.scope };
    }
    const auth = await tenantFromSecret(keys, info);
    if ('reply' in auth) return auth;
    return { scope: { role: 'tenant', tenant: auth.tenant.tenant_id } };
  };

  const read = (topicOf: (rest: string) => Topic | null, prefix: string) =>
    r(async (ctx) => {
      let rest: string;
      try {
        rest = decodeURIComponent(ctx.info.url.slice(prefix.length));
      } catch {
        return errorReply(400, 'invalid_field', 'The id in the path is not valid percent-encoding.');
      }
      const topic = topicOf(rest);
      if (!topic) return errorReply(400, 'invalid_field', 'The id must be 1-128 characters.');
      const auth = await scopeOf(ctx.info);
      if ('reply' in auth) return auth.reply;
      if (!core.allowed(auth.scope, topic)) return errorReply(403, 'forbidden', 'This key or token does not give access to that topic.');
      await core.prepare([{ tenant: auth.scope.tenant, topic }]);
      return { status: 200, text: { body: core.hub.peek(auth.scope.tenant, topic, core.now()), type: 'application/json' }, headers: { 'Cache-Control': 'no-store' } };
    });

  const ID_RE = /^[^\u0000-\u001f\u007f]{1,128}$/;
  app.get(`${EVENTS}:event_id/history`, r(historyHandler({ core, db: deps.db, scopeOf }, 'event', EVENTS)));
  app.get(`${DASH}:org_id/history`, r(historyHandler({ core, db: deps.db, scopeOf }, 'org', DASH)));
  app.get(`${EVENTS}:event_id/capacity`, read((rest) => {
    const id = rest.slice(0, -'/capacity'.length);
    return ID_RE.test(id) ? { kind: 'capacity', event: id } : null;
  }, EVENTS));
  app.get(`${EVENTS}:event_id`, read((id) => (ID_RE.test(id) ? { kind: 'event', event: id } : null), EVENTS));
  app.get(`${DASH}:org_id`, read((id) => (ID_RE.test(id) ? { kind: 'dashboard', org: id } : null), DASH));
}
