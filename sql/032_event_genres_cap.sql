-- Derived event genres are at most 50 (sql/queries/catalog.sql upsert_events, rederive_event_genres): the genres
-- carried by the most of the event's artists, then by name, stored by name. Events derived before with more are
-- cut the same way (an event of 200 artists held 10,000, and a page of such events overflowed the reply).
WITH e AS (
  SELECT tenant_id, id, artist_ids FROM catalog_events WHERE genres_derived AND cardinality(genres) > 50
), u AS MATERIALIZED (
  SELECT s.tenant_id, s.artist_ids,
    ARRAY(SELECT g FROM (
      SELECT g, count(DISTINCT a.id) AS n FROM catalog_artists a, unnest(a.genres) g
      WHERE a.tenant_id = s.tenant_id AND a.id = ANY(s.artist_ids) GROUP BY g ORDER BY n DESC, g LIMIT 50) top ORDER BY g) AS genres
  FROM (SELECT DISTINCT tenant_id, artist_ids FROM e) s
)
UPDATE catalog_events c SET genres = u.genres, synced_at = now()
FROM e JOIN u ON u.tenant_id = e.tenant_id AND u.artist_ids = e.artist_ids
WHERE c.tenant_id = e.tenant_id AND c.id = e.id;
