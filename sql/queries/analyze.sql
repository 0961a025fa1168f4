-- The embedded store's planner statistics (server/jobs/analyze.ts).

-- name: analyze_candidates
-- Every table and chunk with data: its size now and when last analyzed (relpages, reltuples; -1 = never), whether
-- it has statistics (a GDPR purge deletes them all), and its columns that are not json/jsonb (quoted), which the
-- job analyzes alone when the table has any.
SELECT c.oid::regclass::text AS rel, c.relpages, c.reltuples, EXISTS (SELECT 1 FROM pg_statistic s WHERE s.starelid = c.oid) AS has_stats,
  (pg_relation_size(c.oid) / current_setting('block_size')::int)::bigint::text AS pages,
  (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid NOT IN ('jsonb'::regtype, 'json'::regtype)) AS scalar_columns,
  EXISTS (SELECT 1 FROM pg_attribute a
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid IN ('jsonb'::regtype, 'json'::regtype)) AS has_json
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm') AND n.nspname IN ('public', '_timescaledb_internal') AND pg_relation_size(c.oid) > 0
ORDER BY pg_relation_size(c.oid) DESC;

-- name: analyze_sample
-- A sample of 300 × 10 rows per table (PostgreSQL's default is 300 × 100), for this transaction only.
SET LOCAL default_statistics_target = 10;
