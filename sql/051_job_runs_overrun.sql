-- Job runs whose body outlives its timeout (server/jobs/runner.ts). A timed-out attempt is recorded failed at its
-- timeout, but a job that ignores ctx.signal keeps running: its node keeps the job busy until the body returns
-- and keeps heartbeating the attempt's lease meanwhile (overrunning = true), so no node starts the job beside it:
-- no retry, no new window, no manual run. The node clears the flag (and the lease) once the body has returned;
-- a node that dies meanwhile stops heartbeating and the lease expires as for any attempt.
-- A fast default: no rewrite of the table.
ALTER TABLE job_runs ADD COLUMN IF NOT EXISTS overrunning boolean NOT NULL DEFAULT false;
-- The attempts that hold a job (running, or overrunning their timeout): every claim (sql/queries/jobs.sql
-- claim_window, claim_manual, take_over) refuses a job while one of them has a live lease. Partial, so the
-- check reads the few open attempts of the job and not its retained history (a row per window for 30 days).
CREATE INDEX IF NOT EXISTS job_runs_held ON job_runs (job, lease_until) WHERE status = 'running' OR overrunning;
