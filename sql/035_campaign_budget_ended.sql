-- A budget past its ends_at reads `ended` (README "Campaigns" → "Statuses"): campaigns.end_budgets completes its
-- running campaigns, closes those it never ran (draft, pending review, scheduled, failed: completed with
-- status_reason budget_ended, out of the approval queue) and marks the budget ended. Before, those stayed in the
-- review queue and the budget read active after its end.
-- GDPR: no person.
ALTER TABLE ad_campaign_budgets DROP CONSTRAINT IF EXISTS ad_campaign_budgets_status_check;
ALTER TABLE ad_campaign_budgets ADD CONSTRAINT ad_campaign_budgets_status_check
  CHECK (status IN ('active', 'paused', 'exhausted', 'cancelled', 'ended'));
