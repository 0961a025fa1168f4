-- Audit log of administrative actions (issue 18 item 4, server/audit/): who (actor_kind, actor_id: a key id or
-- 'admin_token'), what (action, target, details), when (at) and from where (ip). Written by the action's route
-- after it succeeded; read with GET /api/v1/audit (newest first, keyset on id); pruned after AUDIT_RETENTION_DAYS
-- by the audit.prune job. tenant_id is NULL for operator actions that concern no tenant (a job run by hand).
-- GDPR: ip and actor ids are those of the tenant's operators and integrations, not of tracked persons
-- (declared in the registry with that reason); details never carry a person's contact data.
CREATE TABLE audit_log (
  id          bigserial PRIMARY KEY,
  tenant_id   bigint,
  at          timestamptz NOT NULL DEFAULT now(),
  actor_kind  text NOT NULL CHECK (actor_kind IN ('admin_token', 'key', 'token')),
  actor_id    text NOT NULL,
  action      text NOT NULL,
  target      text,
  ip          text,
  details     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_tenant_id ON audit_log (tenant_id, id);
-- The prune job deletes the oldest rows in chunks.
CREATE INDEX audit_log_at ON audit_log (at);
