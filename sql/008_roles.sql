-- Roles and scopes (issue 18). A key carries a role and a scope (organizers / venues / artists / events ids);
-- every key made before this migration is 'admin' with an empty scope: the whole tenant, as before.
ALTER TABLE tenant_keys ADD COLUMN role text NOT NULL DEFAULT 'admin';
ALTER TABLE tenant_keys ADD COLUMN scope jsonb NOT NULL DEFAULT '{}';

-- Per-tenant changes to a role's default permissions (server/authz/roles.ts): granted=true adds, false removes.
-- Admin's permissions are fixed (the server ignores rows for it), so a tenant cannot lock its admin key out.
CREATE TABLE tenant_role_permissions (
  tenant_id bigint NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  role text NOT NULL,
  permission text NOT NULL,
  granted boolean NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, role, permission)
);
