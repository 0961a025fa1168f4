-- A per-tenant secret for the event ids the server derives from an idempotency key sent on the secret-key channel
-- (/api/v1/server-events, Stripe webhooks; server/ingest/validate.ts derivedEventId). Those ids were
-- uuidV5(tenant:key) with a namespace fixed in the source, which the public write key could compute and claim first
-- (a page_view with idempotency_key "order_completed_ORD1" made the backend's order ORD1 a duplicate, never stored).
-- 244 random bits from two v4 UUIDs (gen_random_uuid: core since PostgreSQL 13, a strong random source, in PGlite
-- too). The default is volatile, so ADD COLUMN evaluates it per row: every existing tenant gets its own value, and
-- so does every new one. Never answered by any API; not personal data.
ALTER TABLE tenants ADD COLUMN idempotency_salt text NOT NULL
  DEFAULT replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
