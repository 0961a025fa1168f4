-- Derived event genres count an artist once per genre (sql/queries/catalog.sql upsert_events, rederive_event_genres).
-- The union counts every artist's genres as they are (count(*), a hash) and makes distinct first only the genres of
-- the rare artist that lists one twice: a third cheaper than making every artist's genres distinct for every event
-- that lists it (bench/catalog-genres.ts). This partial index finds those artists without reading the others.
CREATE FUNCTION catalog_genres_repeat(genres text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT cardinality(genres) > (SELECT count(*) FROM (SELECT DISTINCT g FROM unnest(genres) g) d) $$;

CREATE INDEX catalog_artists_genres_repeat ON catalog_artists (tenant_id, id) WHERE catalog_genres_repeat(genres);
