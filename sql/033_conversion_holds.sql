-- Held conversion destinations (README "Server-side conversions", server/conversions/dispatch.ts): a provider
-- refused a destination's credential or permission (an expired token, a revoked permission, an unknown pixel),
-- which is no row's fault. Instead of every row dying, the rows stay pending and the destination is held: the
-- dispatcher does not take it until `held_until` (a backoff of its own, at most an hour, `holds` refusals in a
-- row), then tries one batch. An update of the tracking code (its `updated_at` no longer `code_updated_at`, the
-- version that was refused) ends the hold at once; an accepted request deletes the row. `last_error` is the
-- provider's answer and how to fix it, shown by GET /api/v1/conversions.
-- GDPR: destination names, times and the provider's error, no person (registry.none).
CREATE TABLE conversion_holds (
  tenant_id        bigint NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  destination      text NOT NULL,
  code_id          bigint NOT NULL,
  held_since       timestamptz NOT NULL DEFAULT now(),
  held_until       timestamptz NOT NULL,
  holds            int NOT NULL DEFAULT 1,
  code_updated_at  timestamptz,
  last_error       text NOT NULL,
  PRIMARY KEY (tenant_id, destination)
);
