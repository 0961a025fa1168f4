-- Rejected bodies naming an erased person, checked in the writer's commit before they are kept (gdpr/late-rejected.ts):
-- this lock, then the tombstones (persons.sql erasure_lookups, the identity enricher's), sent back to back and never
-- merged: under READ COMMITTED a statement that waited on a row lock re-reads only the locked row once the other
-- transaction committed, every other table as of its own start.

-- name: lock_rejected_links
-- The identity links of the visitors the bodies name ($1/$2: tenant ids + visitor ids), read FOR KEY SHARE: an
-- erasure deletes a person's links first, so either it has not yet and waits for this commit (its later delete of
-- the person's rejected rows then finds the ones kept here), or it has and this waits for it to end (and the next
-- statement sees its tombstones). MATERIALIZED keeps the locking read out of the count.
WITH links AS MATERIALIZED (
  SELECT 1
  FROM tx_identity_links
  WHERE (tenant_id, visitor_id) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))
  FOR KEY SHARE
)
SELECT count(*)::int AS n FROM links;
