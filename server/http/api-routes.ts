// Operator API (/api/admin/*, ADMIN_TOKEN) and tenant read-back API (/api/v1/tx/*, tenant secret key),
// declared on the router (router.ts): auth, params and body checks happen there, errors map in errors.ts.
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Db } from '../store/db.js';
import type { LiveCore } from '../live/core.js';
import type { EventStore } from '../store/events.js';
import type { CreatedTenant, TenantStore } from '../store/tenants.js';
import { registerAdminRoutes } from './admin-routes.js';
import type { KeyResolver } from './auth.js';
import { canonicalTimeZone } from '../jobs/schedule.js';
import { paramFail } from './errors.js';
import { BODY_ROOT, collect, cursor, describeJson, encodeCursor, int, listKind, stringProblem, text, time, unknownBodyField, type Parsed } from './params.js';
import { createRouter, type AuditNote, type AuditSink, type RouteInfo, type Router, type RouterAuthz } from './router.js';
import type { TemplatedApp } from './uws.js';

export interface ApiRouteDeps {
  config: Config;
  adminToken: string;
  db: Db;
  events: EventStore;
  tenants: TenantStore;
  keys: KeyResolver;
  log: Logger;
  /** The audit log (server/audit/): routes that declare `audit` record there. */
  audit?: AuditSink;
  /** Role overrides and event owners for the router's checks, and the server's route listing (issue 18). */
  access?: { authz: RouterAuthz; listing: RouteInfo[] };
  /** The live layer's token signer, for POST /api/admin/tenants/{id}/tokens. */
  mintToken?: LiveCore['mintToken'];
}

/** A tenant's time zone (body field `time_zone`): a known IANA zone, kept as canonicalTimeZone spells it. */
export function parseTimeZone(v: unknown): Parsed<string> {
  const tz = typeof v === 'string' && stringProblem(v) === null ? canonicalTimeZone(v) : null;
  if (tz !== null) return { ok: true, value: tz };
  return { ok: false, error: { code: 'invalid_field', in: 'body', field: 'time_zone', message: `time_zone must be an IANA time zone name such as "Europe/Bucharest" or "UTC" (not an offset); got ${typeof v === 'string' ? JSON.stringify(v.slice(0, 64)) : describeJson(v)}.` } };
}

/** The body of POST /api/admin/tenants. Pure. */
export function parseNewTenant(v: unknown): Parsed<{ name: string; allowed_origins: string[]; time_zone: string }> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return { ok: false, error: { code: 'invalid_field', in: 'body', field: BODY_ROOT, message: 'Send {"name","allowed_origins"?,"time_zone"?}.' } };
  // A misspelt "allowed_origin" would make a tenant whose empty origin list allows any origin.
  const extra = Object.keys(v).find((k) => !['name', 'allowed_origins', 'time_zone'].includes(k));
  if (extra !== undefined) return { ok: false, error: unknownBodyField(extra, 'a new tenant takes name, allowed_origins and time_zone.') };
  const { name, allowed_origins: origins = [], time_zone: zone = 'UTC' } = (v ?? {}) as { name?: unknown; allowed_origins?: unknown; time_zone?: unknown };
  if (typeof name !== 'string' || name.trim().length === 0 || name.length > 200 || stringProblem(name)) {
    return { ok: false, error: { code: 'invalid_field', in: 'body', field: 'name', message: 'name must be a non-empty string of at most 200 printable characters.' } };
  }
  const o = parseOrigins(origins);
  if (!o.ok) return o;
  const tz = parseTimeZone(zone);
  return tz.ok ? { ok: true, value: { name: name.trim(), allowed_origins: o.value, time_zone: tz.value } } : tz;
}

/**
 * What a new tenant records: the tenant and its first two keys, as POST /api/admin/tenants/{id}/keys records a
 * key (never the keys). The demo tenant of a first start records the same (app.ts). Pure.
 */
export function tenantCreatedNotes(t: CreatedTenant): AuditNote[] {
  const key = (id: number, kind: string): AuditNote => ({ action: 'key.created', target: `key:${id}`, tenant: t.tenant_id, details: { kind, site_id: null, sources: null } });
  return [
    { action: 'tenant.created', target: `tenant:${t.tenant_id}`, tenant: t.tenant_id, details: { name: t.name, allowed_origins: t.allowed_origins, time_zone: t.time_zone } },
    key(t.write_key_id, 'write'),
    key(t.secret_key_id, 'secret'),
  ];
}

export function registerApiRoutes(app: TemplatedApp, deps: ApiRouteDeps): Router {
  const router = createRouter({ app, log: deps.log, trustProxy: deps.config.trustProxy, keys: deps.keys, adminToken: deps.adminToken, audit: deps.audit, authz: deps.access?.authz, listing: deps.access?.listing });

  router.add({
    method: 'post', path: '/api/admin/tenants', auth: 'admin', body: { parse: parseNewTenant },
    audit: (_req, reply) => tenantCreatedNotes(reply.body as CreatedTenant),
    handler: async ({ body }) => ({ status: 201, body: await deps.db.tx((q) => deps.tenants.create(q, body.name, body.allowed_origins, body.time_zone)) }),
  });
  registerAdminRoutes(router, deps);

  router.add({
    method: 'get', path: '/api/v1/tx/events', auth: 'secret', permission: 'view_raw_events', resource: { query_event: 'event_entity_id' }, query: ['limit', 'before', 'cursor', 'event_name', 'visitor_id', 'event_entity_id'],
    handler: async ({ info, principal }) => {
      const q = info.query;
      const f = collect({
        limit: int('query', 'limit', q.get('limit'), { min: 1, max: 1000, def: 100 }),
        before: time('query', 'before', q.get('before')),
        event_name: text('query', 'event_name', q.get('event_name'), { max: 100 }),
        visitor_id: text('query', 'visitor_id', q.get('visitor_id'), { max: 64 }),
        event_entity_id: text('query', 'event_entity_id', q.get('event_entity_id'), { max: 128 }),
      });
      if (!f.ok) return paramFail(f.error);
      // The cursor holds the filters it was made under (before as the instant, however it was spelt).
      const { limit, ...filters } = f.value;
      const kind = listKind('events', filters);
      const after = cursor(q.get('cursor'), kind, ['ts', 'id']);
      if (!after.ok) return paramFail(after.error);
      const { before, ...filter } = filters;
      const page = await deps.events.list(deps.db, principal.tenant.tenant_id, { ...filter, limit, after: after.value, before: before === null ? null : new Date(before).toISOString() });
      const last = page.rows[page.rows.length - 1];
      return {
        status: 200,
        body: {
          events: page.rows,
          next_cursor: page.last ? encodeCursor(kind, page.last) : null,
          // Kept for old clients; it skips rows that share the last row's occurred_at: page with next_cursor.
          next_before: page.last && last ? last.occurred_at : null,
        },
      };
    },
  });

  router.add({
    method: 'get', path: '/api/v1/tx/rejected', auth: 'secret', permission: 'view_raw_events', resource: 'tenant', query: ['limit', 'cursor'],
    handler: async ({ info, principal }) => {
      const p = collect({
        limit: int('query', 'limit', info.query.get('limit'), { min: 1, max: 1000, def: 100 }),
        after: cursor(info.query.get('cursor'), 'rejected', ['ts', 'id']),
      });
      if (!p.ok) return paramFail(p.error);
      const page = await deps.events.listRejected(deps.db, principal.tenant.tenant_id, p.value.limit, p.value.after);
      return { status: 200, body: { rejected: page.rows, next_cursor: page.last ? encodeCursor('rejected', page.last) : null } };
    },
  });
  return router;
}

const ORIGIN = /^https?:\/\/[^/\s]+$/;

/**
 * An origin as a browser sends it in the Origin header (lower-case host, no default port, IDN as punycode), or
 * why it can never match one. Stored as given, "https://Shop.Example:443" refused every browser request.
 */
export function normalOrigin(o: string): { ok: true; origin: string } | { ok: false; why: string } {
  if (o === '*') return { ok: true, origin: o };
  if (!ORIGIN.test(o)) return { ok: false, why: 'is not scheme://host[:port] (http or https, no path)' };
  if (o.slice(o.indexOf('//') + 2).includes('*')) return { ok: false, why: 'has a wildcard: list each origin, or use "*" alone for any' };
  let url: URL;
  try {
    url = new URL(o);
  } catch {
    return { ok: false, why: 'is not a valid URL' };
  }
  if (url.username || url.password || url.search || url.hash) return { ok: false, why: 'has credentials, a query or a fragment' };
  return { ok: true, origin: url.origin };
}

/** `allowed_origins`: a list of "scheme://host[:port]" or "*", each as browsers send it (normalOrigin). */
export function parseOrigins(v: unknown, field = 'allowed_origins'): Parsed<string[]> {
  const bad = (message: string): Parsed<never> => ({ ok: false, error: { code: 'invalid_field', in: 'body', field, message } });
  const shape = `${field} must be a list (at most 100) of origins like "https://shop.example.com" (scheme://host[:port], no path) or "*"`;
  if (!Array.isArray(v) || v.length > 100) return bad(`${shape}.`);
  const out: string[] = [];
  for (const [i, o] of v.entries()) {
    if (typeof o !== 'string' || o.length > 300 || stringProblem(o) !== null) return bad(`${shape}; item ${i} is not.`);
    const n = normalOrigin(o);
    if (!n.ok) return bad(`${shape}; ${JSON.stringify(o)} ${n.why}.`);
    if (!out.includes(n.origin)) out.push(n.origin);
  }
  return { ok: true, value: out };
}
