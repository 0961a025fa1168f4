-- A budget that starts later (README "Campaigns" → "Approval"): its campaigns approved before started_at wait as
-- `scheduled` (approved, nothing on a platform yet) and are published by campaigns.resume_publishing once the
-- budget's start has come (crash-safe like any publish: scheduled → publishing → active | failed). Nothing is
-- published, and nothing spends, before the budget's start.
-- GDPR: campaign bookkeeping, no person.
ALTER TABLE automated_campaigns DROP CONSTRAINT IF EXISTS automated_campaigns_status_check;
ALTER TABLE automated_campaigns ADD CONSTRAINT automated_campaigns_status_check
  CHECK (status IN ('draft', 'pending_review', 'scheduled', 'publishing', 'active', 'paused', 'completed', 'failed'));
-- The resume job's scan of scheduled campaigns (few, usually none).
CREATE INDEX automated_campaigns_scheduled ON automated_campaigns (budget_id) WHERE status = 'scheduled';
