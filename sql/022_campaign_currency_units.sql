-- Campaign amounts in their currency's real minor units (README "Campaigns" → "Currency"): a budget's amounts
-- take exactly its currency's ISO 4217 decimals (JPY 0, EUR 2, KWD/BHD/OMR/JOD/TND 3), so the columns that held
-- cents (numeric(…,2), which rounded 500.125 KWD to 500.13) hold three decimals. Same precision in whole units.
-- GDPR: amounts, no person.
ALTER TABLE ad_campaign_budgets
  ALTER COLUMN total_budget TYPE numeric(13,3),
  ALTER COLUMN spent_budget TYPE numeric(13,3),
  ALTER COLUMN daily_budget_limit TYPE numeric(11,3),
  ALTER COLUMN target_cpa TYPE numeric(11,3);
ALTER TABLE automated_campaigns
  ALTER COLUMN budget_allocated TYPE numeric(11,3),
  ALTER COLUMN budget_spent TYPE numeric(11,3),
  ALTER COLUMN daily_budget TYPE numeric(11,3),
  ALTER COLUMN bid_amount TYPE numeric(11,3);
ALTER TABLE campaign_metric_snapshots
  ALTER COLUMN spend TYPE numeric(13,3),
  ALTER COLUMN revenue TYPE numeric(13,3);
ALTER TABLE campaign_credits ALTER COLUMN revenue TYPE numeric(13,3);
