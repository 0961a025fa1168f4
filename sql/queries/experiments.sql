-- Experiments (server/experiments/, table in sql/014_experiments.sql).

-- name: insert_experiment
-- Nothing when the key exists (the caller answers 409).
INSERT INTO experiments (tenant_id, key, name, variants, coverage, start_at, end_at, success_metrics, metric_window_s, created_at, updated_at)
VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8::jsonb, $9, $10, $10)
ON CONFLICT (tenant_id, key) DO NOTHING
RETURNING *;

-- name: update_experiment
UPDATE experiments SET name = $3, variants = $4::jsonb, coverage = $5, start_at = $6, end_at = $7, success_metrics = $8::jsonb,
  metric_window_s = $9, updated_at = $10
WHERE tenant_id = $1 AND key = $2
RETURNING *;

-- name: delete_experiment
DELETE FROM experiments WHERE tenant_id = $1 AND key = $2 RETURNING key;

-- name: get_experiment
SELECT * FROM experiments WHERE tenant_id = $1 AND key = $2;

-- name: list_experiments
-- A page ordered by key after $2 ('' = from the start).
SELECT * FROM experiments WHERE tenant_id = $1 AND key > $2 ORDER BY key LIMIT $3;

-- name: running_experiments
-- Running at $2: started, not ended. Bounded: a tenant runs a handful at a time; the cap keeps the answer small.
SELECT key, variants, coverage FROM experiments
WHERE tenant_id = $1 AND start_at <= $2 AND (end_at IS NULL OR end_at > $2)
ORDER BY key LIMIT 200;
