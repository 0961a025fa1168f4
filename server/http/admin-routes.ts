// Operator key management (ADMIN_TOKEN):
//   GET    /api/admin/tenants[?limit&cursor]          tenants, their sites and active key counts
//   POST   /api/admin/tenants/{tenant_id}/keys        {"kind":"write"|"secret","site_id"?,"allowed_origins"?} → 201 {"id","kind","key"} (shown once)
//   GET    /api/admin/tenants/{tenant_id}/keys        {"keys":[{"id","kind","key_hint","site_id","created_at","last_used_at","revoked_at"}]}
//   DELETE /api/admin/keys/{id}                       revokes: refused here at once, on every other node within KEY_TTL_MS
import { errorReply, type Reply, type TemplatedApp } from './uws.js';
import { KEY_TTL_MS } from './auth.js';
import { adminRefused, isAdmin, parseOrigins, type ApiRouteDeps, type route, type RouteCtx } from './api-routes.js';
import { collect, cursor, encodeCursor, id, int, paramReply, pathSegments, type Parsed } from './params.js';
import type { NewKey } from '../store/tenants.js';

type Wrap = (fn: (ctx: RouteCtx) => Promise<Reply>, opts?: { body?: boolean }) => ReturnType<typeof route>;

const SITE_ID = /^[A-Za-z0-9_.-]{1,50}$/;

/** The request body of a new key. Pure. */
export function parseNewKey(v: unknown): Parsed<NewKey> {
  const bad = (field: string, message: string): Parsed<never> => ({ ok: false, error: { code: 'invalid_field', in: 'body', field, message } });
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return bad('', 'Send {"kind":"write"|"secret","site_id"?,"allowed_origins"?}.');
  const b = v as Record<string, unknown>;
  if (b.kind !== 'write' && b.kind !== 'secret') return bad('kind', `kind must be "write" (browser/app key) or "secret" (server key); got ${JSON.stringify(b.kind ?? null)}.`);
  let siteId: string | null = null;
  if (b.site_id !== undefined && b.site_id !== null) {
    if (typeof b.site_id !== 'string' || !SITE_ID.test(b.site_id)) return bad('site_id', 'site_id must be 1-50 characters of letters, digits, "_", "." or "-".');
    siteId = b.site_id;
  }
  let origins: string[] | null = null;
  if (b.allowed_origins !== undefined && b.allowed_origins !== null) {
    if (b.kind === 'secret') return bad('allowed_origins', 'allowed_origins applies to write keys only: a secret key never belongs in a browser.');
    const o = parseOrigins(b.allowed_origins);
    if (!o.ok) return o;
    origins = o.value;
  }
  return { ok: true, value: { kind: b.kind, site_id: siteId, allowed_origins: origins } };
}

export function registerAdminRoutes(app: TemplatedApp, deps: ApiRouteDeps, r: Wrap): void {
  const admin = (fn: (ctx: RouteCtx) => Promise<Reply>, opts?: { body?: boolean }) =>
    r(async (ctx) => (isAdmin(ctx.info, deps.adminToken) ? fn(ctx) : adminRefused()), opts);
  /** The tenant id of /api/admin/tenants/{tenant_id}/keys, which must exist. */
  const tenantOf = async (ctx: RouteCtx): Promise<{ tenantId: number } | { reply: Reply }> => {
    const seg = pathSegments(ctx.info.url);
    const t = seg.ok ? id('path', 'tenant_id', seg.value[3]) : seg;
    if (!t.ok) return { reply: paramReply(t.error) };
    if (!(await deps.tenants.exists(deps.db, t.value))) return { reply: errorReply(404, 'unknown_tenant', `No tenant ${t.value}.`) };
    return { tenantId: t.value };
  };

  app.get('/api/admin/tenants', admin(async (ctx) => {
    const q = ctx.info.query;
    const p = collect({
      limit: int('query', 'limit', q.get('limit'), { min: 1, max: 1000, def: 100 }),
      after: cursor(q.get('cursor'), 'tenants', ['id']),
    });
    if (!p.ok) return paramReply(p.error);
    const tenants = await deps.tenants.list(deps.db, p.value.limit, p.value.after ? Number(p.value.after[0]) : null);
    const last = tenants.length === p.value.limit ? tenants[tenants.length - 1] : null;
    return { status: 200, body: { tenants, next_cursor: last ? encodeCursor('tenants', [String(last.tenant_id)]) : null } };
  }));

  app.post('/api/admin/tenants/:tenant_id/keys', admin(async (ctx) => {
    const t = await tenantOf(ctx);
    if ('reply' in t) return t.reply;
    const body = await ctx.json();
    if (!body.ok) return body.reply;
    const k = parseNewKey(body.value);
    if (!k.ok) return paramReply(k.error);
    const created = await deps.db.tx((q) => deps.tenants.createKey(q, t.tenantId, k.value));
    deps.log.info({ tenant_id: t.tenantId, key_id: created.id, kind: created.kind }, 'key created');
    return { status: 201, body: { id: created.id, kind: created.kind, key: created.key, key_hint: created.key_hint, site_id: k.value.site_id, allowed_origins: k.value.allowed_origins } };
  }, { body: true }));

  app.get('/api/admin/tenants/:tenant_id/keys', admin(async (ctx) => {
    const t = await tenantOf(ctx);
    if ('reply' in t) return t.reply;
    return { status: 200, body: { keys: await deps.tenants.listKeys(deps.db, t.tenantId) } };
  }));

  app.del('/api/admin/keys/:id', admin(async (ctx) => {
    const seg = pathSegments(ctx.info.url);
    const k = seg.ok ? id('path', 'id', seg.value[3]) : seg;
    if (!k.ok) return paramReply(k.error);
    const revoked = await deps.tenants.revokeKey(deps.db, k.value);
    if (!revoked) return errorReply(404, 'unknown_key', `No key ${k.value}.`);
    deps.keys.forget(revoked.id);
    deps.log.info({ tenant_id: revoked.tenant_id, key_id: revoked.id }, 'key revoked');
    return { status: 200, body: { ...revoked, effective_within_s: KEY_TTL_MS / 1000 } };
  }));
}
