-- Tracking codes (issue 15 part 1, README "Tracking codes", server/tracking/): the ad-platform pixels and tags an
-- organizer puts on its event pages, and the marketplace's own. Owner levels:
--   organizer_id NULL, event_id NULL   the marketplace's code (always loaded, beside the organizer's);
--   organizer_id set,  event_id NULL   the organizer's default for all its events;
--   organizer_id set,  event_id set    one event's code, which wins over the organizer default (seed 002 §1.2).
-- `settings` JSON: {"pixel_id"|"measurement_id"|"container_id"|"conversion_id", "conversion_label",
--   "conversion_events": ["order_completed", ...], "advanced_matching": bool, "custom_params": {...},
--   "test_event_code"?} — ids validated per provider by server/tracking/validate.ts (they end up inside scripts).
-- `secrets_enc`: AES-256-GCM under ENCRYPTION_KEY (server/identity/crypto.ts) of JSON {"access_token"?, "api_secret"?};
--   never returned by the API.
-- For the conversions dispatcher (issue 15 part 2): server/tracking/index.ts exports
--   resolveCodes(q: Queryable, tenantId: number, { organizerId: string | null, eventId: string | null })
--     → TrackingCodeRow[] (enabled codes only: the event's or else the organizer default, one per provider,
--       plus the marketplace's), each with `owner` 'event' | 'organizer' | 'marketplace' and `secrets_enc` raw;
--   decryptSecrets(cipher, row) → { access_token?, api_secret? } (cipher: identity/crypto.ts createCipher).
-- GDPR: tenant configuration, no person — exported with the tenant, nothing to erase per person.
CREATE TABLE tracking_codes (
  id            bigserial PRIMARY KEY,
  tenant_id     bigint NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  organizer_id  text,
  event_id      text,
  provider      text NOT NULL CHECK (provider IN ('meta', 'ga4', 'gtm', 'google_ads', 'tiktok')),
  enabled       boolean NOT NULL DEFAULT true,
  settings      jsonb NOT NULL DEFAULT '{}',
  secrets_enc   text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CHECK (event_id IS NULL OR organizer_id IS NOT NULL)
);
CREATE UNIQUE INDEX tracking_codes_owner_provider
  ON tracking_codes (tenant_id, coalesce(organizer_id, ''), coalesce(event_id, ''), provider);
-- Resolution reads by (tenant, organizer); the marketplace's rows have organizer_id NULL (coalesce '' in the index).
