-- Feature store recount fixes (README "Feature store"; server/features/). Three things every figure must equal
-- a recount of tx_events for:
--
-- 1. An exit scan (entry_granted with payload.scan_type 'exit') takes one off inside and is no entry (README
--    "Live layer"): fs_person_daily.attendance_count no longer counts it. A continuous aggregate's query cannot
--    be altered, so on TimescaleDB fs_person_daily is created again with the same name, columns and chunk
--    interval. Its rows of days before the oldest raw event (kept by AGGREGATE_RETENTION_MONTHS after
--    RETENTION_MONTHS dropped their raw rows, so no refresh can recount them) are copied into the new
--    aggregate's materialization hypertable as they were; they show once the next features.refresh has
--    materialised the days after them (until then, real-time rows are read from tx_events: correct, only those
--    old days are missing). Plain PostgreSQL's table keeps its rows: the next refresh rewrites them.
--    The jobs' watermarks of the refresh, attendance and persons jobs are reset, so their next run recounts
--    everything (as features.full does) with the fixed queries.
-- 2. A scanner's entry_granted naming an order gets the order's person at ingest (server/identity/persons.ts
--    ORDER_FOLLOWERS); entries stored before that get it here, from the order as persons_for_orders reads it
--    (the newest order row of that id with a person).
-- 3. Affinities and ticket preferences read the catalog (events' artists and genres, ticket types' category and
--    price): fs_catalog_seen keeps what the persons job last computed with, per event and ticket type, so the
--    next incremental run recomputes exactly the persons a catalog change touches (features.sql
--    catalog_changes, catalog_change_persons). Seeded with the catalog as it is now.

-- timescale-only
CREATE TEMP TABLE fs_person_daily_kept ON COMMIT DROP AS
SELECT * FROM fs_person_daily
WHERE date < coalesce((SELECT time_bucket(INTERVAL '1 day', min(occurred_at)) FROM tx_events), 'infinity'::timestamptz);

DROP MATERIALIZED VIEW fs_person_daily;

CREATE MATERIALIZED VIEW fs_person_daily WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT tenant_id, person_id, time_bucket(INTERVAL '1 day', occurred_at) AS date,
  fs_order_currency(event_name, payload) AS currency,
  count(*) FILTER (WHERE event_name = 'event_view') AS views_count,
  count(*) FILTER (WHERE event_name = 'add_to_cart') AS carts_count,
  count(*) FILTER (WHERE event_name = 'checkout_started') AS checkouts_count,
  count(*) FILTER (WHERE event_name = 'order_completed') AS purchases_count,
  count(*) FILTER (WHERE event_name = 'entry_granted' AND payload->>'scan_type' IS DISTINCT FROM 'exit') AS attendance_count,
  coalesce(sum(fs_num(payload->'gross_amount')) FILTER (WHERE event_name = 'order_completed'), 0) AS gross_amount,
  coalesce(sum(fs_num(payload->'net_amount')) FILTER (WHERE event_name = 'order_completed'), 0) AS net_amount,
  count(*) FILTER (WHERE event_name = 'order_completed'
    AND (coalesce(payload->>'discount_code', '') <> '' OR coalesce(fs_num(payload->'discount_total'), 0) > 0)) AS discount_orders,
  count(*) FILTER (WHERE event_name = 'order_completed' AND coalesce(payload->>'affiliate_id', '') <> '') AS affiliate_orders,
  -- Seed 001's ratios, per (day, currency): NULL on the row without orders.
  round(coalesce(sum(fs_num(payload->'gross_amount')) FILTER (WHERE event_name = 'order_completed'), 0)
    / nullif(count(*) FILTER (WHERE event_name = 'order_completed'), 0), 2) AS avg_order_value,
  round(count(*) FILTER (WHERE event_name = 'order_completed'
    AND (coalesce(payload->>'discount_code', '') <> '' OR coalesce(fs_num(payload->'discount_total'), 0) > 0))::numeric
    / nullif(count(*) FILTER (WHERE event_name = 'order_completed'), 0), 4) AS discount_usage_rate,
  round(count(*) FILTER (WHERE event_name = 'order_completed' AND coalesce(payload->>'affiliate_id', '') <> '')::numeric
    / nullif(count(*) FILTER (WHERE event_name = 'order_completed'), 0), 4) AS affiliate_rate
FROM tx_events
WHERE NOT is_bot AND person_id IS NOT NULL
GROUP BY tenant_id, person_id, time_bucket(INTERVAL '1 day', occurred_at), fs_order_currency(event_name, payload)
WITH NO DATA;

SELECT set_chunk_time_interval('fs_person_daily', INTERVAL '30 days');

DO $$
DECLARE mat text;
BEGIN
  SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name) INTO mat
  FROM timescaledb_information.continuous_aggregates WHERE view_name = 'fs_person_daily';
  EXECUTE format('INSERT INTO %s SELECT * FROM fs_person_daily_kept', mat);
END $$;
-- end timescale-only

DELETE FROM fs_job_state WHERE job IN ('features.refresh', 'features.attendance', 'features.persons');

UPDATE tx_events e SET person_id = o.person_id
FROM (
  SELECT DISTINCT ON (tenant_id, entities->>'order_id') tenant_id, entities->>'order_id' AS order_id, person_id
  FROM tx_events
  WHERE entities->>'order_id' IS NOT NULL AND event_name IN ('order_completed', 'order_completed_shop') AND person_id IS NOT NULL
  ORDER BY tenant_id, entities->>'order_id', occurred_at DESC
) o
WHERE e.event_name = 'entry_granted' AND e.person_id IS NULL AND e.entities->>'order_id' IS NOT NULL
  AND e.tenant_id = o.tenant_id AND e.entities->>'order_id' = o.order_id;

-- What affinities (an event's artists and genres) and ticket preferences (a ticket type's category and price)
-- read of the catalog, one fingerprint per item: the persons job compares it with fs_catalog_seen.
CREATE VIEW fs_catalog_features AS
SELECT tenant_id, 'event'::text AS kind, id, jsonb_build_array(artist_ids, genres) AS fingerprint FROM catalog_events
UNION ALL
SELECT tenant_id, 'ticket_type'::text, id, jsonb_build_array(category, price) FROM catalog_ticket_types;

-- The fingerprints the persons' affinities and ticket preferences were last computed with (no person here).
CREATE TABLE fs_catalog_seen (
  tenant_id    bigint NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('event', 'ticket_type')),
  id           text NOT NULL,
  fingerprint  jsonb NOT NULL,
  PRIMARY KEY (tenant_id, kind, id)
);
INSERT INTO fs_catalog_seen SELECT tenant_id, kind, id, fingerprint FROM fs_catalog_features;
