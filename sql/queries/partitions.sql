-- Plain PostgreSQL mode: tx_events' monthly partitions (server/store/partitions.ts). The DDL itself names
-- tables, which a bind parameter cannot do: partitions.ts builds it from names it checked (tx_events_pYYYYMM).

-- name: list_partitions
SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'public.tx_events'::regclass;

-- name: default_months
-- Months (UTC) of the rows that landed in the DEFAULT partition because their month had no partition yet.
-- The DEFAULT partition is small (only rows written before the job created their month), so this scan is cheap.
SELECT DISTINCT to_char(date_trunc('month', occurred_at AT TIME ZONE 'UTC'), 'YYYYMM') AS month FROM tx_events_default;

-- name: partitions_lock
-- One partition change at a time across the nodes (store.partitions, gdpr.retention, the boot-time upkeep).
SELECT pg_advisory_xact_lock(7465003);

-- name: lock_timeout
-- Attaching or dropping a partition waits for the queries on it; give up rather than queue all ingest behind
-- a long read (the job fails and retries in its window).
SET LOCAL lock_timeout = '10s';

-- name: lock_writes
-- No row can enter the DEFAULT partition between the move below and the ATTACH. Locking the DEFAULT partition
-- alone is not enough: an INSERT already routed to it waits, then fails after the ATTACH with "new row for
-- relation tx_events_default violates partition constraint" (measured on PostgreSQL 15). On tx_events, an
-- INSERT waits before it routes, and routes to the new partition. Reads go on; writes wait for this short
-- transaction (a few ms when the DEFAULT partition is empty, as it normally is).
LOCK TABLE tx_events IN SHARE ROW EXCLUSIVE MODE;

-- name: delete_expired_default
-- Retention for rows still in the DEFAULT partition ($1: the cutoff).
WITH d AS (DELETE FROM tx_events_default WHERE occurred_at < $1::timestamptz RETURNING 1)
SELECT count(*)::int AS n FROM d;
