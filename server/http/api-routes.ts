// Operator API (/api/admin/*, ADMIN_TOKEN) and tenant read-back API (/api/v1/tx/*, tenant secret key).
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Db } from '../store/db.js';
import { isUnavailable } from '../store/db.js';
import type { EventStore } from '../store/events.js';
import type { Tenant, TenantStore } from '../store/tenants.js';
import { bearer, safeEqual, type KeyResolver } from './auth.js';
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
  /** Reads and parses a JSON body (max 1 MB). */
  json(): Promise<{ ok: true; value: unknown } | { ok: false; reply: Reply }>;
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
      async json() {
        const b = await bodyP!;
        if (!b.ok) return { ok: false, reply: { ...errorReply(413, 'body_too_large', 'Request body exceeds 1 MB.', { limit: 1024 * 1024 }), close: true } };
        if (b.body.length === 0) return { ok: true, value: {} };
        try {
          return { ok: true, value: JSON.parse(b.body.toString('utf8')) };
        } catch (err) {
          return { ok: false, reply: errorReply(400, 'invalid_json', `Body is not valid JSON: ${(err as Error).message}`) };
        }
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
  const found = await keys.resolve(token);
  if (!found) return { reply: errorReply(401, 'invalid_key', 'Unknown or revoked key.') };
  if (found.kind !== 'secret') return { reply: errorReply(403, 'write_key_not_allowed', 'A write key can only send events; use the secret key for /api/v1.') };
  return { tenant: found.tenant };
}

const ORIGIN = /^https?:\/\/[^/\s]+$/;

export function registerApiRoutes(app: TemplatedApp, deps: ApiRouteDeps): void {
  const { log, config } = deps;
  const r = (fn: Handler, opts?: { body?: boolean }) => route(log, config.trustProxy, fn, opts);

  app.post('/api/admin/tenants', r(async (ctx) => {
    const token = bearer(ctx.info.headers.authorization);
    if (!token || !safeEqual(token, deps.adminToken)) return errorReply(401, 'invalid_admin_token', 'Send Authorization: Bearer <ADMIN_TOKEN>.');
    const body = await ctx.json();
    if (!body.ok) return body.reply;
    const { name, allowed_origins: origins = [] } = (body.value ?? {}) as { name?: unknown; allowed_origins?: unknown };
    if (typeof name !== 'string' || name.trim().length === 0 || name.length > 200) {
      return errorReply(400, 'invalid_field', 'name must be a non-empty string of at most 200 characters.', { field: 'name' });
    }
    if (!Array.isArray(origins) || origins.some((o) => typeof o !== 'string' || (o !== '*' && !ORIGIN.test(o)))) {
      return errorReply(400, 'invalid_field', 'allowed_origins must be a list of origins like "https://shop.example.com" (scheme://host[:port], no path) or "*".', { field: 'allowed_origins' });
    }
    const created = await deps.db.tx((q) => deps.tenants.create(q, name.trim(), origins as string[]));
    return { status: 201, body: created };
  }, { body: true }));

  app.get('/api/v1/tx/events', r(async (ctx) => {
    const auth = await tenantFromSecret(deps.keys, ctx.info);
    if ('reply' in auth) return auth.reply;
    const q = ctx.info.query;
    const limit = parseLimit(q.get('limit'));
    if (limit === null) return errorReply(400, 'invalid_field', 'limit must be an integer between 1 and 1000.', { field: 'limit' });
    const before = q.get('before');
    if (before !== null && Number.isNaN(Date.parse(before))) return errorReply(400, 'invalid_field', 'before must be an ISO-8601 timestamp.', { field: 'before' });
    const events = await deps.events.list(deps.db, auth.tenant.tenant_id, {
      limit,
      event_name: q.get('event_name'),
      visitor_id: q.get('visitor_id'),
      event_entity_id: q.get('event_entity_id'),
      before,
    });
    const last = events[events.length - 1];
    return { status: 200, body: { events, next_before: events.length === limit && last ? last.occurred_at : null } };
  }));

  app.get('/api/v1/tx/rejected', r(async (ctx) => {
    const auth = await tenantFromSecret(deps.keys, ctx.info);
    if ('reply' in auth) return auth.reply;
    const limit = parseLimit(ctx.info.query.get('limit'));
    if (limit === null) return errorReply(400, 'invalid_field', 'limit must be an integer between 1 and 1000.', { field: 'limit' });
    return { status: 200, body: { rejected: await deps.events.listRejected(deps.db, auth.tenant.tenant_id, limit) } };
  }));
}

function parseLimit(raw: string | null): number | null {
  if (raw === null || raw === '') return 100;
  const n = Number(raw);
  return Number.isInteger(n) && n >= 1 && n <= 1000 ? n : null;
}
