-- Scoped keys of a tenant (server/keys/): the tenant's own key management, next to the operator's (tenants.sql).

-- name: set_key_name
UPDATE tenant_keys SET name = $2 WHERE id = $1;

-- name: list_tenant_keys
SELECT id::text, kind, role, scope, name, key_hint, site_id, created_at, last_used_at, revoked_at
FROM tenant_keys WHERE tenant_id = $1 ORDER BY id;

-- name: revoke_tenant_key
-- Only a key of this tenant; a second revocation keeps the first revoked_at.
UPDATE tenant_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 AND tenant_id = $2
RETURNING id::text, kind, role, scope, name, key_hint, site_id, created_at, last_used_at, revoked_at;
