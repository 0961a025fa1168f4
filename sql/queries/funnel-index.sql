-- The per-node funnel index (server/analytics/funnel-index.ts, README "Funnels"): a tenant's stored events as
-- columns, read in pages by id and then kept current by reading the ids after the last page; and the scope of a
-- principal's funnels, by whichever path they are answered.

-- name: index_page
-- The tenant's rows with $2 < id <= $3, in id order, as one row of arrays (far cheaper to carry than the rows).
-- The id range is scanned first, alone, so that it walks the id index whatever the planner knows (the embedded
-- store has no statistics: planned without them, a tenant filter next to it scanned every row of the tenant).
-- Bots and rows without a visitor are never in a funnel. t is date_part('epoch'), the float8 the funnel
-- statement compares; the dimensions are funnel-index DIMS, in order, as #>> gives them. Text travels in JSON
-- arrays: PGlite reads a NULL inside a text array as the string "NULL".
WITH r AS MATERIALIZED (
  SELECT id, tenant_id, is_bot, event_name, date_part('epoch', occurred_at) AS t, visitor_id, entities->>'event_entity_id' AS d0,
         context #>> '{utm,source}' AS d1, context #>> '{utm,medium}' AS d2, context #>> '{utm,campaign}' AS d3,
         context #>> '{device,device_type}' AS d4, payload->>'source' AS d5, payload->>'experiment_id' AS d6,
         payload->>'variant' AS d7, payload->>'interested' AS d8
  FROM tx_events WHERE id > $2::bigint AND id <= $3::bigint
)
SELECT COALESCE(array_agg(id::float8 ORDER BY id), '{}') AS id, COALESCE(json_agg(event_name ORDER BY id), '[]') AS name,
       COALESCE(array_agg(t ORDER BY id), '{}') AS t, COALESCE(json_agg(visitor_id ORDER BY id), '[]') AS visitor,
       COALESCE(json_agg(d0 ORDER BY id), '[]') AS d0, COALESCE(json_agg(d1 ORDER BY id), '[]') AS d1,
       COALESCE(json_agg(d2 ORDER BY id), '[]') AS d2, COALESCE(json_agg(d3 ORDER BY id), '[]') AS d3,
       COALESCE(json_agg(d4 ORDER BY id), '[]') AS d4, COALESCE(json_agg(d5 ORDER BY id), '[]') AS d5,
       COALESCE(json_agg(d6 ORDER BY id), '[]') AS d6, COALESCE(json_agg(d7 ORDER BY id), '[]') AS d7,
       COALESCE(json_agg(d8 ORDER BY id), '[]') AS d8
FROM r WHERE tenant_id = $1 AND NOT is_bot AND visitor_id IS NOT NULL;

-- name: max_id
-- The highest id stored now (the id index's last entry).
SELECT COALESCE(max(id), 0)::float8 AS id FROM tx_events;

-- name: scope_events
-- The events a scoped principal may analyse, for the funnel statements ($12 of funnels.sql) and the index:
-- $2 organizers, $3 venues, $4 artists, $5 events. The catalog wins whole: a live owner counts only for an event
-- the catalog does not have (a catalog event without an organizer is in no organizer's scope).
SELECT c.id FROM catalog_events c
WHERE c.tenant_id = $1 AND (c.organizer_id = ANY($2::text[]) OR c.venue_id = ANY($3::text[]) OR c.artist_ids && $4::text[])
UNION
SELECT o.event_entity_id FROM live_event_owners o
WHERE o.tenant_id = $1 AND o.organizer_id = ANY($2::text[])
  AND NOT EXISTS (SELECT 1 FROM catalog_events c WHERE c.tenant_id = $1 AND c.id = o.event_entity_id)
UNION
SELECT unnest($5::text[]);
