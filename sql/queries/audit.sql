-- Audit log (server/audit/store.ts).

-- name: insert_audit
INSERT INTO audit_log (tenant_id, actor_kind, actor_id, action, target, ip, details)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
RETURNING id::text, at;

-- name: list_audit
-- Newest first; $3 = the last id of the previous page (keyset). Ordered by the bigint column (a.id), not the
-- text the select prints under the same name: as text "9" sorts after "10" and a page skipped rows.
SELECT a.id::text, a.tenant_id::text, a.at, a.actor_kind, a.actor_id, a.action, a.target, a.ip, a.details
FROM audit_log a
WHERE a.tenant_id = $1 AND ($3::bigint IS NULL OR a.id < $3)
ORDER BY a.id DESC LIMIT $2;

-- name: prune_audit
-- One bounded chunk of rows older than $1, oldest first through the (at) index.
WITH d AS (
  DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < $1 ORDER BY at LIMIT $2)
  RETURNING 1)
SELECT count(*)::int AS n FROM d;
