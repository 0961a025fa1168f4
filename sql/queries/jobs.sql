-- Job runner (server/jobs/store.ts). Times compare with the database clock (now()), which every node shares,
-- so leases do not depend on the nodes' own clocks; window starts come from the runner's schedule math.

-- An attempt holds its job while its lease is live: a running attempt, or a failed one whose body outlived its
-- timeout and still runs on its node (overrunning; its node keeps heartbeating it until the body returns). Every
-- claim below refuses a job that another attempt holds, so a node never starts a job beside one still running
-- elsewhere (index job_runs_held, sql/051_job_runs_overrun.sql).

-- name: lock_job_claims
-- Taken in the claim's transaction, before it (claim_window, claim_manual, take_over): two nodes' claims of a job
-- take turns, and the second one's statement (a later statement, so a later snapshot under READ COMMITTED) sees
-- the first one's running row. Without it both NOT EXISTS passed at once and the job ran on both nodes.
SELECT pg_advisory_xact_lock(hashtextextended('tx-job:' || $1::text, 0));

-- name: claim_window
-- Exactly one node gets the row back for a (job, window_start); the others get nothing. Nothing either while
-- another attempt of the job holds it (a live lease): window_claimed then tells the two apart, and the runner tries
-- again at its next poll while the window is claimable. After lock_job_claims in the same transaction.
INSERT INTO job_runs (job, window_start, node, status, lease_until)
SELECT $1::text, $2::timestamptz, $3::text, 'running', now() + make_interval(secs => $4::float8)
WHERE NOT EXISTS (SELECT 1 FROM job_runs WHERE job = $1 AND (status = 'running' OR overrunning) AND lease_until > now())
ON CONFLICT (job, window_start) WHERE NOT manual DO NOTHING
RETURNING id, job, window_start, manual, node, status, attempt, started_at, finished_at, error, failures, rows, duration_ms, retry_at;

-- name: window_claimed
SELECT EXISTS (SELECT 1 FROM job_runs WHERE job = $1 AND window_start = $2::timestamptz AND NOT manual) AS claimed;

-- name: claim_manual
-- Nothing while another attempt of the job holds it (on any node); after lock_job_claims in the same transaction.
INSERT INTO job_runs (job, window_start, manual, node, status, lease_until)
SELECT $1, now(), true, $2, 'running', now() + make_interval(secs => $3::float8)
WHERE NOT EXISTS (SELECT 1 FROM job_runs WHERE job = $1 AND (status = 'running' OR overrunning) AND lease_until > now())
RETURNING id, job, window_start, manual, node, status, attempt, started_at, finished_at, error, failures, rows, duration_ms, retry_at;

-- name: take_over_candidate
-- A window whose node stopped heartbeating (lease expired), or a failed attempt due for its retry (once the body
-- of a timed-out attempt has returned, or its node died: overrunning with an expired lease), of a job no other
-- attempt holds. Locked (SKIP LOCKED: a second node skips the row another one is taking); take_over follows in
-- the same transaction, after lock_job_claims for the row's job.
SELECT c.id, c.job FROM job_runs c
WHERE c.job = ANY($1::text[])
  AND ((c.status = 'running' AND c.lease_until < now())
    OR (c.status = 'failed' AND c.retry_at <= now() AND (NOT c.overrunning OR c.lease_until < now())))
  AND NOT EXISTS (SELECT 1 FROM job_runs o WHERE o.job = c.job AND o.id <> c.id AND (o.status = 'running' OR o.overrunning) AND o.lease_until > now())
ORDER BY c.id LIMIT 1
FOR UPDATE OF c SKIP LOCKED;

-- name: take_over
-- The candidate, checked again after lock_job_claims (a claim of the job by another node may have committed
-- since); nothing when it no longer qualifies. Counts the attempt.
UPDATE job_runs r SET
  failures = CASE WHEN r.status = 'running'
    THEN r.failures || jsonb_build_array(jsonb_build_object('attempt', r.attempt, 'node', r.node, 'error', 'lease expired: the node stopped heartbeating', 'at', now()))
    ELSE r.failures END,
  node = $2, status = 'running', overrunning = false, attempt = r.attempt + 1, started_at = now(), heartbeat_at = now(),
  lease_until = now() + make_interval(secs => $3::float8), finished_at = NULL, retry_at = NULL, error = NULL
WHERE r.id = $1
  AND ((r.status = 'running' AND r.lease_until < now())
    OR (r.status = 'failed' AND r.retry_at <= now() AND (NOT r.overrunning OR r.lease_until < now())))
  AND NOT EXISTS (SELECT 1 FROM job_runs o WHERE o.job = r.job AND o.id <> r.id AND (o.status = 'running' OR o.overrunning) AND o.lease_until > now())
RETURNING r.id, r.job, r.window_start, r.manual, r.node, r.status, r.attempt, r.started_at, r.finished_at, r.error, r.failures, r.rows, r.duration_ms, r.retry_at;

-- name: heartbeat
-- No row back: the lease was lost (taken over), and the attempt must stop. Also extends an overrunning attempt's.
UPDATE job_runs SET heartbeat_at = now(), lease_until = now() + make_interval(secs => $4::float8)
WHERE id = $1 AND node = $2 AND attempt = $3 AND (status = 'running' OR overrunning)
RETURNING id;

-- name: finish
-- $4 status, $5 error, $6 rows, $7 retry_at (failed attempts that retry), $8 overrunning (a timed-out attempt whose
-- body still runs: the node keeps its lease until release). Only the lease holder's attempt counts.
UPDATE job_runs SET
  status = $4, error = $5, rows = $6, retry_at = $7, overrunning = $8, finished_at = now(),
  duration_ms = (extract(epoch FROM now() - started_at) * 1000)::bigint,
  failures = CASE WHEN $4 = 'failed'
    THEN failures || jsonb_build_array(jsonb_build_object('attempt', attempt, 'node', node, 'error', $5::text, 'at', now()))
    ELSE failures END
WHERE id = $1 AND node = $2 AND attempt = $3 AND status = 'running'
RETURNING id, job, window_start, manual, node, status, attempt, started_at, finished_at, error, failures, rows, duration_ms, retry_at;

-- name: release
-- The body of an overrunning attempt has returned: the job is free (its retry, if still due, may start). $4: the
-- window has ended meanwhile, so the retry is dropped (the run stays failed) instead of running in the next one's.
UPDATE job_runs SET overrunning = false, retry_at = CASE WHEN $4::boolean THEN NULL ELSE retry_at END
WHERE id = $1 AND node = $2 AND attempt = $3 AND overrunning
RETURNING id;

-- name: get_run
SELECT id, job, window_start, manual, node, status, attempt, started_at, finished_at, error, failures, rows, duration_ms, retry_at
FROM job_runs WHERE id = $1;

-- name: last_runs
-- The newest run of each job named: one probe each along job_runs_job_id (job, id DESC), not a pass over the
-- retained history (30 days of conversions-dispatch alone are half a million rows). The job is bounded on both
-- sides rather than equal, so ORDER BY keeps the job and only job_runs_job_id gives that order: with `job = …`
-- the planner may walk the primary key backwards instead and filter (it did with few distinct jobs), reading
-- every newer row of the other jobs, all of them for a job that has none.
SELECT r.id, r.job, r.window_start, r.manual, r.node, r.status, r.attempt, r.started_at, r.finished_at, r.error, r.failures, r.rows, r.duration_ms, r.retry_at
FROM unnest($1::text[]) AS j(job)
CROSS JOIN LATERAL (
  SELECT * FROM job_runs WHERE job_runs.job >= j.job AND job_runs.job <= j.job ORDER BY job_runs.job, id DESC LIMIT 1
) r;

-- name: last_windows
-- The newest scheduled window of each job named: one probe each, backwards along job_runs_window.
SELECT j.job, w.window_start
FROM unnest($1::text[]) AS j(job)
CROSS JOIN LATERAL (
  SELECT window_start FROM job_runs WHERE job_runs.job = j.job AND NOT manual ORDER BY window_start DESC LIMIT 1
) w;

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
