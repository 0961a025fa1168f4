-- Key management: keys get a public id (listing, revocation), an optional site and origin list of their own,
-- and a last-used time. last_used_at is written at most once a minute per key and node (see tenants.ts),
-- so using a key never costs a write per request.
ALTER TABLE tenant_keys ADD COLUMN id bigserial;
ALTER TABLE tenant_keys ADD CONSTRAINT tenant_keys_id_key UNIQUE (id);
ALTER TABLE tenant_keys ADD COLUMN site_id varchar(50);
-- NULL = the origins of the key's site (or of every site of the tenant when the key has no site).
ALTER TABLE tenant_keys ADD COLUMN allowed_origins text[];
ALTER TABLE tenant_keys ADD COLUMN last_used_at timestamptz;
