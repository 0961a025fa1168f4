// Operator API (/api/admin/*, ADMIN_TOKEN) and tenant read-back API (/api/v1/tx/*, tenant secret key).
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Db } from '../store/db.js';
import { isUnavailable } from '../store/db.js';
import type { EventStore } from '../store/events.js';
import type { Tenant, TenantStore } from '../store/tenants.js';
import { registerAdminRoutes } from './admin-routes.js';
import { bearer, safeEqual, type KeyResolver } from './auth.js';
import { checkBody, collect, cursor, encodeCursor, int, paramReply, stringProblem, text, time, type Parsed } from './params.js';
import { errorReply, readBody, send, snapshot, trackAbort, type AbortState, type HttpRequest, type HttpResponse, type ReqInfo, type Reply, type TemplatedApp } from './uws.js';

export interface ApiRouteDeps {
  config: Config;
  adminToken: string;
  db: Db;
  events: EventStore;
  tenants: TenantStore;
  keys: KeyResolver;
  log: Logger;
}

export interface RouteCtx {
  info: ReqInfo;
  res: HttpResponse;
  state: AbortState;
  /**
   * Reads and parses a JSON body (max 1 MB), refusing nesting deeper than 64 levels and, unless
   * `strings: false` (a route that rejects per event), NUL characters and lone surrogates, with the field path.
   */
  json(opts?: { strings?: boolean }): Promise<{ ok: true; value: unknown } | { ok: false; reply: Reply }>;
}

type Handler = (ctx: RouteCtx) => Promise<Reply>;

/** Wraps an async handler with abort tracking, header snapshot, body helper and error mapping. */
export function route(log: Logger, trustProxy: boolean, fn: Handler, opts: { body?: boolean } = {}) {
  return (res: HttpResponse, req: HttpRequest) => {
    const state = trackAbort(res);
    const info = snapshot(res, req, trustProxy);
    const bodyP = opts.body ? readBody(res, state, info.headers['content-length'], 1024 * 1024) : null;
    const ctx: RouteCtx = {
      info,
      res,
      state,
      async json(opts = {}) {
        const b = await bodyP!;
        if (!b.ok) return { ok: false, reply: { ...errorReply(413, 'body_too_large', 'Request body exceeds 1 MB.', { limit: 1024 * 1024 }), close: true } };
        if (b.body.length === 0) return { ok: true, value: {} };
        let value: unknown;
        try {
          value = JSON.parse(b.body.toString('utf8'));
        } catch (err) {
          return { ok: false, reply: errorReply(400, 'invalid_json', `Body is not valid JSON: ${(err as Error).message}`) };
        }
        const bad = checkBody(value, { strings: opts.strings ?? true });
        return bad ? { ok: false, reply: paramReply(bad) } : { ok: true, value };
      },
    };
    fn(ctx)
      .then((r) => send(res, state, r))
      .catch((err: unknown) => {
        if (isUnavailable(err)) return send(res, state, errorReply(503, 'store_unavailable', 'The database is unavailable; retry later.', {}, { 'Retry-After': '5' }));
        log.error({ err }, 'request failed');
        send(res, state, errorReply(500, 'internal', 'Internal error.'));
      });
  };
}

/** Resolves the tenant of a `Authorization: Bearer <secret key>`; a write key is refused (403). */
export async function tenantFromSecret(keys: KeyResolver, info: ReqInfo): Promise<{ tenant: Tenant } | { reply: Reply }> {
  const token = bearer(info.headers.authorization);
  if (!token) return { reply: errorReply(401, 'missing_key', 'Send the tenant secret key as Authorization: Bearer <secret_key>.') };
  const found = await keys.check(token);
  if (!found.ok) {
    return {
      reply: found.code === 'revoked_key'
        ? errorReply(401, 'revoked_key', 'This key was revoked; ask the operator for a new one (POST /api/admin/tenants/{tenant_id}/keys).')
        : errorReply(401, 'invalid_key', 'Unknown key: send the tenant secret key (tx_sk_…) shown when the tenant or key was created.'),
    };
  }
  if (found.lookup.kind !== 'secret') return { reply: errorReply(403, 'write_key_not_allowed', 'A write key can only send events; use the secret key for /api/v1.') };
  return { tenant: found.lookup.tenant };
}

/** True when the request carries the operator's ADMIN_TOKEN. */
export const isAdmin = (info: ReqInfo, adminToken: string): boolean => {
  const token = bearer(info.headers.authorization);
  return token !== null && safeEqual(token, adminToken);
};
export const adminRefused = (): Reply => errorReply(401, 'invalid_admin_token', 'Send Authorization: Bearer <ADMIN_TOKEN>.');

export function registerApiRoutes(app: TemplatedApp, deps: ApiRouteDeps): void {
  const { log, config } = deps;
  const r = (fn: Handler, opts?: { body?: boolean }) => route(log, config.trustProxy, fn, opts);

  app.post('/api/admin/tenants', r(async (ctx) => {
    if (!isAdmin(ctx.info, deps.adminToken)) return adminRefused();
    const body = await ctx.json();
    if (!body.ok) return body.reply;
    const { name, allowed_origins: origins = [] } = (body.value ?? {}) as { name?: unknown; allowed_origins?: unknown };
    if (typeof name !== 'string' || name.trim().length === 0 || name.length > 200 || stringProblem(name)) {
      return errorReply(400, 'invalid_field', 'name must be a non-empty string of at most 200 printable characters.', { field: 'name', in: 'body' });
    }
    const o = parseOrigins(origins);
    if (!o.ok) return paramReply(o.error);
    const created = await deps.db.tx((q) => deps.tenants.create(q, name.trim(), o.value));
    return { status: 201, body: created };
  }, { body: true }));
  registerAdminRoutes(app, deps, r);

  app.get('/api/v1/tx/events', r(async (ctx) => {
    const auth = await tenantFromSecret(deps.keys, ctx.info);
    if ('reply' in auth) return auth.reply;
    const q = ctx.info.query;
    const p = collect({
      limit: int('query', 'limit', q.get('limit'), { min: 1, max: 1000, def: 100 }),
      before: time('query', 'before', q.get('before')),
      after: cursor(q.get('cursor'), 'events', ['ts', 'id']),
      event_name: text('query', 'event_name', q.get('event_name'), { max: 100 }),
      visitor_id: text('query', 'visitor_id', q.get('visitor_id'), { max: 64 }),
      event_entity_id: text('query', 'event_entity_id', q.get('event_entity_id'), { max: 128 }),
    });
    if (!p.ok) return paramReply(p.error);
    const { before, ...filter } = p.value;
    const page = await deps.events.list(deps.db, auth.tenant.tenant_id, { ...filter, before: before === null ? null : new Date(before).toISOString() });
    const last = page.rows[page.rows.length - 1];
    return {
      status: 200,
      body: {
        events: page.rows,
        next_cursor: page.last ? encodeCursor('events', page.last) : null,
        // Kept for old clients; it skips rows that share the last row's occurred_at: page with next_cursor.
        next_before: page.last && last ? last.occurred_at : null,
      },
    };
  }));

  app.get('/api/v1/tx/rejected', r(async (ctx) => {
    const auth = await tenantFromSecret(deps.keys, ctx.info);
    if ('reply' in auth) return auth.reply;
    const limit = int('query', 'limit', ctx.info.query.get('limit'), { min: 1, max: 1000, def: 100 });
    if (!limit.ok) return paramReply(limit.error);
    const after = cursor(ctx.info.query.get('cursor'), 'rejected', ['ts', 'id']);
    if (!after.ok) return paramReply(after.error);
    const page = await deps.events.listRejected(deps.db, auth.tenant.tenant_id, limit.value, after.value);
    return { status: 200, body: { rejected: page.rows, next_cursor: page.last ? encodeCursor('rejected', page.last) : null } };
  }));
}

const ORIGIN = /^https?:\/\/[^/\s]+$/;

/** `allowed_origins`: a list of "scheme://host[:port]" or "*". */
export function parseOrigins(v: unknown, field = 'allowed_origins'): Parsed<string[]> {
  if (!Array.isArray(v) || v.length > 100 || v.some((o) => typeof o !== 'string' || o.length > 300 || stringProblem(o) !== null || (o !== '*' && !ORIGIN.test(o)))) {
    return { ok: false, error: { code: 'invalid_field', in: 'body', field, message: `${field} must be a list (at most 100) of origins like "https://shop.example.com" (scheme://host[:port], no path) or "*".` } };
  }
  return { ok: true, value: v as string[] };
}
