// Operator key management (ADMIN_TOKEN):
//   GET    /api/admin/tenants[?limit&cursor]          tenants, their sites and active key counts
//   POST   /api/admin/tenants/{tenant_id}/keys        {"kind":"write"|"secret","site_id"?,"allowed_origins"?,"sources"?} → 201 {"id","kind","key"} (shown once)
//   GET    /api/admin/tenants/{tenant_id}/keys        {"keys":[{"id","kind","key_hint","site_id","allowed_origins","sources","created_at","last_used_at","revoked_at"}]}
//   GET    /api/admin/tenants/{tenant_id}             one tenant, as in the list
//   PATCH  /api/admin/tenants/{tenant_id}             {"name"?,"allowed_origins"?,"site_id"?} → the tenant (rename; replace a site's origins)
//   GET    /api/admin/keys/{id}                       one key (never the key itself)
//   DELETE /api/admin/keys/{id}                       revokes: refused here at once, on every other node within KEY_TTL_MS
//   POST   /api/admin/tenants/{tenant_id}/tokens      a dashboard token as POST /api/v1/tokens mints, covering what its
//                                                     role may in the whole tenant (the operator holds no tenant key)
import { KEY_TTL_MS } from './auth.js';
import { parseNewTenant, parseOrigins, parseTimeZone, type ApiRouteDeps } from './api-routes.js';
import { fail, NotFoundError, paramFail } from './errors.js';
import { BODY_ROOT, describeJson, id, idPage, nextCursor, pageOf, unknownBodyField, type Parsed } from './params.js';
import type { Router } from './router.js';
import type { Reply } from './uws.js';
import { PUBLIC_SOURCES } from '../ingest/registry.js';
import type { NewKey, TenantChange } from '../store/tenants.js';
import { parseTokenRequest } from '../live/token.js';
import { tokenScopeFields } from '../live/routes.js';

const SITE_ID = /^[A-Za-z0-9_.-]{1,50}$/;
const siteIdProblem = (v: unknown): string | null => (typeof v === 'string' && SITE_ID.test(v) ? null : 'site_id must be 1-50 characters of letters, digits, "_", "." or "-".');

/** The request body of a new key. Pure. */
export function parseNewKey(v: unknown): Parsed<NewKey> {
  const bad = (field: string, message: string): Parsed<never> => ({ ok: false, error: { code: 'invalid_field', in: 'body', field, message } });
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return bad(BODY_ROOT, 'Send {"kind":"write"|"secret","site_id"?,"allowed_origins"?,"sources"?}.');
  const b = v as Record<string, unknown>;
  // A misspelt limit ("source" for sources) would make a key without it: one that may send anything.
  const extra = Object.keys(b).find((k) => !['kind', 'site_id', 'allowed_origins', 'sources'].includes(k));
  if (extra !== undefined) return { ok: false, error: unknownBodyField(extra, 'a new key takes kind, site_id, allowed_origins and sources.') };
  if (b.kind === undefined) return bad('kind', 'kind is missing: send "write" (browser/app key) or "secret" (server key).');
  if (b.kind !== 'write' && b.kind !== 'secret') return bad('kind', `kind must be "write" (browser/app key) or "secret" (server key); got ${describeJson(b.kind)}.`);
  let siteId: string | null = null;
  if (b.site_id !== undefined && b.site_id !== null) {
    const problem = siteIdProblem(b.site_id);
    if (problem) return bad('site_id', problem);
    siteId = b.site_id as string;
  }
  /** A field only a write key takes: absent or null is none; on a secret key it is refused with why. */
  const writeOnly = <T>(field: 'allowed_origins' | 'sources', why: string, parse: (x: unknown) => Parsed<T>): Parsed<T | null> => {
    if (b[field] === undefined || b[field] === null) return { ok: true, value: null };
    if (b.kind === 'secret') return bad(field, `${field} applies to write keys only: ${why}.`);
    return parse(b[field]);
  };
  const origins = writeOnly('allowed_origins', 'a secret key never belongs in a browser', parseOrigins);
  if (!origins.ok) return origins;
  const sources = writeOnly('sources', 'a secret key sends server events of any source', parseSources);
  if (!sources.ok) return sources;
  return { ok: true, value: { kind: b.kind, site_id: siteId, allowed_origins: origins.value, sources: sources.value } };
}

/** A write key's source systems: a non-empty list of PUBLIC_SOURCES (server truth takes the secret key), each once. Pure. */
export function parseSources(v: unknown): Parsed<string[]> {
  const allowed: readonly string[] = PUBLIC_SOURCES;
  if (!Array.isArray(v) || v.length === 0 || v.length > allowed.length || !v.every((x) => typeof x === 'string' && allowed.includes(x))) {
    return { ok: false, error: { code: 'invalid_field', in: 'body', field: 'sources', message: `sources must be a non-empty list of ${allowed.map((x) => JSON.stringify(x)).join(', ')} (e.g. ["web"] for a site's public key, ["scanner"] for gate devices).` } };
  }
  return { ok: true, value: [...new Set(v as string[])] };
}

/** The body of PATCH /api/admin/tenants/{id}: a new name and/or one site's origins (default site "default"). Pure. */
export function parseTenantChange(v: unknown): Parsed<TenantChange> {
  const bad = (field: string, message: string): Parsed<never> => ({ ok: false, error: { code: 'invalid_field', in: 'body', field, message } });
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return bad(BODY_ROOT, 'Send {"name"?,"allowed_origins"?,"site_id"?,"time_zone"?}.');
  const b = v as Record<string, unknown>;
  const extra = Object.keys(b).find((k) => !['name', 'allowed_origins', 'site_id', 'time_zone'].includes(k));
  if (extra !== undefined) return { ok: false, error: unknownBodyField(extra, 'a tenant change takes name, allowed_origins, site_id and time_zone.') };
  if (b.site_id !== undefined && b.allowed_origins === undefined) return bad('site_id', 'site_id names the site whose allowed_origins are replaced: send allowed_origins with it.');
  if (b.name === undefined && b.allowed_origins === undefined && b.time_zone === undefined) return bad(BODY_ROOT, 'Send a new name, allowed_origins and/or time_zone.');
  const out: TenantChange = {};
  if (b.name !== undefined) {
    const n = parseNewTenant({ name: b.name });
    if (!n.ok) return n;
    out.name = n.value.name;
  }
  if (b.time_zone !== undefined) {
    const tz = parseTimeZone(b.time_zone);
    if (!tz.ok) return tz;
    out.time_zone = tz.value;
  }
  if (b.site_id !== undefined) {
    const problem = siteIdProblem(b.site_id);
    if (problem) return bad('site_id', problem);
    out.site_id = b.site_id as string;
  }
  if (b.allowed_origins !== undefined) {
    const o = parseOrigins(b.allowed_origins);
    if (!o.ok) return o;
    out.allowed_origins = o.value;
  }
  return { ok: true, value: out };
}

export function registerAdminRoutes(router: Router, deps: ApiRouteDeps): void {
  /** The tenant of /api/admin/tenants/{tenant_id}/keys must exist. */
  const mustExist = async (tenantId: number): Promise<void> => {
    if (!(await deps.tenants.exists(deps.db, tenantId))) throw new NotFoundError('unknown_tenant', `No tenant ${tenantId}.`);
  };

  router.add({
    method: 'get', path: '/api/admin/tenants', auth: 'admin', query: ['limit', 'cursor'],
    handler: async ({ info }) => {
      const p = idPage(info.query, 'tenants');
      if (!p.ok) return paramFail(p.error);
      const page = pageOf(await deps.tenants.list(deps.db, p.value.limit + 1, p.value.after), p.value.limit);
      return { status: 200, body: { tenants: page.rows, next_cursor: nextCursor('tenants', page, (t) => [t.tenant_id]) } };
    },
  });

  router.add({
    method: 'get', path: '/api/admin/tenants/:tenant_id', auth: 'admin', params: { tenant_id: id }, query: [],
    handler: async ({ params }) => {
      const t = await deps.tenants.get(deps.db, params.tenant_id);
      return t ? { status: 200, body: t } : fail('unknown_tenant', { id: params.tenant_id });
    },
  });

  router.add({
    method: 'patch', path: '/api/admin/tenants/:tenant_id', auth: 'admin', params: { tenant_id: id }, body: { parse: parseTenantChange },
    audit: ({ params, body }) => ({ action: 'tenant.updated', target: `tenant:${params.tenant_id}`, tenant: params.tenant_id, details: { ...body } }),
    handler: async ({ params, body }) => {
      const t = await deps.db.tx(async (q) => ((await deps.tenants.update(q, params.tenant_id, body)) ? deps.tenants.get(q, params.tenant_id) : null));
      if (!t) return fail('unknown_tenant', { id: params.tenant_id });
      deps.log.info({ tenant_id: params.tenant_id, change: Object.keys(body) }, 'tenant updated');
      // New origins reach the key cache within KEY_TTL_MS on every node, like a revocation.
      return { status: 200, body: { ...t, effective_within_s: KEY_TTL_MS / 1000 } };
    },
  });

  router.add({
    method: 'post', path: '/api/admin/tenants/:tenant_id/keys', auth: 'admin', params: { tenant_id: id }, body: { parse: parseNewKey },
    audit: ({ params, body }, reply) => ({ action: 'key.created', target: `key:${(reply.body as { id: number }).id}`, tenant: params.tenant_id, details: { kind: body.kind, site_id: body.site_id ?? null, sources: body.sources ?? null } }),
    handler: async ({ params, body }) => {
      await mustExist(params.tenant_id);
      const created = await deps.db.tx((q) => deps.tenants.createKey(q, params.tenant_id, body));
      deps.log.info({ tenant_id: params.tenant_id, key_id: created.id, kind: created.kind }, 'key created');
      return { status: 201, body: { id: created.id, kind: created.kind, key: created.key, key_hint: created.key_hint, site_id: body.site_id, allowed_origins: body.allowed_origins, sources: body.sources } };
    },
  });

  // SPEC "Websocket API": tokens are minted by the admin API too. No minting key: the token is not held to one
  // (nor ended by revoking one); it ends when it expires or LIVE_TOKEN_SECRET changes.
  const mint = deps.mintToken;
  if (mint) {
    router.add({
      method: 'post', path: '/api/admin/tenants/:tenant_id/tokens', auth: 'admin', params: { tenant_id: id }, body: {},
      audit: ({ params }, reply) => {
        const { token: _token, ...shown } = reply.body as { token: string; role: string };
        return { action: 'token.minted', target: `role:${shown.role}`, tenant: params.tenant_id, details: shown };
      },
      handler: async ({ params, body }) => {
        const req = parseTokenRequest(params.tenant_id, body);
        if (!req.ok) return fail('invalid_field', req.message, { field: req.field, in: 'body' });
        await mustExist(params.tenant_id);
        const minted = mint(req.scope, req.ttlS);
        return { status: 201, body: { ...minted, role: req.scope.role, ...tokenScopeFields(req.scope), key_id: null } };
      },
    });
  }

  router.add({
    method: 'get', path: '/api/admin/tenants/:tenant_id/keys', auth: 'admin', params: { tenant_id: id }, query: ['limit', 'cursor'],
    handler: async ({ params, info }) => {
      // Its own kind, naming the tenant: the tenant API's /api/v1/keys and another tenant's list take none of its cursors.
      const kind = `admin_keys:${params.tenant_id}`;
      const p = idPage(info.query, kind);
      if (!p.ok) return paramFail(p.error);
      await mustExist(params.tenant_id);
      const page = pageOf(await deps.tenants.listKeys(deps.db, params.tenant_id, p.value.limit + 1, p.value.after), p.value.limit);
      return { status: 200, body: { keys: page.rows, next_cursor: nextCursor(kind, page, (k) => [k.id]) } };
    },
  });

  router.add({
    method: 'get', path: '/api/admin/keys/:id', auth: 'admin', params: { id }, query: [],
    handler: async ({ params }) => {
      const k = await deps.tenants.getKey(deps.db, params.id);
      return k ? { status: 200, body: k } : fail('unknown_key', { id: params.id });
    },
  });

  /** Replies of a revocation that changed nothing (the key was revoked already): not audited. */
  const unchanged = new WeakSet<Reply>();
  router.add({
    method: 'del', path: '/api/admin/keys/:id', auth: 'admin', params: { id },
    // Audited when this call revoked it: a second revocation changes nothing (the first revoked_at stays).
    audit: ({ params }, reply) => (unchanged.has(reply) ? null : { action: 'key.revoked', target: `key:${params.id}`, tenant: (reply.body as { tenant_id: number }).tenant_id }),
    handler: async ({ params }) => {
      const r = await deps.tenants.revokeKey(deps.db, params.id);
      if (!r) return fail('unknown_key', { id: params.id });
      const revoked = r.key;
      deps.keys.forget(revoked.id);
      if (r.changed) deps.log.info({ tenant_id: revoked.tenant_id, key_id: revoked.id }, 'key revoked');
      const reply = { status: 200, body: { ...revoked, effective_within_s: KEY_TTL_MS / 1000 } };
      if (!r.changed) unchanged.add(reply);
      return reply;
    },
  });
}
