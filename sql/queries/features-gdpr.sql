-- The feature store in the GDPR registry (server/features/gdpr.ts): a person's rows, exported and erased.
-- $1 tenant, $2 person.

-- name: person_event_keys
-- The events a person's rows name ($3 their visitor ids), read before the erasure deletes the rows: their
-- timings and attendance are recounted after it.
SELECT DISTINCT entities->>'event_entity_id' AS event_entity_id FROM tx_events
WHERE tenant_id = $1 AND (person_id = $2 OR visitor_id = ANY($3::text[])) AND entities ? 'event_entity_id';

-- name: daily_is_view
SELECT relkind = 'v' AS view FROM pg_class WHERE oid = 'fs_person_daily'::regclass;

-- name: export_daily
SELECT * FROM fs_person_daily WHERE tenant_id = $1 AND person_id = $2 ORDER BY date, currency NULLS FIRST;

-- name: count_daily
SELECT count(*)::int AS n FROM fs_person_daily WHERE tenant_id = $1 AND person_id = $2;

-- name: erase_daily
-- The table's rows, or the continuous aggregate's materialised rows (migration 030).
SELECT fs_erase_person_daily($1, $2) AS n;

-- name: materialization_of
-- The hypertable holding a continuous aggregate's rows (their dead tuples are vacuumed by the disk purge).
SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name) AS name
FROM timescaledb_information.continuous_aggregates WHERE view_name = $1;

-- name: export_timings
SELECT * FROM fs_person_daily_timings WHERE tenant_id = $1 AND person_id = $2 ORDER BY date;

-- name: erase_timings
WITH d AS (DELETE FROM fs_person_daily_timings WHERE tenant_id = $1 AND person_id = $2 RETURNING 1) SELECT count(*)::int AS n FROM d;

-- name: export_artist
SELECT * FROM fs_person_affinity_artist_raw WHERE tenant_id = $1 AND person_id = $2 ORDER BY artist_id;

-- name: erase_artist
WITH d AS (DELETE FROM fs_person_affinity_artist_raw WHERE tenant_id = $1 AND person_id = $2 RETURNING 1) SELECT count(*)::int AS n FROM d;

-- name: export_genre
SELECT * FROM fs_person_affinity_genre_raw WHERE tenant_id = $1 AND person_id = $2 ORDER BY genre;

-- name: erase_genre
WITH d AS (DELETE FROM fs_person_affinity_genre_raw WHERE tenant_id = $1 AND person_id = $2 RETURNING 1) SELECT count(*)::int AS n FROM d;

-- name: export_ticket_pref
SELECT * FROM fs_person_ticket_pref WHERE tenant_id = $1 AND person_id = $2 ORDER BY ticket_category;

-- name: erase_ticket_pref
WITH d AS (DELETE FROM fs_person_ticket_pref WHERE tenant_id = $1 AND person_id = $2 RETURNING 1) SELECT count(*)::int AS n FROM d;

-- name: export_scores
SELECT * FROM fs_person_scores WHERE tenant_id = $1 AND person_id = $2;

-- name: erase_scores
WITH d AS (DELETE FROM fs_person_scores WHERE tenant_id = $1 AND person_id = $2 RETURNING 1) SELECT count(*)::int AS n FROM d;
