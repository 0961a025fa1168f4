-- A name for a key created with POST /api/v1/keys (issue 18 item 3, server/keys/): what it is for ("box office
-- scanners", "Arena staff dashboard"), shown in GET /api/v1/keys. NULL for keys made without one.
ALTER TABLE tenant_keys ADD COLUMN name varchar(200);
