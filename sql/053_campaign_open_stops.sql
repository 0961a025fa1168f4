-- The budget_exhausted pauses a platform refused (outcome NULL: neither applied nor superseded, migration 034):
-- campaigns.optimize carries them out again every window while their budget is stopped (sql/queries/campaigns.sql
-- stopped_budgets, unapplied_decisions; README "Campaigns" → Budget overrides). Without it each window read the
-- whole optimisation log (2 M rows: a parallel sequential scan, ~370 ms, 40 000 pages) to find the usual none;
-- partial, it holds only the open ones. GDPR: decisions, no person.
CREATE INDEX IF NOT EXISTS campaign_optimization_log_open_stops ON campaign_optimization_log (tenant_id, budget_id)
  WHERE rule = 'budget_exhausted' AND action = 'pause' AND outcome IS NULL;
