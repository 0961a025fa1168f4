-- Tenants, sites and keys (server/store/tenants.ts). Keys are stored as SHA-256 digests ($1 of key lookups).

-- name: insert_tenant
INSERT INTO tenants (name, time_zone) VALUES ($1, $2) RETURNING tenant_id::text;

-- name: insert_site
INSERT INTO tenant_sites (tenant_id, site_id, allowed_origins) VALUES ($1, $2, $3);

-- name: insert_site_if_new
INSERT INTO tenant_sites (tenant_id, site_id, allowed_origins) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING;

-- name: insert_tenant_key
INSERT INTO tenant_keys (key_hash, tenant_id, kind, key_hint) VALUES ($1, $2, $3, $4) RETURNING id::text;

-- name: insert_key
-- role/scope: migration 008 (issue 18); $7/$8 NULL = 'admin' / {} (the whole tenant).
INSERT INTO tenant_keys (key_hash, tenant_id, kind, key_hint, site_id, allowed_origins, role, scope, sources)
VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7, 'admin'), COALESCE($8::jsonb, '{}'::jsonb), $9::text[]) RETURNING id::text;

-- name: lookup_key
-- The UPDATE in the CTE runs even though nothing reads it; it writes at most once a minute per key.
-- idempotency_salt (migration 048) keys the ids the secret-key channel derives; the caller never answers it.
WITH touch AS (
  UPDATE tenant_keys SET last_used_at = now()
  WHERE key_hash = $1 AND revoked_at IS NULL AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds')
  RETURNING 1)
SELECT t.tenant_id::text, t.name, t.idempotency_salt, k.kind, k.id::text AS key_id, k.site_id, k.revoked_at IS NOT NULL AS revoked, k.role, k.scope, k.sources,
  COALESCE(k.allowed_origins, (SELECT array_agg(DISTINCT o) FROM tenant_sites s, unnest(s.allowed_origins) o
    WHERE s.tenant_id = t.tenant_id AND (k.site_id IS NULL OR s.site_id = k.site_id))) AS origins,
  CASE WHEN k.allowed_origins IS NOT NULL THEN 'key' WHEN k.site_id IS NOT NULL THEN 'site' ELSE 'tenant' END AS origins_from
FROM tenant_keys k JOIN tenants t USING (tenant_id)
WHERE k.key_hash = $1;

-- name: list_tenants
-- Ascending by id after $2 (keyset paging); ordered by the bigint column, not the text one the select prints.
SELECT t.tenant_id::text, t.name, t.time_zone, t.created_at,
  COALESCE((SELECT json_agg(json_build_object('site_id', s.site_id, 'allowed_origins', s.allowed_origins) ORDER BY s.site_id)
    FROM tenant_sites s WHERE s.tenant_id = t.tenant_id), '[]') AS sites,
  (SELECT count(*) FROM tenant_keys k WHERE k.tenant_id = t.tenant_id AND k.kind = 'write' AND k.revoked_at IS NULL)::int AS write_keys,
  (SELECT count(*) FROM tenant_keys k WHERE k.tenant_id = t.tenant_id AND k.kind = 'secret' AND k.revoked_at IS NULL)::int AS secret_keys
FROM tenants t WHERE ($2::bigint IS NULL OR t.tenant_id > $2) ORDER BY t.tenant_id LIMIT $1;

-- name: rename_tenant
UPDATE tenants SET name = $2 WHERE tenant_id = $1 RETURNING tenant_id::text;

-- name: set_tenant_time_zone
-- $2: an IANA zone, checked by the admin API (migration 041).
UPDATE tenants SET time_zone = $2 WHERE tenant_id = $1 RETURNING tenant_id::text;

-- name: set_site_origins
-- A site's allowed origins, replaced (the site is created when new); keys with origins of their own keep them.
INSERT INTO tenant_sites (tenant_id, site_id, allowed_origins) VALUES ($1, $2, $3)
ON CONFLICT (tenant_id, site_id) DO UPDATE SET allowed_origins = EXCLUDED.allowed_origins;

-- name: get_key
SELECT id::text, tenant_id::text, kind, key_hint, site_id, allowed_origins, sources, created_at, last_used_at, revoked_at
FROM tenant_keys WHERE id = $1;

-- name: tenant_exists
SELECT 1 FROM tenants WHERE tenant_id = $1;

-- name: list_keys
-- Ascending by id after $2 (keyset paging); ordered by the bigint column, not the text one the select prints.
SELECT id::text, tenant_id::text, kind, key_hint, site_id, allowed_origins, sources, created_at, last_used_at, revoked_at
FROM tenant_keys k WHERE k.tenant_id = $1 AND ($2::bigint IS NULL OR k.id > $2) ORDER BY k.id LIMIT $3;

-- name: revoke_key
-- A second revocation keeps the first revoked_at. newly_revoked: this call revoked it (the row is locked before it
-- is read: of two revocations at once, only one says so).
WITH prior AS (SELECT id, revoked_at FROM tenant_keys WHERE id = $1 FOR UPDATE)
UPDATE tenant_keys k SET revoked_at = COALESCE(k.revoked_at, now()) FROM prior WHERE k.id = prior.id
RETURNING k.id::text, k.tenant_id::text, k.kind, k.key_hint, k.site_id, k.allowed_origins, k.sources, k.created_at, k.last_used_at, k.revoked_at,
  prior.revoked_at IS NULL AS newly_revoked;

-- name: count_tenants
SELECT count(*)::text AS n FROM tenants;

-- The first start of an empty database creates the demo tenant: nodes started together take turns (held to the
-- end of the transaction), so the second sees the first one's tenant and creates none.
-- name: lock_first_tenant
SELECT pg_advisory_xact_lock(7465020);
