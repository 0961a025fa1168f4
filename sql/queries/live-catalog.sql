-- The live layer's reads of the catalog (server/live/catalog.ts, owners.ts; tables in sql/005_catalog.sql).

-- name: event_meta
-- What a snapshot shows of one tenant's events: the events named in $2, of the organizers in $3 or at the
-- venues in $4 (a change of an organizer's name or a venue's gates reaches its events). $1 bigint, $2-$4 text[].
SELECT c.tenant_id::text AS tenant_id, c.id, c.organizer_id, o.name AS organizer_name, c.title, c.venue_id, c.artist_ids,
       coalesce(c.capacity, v.capacity) AS capacity, coalesce(v.gates, '[]'::jsonb) AS gates, c.starts_at, c.ends_at, c.status
FROM catalog_events c
LEFT JOIN catalog_organizers o ON o.tenant_id = c.tenant_id AND o.id = c.organizer_id
LEFT JOIN catalog_venues v ON v.tenant_id = c.tenant_id AND v.id = c.venue_id
WHERE c.tenant_id = $1 AND (c.id = ANY($2::text[]) OR c.organizer_id = ANY($3::text[]) OR c.venue_id = ANY($4::text[]))
LIMIT 100000;

-- name: restore_meta
-- At start: every catalog event that is not over before the UTC day $1 starts (an organizer may open an
-- upcoming event before its first visitor), plus the events with live state today ($2 bigint[], $3 text[]).
-- Bounded per tenant, so that no tenant's catalog crowds out another's: at most $4 (LIVE_CATALOG_MAX) each, the
-- live ones first, then by start (undated last); the node keeps at most $4 in all (catalog.ts TenantLru). The
-- least useful come first: put in this order, the most useful are the last the limit evicts.
SELECT tenant_id, id, organizer_id, organizer_name, title, venue_id, artist_ids, capacity, gates, starts_at, ends_at, status
FROM (
  SELECT c.tenant_id::text AS tenant_id, c.id, c.organizer_id, o.name AS organizer_name, c.title, c.venue_id, c.artist_ids,
         coalesce(c.capacity, v.capacity) AS capacity, coalesce(v.gates, '[]'::jsonb) AS gates, c.starts_at, c.ends_at, c.status,
         row_number() OVER (PARTITION BY c.tenant_id ORDER BY l.id IS NOT NULL DESC, c.starts_at NULLS LAST, c.id) AS rank
  FROM catalog_events c
  LEFT JOIN unnest($2::bigint[], $3::text[]) AS l(tenant_id, id) ON l.tenant_id = c.tenant_id AND l.id = c.id
  LEFT JOIN catalog_organizers o ON o.tenant_id = c.tenant_id AND o.id = c.organizer_id
  LEFT JOIN catalog_venues v ON v.tenant_id = c.tenant_id AND v.id = c.venue_id
  WHERE coalesce(c.ends_at, c.starts_at + interval '1 day', 'infinity') >= $1::timestamptz OR l.id IS NOT NULL
) m
WHERE rank <= $4::bigint
ORDER BY rank DESC, tenant_id, id;

-- name: organizer_names
-- At start: every catalog organizer's name (a dashboard shows it before the organizer has a catalog event; the
-- events' rows above name only the organizers of events held). Bounded like restore_meta: at most $1 per tenant.
SELECT tenant_id, id, name
FROM (
  SELECT o.tenant_id::text AS tenant_id, o.id, o.name, row_number() OVER (PARTITION BY o.tenant_id ORDER BY o.id) AS rank
  FROM catalog_organizers o
  WHERE o.name IS NOT NULL
) n
WHERE rank <= $1::bigint
ORDER BY rank DESC, tenant_id, id;

-- name: organizer_names_of
-- After a catalog change of these organizers ($1 bigint, $2 text[]): their names now (a deleted one has none).
SELECT tenant_id::text AS tenant_id, id, name FROM catalog_organizers
WHERE tenant_id = $1 AND id = ANY($2::text[]) AND name IS NOT NULL;

-- name: ticket_categories
-- Categories of these ticket types (the sales ticker). $1 bigint[], $2 text[].
SELECT t.tenant_id::text AS tenant_id, t.id, t.category
FROM catalog_ticket_types t
JOIN unnest($1::bigint[], $2::text[]) AS k(tenant_id, id) ON t.tenant_id = k.tenant_id AND t.id = k.id
WHERE t.category IS NOT NULL;
