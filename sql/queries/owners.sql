-- Event → organizer ownership claims (server/live/owners.ts, tables in sql/004_live_owners.sql).

-- name: lock_owners
-- The stored owners of these (tenant, event entity) keys, locked until the commit, and the catalog's organizer
-- of those keys (source 'catalog', which outranks a stored owner: owners.ts). $1 bigint[], $2 text[].
WITH locked AS (
  SELECT o.tenant_id::text AS tenant_id, o.event_entity_id, o.organizer_id, o.source
  FROM live_event_owners o
  JOIN unnest($1::bigint[], $2::text[]) AS k(tenant_id, event_entity_id)
    ON o.tenant_id = k.tenant_id AND o.event_entity_id = k.event_entity_id
  FOR UPDATE OF o
)
SELECT tenant_id, event_entity_id, organizer_id, source FROM locked
UNION ALL
SELECT c.tenant_id::text, c.id, c.organizer_id, 'catalog'
FROM catalog_events c
JOIN unnest($1::bigint[], $2::text[]) AS k(tenant_id, event_entity_id) ON c.tenant_id = k.tenant_id AND c.id = k.event_entity_id
WHERE c.organizer_id IS NOT NULL;

-- name: insert_owners
-- First claims. A key another node stored meanwhile is not returned (the caller decides it again).
INSERT INTO live_event_owners (tenant_id, event_entity_id, organizer_id, source, claimed_at)
SELECT tenant_id, event_entity_id, organizer_id, source, claimed_at
FROM jsonb_to_recordset($1::jsonb) AS c(tenant_id bigint, event_entity_id text, organizer_id text, source text, claimed_at timestamptz)
ON CONFLICT (tenant_id, event_entity_id) DO NOTHING
RETURNING tenant_id::text AS tenant_id, event_entity_id;

-- name: upgrade_owners
-- A secret claim replaces (or confirms) a public owner; a secret owner is never replaced.
UPDATE live_event_owners o
SET organizer_id = c.organizer_id, source = c.source, claimed_at = c.claimed_at
FROM jsonb_to_recordset($1::jsonb) AS c(tenant_id bigint, event_entity_id text, organizer_id text, source text, claimed_at timestamptz)
WHERE o.tenant_id = c.tenant_id AND o.event_entity_id = c.event_entity_id AND o.source = 'public' AND c.source = 'secret';

-- name: record_conflicts
-- Claims that did not hold, counted per (event, organizer named, source); grouped first because one
-- INSERT … ON CONFLICT DO UPDATE may not touch a row twice.
INSERT INTO live_owner_conflicts (tenant_id, event_entity_id, organizer_id, source, owner_id, claims, first_at, last_at)
SELECT tenant_id, event_entity_id, organizer_id, source, (array_agg(owner_id ORDER BY claimed_at DESC))[1], count(*), min(claimed_at), max(claimed_at)
FROM jsonb_to_recordset($1::jsonb) AS c(tenant_id bigint, event_entity_id text, organizer_id text, source text, owner_id text, claimed_at timestamptz)
GROUP BY tenant_id, event_entity_id, organizer_id, source
ON CONFLICT (tenant_id, event_entity_id, organizer_id, source) DO UPDATE
SET claims = live_owner_conflicts.claims + excluded.claims, owner_id = excluded.owner_id,
    last_at = greatest(live_owner_conflicts.last_at, excluded.last_at);
