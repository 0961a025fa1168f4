-- The feature store's read API (server/features/read.ts). The same text reads the continuous aggregates
-- (TimescaleDB, real-time) and the plain tables of the same names (plain PostgreSQL). Money is summed per
-- currency here and shaped into {"EUR": n} by read.ts. $1 tenant; times are [from, to).

-- name: funnel_series
-- Hourly rows of the events $2 in [$3, $4), per bucket of $5 ('hour' or 'day') and currency (NULL = no orders).
SELECT date_bin(CASE WHEN $5 = 'day' THEN INTERVAL '1 day' ELSE INTERVAL '1 hour' END, hour, TIMESTAMPTZ '2000-01-03 00:00:00+00') AS ts, currency,
  sum(page_views)::float8 AS page_views, sum(ticket_selections)::float8 AS ticket_selections, sum(add_to_carts)::float8 AS add_to_carts,
  sum(checkout_starts)::float8 AS checkout_starts, sum(payment_attempts)::float8 AS payment_attempts,
  sum(orders_completed)::float8 AS orders_completed, sum(tickets_sold)::float8 AS tickets_sold, sum(revenue_gross)::float8 AS revenue_gross
FROM fs_event_funnel_hourly
WHERE tenant_id = $1 AND event_entity_id = ANY($2::text[]) AND hour >= $3 AND hour < $4
GROUP BY 1, 2 ORDER BY 1, 2 NULLS FIRST;

-- name: funnel_timings
-- Averages weighted by the visitors they cover, so a sum over several events or hours stays a per-visitor mean.
SELECT date_bin(CASE WHEN $5 = 'day' THEN INTERVAL '1 day' ELSE INTERVAL '1 hour' END, hour, TIMESTAMPTZ '2000-01-03 00:00:00+00') AS ts,
  round(sum(avg_time_to_cart_ms * carts_timed) / nullif(sum(carts_timed) FILTER (WHERE avg_time_to_cart_ms IS NOT NULL), 0))::float8 AS avg_time_to_cart_ms,
  round(sum(avg_time_to_checkout_ms * checkouts_timed) / nullif(sum(checkouts_timed) FILTER (WHERE avg_time_to_checkout_ms IS NOT NULL), 0))::float8 AS avg_time_to_checkout_ms,
  round(sum(avg_checkout_duration_ms * payments_timed) / nullif(sum(payments_timed) FILTER (WHERE avg_checkout_duration_ms IS NOT NULL), 0))::float8 AS avg_checkout_duration_ms
FROM fs_event_funnel_timings
WHERE tenant_id = $1 AND event_entity_id = ANY($2::text[]) AND hour >= $3 AND hour < $4
GROUP BY 1 ORDER BY 1;

-- name: event_daily
-- seed 003 analytics_event_daily / seed 004 EventMetric columns for bucket=day (unique viewers: per event, exact).
SELECT date AS ts, sum(impressions)::float8 AS impressions, sum(unique_viewers)::float8 AS unique_viewers, sum(clicks)::float8 AS clicks,
  sum(interested)::float8 AS interested, sum(ticket_link_clicks)::float8 AS ticket_link_clicks, sum(views)::float8 AS views, sum(orders)::float8 AS orders
FROM fs_event_daily
WHERE tenant_id = $1 AND event_entity_id = ANY($2::text[]) AND date >= $3 AND date < $4
GROUP BY 1 ORDER BY 1;

-- name: organizer_events
-- The organizer's events: the catalog's, and those the live layer linked to it that the catalog gives no owner.
SELECT id AS event_entity_id FROM catalog_events WHERE tenant_id = $1 AND organizer_id = $2
UNION
SELECT o.event_entity_id FROM live_event_owners o
WHERE o.tenant_id = $1 AND o.organizer_id = $2
  AND NOT EXISTS (SELECT 1 FROM catalog_events c WHERE c.tenant_id = o.tenant_id AND c.id = o.event_entity_id AND c.organizer_id IS NOT NULL);

-- name: person_exists
SELECT 1 FROM persons WHERE tenant_id = $1 AND person_id = $2;

-- name: person_daily
SELECT d.date, d.currency, d.views_count::float8 AS views_count, d.carts_count::float8 AS carts_count, d.checkouts_count::float8 AS checkouts_count,
  d.purchases_count::float8 AS purchases_count, d.attendance_count::float8 AS attendance_count, d.gross_amount::float8 AS gross_amount,
  d.net_amount::float8 AS net_amount, d.discount_orders::float8 AS discount_orders, d.affiliate_orders::float8 AS affiliate_orders
FROM fs_person_daily d
WHERE d.tenant_id = $1 AND d.person_id = $2 AND d.date >= $3 AND d.date < $4
ORDER BY d.date, d.currency NULLS FIRST;

-- name: person_decisions
SELECT date, avg_decision_time_ms::float8 AS avg_decision_time_ms FROM fs_person_daily_timings
WHERE tenant_id = $1 AND person_id = $2 AND date >= $3 AND date < $4;

-- name: person_artists
-- The score at $3: score_at_last decayed from the last interaction (sql/013_feature_store.sql), highest first.
SELECT artist_id, score_at_last * exp(-greatest(0, extract(epoch FROM $3::timestamptz - last_interaction_at)) / 5184000.0) AS affinity_score,
  views_count, purchases_count, attendance_count, last_interaction_at
FROM fs_person_affinity_artist_raw WHERE tenant_id = $1 AND person_id = $2
ORDER BY 2 DESC, artist_id LIMIT $4;

-- name: person_genres
SELECT genre, score_at_last * exp(-greatest(0, extract(epoch FROM $3::timestamptz - last_interaction_at)) / 5184000.0) AS affinity_score,
  views_count, purchases_count, attendance_count, last_interaction_at
FROM fs_person_affinity_genre_raw WHERE tenant_id = $1 AND person_id = $2
ORDER BY 2 DESC, genre LIMIT $4;

-- name: person_ticket_prefs
SELECT ticket_category, purchases_count, avg_price::float8 AS avg_price, currency, price_band, preference_score
FROM fs_person_ticket_pref WHERE tenant_id = $1 AND person_id = $2
ORDER BY preference_score DESC, ticket_category;

-- name: person_scores
SELECT recency_days, frequency, monetary::float8 AS monetary, rfm_recency_score, rfm_frequency_score, rfm_monetary_score, customer_segment,
  sessions_30d, active_ms_30d::float8 AS active_ms_30d, interactions_30d, engagement_score, computed_at
FROM fs_person_scores WHERE tenant_id = $1 AND person_id = $2;

-- name: event_attendance
SELECT tickets_sold::float8 AS tickets_sold, entries::float8 AS entries, no_show_rate, first_entry_at, last_entry_at, peak_inside::float8 AS peak_inside
FROM fs_event_attendance WHERE tenant_id = $1 AND event_entity_id = $2;
