-- GDPR erasure, the steps after its commit (README GDPR "An interrupted erasure", server/gdpr/erasure.ts).
-- The erasure's transaction deletes the rows and writes the tombstone; the local spool, the external stores
-- (the live layer's Redis and memory, the feature recount, …) and the embedded store's disk purge run after
-- the commit. This row, written in that same transaction, lists what is still to do, so a crash (kill -9)
-- after the commit leaves a list that a repeated DELETE or the `gdpr.resume` job finishes.
--   todo     'spool', 'external:<store name>', 'disk': the steps not done yet (the row is deleted once empty)
--   ids      the erased person's ids (PersonIds) the spool and external erasers need: set NULL as soon as those
--            ran, before the disk purge, which rewrites this table too so they leave the files as well
--   touched  the tables and chunks the disk purge rewrites
--   report   what the steps removed so far (spooled_records, external, disk): merged into the tombstone
--   lease    the node running the steps (lease_owner until lease_until); next_at: the job's next try
-- GDPR: `ids` is personal data for the seconds between the commit and the external erasers' run.
CREATE TABLE gdpr_erasure_steps (
  tenant_id      bigint NOT NULL,
  person_sha256  char(64) NOT NULL,
  todo           text[] NOT NULL,
  ids            jsonb,
  touched        text[] NOT NULL DEFAULT '{}',
  report         jsonb NOT NULL DEFAULT '{}',
  attempts       int NOT NULL DEFAULT 0,
  next_at        timestamptz NOT NULL DEFAULT now(),
  lease_owner    text,
  lease_until    timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, person_sha256)
);
CREATE INDEX gdpr_erasure_steps_due ON gdpr_erasure_steps (next_at);
