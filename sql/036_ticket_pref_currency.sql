-- Ticket preferences per currency (README "Feature store"): a person's average ticket price is taken over the
-- category's lines in one currency (the one with most tickets) and banded against the tenant's quartiles of
-- ticket prices in that currency. Before, a tenant selling in RON and EUR averaged 200 RON with 40 EUR and
-- banded both against one mixed set of quartiles.
-- GDPR: fs_person_ticket_pref keeps its exporter/eraser (features); the quartiles hold no person.
ALTER TABLE fs_person_ticket_pref ADD COLUMN currency char(3);

DROP TABLE fs_tenant_price_quartiles;
CREATE TABLE fs_tenant_price_quartiles (
  tenant_id  bigint NOT NULL,
  currency   char(3) NOT NULL,
  q1         numeric,
  q2         numeric,
  q3         numeric,
  PRIMARY KEY (tenant_id, currency)
);

-- A ticket type's currency is now read by the preferences: it joins the fingerprint, and the changed fingerprint
-- of every ticket type has the next persons run recompute the persons who bought one (rows of lines without a
-- catalog ticket type keep currency NULL until their person has a new event).
CREATE OR REPLACE VIEW fs_catalog_features AS
SELECT tenant_id, 'event'::text AS kind, id, jsonb_build_array(artist_ids, genres) AS fingerprint FROM catalog_events
UNION ALL
SELECT tenant_id, 'ticket_type'::text, id, jsonb_build_array(category, price, currency) FROM catalog_ticket_types;
