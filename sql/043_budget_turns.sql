-- A budget's turn held in the store (server/campaigns/budget-turns.ts): approvals and hand-set daily budgets of one
-- budget check its headroom and write one after another across nodes too, not only within one. turn_holder: the
-- token of the turn holding it; turn_until: when that lease runs out, so a node that died in its turn holds the
-- budget no longer than that. Both NULL while no turn holds it.
ALTER TABLE ad_campaign_budgets ADD COLUMN turn_holder text;
ALTER TABLE ad_campaign_budgets ADD COLUMN turn_until timestamptz;
