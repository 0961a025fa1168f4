-- Stripe: the encrypted webhook secret, order resolution and the erasure of stripe_objects (server/integrations/stripe/).

-- name: get_secret
SELECT ciphertext, hint, updated_at FROM tenant_secrets WHERE tenant_id = $1 AND name = $2;

-- name: put_secret
INSERT INTO tenant_secrets (tenant_id, name, ciphertext, hint, updated_at) VALUES ($1, $2, $3, $4, now())
ON CONFLICT (tenant_id, name) DO UPDATE SET ciphertext = EXCLUDED.ciphertext, hint = EXCLUDED.hint, updated_at = now()
RETURNING updated_at;

-- name: delete_secret
WITH d AS (DELETE FROM tenant_secrets WHERE tenant_id = $1 AND name = $2 RETURNING 1) SELECT count(*)::int AS n FROM d;

-- name: tenant_exists
SELECT 1 FROM tenants WHERE tenant_id = $1;

-- name: tenant_idempotency_salt
-- The secret the server channel derives event ids with (migration 048): Stripe's event id is the idempotency key.
SELECT idempotency_salt FROM tenants WHERE tenant_id = $1;

-- name: remember_stripe_objects
-- Once the event about them was stored (or is a redelivery of one stored), never for an order of an erased
-- person ($4: the order's digest in gdpr_erased_orders).
INSERT INTO stripe_objects (tenant_id, object_id, order_id)
SELECT $1, o, $3 FROM unnest($2::text[]) o
WHERE NOT EXISTS (SELECT 1 FROM gdpr_erased_orders WHERE tenant_id = $1 AND order_sha256 = $4)
ON CONFLICT (tenant_id, object_id) DO NOTHING;

-- name: order_for_stripe_objects
SELECT order_id FROM stripe_objects WHERE tenant_id = $1 AND object_id = ANY($2::text[]) ORDER BY created_at LIMIT 1;

-- name: delete_stripe_objects
WITH d AS (DELETE FROM stripe_objects WHERE tenant_id = $1 AND order_id = ANY($2::text[]) RETURNING 1)
SELECT count(*)::int AS n FROM d;

-- name: export_stripe_objects
-- The Stripe objects (payment intents, charges…) mapped to the person's orders.
SELECT object_id, order_id, created_at FROM stripe_objects WHERE tenant_id = $1 AND order_id = ANY($2::text[]) ORDER BY created_at, object_id;
