-- Remarketing sync (issue 14 probe):
-- 1. One sync of an audience at a time, across nodes: a sync claims the audience (sync_claim, a random id) until
--    sync_lease_until, renewed before each platform request; a second sync while the lease holds is refused.
-- 2. A deleted audience whose platform copy still holds members is kept, hidden, as 'deleting' (its members gone)
--    until a removal-only sync told the platform to drop every digest it was sent; then the row goes. A crash or
--    a failing platform leaves it for the daily remarketing.refresh job, which retries.
-- 3. Erased persons' digests (remarketing_synced rows without a person) are found per audience by the job
--    whatever the audience's auto_refresh or status.
ALTER TABLE remarketing_audiences ADD COLUMN sync_claim text;
ALTER TABLE remarketing_audiences ADD COLUMN sync_lease_until timestamptz;
ALTER TABLE remarketing_audiences DROP CONSTRAINT IF EXISTS remarketing_audiences_status_check;
ALTER TABLE remarketing_audiences ADD CONSTRAINT remarketing_audiences_status_check
  CHECK (status IN ('building', 'ready', 'syncing', 'active', 'expired', 'deleting'));
CREATE INDEX remarketing_synced_erased ON remarketing_synced (audience_id) WHERE person_id IS NULL;
