-- A synced marketing consent dated ahead of the clock (catalog persons marketing_consent_at, refused since more
-- than 1 h ahead like updated_at: server/catalog/schemas.ts AHEAD_FIELDS) outranked every later statement: the
-- newest wins, so a checkout's opt-out was ignored until that date and the person stayed in remarketing
-- audiences. Such a consent is taken as stated at its sync instead: synced_at, the time of the last sync that
-- changed the person (never before the one that stored it), else now. The persons.stats job (every 10 minutes)
-- then lets an order stated later replace it, as for any synced consent (catalog.sql recompute_person_stats).
-- Only synced consents: one an order stated is dated by the order (ingest takes those up to FUTURE_HOURS ahead).
UPDATE persons SET marketing_consent_at = COALESCE(synced_at, now()), updated_at = now()
WHERE 'marketing_consent' = ANY(synced_fields) AND marketing_consent_at > now() + interval '1 hour';
