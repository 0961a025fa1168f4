-- Job runs (issue 11 item 5, server/jobs/): one row per (job, scheduled window), claimed by exactly one node with
-- INSERT … ON CONFLICT DO NOTHING on the unique (job, window_start). The claimant holds a lease (lease_until)
-- that it extends with heartbeats; when a node dies, its lease expires and another node takes the window over
-- (UPDATE … WHERE lease_until < now() RETURNING), counting the attempt. A failed attempt is retried with backoff
-- within its window (retry_at). Manual runs (POST /api/admin/jobs/{name}/run) are rows with manual = true:
-- outside the unique scheduled key, so running a job by hand never takes a scheduled window.
-- tenant_id: jobs are global (retention, ledger pruning); the column is there, NULL, for a tenant-scoped job.
-- GDPR: job names, windows, node ids, counts and error texts of the server's own jobs: no personal data.
CREATE TABLE job_runs (
  id            bigserial PRIMARY KEY,
  tenant_id     bigint,
  job           text NOT NULL,
  window_start  timestamptz NOT NULL,
  manual        boolean NOT NULL DEFAULT false,
  node          text NOT NULL,
  status        text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
  attempt       int NOT NULL DEFAULT 1,
  started_at    timestamptz NOT NULL DEFAULT now(),
  heartbeat_at  timestamptz NOT NULL DEFAULT now(),
  lease_until   timestamptz NOT NULL,
  finished_at   timestamptz,
  -- When a failed attempt is tried again (NULL: final). Always before the window's end.
  retry_at      timestamptz,
  error         text,
  -- Earlier failed attempts of this window: [{"attempt","node","error","at"}], at most the job's attempt limit.
  failures      jsonb NOT NULL DEFAULT '[]',
  rows          bigint,
  duration_ms   bigint
);
CREATE UNIQUE INDEX job_runs_window ON job_runs (job, window_start) WHERE NOT manual;
CREATE INDEX job_runs_job_id ON job_runs (job, id DESC);
-- Takeover and retry scans look only at unfinished or retryable rows.
CREATE INDEX job_runs_open ON job_runs (lease_until) WHERE status = 'running';
CREATE INDEX job_runs_retry ON job_runs (retry_at) WHERE status = 'failed' AND retry_at IS NOT NULL;
