-- Erasure tombstones named by rejected bodies, read in the writer's commit before they are kept (gdpr/late-rejected.ts).
-- Two statements sent back to back, never merged, as the identity enricher's (persons.sql identity_lookups, then
-- its tombstones): under READ COMMITTED a statement that waited on a row lock re-reads only the locked row once
-- the other transaction committed, every other table as of its own start.

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

-- name: erased_in_rejected
-- Pairwise arrays of tenant ids + digests (identity/crypto.ts idDigest), empty when not needed: $1/$2 visitors
-- (gdpr_erased_visitors), $3/$4 customers (gdpr_erasures), $5/$6 orders (gdpr_erased_orders).
SELECT 'visitor' AS kind, tenant_id::text AS tenant_id, visitor_sha256::text AS key, erased_at AS at
FROM gdpr_erased_visitors
WHERE (tenant_id, visitor_sha256) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))
UNION ALL
SELECT 'customer', tenant_id::text, external_sha256::text, max(erased_at)
FROM gdpr_erasures
WHERE (tenant_id, external_sha256) IN (SELECT * FROM unnest($3::bigint[], $4::text[]))
GROUP BY tenant_id, external_sha256
UNION ALL
SELECT 'order', tenant_id::text, order_sha256::text, erased_at
FROM gdpr_erased_orders
WHERE (tenant_id, order_sha256) IN (SELECT * FROM unnest($5::bigint[], $6::text[]));
