-- The embedded store's vacuum (server/jobs/vacuum.ts).

-- name: vacuum_candidates
-- Every table of the database but TOAST tables (vacuumed with their parent) and tables with children (a
-- hypertable's root: TimescaleDB would vacuum every chunk again under it; the chunks are listed themselves).
-- `app`: not a system catalog (the server's own tables, TimescaleDB's catalog and chunks). `xid_age`: how many
-- transactions old its oldest unfrozen row may be (age(relfrozenxid)); `last_vacuum_ms`: null when never
-- vacuumed since the statistics were reset.
SELECT c.oid::regclass::text AS rel, n.nspname NOT IN ('pg_catalog', 'information_schema') AS app,
  age(c.relfrozenxid)::bigint::text AS xid_age,
  (extract(epoch FROM s.last_vacuum) * 1000)::float8 AS last_vacuum_ms
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'm') AND c.relpersistence <> 't' AND NOT c.relhassubclass AND n.nspname <> 'pg_toast';

-- name: vacuum_next_xid
-- The next transaction id as of the last checkpoint ("epoch:xid"): how many ids the cluster has used.
SELECT next_xid::text AS next_xid FROM pg_control_checkpoint();
