-- Crash-safe publishing of campaigns (issue 16, README "Campaigns" → "Publishing"): an approval records its intent
-- before the first platform call and each platform id the moment the platform returns it, so an approval cut
-- short (a crash, a kill -9, a lost connection) is resumed from what exists instead of creating a second set.
--
-- status gains 'publishing': approved, being created on the platform (pending_review → publishing → active, or
-- failed when the platform refuses). external_campaign_id / external_adset_id are written step by step while
-- publishing. publish_token / publish_lease_until: the attempt working on it (a random token per attempt; its
-- writes are guarded by the token, and another attempt takes over only once the lease ran out).
-- publish_attempts counts attempts (approvals and resumptions); publish_started_at is the approval's time.
-- GDPR: campaign bookkeeping, no person.
ALTER TABLE automated_campaigns DROP CONSTRAINT IF EXISTS automated_campaigns_status_check;
ALTER TABLE automated_campaigns ADD CONSTRAINT automated_campaigns_status_check
  CHECK (status IN ('draft', 'pending_review', 'publishing', 'active', 'paused', 'completed', 'failed'));
ALTER TABLE automated_campaigns
  ADD COLUMN publish_token text,
  ADD COLUMN publish_lease_until timestamptz,
  ADD COLUMN publish_started_at timestamptz,
  ADD COLUMN publish_attempts int NOT NULL DEFAULT 0;
-- The resume job's scan: campaigns left publishing (few, usually none).
CREATE INDEX automated_campaigns_publishing ON automated_campaigns (publish_lease_until) WHERE status = 'publishing';
