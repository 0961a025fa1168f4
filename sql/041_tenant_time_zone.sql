-- A tenant's time zone (IANA, validated by the admin API; 'UTC' until set): its campaigns' days are its days —
-- the daily rebalance runs at 06:00 there (seed 002 §2.7 "daily 06:00 tenant time") and a budget's daily limit
-- counts from its midnight. rebalanced_for: the tenant-local 06:00 whose rebalance of this budget completed, so
-- that the hourly check runs each budget's day once, catching up when the server was down at 06:00.
ALTER TABLE tenants ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC';
ALTER TABLE ad_campaign_budgets ADD COLUMN rebalanced_for timestamptz;
