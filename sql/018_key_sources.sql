-- Write keys limited to some source systems (README "Keys"): a browser site's public key can be kept from
-- sending scanner, payment or backend events; NULL = every source the key's kind allows, as before.
ALTER TABLE tenant_keys ADD COLUMN sources text[];
