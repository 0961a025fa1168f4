-- A node cut off from Redis reads the tenants erased since its outage began (sql/queries/live.sql
-- erased_tenants_since) on recovery; gdpr_erasures grows by one row per erased person and is never pruned, so
-- without this index each recovery scanned all of it while the node's live state waited.
CREATE INDEX IF NOT EXISTS gdpr_erasures_erased_at ON gdpr_erasures (erased_at);
