-- Roles and permissions (server/authz/, tables in sql/008_roles.sql).

-- name: list_overrides
SELECT role, permission, granted FROM tenant_role_permissions WHERE tenant_id = $1 ORDER BY role, permission;

-- name: set_overrides
-- $2 jsonb: [{role, permission, granted}], granted null = back to the role's default (the row goes).
WITH input AS (
  SELECT role, permission, granted FROM jsonb_to_recordset($2::jsonb) AS x(role text, permission text, granted boolean)
), gone AS (
  DELETE FROM tenant_role_permissions t USING input i
  WHERE t.tenant_id = $1 AND t.role = i.role AND t.permission = i.permission AND i.granted IS NULL
  RETURNING 1
)
INSERT INTO tenant_role_permissions (tenant_id, role, permission, granted, updated_at)
SELECT $1, role, permission, granted, now() FROM input WHERE granted IS NOT NULL
ON CONFLICT (tenant_id, role, permission) DO UPDATE SET granted = EXCLUDED.granted, updated_at = now();

-- name: event_resource
-- An event's owner, venue and artists: the catalog's row when it has one (in_catalog; its empty fields stay
-- empty), else the live layer's claimed owner.
SELECT c.id IS NOT NULL AS in_catalog, c.organizer_id AS catalog_organizer, o.organizer_id AS live_organizer, c.venue_id, c.artist_ids
FROM (SELECT $2::text AS id) k
LEFT JOIN catalog_events c ON c.tenant_id = $1 AND c.id = k.id
LEFT JOIN live_event_owners o ON o.tenant_id = $1 AND o.event_entity_id = k.id;
