-- Job runner (server/jobs/store.ts). Times compare with the database clock (now()), which every node shares,
-- so leases do not depend on the nodes' own clocks; window starts come from the runner's schedule math.

-- name: claim_window
-- Exactly one node gets the row back for a (job, window_start); the others get nothing.
INSERT INTO job_runs (job, window_start, node, status, lease_until)
VALUES ($1, $2, $3, 'running', now() + make_interval(secs => $4::float8))
ON CONFLICT (job, window_start) WHERE NOT manual DO NOTHING
RETURNING id, job, window_start, manual, node, status, attempt, started_at, finished_at, error, failures, rows, duration_ms, retry_at;

-- name: lock_job_claims
-- Taken in claim_manual's transaction, before it: two nodes' claims of a job take turns, and the second one's
-- INSERT (a later statement, so a later snapshot under READ COMMITTED) sees the first one's running row. Without
-- it both NOT EXISTS passed at once and the job ran on both nodes (job_runs_window leaves manual rows out).
SELECT pg_advisory_xact_lock(hashtextextended('tx-job:' || $1::text, 0));

-- name: claim_manual
-- Nothing when an attempt of the job is running with a live lease on any node (one attempt of a job at a time);
-- after lock_job_claims in the same transaction.
INSERT INTO job_runs (job, window_start, manual, node, status, lease_until)
SELECT $1, now(), true, $2, 'running', now() + make_interval(secs => $3::float8)
WHERE NOT EXISTS (SELECT 1 FROM job_runs WHERE job = $1 AND status = 'running' AND lease_until > now())
RETURNING id, job, window_start, manual, node, status, attempt, started_at, finished_at, error, failures, rows, duration_ms, retry_at;

-- name: take_over
-- A window whose node stopped heartbeating (lease expired), or a failed attempt due for its retry. Row locks
-- make this exactly-once: a second node's UPDATE re-checks the WHERE after the first commits and skips the row.
UPDATE job_runs r SET
  failures = CASE WHEN r.status = 'running'
    THEN r.failures || jsonb_build_array(jsonb_build_object('attempt', r.attempt, 'node', r.node, 'error', 'lease expired: the node stopped heartbeating', 'at', now()))
    ELSE r.failures END,
  node = $2, status = 'running', attempt = r.attempt + 1, started_at = now(), heartbeat_at = now(),
  lease_until = now() + make_interval(secs => $3::float8), finished_at = NULL, retry_at = NULL, error = NULL
WHERE r.id = (
  SELECT id FROM job_runs
  WHERE job = ANY($1::text[])
    AND ((status = 'running' AND lease_until < now()) OR (status = 'failed' AND retry_at <= now()))
  ORDER BY id LIMIT 1
  FOR UPDATE SKIP LOCKED
)
RETURNING r.id, r.job, r.window_start, r.manual, r.node, r.status, r.attempt, r.started_at, r.finished_at, r.error, r.failures, r.rows, r.duration_ms, r.retry_at;

-- name: heartbeat
-- No row back: the lease was lost (taken over), and the attempt must stop.
UPDATE job_runs SET heartbeat_at = now(), lease_until = now() + make_interval(secs => $4::float8)
WHERE id = $1 AND node = $2 AND attempt = $3 AND status = 'running'
RETURNING id;

-- name: finish
-- $4 status, $5 error, $6 rows, $7 retry_at (failed attempts that retry). Only the lease holder's attempt counts.
UPDATE job_runs SET
  status = $4, error = $5, rows = $6, retry_at = $7, finished_at = now(),
  duration_ms = (extract(epoch FROM now() - started_at) * 1000)::bigint,
  failures = CASE WHEN $4 = 'failed'
    THEN failures || jsonb_build_array(jsonb_build_object('attempt', attempt, 'node', node, 'error', $5::text, 'at', now()))
    ELSE failures END
WHERE id = $1 AND node = $2 AND attempt = $3 AND status = 'running'
RETURNING id, job, window_start, manual, node, status, attempt, started_at, finished_at, error, failures, rows, duration_ms, retry_at;

-- name: get_run
SELECT id, job, window_start, manual, node, status, attempt, started_at, finished_at, error, failures, rows, duration_ms, retry_at
FROM job_runs WHERE id = $1;

-- name: last_runs
SELECT DISTINCT ON (job) id, job, window_start, manual, node, status, attempt, started_at, finished_at, error, failures, rows, duration_ms, retry_at
FROM job_runs WHERE job = ANY($1::text[])
ORDER BY job, id DESC;

-- name: last_windows
SELECT job, max(window_start) AS window_start FROM job_runs
WHERE NOT manual AND job = ANY($1::text[])
GROUP BY job;

-- name: runs_page
SELECT id, job, window_start, manual, node, status, attempt, started_at, finished_at, error, failures, rows, duration_ms, retry_at
FROM job_runs WHERE job = $1 AND ($2::bigint IS NULL OR id < $2::bigint)
ORDER BY id DESC LIMIT $3;

-- name: prune_runs_chunk
-- Finished runs older than the cutoff, a bounded chunk at a time (job jobs.prune).
WITH d AS (
  DELETE FROM job_runs WHERE id IN (
    SELECT id FROM job_runs WHERE status <> 'running' AND started_at < $1 ORDER BY id LIMIT $2)
  RETURNING 1)
SELECT count(*)::int AS n FROM d;

-- name: prune_event_ids_chunk
-- The idempotency ledger's expired ids, a bounded chunk at a time (job ingest.ledger_prune), so a large
-- backlog never holds the embedded store's one session for long.
WITH d AS (
  -- In received_at order, through its index: a sequential scan would walk again over the dead rows of every
  -- earlier chunk (the embedded store has no autovacuum), making the whole backlog quadratic.
  DELETE FROM tx_event_ids WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM tx_event_ids WHERE received_at < $1 ORDER BY received_at LIMIT $2))
  RETURNING 1)
SELECT count(*)::int AS n FROM d;

-- name: person_ids_after
-- The next chunk of persons (all tenants) in id order, for the persons.stats job.
SELECT person_id FROM persons WHERE person_id > $1 ORDER BY person_id LIMIT $2;
