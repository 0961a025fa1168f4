-- The embedded store's checkpoints (server/jobs/checkpoint.ts).

-- name: wal_since_checkpoint
-- WAL written since the last checkpoint's redo point, and when that checkpoint was taken.
SELECT (pg_current_wal_lsn() - redo_lsn)::bigint::text AS wal_bytes, checkpoint_time
FROM pg_control_checkpoint();

-- name: checkpoint
CHECKPOINT;
