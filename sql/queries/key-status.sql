-- Revocation, role and scope of the keys that minted live tokens (server/live/key-status.ts). $1 bigint[]: the key ids to check.

-- name: key_status
SELECT id::text, tenant_id::text, revoked_at IS NOT NULL AS revoked, role, scope FROM tenant_keys WHERE id = ANY($1::bigint[]);
