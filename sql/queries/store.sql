-- Checks of an external Postgres server at start-up (server/app.ts, openStore): reachable, version, TimescaleDB
-- or plain mode.

-- name: ping
SELECT 1;

-- name: timescaledb_version
SELECT extversion FROM pg_extension WHERE extname = 'timescaledb';

-- name: create_timescaledb
CREATE EXTENSION IF NOT EXISTS timescaledb;

-- name: server_version_num
SELECT current_setting('server_version_num')::int AS n;

-- name: tx_events_partitioned
-- A database already migrated in plain mode (tx_events partitioned) stays plain.
SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass('public.tx_events')) AS partitioned;
