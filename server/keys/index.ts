// Scoped keys (issue 18 item 3): a tenant's admin key creates secret keys limited to a role and a scope.
//   POST   /api/v1/keys        {"role","scope":{organizers?,venues?,artists?,events?},"name"?} → 201 {"id","key","role","scope",…}
//                              (the key is shown this once)
//   GET    /api/v1/keys        {"keys":[{"id","kind","role","scope","name","key_hint","created_at","last_used_at","revoked_at"}]}
//   DELETE /api/v1/keys/{id}   revokes a key of this tenant: refused here at once, on every node within KEY_TTL_MS,
//                              and the dashboard tokens it minted end with it (live/key-status.ts)
// Permission manage_keys, and only a key of role admin (the whole tenant) may create or revoke keys: a limited
// key granted manage_keys by an override still cannot mint a key wider than itself.
// Tokens minted from a scoped key never exceed it: live/routes.ts (withinKey in live/token.ts).
import { parseScope, type Scope } from '../authz/principal.js';
import { isRole, ROLES, type Role } from '../authz/roles.js';
import { KEY_TTL_MS, type KeyResolver } from '../http/auth.js';
import { fail, paramFail } from '../http/errors.js';
import { BODY_ROOT, describeJson, id, idPage, nextCursor, pageOf, stringProblem, unknownBodyField, type Parsed } from '../http/params.js';
import type { Router } from '../http/router.js';
import type { Reply } from '../http/uws.js';
import type { Db } from '../store/db.js';
import { queries } from '../store/queries.js';
import { iso, isoOrNull } from '../store/rows.js';
import type { TenantStore } from '../store/tenants.js';

const Q = queries('keys.sql', ['set_key_name', 'list_tenant_keys', 'revoke_tenant_key', 'lock_admin_keys']);

/** Roles whose key is useless without ids: their data is always some organizers', venues', artists' or events'. */
const SCOPED_ROLES: Role[] = ['organizer', 'venue', 'venue_manager', 'artist', 'promoter', 'gate'];

export interface NewScopedKey {
  role: Role;
  scope: Scope;
  name: string | null;
}

export interface ScopedKeyView {
  id: number;
  kind: 'write' | 'secret';
  /** Null for a write key: it only ingests, it has no role on /api/v1. */
  role: Role | null;
  scope: Scope | null;
  name: string | null;
  key_hint: string;
  site_id: string | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

/** The body of POST /api/v1/keys. Pure. */
export function parseNewScopedKey(v: unknown): Parsed<NewScopedKey> {
  const bad = (field: string, message: string): Parsed<never> => ({ ok: false, error: { code: 'invalid_field', in: 'body', field, message } });
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return bad(BODY_ROOT, 'Send {"role","scope":{"organizers"?,"venues"?,"artists"?,"events"?},"name"?}.');
  const b = v as Record<string, unknown>;
  // An unknown field is refused, not dropped: {"kind":"write"} must not quietly yield a secret key.
  const extra = Object.keys(b).find((k) => !['role', 'scope', 'name'].includes(k));
  if (extra !== undefined) return { ok: false, error: unknownBodyField(extra, 'a scoped key takes role, scope and name (it is always a secret key; write keys come from the admin API).') };
  if (!isRole(b.role)) return bad('role', `role must be one of ${ROLES.join(', ')}; got ${b.role === undefined ? 'nothing' : describeJson(b.role)}.`);
  const s = parseScope(b.scope);
  if (!s.ok) return bad(s.field, s.message);
  const ids = Object.values(s.value).reduce((n, l) => n + (l?.length ?? 0), 0);
  if (b.role === 'admin' && ids > 0) return bad('scope', 'An admin key covers the whole tenant: send no scope (or {}).');
  if (SCOPED_ROLES.includes(b.role) && ids === 0) return bad('scope', `A ${b.role} key needs the ids it covers in scope (organizers, venues, artists and/or events).`);
  let name: string | null = null;
  if (b.name !== undefined && b.name !== null) {
    if (typeof b.name !== 'string' || b.name.trim().length === 0 || b.name.length > 200 || stringProblem(b.name) !== null) return bad('name', 'name must be 1-200 printable characters.');
    name = b.name.trim();
  }
  return { ok: true, value: { role: b.role, scope: s.value, name } };
}

function view(r: Record<string, unknown>): ScopedKeyView {
  const scope = parseScope(typeof r.scope === 'string' ? JSON.parse(r.scope) : r.scope);
  return {
    id: Number(r.id),
    kind: r.kind as ScopedKeyView['kind'],
    role: r.kind === 'write' ? null : ((isRole(r.role) ? r.role : 'media') as Role),
    scope: r.kind === 'write' ? null : scope.ok ? scope.value : {},
    name: (r.name as string | null) ?? null,
    key_hint: String(r.key_hint),
    site_id: (r.site_id as string | null) ?? null,
    created_at: iso(r.created_at),
    last_used_at: isoOrNull(r.last_used_at),
    revoked_at: isoOrNull(r.revoked_at),
  };
}

export interface KeysDeps {
  db: Db;
  tenants: TenantStore;
  /** The key cache: a revoked key is forgotten here (and its tokens end on this node at once). */
  keys: KeyResolver;
}

/** Only a key of role admin manages keys (see the header). */
const adminOnly = (role: string | null) => fail('forbidden', 'Only a key of role admin (the whole tenant) creates or revokes keys.', { permission: 'manage_keys', role });

export function registerKeyRoutes(router: Router, deps: KeysDeps): void {
  const { db } = deps;

  router.add({
    method: 'post', path: '/api/v1/keys', auth: 'secret', permission: 'manage_keys', resource: 'tenant', body: { limit: 64 * 1024, parse: parseNewScopedKey },
    audit: ({ body }, reply) => ({ action: 'key.created', target: `key:${(reply.body as { id: number }).id}`, details: { role: body.role, scope: body.scope, name: body.name } }),
    handler: async ({ principal, who, body }) => {
      if (who?.role !== 'admin') return adminOnly(who?.role ?? null);
      const tenant = principal.tenant.tenant_id;
      const created = await db.tx(async (q) => {
        const k = await deps.tenants.createKey(q, tenant, { kind: 'secret', role: body.role, scope: body.scope });
        if (body.name !== null) await q.query(Q.set_key_name, [k.id, body.name]);
        return k;
      });
      return { status: 201, body: { id: created.id, key: created.key, key_hint: created.key_hint, kind: 'secret', role: body.role, scope: body.scope, name: body.name } };
    },
  });

  router.add({
    method: 'get', path: '/api/v1/keys', auth: 'secret', permission: 'manage_keys', resource: 'tenant', query: ['limit', 'cursor'],
    handler: async ({ principal, info }) => {
      // Not the admin API's list of a tenant's keys (admin_keys:{tenant}): neither takes the other's cursor.
      const p = idPage(info.query, 'keys');
      if (!p.ok) return paramFail(p.error);
      const { rows } = await db.query<Record<string, unknown>>(Q.list_tenant_keys, [principal.tenant.tenant_id, p.value.after, p.value.limit + 1]);
      const page = pageOf(rows, p.value.limit);
      return { status: 200, body: { keys: page.rows.map(view), next_cursor: nextCursor('keys', page, (k) => [k.id]) } };
    },
  });

  /** Replies of a revocation that changed nothing (the key was revoked already): not audited. */
  const unchanged = new WeakSet<Reply>();
  router.add({
    method: 'del', path: '/api/v1/keys/:id', auth: 'secret', permission: 'manage_keys', resource: 'tenant', params: { id },
    // Audited when this call revoked it: a second revocation changes nothing (the first revoked_at stays).
    audit: ({ params }, reply) => (unchanged.has(reply) ? null : { action: 'key.revoked', target: `key:${params.id}` }),
    handler: async ({ principal, who, params }) => {
      if (who?.role !== 'admin') return adminOnly(who?.role ?? null);
      const tenant = principal.tenant.tenant_id;
      // The tenant's active admin keys are locked first, so two revocations at once cannot both pass the check.
      const r = await db.tx(async (q) => {
        const admins = (await q.query<{ id: string | number }>(Q.lock_admin_keys, [tenant])).rows.map((k) => Number(k.id));
        if (admins.length === 1 && admins[0] === params.id) return 'last_admin' as const;
        return (await q.query<Record<string, unknown>>(Q.revoke_tenant_key, [params.id, tenant])).rows;
      });
      if (r === 'last_admin') {
        return fail('conflict', `Key ${params.id} is this tenant's last active admin key: revoking it would lock the tenant out of /api/v1. Create another admin key first (POST /api/v1/keys {"role":"admin"}), or ask the operator (DELETE /api/admin/keys/${params.id}).`, { field: 'id', in: 'path' });
      }
      const rows = r;
      // Another tenant's key is as unknown as a missing one.
      if (rows.length === 0) return fail('unknown_key', { id: params.id });
      deps.keys.forget(params.id);
      const reply = { status: 200, body: { ...view(rows[0]), effective_within_s: KEY_TTL_MS / 1000 } };
      if (rows[0].newly_revoked !== true) unchanged.add(reply);
      return reply;
    },
  });
}
