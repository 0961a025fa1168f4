-- Checks of an external Postgres server at start-up (server/app.ts, openStore).

-- name: ping
SELECT 1;

-- name: timescaledb_version
SELECT extversion FROM pg_extension WHERE extname = 'timescaledb';

-- name: create_timescaledb
CREATE EXTENSION IF NOT EXISTS timescaledb;
