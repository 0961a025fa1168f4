-- The order ledger: an order is one event (SPEC: `order_completed_{order_id}` maps to one event id). A backend that
-- put a new random event_id on a re-sent order passed the event-id ledger (tx_event_ids), and the order was stored
-- twice: persons, conversions and campaign credits deduplicated it by order downstream, but the live funnel and
-- dashboard, the feature store's aggregates, daily analytics and funnels counted it twice. The writer now claims
-- (tenant, event name, order) here in the commit that stores the order (sql/queries/events.sql
-- insert_events_orders); a row that finds its order claimed is a duplicate and is not stored. Only order_completed
-- and order_completed_shop, one per order by definition (server/ingest/orders.ts says why not payments or refunds).
-- Keyed by event name: a ticket order and a shop order are two namespaces, as their default idempotency keys are
-- (`{event_name}_{order_id}`, identity/routes.ts).
-- The order id is kept as its tenant-keyed digest (identity/crypto.ts idDigest(tenant, 'order', id): the digest of
-- gdpr_erased_orders), no event id: nothing here names the order or its buyer, so an erasure leaves the row, and a
-- late re-send of an erased order stays a duplicate rather than coming back as an anonymised copy counted again.
-- Never pruned, unlike tx_event_ids (whose rows older than the backfill window can go because such events are
-- refused as too old): an order may be re-sent later with a new occurred_at and must still be a duplicate, and
-- orders are few beside events. GDPR registry: none (server/gdpr/tables.ts).
CREATE TABLE tx_order_ids (
  tenant_id     bigint NOT NULL,
  event_name    text NOT NULL,
  order_sha256  char(64) NOT NULL,
  received_at   timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, event_name, order_sha256)
);

-- The orders stored so far. An order an older version stored twice keeps both rows (they are history); the ledger
-- only stops a third. The digest is idDigest's (sha256 of "tenant:order:id", hex): a numeric order id reads as its
-- decimal text here as String() writes it in the writer (validation takes safe integers only, never an exponent).
INSERT INTO tx_order_ids (tenant_id, event_name, order_sha256, received_at)
SELECT DISTINCT ON (tenant_id, event_name, entities->>'order_id')
  tenant_id, event_name, encode(sha256(convert_to(tenant_id::text || ':order:' || (entities->>'order_id'), 'UTF8')), 'hex'), received_at
FROM tx_events
WHERE event_name IN ('order_completed', 'order_completed_shop') AND entities->>'order_id' IS NOT NULL
ORDER BY tenant_id, event_name, entities->>'order_id', received_at
ON CONFLICT DO NOTHING;

-- And the orders erased so far: their rows left tx_events, their digest (the same idDigest, gdpr/erasure.ts) stays
-- in gdpr_erased_orders. Without them an order erased before the upgrade and re-sent after it would be stored as an
-- anonymised late copy, counted again. The tombstone does not say whether it was a ticket or a shop order (nor
-- whether its order event was stored at all: it holds the order ids of all the person's events): both are claimed,
-- so an order event naming such an order id later is a duplicate. What that loses (the erased person's order of the
-- other kind under the same id, or one whose order event never came before the erasure) is rare; a re-sent order
-- counted twice is not. Ledger rows written after the upgrade claim the event name the order was stored under.
INSERT INTO tx_order_ids (tenant_id, event_name, order_sha256, received_at)
SELECT g.tenant_id, n.event_name, g.order_sha256, g.erased_at
FROM gdpr_erased_orders g CROSS JOIN (VALUES ('order_completed'), ('order_completed_shop')) AS n(event_name)
ON CONFLICT DO NOTHING;
