-- Campaign columns that hold order amounts take the largest order ingest accepts (MAX_AMOUNT, 10 000 000 000 in
-- major units, server/ingest/registry.ts) and sums of many. numeric(13,3) stopped at 9 999 999 999.999: one
-- order_completed of 10 000 000 000 attributed to a campaign made credit_from_attributions fail with "numeric field
-- overflow" at every metrics sync of its 2-day look-back, and with it campaigns.sync_metrics and campaigns.optimize
-- of every tenant (budgets overspent). The platform's claimed revenue per campaign is the sum of the purchase values
-- we send it, so it needs the room too. numeric(20,3): 17 integer digits (nearly ten million orders of MAX_AMOUNT),
-- still three decimals (migration 022). Raising the precision at the same scale changes no stored value.
-- Audited with them, and already unbounded: the feature store's revenue/gross/net/avg_order_value (numeric, sums in
-- the continuous aggregates or plain tables of 013/019), persons.avg_order_value, fs_person_scores.monetary,
-- fs_person_ticket_pref.avg_price (numeric), audience_versions.expected_gmv (float8); conversion values travel in
-- jsonb. The budgets' own amounts are bounded by the API (at most 10 000 000) and hold no order amount.
-- GDPR: amounts, no person.
ALTER TABLE campaign_credits ALTER COLUMN revenue TYPE numeric(20,3);
ALTER TABLE campaign_metric_snapshots ALTER COLUMN revenue TYPE numeric(20,3);
