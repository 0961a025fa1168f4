-- Raw-event retention: the TimescaleDB policy and the timer that drops expired data (server/gdpr/retention.ts).

-- name: retention_job
SELECT job_id, config->>'drop_after' AS drop_after,
  (config->>'drop_after')::interval = make_interval(months => $1::int) AS matches
FROM timescaledb_information.jobs
WHERE proc_name = 'policy_retention' AND hypertable_schema = 'public' AND hypertable_name = 'tx_events';

-- name: drop_old_chunks
SELECT drop_chunks('tx_events', older_than => now() - make_interval(months => $1::int))::text AS chunk;

-- name: delete_old_sessions
WITH d AS (DELETE FROM tx_sessions WHERE last_seen_at < now() - make_interval(months => $1::int) RETURNING 1)
SELECT count(*)::int AS n FROM d;

-- name: delete_old_rejected
WITH d AS (DELETE FROM tx_rejected_events WHERE received_at < now() - make_interval(months => $1::int) RETURNING 1)
SELECT count(*)::int AS n FROM d;

-- name: load_timescaledb
-- PGlite: after reopening a persisted data directory the TSL module is loaded only on request.
LOAD 'timescaledb';

-- name: retention_lock
-- One node at a time changes the policy (two booting nodes would otherwise add it twice).
SELECT pg_advisory_xact_lock(7465002);

-- name: remove_retention_policy
SELECT remove_retention_policy('tx_events', if_exists => true);

-- name: add_retention_policy
SELECT add_retention_policy('tx_events', drop_after => make_interval(months => $1::int)) AS job_id;
