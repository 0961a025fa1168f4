// Tenants, sites and keys. Keys are random, shown once, stored as SHA-256 digests.
import crypto from 'node:crypto';
import type { Queryable } from './db.js';
import { queries } from './queries.js';
import { iso, isoOrNull } from './rows.js';
import { parseScope, type Scope as AuthzScope } from '../authz/principal.js';
import { isRole, type Role } from '../authz/roles.js';

const Q = queries('tenants.sql', [
  'insert_tenant', 'insert_site', 'insert_site_if_new', 'insert_tenant_key', 'insert_key', 'lookup_key', 'list_tenants',
  'tenant_exists', 'list_keys', 'revoke_key', 'count_tenants', 'lock_first_tenant', 'rename_tenant', 'set_site_origins', 'get_key', 'set_tenant_time_zone',
]);

export interface Tenant {
  tenant_id: number;
  name: string;
  /** Empty or containing '*' means any origin. */
  allowed_origins: string[];
  /**
   * The tenant's secret for ids derived from the secret-key channel's idempotency keys (migration 048,
   * validate.ts derivedEventId). Held in memory for the request context only: never put in an answer or a log.
   */
  idempotency_salt: string;
}

export type OriginsFrom = 'key' | 'site' | 'tenant';

export interface KeyLookup {
  /** For a key with origins or a site of its own, `tenant.allowed_origins` holds that key's origins. */
  tenant: Tenant;
  kind: 'write' | 'secret';
  key_id: number;
  site_id: string | null;
  /** Whose list `tenant.allowed_origins` is: the key's own, its site's, or every site of the tenant (a refusal names it). */
  origins_from?: OriginsFrom;
  /** The source systems a write key may send (null or absent: any); others are rejected (source_not_allowed). */
  sources?: string[] | null;
  /** The key's role (issue 18, migration 007): absent = admin, the whole tenant, as every key before roles. */
  role?: Role;
  /** The key's scope; absent = {} (admin ignores it). */
  scope?: AuthzScope;
}

/** A key as the database knows it: usable, revoked, or unknown. */
export type KeyCheck = { ok: true; lookup: KeyLookup } | { ok: false; code: 'invalid_key' | 'revoked_key' };

export type KeyKind = 'write' | 'secret';

/** A key as listed to the operator: never the key itself, only its first characters. */
export interface KeyView {
  id: number;
  tenant_id: number;
  kind: KeyKind;
  key_hint: string;
  site_id: string | null;
  allowed_origins: string[] | null;
  sources: string[] | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface TenantView {
  tenant_id: number;
  name: string;
  /** IANA zone of the tenant's days (campaigns: the 06:00 rebalance, the daily limit); 'UTC' until set. */
  time_zone: string;
  created_at: string;
  sites: { site_id: string; allowed_origins: string[] }[];
  active_keys: { write: number; secret: number };
}

export interface CreatedTenant {
  tenant_id: number;
  name: string;
  write_key: string;
  /** The keys' ids (GET …/keys, DELETE /api/admin/keys/{id}; the audit log's key.created targets). */
  write_key_id: number;
  secret_key: string;
  secret_key_id: number;
  allowed_origins: string[];
  time_zone: string;
}

export const hashKey = (key: string): Buffer => crypto.createHash('sha256').update(key).digest();

function newKey(prefix: string): string {
  return `${prefix}_${crypto.randomBytes(24).toString('base64url')}`;
}

const PREFIX: Record<KeyKind, string> = { write: 'tx_pk', secret: 'tx_sk' };
const hintOf = (key: string) => key.slice(0, 10) + '…';

export interface NewKey {
  kind: KeyKind;
  site_id?: string | null;
  allowed_origins?: string[] | null;
  /** Write keys: the source systems it may send (absent: any). */
  sources?: string[] | null;
  /** Issue 18: absent = admin with an empty scope (the whole tenant). Checked by the caller (authz/principal.ts parseScope). */
  role?: Role;
  scope?: AuthzScope;
}

export interface TenantChange {
  name?: string;
  time_zone?: string;
  /** The site whose origins `allowed_origins` replaces (default "default"). */
  site_id?: string;
  allowed_origins?: string[];
}

export interface TenantStore {
  create(q: Queryable, name: string, allowedOrigins: string[], timeZone?: string): Promise<CreatedTenant>;
  /** Also stamps last_used_at, at most once a minute per key (the resolver calls this every few seconds at most). */
  lookupKey(q: Queryable, key: string): Promise<KeyCheck>;
  count(q: Queryable): Promise<number>;
  /** Creates the tenant only in a database without any (the demo's first start), once across nodes starting together; null otherwise. */
  createFirst(q: Queryable, name: string): Promise<CreatedTenant | null>;
  /** Tenants by id, ascending, after `afterId`. */
  list(q: Queryable, limit: number, afterId: number | null): Promise<TenantView[]>;
  exists(q: Queryable, tenantId: number): Promise<boolean>;
  /** One tenant as `list` shows it; null when there is none. */
  get(q: Queryable, tenantId: number): Promise<TenantView | null>;
  /** Renames and/or replaces one site's allowed origins (the site is created when new); false: no such tenant. */
  update(q: Queryable, tenantId: number, change: TenantChange): Promise<boolean>;
  /** One key (never the key itself); null when there is none. */
  getKey(q: Queryable, keyId: number): Promise<KeyView | null>;
  /** A new key; the plaintext is returned here only. A new site_id gets a site row with the given origins. */
  createKey(q: Queryable, tenantId: number, k: NewKey): Promise<{ id: number; kind: KeyKind; key: string; key_hint: string }>;
  /** Ascending by id after `afterId` (keyset paging). */
  listKeys(q: Queryable, tenantId: number, limit: number, afterId: number | null): Promise<KeyView[]>;
  /** Revokes once (a second call keeps the first revoked_at; `changed` false); null when there is no such key. */
  revokeKey(q: Queryable, keyId: number): Promise<{ key: KeyView; changed: boolean } | null>;
}

/**
 * The role and scope stored with a key. A value this server cannot read (a role removed since, a scope edited by
 * hand) gives the role with nothing in scope, never admin: a key must not gain access through a bad row.
 */
function storedRole(role: string | null, raw: unknown): { role?: Role; scope?: AuthzScope } {
  if (role === null || role === undefined) return {};
  const scope = parseScope(typeof raw === 'string' ? safeJson(raw) : raw);
  if (!isRole(role)) return { role: 'media', scope: {} };
  return { role, scope: scope.ok ? scope.value : {} };
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null; // parseScope turns null into {}: nothing in scope for a non-admin role
  }
}

function tenantView(r: Record<string, unknown>): TenantView {
  return {
    tenant_id: Number(r.tenant_id),
    name: String(r.name),
    time_zone: String(r.time_zone),
    created_at: iso(r.created_at),
    sites: (typeof r.sites === 'string' ? JSON.parse(r.sites) : r.sites) as TenantView['sites'],
    active_keys: { write: Number(r.write_keys), secret: Number(r.secret_keys) },
  };
}

function keyView(r: Record<string, unknown>): KeyView {
  return {
    id: Number(r.id),
    tenant_id: Number(r.tenant_id),
    kind: r.kind as KeyKind,
    key_hint: String(r.key_hint),
    site_id: (r.site_id as string | null) ?? null,
    allowed_origins: (r.allowed_origins as string[] | null) ?? null,
    sources: (r.sources as string[] | null) ?? null,
    created_at: iso(r.created_at),
    last_used_at: isoOrNull(r.last_used_at),
    revoked_at: isoOrNull(r.revoked_at),
  };
}

export function createTenantStore(): TenantStore {
  const list: TenantStore['list'] = async (q, limit, afterId) => (await q.query<Record<string, unknown>>(Q.list_tenants, [limit, afterId])).rows.map(tenantView);
  return {
    async create(q, name, allowedOrigins, timeZone = 'UTC') {
      const { rows } = await q.query<{ tenant_id: string }>(Q.insert_tenant, [name, timeZone]);
      const tenantId = Number(rows[0].tenant_id);
      await q.query(Q.insert_site, [tenantId, 'default', allowedOrigins]);
      const writeKey = newKey('tx_pk');
      const secretKey = newKey('tx_sk');
      const ids: number[] = [];
      for (const [kind, key] of [['write', writeKey], ['secret', secretKey]] as const) {
        const { rows: k } = await q.query<{ id: string }>(Q.insert_tenant_key, [hashKey(key), tenantId, kind, hintOf(key)]);
        ids.push(Number(k[0].id));
      }
      return { tenant_id: tenantId, name, write_key: writeKey, write_key_id: ids[0], secret_key: secretKey, secret_key_id: ids[1], allowed_origins: allowedOrigins, time_zone: timeZone };
    },
    async lookupKey(q, key) {
      const { rows } = await q.query<{ tenant_id: string; name: string; idempotency_salt: string; kind: KeyKind; key_id: string; site_id: string | null; revoked: boolean; origins: string[] | null; origins_from: OriginsFrom; role: string | null; scope: unknown; sources: string[] | null }>(
        Q.lookup_key,
        [hashKey(key)],
      );
      if (rows.length === 0) return { ok: false, code: 'invalid_key' };
      const r = rows[0];
      if (r.revoked) return { ok: false, code: 'revoked_key' };
      return {
        ok: true,
        lookup: { kind: r.kind, key_id: Number(r.key_id), site_id: r.site_id, sources: r.sources ?? null, tenant: { tenant_id: Number(r.tenant_id), name: r.name, allowed_origins: r.origins ?? [], idempotency_salt: r.idempotency_salt }, origins_from: r.origins_from, ...storedRole(r.role, r.scope) },
      };
    },
    list,
    async get(q, tenantId) {
      // The list's page of one, starting just before this id.
      const [t] = await list(q, 1, tenantId - 1);
      return t?.tenant_id === tenantId ? t : null;
    },
    async update(q, tenantId, change) {
      if ((await q.query(Q.tenant_exists, [tenantId])).rows.length === 0) return false;
      if (change.name !== undefined) await q.query(Q.rename_tenant, [tenantId, change.name]);
      if (change.time_zone !== undefined) await q.query(Q.set_tenant_time_zone, [tenantId, change.time_zone]);
      if (change.allowed_origins !== undefined) await q.query(Q.set_site_origins, [tenantId, change.site_id ?? 'default', change.allowed_origins]);
      return true;
    },
    async getKey(q, keyId) {
      const { rows } = await q.query<Record<string, unknown>>(Q.get_key, [keyId]);
      return rows[0] ? keyView(rows[0]) : null;
    },
    async exists(q, tenantId) {
      const { rows } = await q.query(Q.tenant_exists, [tenantId]);
      return rows.length > 0;
    },
    async createKey(q, tenantId, k) {
      const key = newKey(PREFIX[k.kind]);
      if (k.site_id) {
        await q.query(Q.insert_site_if_new, [tenantId, k.site_id, k.allowed_origins ?? []]);
      }
      const { rows } = await q.query<{ id: string }>(
        Q.insert_key,
        [hashKey(key), tenantId, k.kind, hintOf(key), k.site_id ?? null, k.allowed_origins ?? null, k.role ?? null, k.scope ? JSON.stringify(k.scope) : null, k.sources ?? null],
      );
      return { id: Number(rows[0].id), kind: k.kind, key, key_hint: hintOf(key) };
    },
    async listKeys(q, tenantId, limit, afterId) {
      const { rows } = await q.query<Record<string, unknown>>(Q.list_keys, [tenantId, afterId, limit]);
      return rows.map(keyView);
    },
    async revokeKey(q, keyId) {
      const { rows } = await q.query<Record<string, unknown>>(Q.revoke_key, [keyId]);
      return rows.length ? { key: keyView(rows[0]), changed: rows[0].newly_revoked === true } : null;
    },
    async count(q) {
      const { rows } = await q.query<{ n: string }>(Q.count_tenants);
      return Number(rows[0].n);
    },
    async createFirst(q, name) {
      await q.query(Q.lock_first_tenant);
      return (await this.count(q)) === 0 ? this.create(q, name, []) : null;
    },
  };
}
