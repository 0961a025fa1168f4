-- Persons and identity links: stitching, the writer enricher and the person API (server/identity/persons.ts, routes.ts).

-- name: lock_external_id
SELECT pg_advisory_xact_lock(hashtextextended('tx-person:' || $1::text || ':' || $2::text, 0));

-- name: tombstone_for_external
SELECT max(erased_at) AS erased_at FROM gdpr_erasures WHERE tenant_id = $1 AND external_sha256 = $2;

-- name: erased_visitor
SELECT erased_at FROM gdpr_erased_visitors WHERE tenant_id = $1 AND visitor_sha256 = $2;

-- name: identity_lookups
-- What the writer's enricher reads about links and persons for every commit, in one round trip (one statement
-- instead of two: the embedded store answers each one through the server's busy event loop). Pairwise arrays,
-- empty when not needed: $1/$2 tenant ids + visitor ids (identity links), $3/$4 tenant ids + external ids
-- (persons). kind says which; key is the looked-up value. tx_events stays out (persons_for_orders, only when a
-- commit has payments): a statement naming it plans every chunk or partition and waits behind a partition being
-- attached. The links are locked (FOR KEY SHARE) so an erasure cannot slip between reading a link and storing
-- events stamped with it: an erasure deletes the links first, so this either goes first (and the erasure's
-- deletes wait for this commit) or waits for the erasure to end. MATERIALIZED keeps the locking read out of the
-- UNION, where a locking clause is not allowed. The tombstones are NOT read here (erasure_lookups).
WITH links AS MATERIALIZED (
  SELECT tenant_id, visitor_id, person_id, linked_at, id
  FROM tx_identity_links
  WHERE (tenant_id, visitor_id) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))
  FOR KEY SHARE
)
SELECT 'link' AS kind, tenant_id::text AS tenant_id, visitor_id AS key, linked_at AS at, person_id::text AS person_id, id::text AS id FROM links
UNION ALL
SELECT 'person', tenant_id::text, external_id, NULL, person_id::text, NULL
FROM persons
WHERE (tenant_id, external_id) IN (SELECT * FROM unnest($3::bigint[], $4::text[]));

-- name: erasure_lookups
-- The erasure tombstones the writer's enricher checks, sent after identity_lookups in the same transaction and
-- never merged into it: under READ COMMITTED a statement that waited on a link's lock re-reads only the locked
-- row once the erasure committed, every other table as of its own start. Merged, a commit that waited for an
-- erasure saw the links gone but not that erasure's tombstones, and stored the person's late events whole. This
-- statement starts once that wait is over, so it sees the tombstones of any erasure the commit waited for.
-- Pairwise arrays of tenant ids + digests: $1/$2 erased visitors, $3/$4 erased customers, $5/$6 erased orders.
SELECT 'erased_visitor' AS kind, tenant_id::text AS tenant_id, visitor_sha256::text AS key, erased_at AS at
FROM gdpr_erased_visitors
WHERE (tenant_id, visitor_sha256) IN (SELECT * FROM unnest($1::bigint[], $2::bpchar[]))
UNION ALL
SELECT 'erased_customer', tenant_id::text, external_sha256::text, max(erased_at)
FROM gdpr_erasures
WHERE (tenant_id, external_sha256) IN (SELECT * FROM unnest($3::bigint[], $4::bpchar[]))
GROUP BY tenant_id, external_sha256
UNION ALL
SELECT 'erased_order', tenant_id::text, order_sha256::text, erased_at
FROM gdpr_erased_orders
WHERE (tenant_id, order_sha256) IN (SELECT * FROM unnest($5::bigint[], $6::bpchar[]));

-- name: persons_for_orders
-- The person an order was attributed to, for payment/refund/chargeback events of that order.
SELECT DISTINCT ON (tx_events.tenant_id, entities->>'order_id') tenant_id::text AS tenant_id, entities->>'order_id' AS order_id, person_id::text AS person_id
FROM tx_events
WHERE (tenant_id, entities->>'order_id') IN (SELECT * FROM unnest($1::bigint[], $2::text[]))
  -- Implied by the line above; spelled out so the partial index tx_events_order (migration 010) applies.
  AND entities->>'order_id' IS NOT NULL
  AND event_name IN ('order_completed', 'order_completed_shop') AND person_id IS NOT NULL
ORDER BY tx_events.tenant_id, entities->>'order_id', occurred_at DESC;

-- name: upsert_person
-- (xmax = 0) is true only for a freshly inserted row. A city synced by the catalog (in synced_fields) overrides
-- the one an order or login carries until it is synced as null (catalog.sql upsert_persons).
INSERT INTO persons (tenant_id, external_id, email_sha256, phone_sha256, city)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (tenant_id, external_id) DO UPDATE SET
  email_sha256 = COALESCE(EXCLUDED.email_sha256, persons.email_sha256),
  phone_sha256 = COALESCE(EXCLUDED.phone_sha256, persons.phone_sha256),
  city = CASE WHEN 'city' = ANY(persons.synced_fields) THEN persons.city ELSE COALESCE(EXCLUDED.city, persons.city) END,
  updated_at = now()
RETURNING person_id::text AS person_id, (xmax = 0) AS created;

-- name: newest_link
SELECT person_id::text AS person_id, linked_at FROM tx_identity_links
WHERE tenant_id = $1 AND visitor_id = $2
ORDER BY linked_at DESC, id DESC LIMIT 1;

-- name: upsert_link
-- linked_at is the time of the evidence (the order, the login); the newest evidence wins attribution.
INSERT INTO tx_identity_links AS l (tenant_id, visitor_id, person_id, confidence, link_source, order_id, first_linked_at, linked_at, metadata)
VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)
ON CONFLICT (tenant_id, visitor_id, person_id) DO UPDATE SET
  confidence = GREATEST(l.confidence, EXCLUDED.confidence),
  link_source = CASE WHEN EXCLUDED.linked_at >= l.linked_at THEN EXCLUDED.link_source ELSE l.link_source END,
  order_id = CASE WHEN EXCLUDED.linked_at >= l.linked_at THEN COALESCE(EXCLUDED.order_id, l.order_id) ELSE COALESCE(l.order_id, EXCLUDED.order_id) END,
  first_linked_at = LEAST(l.first_linked_at, EXCLUDED.first_linked_at),
  linked_at = GREATEST(l.linked_at, EXCLUDED.linked_at),
  metadata = l.metadata || EXCLUDED.metadata
RETURNING id::text AS id, (xmax = 0) AS created;

-- name: backfill_events_by_visitor
-- $4: the visitor's digest. Rows that occurred at or before the visitor's erasure (gdpr_erased_visitors) belong to
-- the erased past: a later link of the same visitor id (new evidence) takes only what came after it.
-- $5: the linked person's external id. A row naming its own customer (persons.ts customerIdOf: an order's
-- payload.customer.external_id, else a points event's payload.customer_external_id) is that customer's only: a
-- visitor id shared by several buyers (a box-office till, a family laptop) gives no one another buyer's order.
-- A row naming an order, not the order itself, and no customer (persons.ts followsOrder: a payment, a refund, a
-- scan) takes that order's person only (backfill_events_by_order), never the visitor's: on a till the visitor's
-- link is another buyer's when Stripe's payment arrives before its own order.
WITH u AS (
  UPDATE tx_events SET person_id = $3 WHERE tenant_id = $1 AND visitor_id = $2 AND person_id IS NULL
    AND NOT EXISTS (SELECT 1 FROM gdpr_erased_visitors g WHERE g.tenant_id = $1 AND g.visitor_sha256 = $4 AND tx_events.occurred_at <= g.erased_at)
    AND COALESCE(NULLIF(CASE WHEN jsonb_typeof(payload->'customer') = 'object' THEN payload->'customer'->>'external_id'
      ELSE payload->>'customer_external_id' END, ''), $5::text) = $5::text
    AND (entities->>'order_id' IS NULL OR event_name IN ('order_completed', 'order_completed_shop')
      OR NULLIF(CASE WHEN jsonb_typeof(payload->'customer') = 'object' THEN payload->'customer'->>'external_id'
        ELSE payload->>'customer_external_id' END, '') IS NOT NULL)
  RETURNING 1
) SELECT count(*)::int AS n FROM u;

-- name: backfill_events_by_order
-- Every row naming the order, rows stored before it (a payment Stripe delivered first) included.
WITH u AS (
  UPDATE tx_events SET person_id = $3 WHERE tenant_id = $1 AND entities->>'order_id' = $2 AND person_id IS NULL RETURNING 1
) SELECT count(*)::int AS n FROM u;

-- name: backfill_sessions_by_visitor
-- $4: the visitor's digest. A session that began at or before the visitor's erasure is the erased past's (see
-- backfill_events_by_visitor).
WITH u AS (
  UPDATE tx_sessions SET person_id = $3, updated_at = now() WHERE tenant_id = $1 AND visitor_id = $2 AND person_id IS NULL
    AND NOT EXISTS (SELECT 1 FROM gdpr_erased_visitors g WHERE g.tenant_id = $1 AND g.visitor_sha256 = $4 AND tx_sessions.first_seen_at <= g.erased_at)
  RETURNING 1
) SELECT count(*)::int AS n FROM u;

-- name: get_person
SELECT person_id::text AS person_id, tenant_id::text AS tenant_id, external_id, email_sha256, phone_sha256, city, created_at, updated_at,
  marketing_consent, marketing_consent_at, total_orders, events_attended, last_purchase_at, avg_order_value::text AS avg_order_value, synced_fields
FROM persons WHERE tenant_id = $1 AND person_id = $2;

-- name: find_person_by_external
SELECT person_id::text AS person_id, tenant_id::text AS tenant_id, external_id, email_sha256, phone_sha256, city, created_at, updated_at,
  marketing_consent, marketing_consent_at, total_orders, events_attended, last_purchase_at, avg_order_value::text AS avg_order_value, synced_fields
FROM persons WHERE tenant_id = $1 AND external_id = $2;

-- name: links_of_person
SELECT id::text AS id, visitor_id, person_id::text AS person_id, confidence::float8 AS confidence, link_source, order_id,
  first_linked_at, linked_at, metadata
FROM tx_identity_links WHERE tenant_id = $1 AND person_id = $2 ORDER BY linked_at, tx_identity_links.id;

-- name: delete_person_links
WITH d AS (DELETE FROM tx_identity_links WHERE tenant_id = $1 AND person_id = $2 RETURNING 1)
SELECT count(*)::int AS n FROM d;

-- name: delete_person
WITH d AS (DELETE FROM persons WHERE tenant_id = $1 AND person_id = $2 RETURNING 1)
SELECT count(*)::int AS n FROM d;
