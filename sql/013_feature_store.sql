-- The feature store (issue 13, README "Feature store", server/features/). Every figure is a recount of
-- tx_events: three aggregates over the raw events, and tables that jobs fill with set-based SQL.
--
-- Aggregates: on TimescaleDB (embedded PGlite included) continuous aggregates, real-time
-- (materialized_only = false), refreshed by the features.refresh job with refresh_continuous_aggregate over
-- the buckets that received rows (no TimescaleDB policy: PGlite has no background scheduler). On plain
-- PostgreSQL the same names are plain tables that the same job rewrites bucket range by bucket range with the
-- same SELECT (sql/queries/features.sql recount_*): the read functions and the API do not know which.
-- Money per currency: an order row is grouped under its currency, every other row under currency NULL, so a
-- bucket is one row per currency with orders plus one row (NULL) with the other counts; readers sum them.
-- Bots and rows without an event entity (event aggregates) or a person (person aggregate) do not count,
-- as in the live layer (server/live/facts.ts).

-- Ticket count of an order's items (qty of each line); IMMUTABLE so a continuous aggregate may use it.
CREATE FUNCTION fs_items_qty(items jsonb) RETURNS numeric LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(sum((it->>'qty')::numeric), 0)
  FROM jsonb_array_elements(CASE jsonb_typeof(items) WHEN 'array' THEN items ELSE '[]'::jsonb END) AS it
  WHERE jsonb_typeof(it->'qty') = 'number'
$$;

-- A payload number, or NULL when absent or not a number.
CREATE FUNCTION fs_num(v jsonb) RETURNS numeric LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE jsonb_typeof(v) WHEN 'number' THEN (v #>> '{}')::numeric END
$$;

-- The currency an order row is grouped under ('XXX' when it carries none); NULL for every other row.
CREATE FUNCTION fs_order_currency(event_name text, payload jsonb) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN event_name = 'order_completed' THEN
    CASE jsonb_typeof(payload->'currency') WHEN 'string' THEN payload->>'currency' ELSE 'XXX' END END
$$;

-- timescale-only
CREATE MATERIALIZED VIEW fs_event_funnel_hourly WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT tenant_id, entities->>'event_entity_id' AS event_entity_id, time_bucket(INTERVAL '1 hour', occurred_at) AS hour,
  fs_order_currency(event_name, payload) AS currency,
  count(*) FILTER (WHERE event_name = 'event_view') AS page_views,
  count(*) FILTER (WHERE event_name = 'ticket_type_selected') AS ticket_selections,
  count(*) FILTER (WHERE event_name = 'add_to_cart') AS add_to_carts,
  count(*) FILTER (WHERE event_name = 'checkout_started') AS checkout_starts,
  count(*) FILTER (WHERE event_name = 'payment_attempted') AS payment_attempts,
  count(*) FILTER (WHERE event_name = 'order_completed') AS orders_completed,
  coalesce(sum(fs_items_qty(payload->'items')) FILTER (WHERE event_name = 'order_completed'), 0) AS tickets_sold,
  coalesce(sum(fs_num(payload->'gross_amount')) FILTER (WHERE event_name = 'order_completed'), 0) AS revenue_gross
FROM tx_events
WHERE NOT is_bot AND entities ? 'event_entity_id'
GROUP BY tenant_id, entities->>'event_entity_id', time_bucket(INTERVAL '1 hour', occurred_at), fs_order_currency(event_name, payload)
WITH NO DATA;

-- Not hierarchical on the hourly aggregate: unique viewers per day cannot be summed from hours (a visitor seen
-- in two hours would count twice), and everything else is one pass over the same rows anyway.
CREATE MATERIALIZED VIEW fs_event_daily WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT tenant_id, entities->>'event_entity_id' AS event_entity_id, time_bucket(INTERVAL '1 day', occurred_at) AS date,
  fs_order_currency(event_name, payload) AS currency,
  count(*) FILTER (WHERE event_name = 'event_view') AS views,
  count(*) FILTER (WHERE event_name = 'add_to_cart') AS add_to_cart,
  count(*) FILTER (WHERE event_name = 'checkout_started') AS checkouts_started,
  count(*) FILTER (WHERE event_name = 'order_completed') AS orders,
  coalesce(sum(fs_items_qty(payload->'items')) FILTER (WHERE event_name = 'order_completed'), 0) AS tickets_sold,
  coalesce(sum(fs_num(payload->'gross_amount')) FILTER (WHERE event_name = 'order_completed'), 0) AS revenue,
  count(*) FILTER (WHERE event_name = 'event_card_impression') AS impressions,
  count(DISTINCT visitor_id) FILTER (WHERE event_name IN ('event_view', 'event_card_click')) AS unique_viewers,
  count(*) FILTER (WHERE event_name = 'event_card_click') AS clicks,
  count(*) FILTER (WHERE event_name = 'event_interest_marked' AND coalesce(payload->>'interested', 'true') <> 'false') AS interested,
  count(*) FILTER (WHERE event_name = 'ticket_link_click') AS ticket_link_clicks
FROM tx_events
WHERE NOT is_bot AND entities ? 'event_entity_id'
GROUP BY tenant_id, entities->>'event_entity_id', time_bucket(INTERVAL '1 day', occurred_at), fs_order_currency(event_name, payload)
WITH NO DATA;

CREATE MATERIALIZED VIEW fs_person_daily WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT tenant_id, person_id, time_bucket(INTERVAL '1 day', occurred_at) AS date,
  fs_order_currency(event_name, payload) AS currency,
  count(*) FILTER (WHERE event_name = 'event_view') AS views_count,
  count(*) FILTER (WHERE event_name = 'add_to_cart') AS carts_count,
  count(*) FILTER (WHERE event_name = 'checkout_started') AS checkouts_count,
  count(*) FILTER (WHERE event_name = 'order_completed') AS purchases_count,
  count(*) FILTER (WHERE event_name = 'entry_granted') AS attendance_count,
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

-- Materialization chunks: aggregate retention drops whole chunks (drop_chunks), so their length is how late a
-- bucket can go after AGGREGATE_RETENTION_MONTHS (the default would be ten raw chunks, 70 days).
SELECT set_chunk_time_interval('fs_event_funnel_hourly', INTERVAL '7 days');
SELECT set_chunk_time_interval('fs_event_daily', INTERVAL '30 days');
SELECT set_chunk_time_interval('fs_person_daily', INTERVAL '30 days');
-- end timescale-only

-- plain-only: CREATE TABLE fs_event_funnel_hourly (tenant_id bigint NOT NULL, event_entity_id text, hour timestamptz NOT NULL, currency text, page_views bigint NOT NULL, ticket_selections bigint NOT NULL, add_to_carts bigint NOT NULL, checkout_starts bigint NOT NULL, payment_attempts bigint NOT NULL, orders_completed bigint NOT NULL, tickets_sold numeric NOT NULL, revenue_gross numeric NOT NULL);
-- plain-only: CREATE INDEX fs_event_funnel_hourly_key ON fs_event_funnel_hourly (tenant_id, event_entity_id, hour);
-- plain-only: CREATE INDEX fs_event_funnel_hourly_hour ON fs_event_funnel_hourly (hour);
-- plain-only: CREATE TABLE fs_event_daily (tenant_id bigint NOT NULL, event_entity_id text, date timestamptz NOT NULL, currency text, views bigint NOT NULL, add_to_cart bigint NOT NULL, checkouts_started bigint NOT NULL, orders bigint NOT NULL, tickets_sold numeric NOT NULL, revenue numeric NOT NULL, impressions bigint NOT NULL, unique_viewers bigint NOT NULL, clicks bigint NOT NULL, interested bigint NOT NULL, ticket_link_clicks bigint NOT NULL);
-- plain-only: CREATE INDEX fs_event_daily_key ON fs_event_daily (tenant_id, event_entity_id, date);
-- plain-only: CREATE INDEX fs_event_daily_date ON fs_event_daily (date);
-- plain-only: CREATE TABLE fs_person_daily (tenant_id bigint NOT NULL, person_id bigint NOT NULL, date timestamptz NOT NULL, currency text, views_count bigint NOT NULL, carts_count bigint NOT NULL, checkouts_count bigint NOT NULL, purchases_count bigint NOT NULL, attendance_count bigint NOT NULL, gross_amount numeric NOT NULL, net_amount numeric NOT NULL, discount_orders bigint NOT NULL, affiliate_orders bigint NOT NULL, avg_order_value numeric, discount_usage_rate numeric, affiliate_rate numeric);
-- plain-only: CREATE INDEX fs_person_daily_key ON fs_person_daily (tenant_id, person_id, date);
-- plain-only: CREATE INDEX fs_person_daily_date ON fs_person_daily (date);

-- Per-visitor funnel timings (an aggregate cannot pair a visitor's first view with their first cart): filled by
-- the features.timings job for the events that received rows. Bucketed by the hour of the later step.
CREATE TABLE fs_event_funnel_timings (
  tenant_id                 bigint NOT NULL,
  event_entity_id           text NOT NULL,
  hour                      timestamptz NOT NULL,
  avg_time_to_cart_ms       bigint,
  avg_time_to_checkout_ms   bigint,
  avg_checkout_duration_ms  bigint,
  -- How many visitors each average covers (a sum over several events weights by them).
  carts_timed               int NOT NULL,
  checkouts_timed           int NOT NULL,
  payments_timed            int NOT NULL,
  PRIMARY KEY (tenant_id, event_entity_id, hour)
);

-- A person's decision time per day (first event_view of an event → an order of that event), job-filled.
CREATE TABLE fs_person_daily_timings (
  tenant_id             bigint NOT NULL,
  person_id             bigint NOT NULL,
  date                  timestamptz NOT NULL,
  avg_decision_time_ms  bigint NOT NULL,
  decisions             int NOT NULL,
  PRIMARY KEY (tenant_id, person_id, date)
);

-- Affinities (seed 001 §5.2): weights view 1, cart 3, checkout 5, order 10, entry 12, decay exp(-days/60),
-- events of the last 90 days. The job stores them anchored at last_interaction_at in the *_raw tables
-- (score_at_last = Σ w·exp(-(last - t)/60 d)), so a person with no new events keeps the same row whatever day it
-- is computed (incremental = full); the views fs_person_affinity_artist / _genre add affinity_score, the score at
-- the time of the query: score_at_last·exp(-(now() - last_interaction_at)/60 d) = Σ w·exp(-(now() - t)/60 d).
CREATE TABLE fs_person_affinity_artist_raw (
  tenant_id            bigint NOT NULL,
  person_id            bigint NOT NULL,
  artist_id            text NOT NULL,
  score_at_last        double precision NOT NULL,
  views_count          int NOT NULL,
  purchases_count      int NOT NULL,
  attendance_count     int NOT NULL,
  last_interaction_at  timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, person_id, artist_id)
);

CREATE TABLE fs_person_affinity_genre_raw (
  tenant_id            bigint NOT NULL,
  person_id            bigint NOT NULL,
  genre                text NOT NULL,
  score_at_last        double precision NOT NULL,
  views_count          int NOT NULL,
  purchases_count      int NOT NULL,
  attendance_count     int NOT NULL,
  last_interaction_at  timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, person_id, genre)
);

CREATE VIEW fs_person_affinity_artist AS
SELECT tenant_id, person_id, artist_id,
  score_at_last * exp(-greatest(0, extract(epoch FROM now() - last_interaction_at)) / 5184000.0) AS affinity_score,
  views_count, purchases_count, attendance_count, last_interaction_at, score_at_last
FROM fs_person_affinity_artist_raw;

CREATE VIEW fs_person_affinity_genre AS
SELECT tenant_id, person_id, genre,
  score_at_last * exp(-greatest(0, extract(epoch FROM now() - last_interaction_at)) / 5184000.0) AS affinity_score,
  views_count, purchases_count, attendance_count, last_interaction_at, score_at_last
FROM fs_person_affinity_genre_raw;

CREATE TABLE fs_person_ticket_pref (
  tenant_id         bigint NOT NULL,
  person_id         bigint NOT NULL,
  ticket_category   text NOT NULL,
  purchases_count   int NOT NULL,
  avg_price         numeric,
  price_band        text CHECK (price_band IN ('low', 'mid', 'high', 'premium')),
  preference_score  double precision NOT NULL,
  PRIMARY KEY (tenant_id, person_id, ticket_category)
);

-- The tenant's ticket price quartiles the bands were computed with (catalog_ticket_types.price): when they
-- change, every band of the tenant is recomputed, so an incremental run equals a full one.
CREATE TABLE fs_tenant_price_quartiles (
  tenant_id  bigint PRIMARY KEY,
  q1         numeric,
  q2         numeric,
  q3         numeric
);

CREATE TABLE fs_event_attendance (
  tenant_id        bigint NOT NULL,
  event_entity_id  text NOT NULL,
  tickets_sold     numeric NOT NULL,
  entries          bigint NOT NULL,
  no_show_rate     double precision,
  first_entry_at   timestamptz,
  last_entry_at    timestamptz,
  peak_inside      bigint,
  PRIMARY KEY (tenant_id, event_entity_id)
);

-- Seed 000 CoreCustomer: RFM quintiles within the tenant, a segment from them, engagement (last 30 days).
CREATE TABLE fs_person_scores (
  tenant_id             bigint NOT NULL,
  person_id             bigint NOT NULL,
  recency_days          double precision,
  frequency             int NOT NULL,
  monetary              numeric NOT NULL,
  rfm_recency_score     smallint,
  rfm_frequency_score   smallint,
  rfm_monetary_score    smallint,
  customer_segment      text NOT NULL,
  sessions_30d          int NOT NULL,
  active_ms_30d         bigint NOT NULL,
  interactions_30d      int NOT NULL,
  engagement_score      double precision NOT NULL,
  computed_at           timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, person_id)
);
CREATE INDEX fs_person_scores_segment ON fs_person_scores (tenant_id, customer_segment);

-- What each feature job has seen: the highest tx_events.id it processed and the bounds it used, so the next
-- run looks only at newer rows. Global (jobs cover every tenant); tenant_id stays NULL.
CREATE TABLE fs_job_state (
  job            text PRIMARY KEY,
  tenant_id      bigint,
  last_id        bigint NOT NULL DEFAULT 0,
  last_run_at    timestamptz,
  refreshed_to   timestamptz
);
