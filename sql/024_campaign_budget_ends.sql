-- campaigns.end_budgets (every minute, README "Campaigns" → "Jobs") reads the budgets whose ends_at passed in the
-- last 7 days: an index on ends_at keeps that one read small however many budgets a tenant has.
-- GDPR: no person.
CREATE INDEX ad_campaign_budgets_ends ON ad_campaign_budgets (ends_at) WHERE ends_at IS NOT NULL;
