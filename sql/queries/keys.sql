-- Scoped keys of a tenant (server/keys/): the tenant's own key management, next to the operator's (tenants.sql).

-- name: set_key_name
UPDATE tenant_keys SET name = $2 WHERE id = $1;

-- name: list_tenant_keys
-- Ascending by id after $2 (keyset paging); ordered by the bigint column, not the text one the select prints.
SELECT id::text, kind, role, scope, name, key_hint, site_id, created_at, last_used_at, revoked_at
FROM tenant_keys k WHERE k.tenant_id = $1 AND ($2::bigint IS NULL OR k.id > $2) ORDER BY k.id LIMIT $3;

-- name: revoke_tenant_key
-- Only a key of this tenant; a second revocation keeps the first revoked_at. newly_revoked: this call revoked it
-- (the row is locked before it is read: of two revocations at once, only one says so).
WITH prior AS (SELECT id, revoked_at FROM tenant_keys WHERE id = $1 AND tenant_id = $2 FOR UPDATE)
UPDATE tenant_keys k SET revoked_at = COALESCE(k.revoked_at, now()) FROM prior WHERE k.id = prior.id
RETURNING k.id::text, k.kind, k.role, k.scope, k.name, k.key_hint, k.site_id, k.created_at, k.last_used_at, k.revoked_at,
  prior.revoked_at IS NULL AS newly_revoked;

-- name: lock_admin_keys
-- The tenant's active admin secret keys, locked until the transaction ends (DELETE /api/v1/keys/{id} keeps one).
SELECT id FROM tenant_keys
WHERE tenant_id = $1 AND kind = 'secret' AND role = 'admin' AND revoked_at IS NULL
ORDER BY id FOR UPDATE
