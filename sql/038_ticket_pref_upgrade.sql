-- Ticket preferences after migration 036 (README "Feature store"), so that the first incremental persons run
-- after the upgrade equals a full recompute:
-- 1. Rows computed before 036 for persons whose order lines name no catalog ticket type kept currency NULL and
--    their mixed average (no fingerprint of theirs changed), and a re-band gave them no band. The persons job
--    also recomputes the persons having such a row (features.sql stale_ticket_pref_keys); this partial index
--    finds them without a scan, and empties as they are recomputed (a recomputed row has a currency whenever
--    it has an average).
-- 2. Ticket types without a currency (optional in the catalog): a line without its own price now takes its
--    type's price in the order's currency (before, such lines counted no price), and their prices form the
--    tenant's fallback quartiles, stored under currency '*' (no ISO 4217 code), banding the rows of a currency
--    without quartiles of its own. Forgetting the fingerprints the persons' rows were computed with for these
--    types (fs_catalog_seen) has the next persons run recompute their buyers (features.sql catalog_changes);
--    the same run stores the fallback quartiles and re-bands the tenant.
-- GDPR: an index of fs_person_ticket_pref (exporter/eraser: features); fs_catalog_seen holds no person.
CREATE INDEX fs_person_ticket_pref_no_currency ON fs_person_ticket_pref (tenant_id, person_id)
  WHERE currency IS NULL AND avg_price IS NOT NULL;

DELETE FROM fs_catalog_seen s USING catalog_ticket_types t
WHERE s.kind = 'ticket_type' AND s.tenant_id = t.tenant_id AND s.id = t.id AND t.currency IS NULL AND t.price IS NOT NULL;
