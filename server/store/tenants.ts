// Tenants, sites and keys. Keys are random, shown once, stored as SHA-256 digests.
import crypto from 'node:crypto';
import type { Queryable } from './db.js';

export interface Tenant {
  tenant_id: number;
  name: string;
  /** Empty or containing '*' means any origin. */
  allowed_origins: string[];
}

export interface KeyLookup {
  tenant: Tenant;
  kind: 'write' | 'secret';
}

export interface CreatedTenant {
  tenant_id: number;
  name: string;
  write_key: string;
  secret_key: string;
  allowed_origins: string[];
}

export const hashKey = (key: string): Buffer => crypto.createHash('sha256').update(key).digest();

function newKey(prefix: string): string {
  return `${prefix}_${crypto.randomBytes(24).toString('base64url')}`;
}

export interface TenantStore {
  create(q: Queryable, name: string, allowedOrigins: string[]): Promise<CreatedTenant>;
  lookupKey(q: Queryable, key: string): Promise<KeyLookup | null>;
  count(q: Queryable): Promise<number>;
}

export function createTenantStore(): TenantStore {
  return {
    async create(q, name, allowedOrigins) {
      const { rows } = await q.query<{ tenant_id: string }>('INSERT INTO tenants (name) VALUES ($1) RETURNING tenant_id::text', [name]);
      const tenantId = Number(rows[0].tenant_id);
      await q.query('INSERT INTO tenant_sites (tenant_id, site_id, allowed_origins) VALUES ($1, $2, $3)', [tenantId, 'default', allowedOrigins]);
      const writeKey = newKey('tx_pk');
      const secretKey = newKey('tx_sk');
      for (const [kind, key] of [['write', writeKey], ['secret', secretKey]] as const) {
        await q.query('INSERT INTO tenant_keys (key_hash, tenant_id, kind, key_hint) VALUES ($1, $2, $3, $4)', [
          hashKey(key), tenantId, kind, key.slice(0, 10) + '…',
        ]);
      }
      return { tenant_id: tenantId, name, write_key: writeKey, secret_key: secretKey, allowed_origins: allowedOrigins };
    },
    async lookupKey(q, key) {
      const { rows } = await q.query<{ tenant_id: string; name: string; kind: 'write' | 'secret'; origins: string[] | null }>(
        `SELECT t.tenant_id::text, t.name, k.kind,
           (SELECT array_agg(DISTINCT o) FROM tenant_sites s, unnest(s.allowed_origins) o WHERE s.tenant_id = t.tenant_id) AS origins
         FROM tenant_keys k JOIN tenants t USING (tenant_id)
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL`,
        [hashKey(key)],
      );
      if (rows.length === 0) return null;
      const r = rows[0];
      return { kind: r.kind, tenant: { tenant_id: Number(r.tenant_id), name: r.name, allowed_origins: r.origins ?? [] } };
    },
    async count(q) {
      const { rows } = await q.query<{ n: string }>('SELECT count(*)::text AS n FROM tenants');
      return Number(rows[0].n);
    },
  };
}
