-- What became of each optimiser decision (README "Campaigns" → "Once per window"): `applied` (it changed the
-- campaign, the budget or the platform; applied_at is when) or `superseded` (nothing to change: the campaign was
-- already paused for an equal or stronger reason, resumed by hand, no longer running, the notice already sent;
-- outcome_note says which, and applied_at stays NULL). A decision with neither is still to be carried out.
-- Before, a pause of a campaign another rule had paused in the same window did nothing yet was marked applied.
-- GDPR: decisions, no person.
ALTER TABLE campaign_optimization_log
  ADD COLUMN outcome text CHECK (outcome IN ('applied', 'superseded')),
  ADD COLUMN outcome_note text;
UPDATE campaign_optimization_log SET outcome = 'applied' WHERE applied_at IS NOT NULL;
