-- The feature store's jobs (server/features/jobs.ts, aggregates.ts). Set-based: every statement covers a set of
-- keys (unnest of parallel arrays), never one person at a time. Each key reaches its rows through a LATERAL
-- subquery with OFFSET 0 (not pulled up into a join): an index scan per key (tx_events_person_time,
-- tx_events_event_entity) rather than a hash join over every row of the window, which the planner preferred. Buckets use date_bin with time_bucket's origin,
-- so the plain tables and the continuous aggregates cut hours and UTC days at the same instants.

-- name: lock_features
-- Taken first by every transaction that deletes and recounts feature rows: a manual run, a scheduled one and
-- an erasure's recount never interleave (on plain tables without keys two interleaved rewrites would double rows).
SELECT pg_advisory_xact_lock(7465013);

-- name: job_state
SELECT last_id::text AS last_id, last_run_at, refreshed_to FROM fs_job_state WHERE job = $1;

-- name: save_job_state
INSERT INTO fs_job_state (job, last_id, last_run_at, refreshed_to) VALUES ($1, $2, $3, $4)
ON CONFLICT (job) DO UPDATE SET last_id = EXCLUDED.last_id, last_run_at = EXCLUDED.last_run_at, refreshed_to = EXCLUDED.refreshed_to;

-- name: new_span
-- The earliest occurred_at among rows stored since the last run (ids in ($1, $2]), $3 the oldest occurred_at
-- such a row can have (the last run minus the backfill window).
SELECT min(occurred_at) AS min_at FROM tx_events WHERE id > $1 AND id <= $2 AND occurred_at >= $3;

-- name: new_event_keys
-- Events with rows stored since the last run (one id range of them).
SELECT DISTINCT tenant_id::text AS tenant_id, entities->>'event_entity_id' AS event_entity_id
FROM tx_events WHERE id > $1 AND id <= $2 AND occurred_at >= $3 AND entities ? 'event_entity_id';

-- name: new_person_keys
-- Persons with rows stored since the last run (one id range of them: features/jobs.ts idRanges).
SELECT DISTINCT tenant_id::text AS tenant_id, person_id::text AS person_id FROM tx_events
WHERE person_id IS NOT NULL AND id > $1 AND id <= $2 AND occurred_at >= $3;

-- name: aging_person_keys
-- Persons whose events left the affinity window between the last run's cutoff ($1) and this one's ($2): their
-- scores change without a new event.
SELECT DISTINCT tenant_id::text AS tenant_id, person_id::text AS person_id FROM tx_events
WHERE person_id IS NOT NULL AND occurred_at > $1 AND occurred_at <= $2;

-- name: arrived_person_keys
-- Persons with rows dated between the last run ($1) and this one ($2): a row stored dated ahead (up to
-- FUTURE_HOURS) weighs in the affinities from its time on, and the run that stored it left it out.
SELECT DISTINCT tenant_id::text AS tenant_id, person_id::text AS person_id FROM tx_events
WHERE person_id IS NOT NULL AND occurred_at > $1 AND occurred_at <= $2;

-- name: catalog_changes
-- Catalog items whose fingerprint (fs_catalog_features, migrations 019 and 036: an event's artists and genres, a
-- ticket type's category, price and currency) differs from the one the persons' rows were last computed with (fs_catalog_seen):
-- changed, new or deleted (fingerprint NULL). A scan of the catalog, not of tx_events.
SELECT coalesce(c.tenant_id, s.tenant_id)::text AS tenant_id, coalesce(c.kind, s.kind) AS kind, coalesce(c.id, s.id) AS id,
  c.fingerprint::text AS fingerprint
FROM fs_catalog_features c FULL JOIN fs_catalog_seen s ON s.tenant_id = c.tenant_id AND s.kind = c.kind AND s.id = c.id
WHERE c.fingerprint IS DISTINCT FROM s.fingerprint;

-- name: catalog_change_persons
-- The persons whose affinities or ticket preferences read the changed catalog items: rows of the last 90 days
-- ($5, $6] that an affinity weighs, naming a changed event ($1 tenants, $2 ids); orders with a line of a changed
-- ticket type ($3 tenants, $4 ids), any time (ticket preferences have no window), read per tenant by name.
WITH ev AS (SELECT * FROM unnest($1::bigint[], $2::text[]) AS k(tenant_id, id)),
tt AS (SELECT tenant_id, array_agg(id) AS ids FROM unnest($3::bigint[], $4::text[]) AS k(tenant_id, id) GROUP BY 1)
SELECT e.tenant_id::text AS tenant_id, e.person_id::text AS person_id
FROM ev CROSS JOIN LATERAL (
  SELECT x.tenant_id, x.person_id FROM tx_events x
  WHERE x.tenant_id = ev.tenant_id AND x.entities->>'event_entity_id' = ev.id AND x.person_id IS NOT NULL AND NOT x.is_bot
    AND x.occurred_at > $5 AND x.occurred_at <= $6
    AND x.event_name IN ('event_view', 'add_to_cart', 'checkout_started', 'order_completed', 'entry_granted') OFFSET 0) AS e
UNION
SELECT o.tenant_id::text, o.person_id::text
FROM tt CROSS JOIN LATERAL (
  SELECT x.tenant_id, x.person_id FROM tx_events x
  WHERE x.tenant_id = tt.tenant_id AND x.event_name = 'order_completed' AND x.person_id IS NOT NULL AND NOT x.is_bot
    AND EXISTS (SELECT 1 FROM jsonb_array_elements(CASE jsonb_typeof(x.payload->'items') WHEN 'array' THEN x.payload->'items' ELSE '[]'::jsonb END) AS i
      WHERE i->>'ticket_type_id' = ANY(tt.ids)) OFFSET 0) AS o;

-- name: save_catalog_seen
-- After the persons of catalog_changes were recomputed: their fingerprints as read then ($4 NULL: deleted). A
-- change made meanwhile differs from them, so the next run sees it.
WITH k AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS k(tenant_id, kind, id, fingerprint)),
gone AS (
  DELETE FROM fs_catalog_seen s USING k WHERE k.fingerprint IS NULL AND s.tenant_id = k.tenant_id AND s.kind = k.kind AND s.id = k.id
)
INSERT INTO fs_catalog_seen SELECT tenant_id, kind, id, fingerprint::jsonb FROM k WHERE fingerprint IS NOT NULL
ON CONFLICT (tenant_id, kind, id) DO UPDATE SET fingerprint = EXCLUDED.fingerprint;

-- name: all_event_keys
SELECT DISTINCT tenant_id::text AS tenant_id, entities->>'event_entity_id' AS event_entity_id
FROM tx_events WHERE entities ? 'event_entity_id' AND NOT is_bot
UNION SELECT tenant_id::text, event_entity_id FROM fs_event_funnel_timings
UNION SELECT tenant_id::text, event_entity_id FROM fs_event_attendance;

-- name: all_person_keys
SELECT DISTINCT tenant_id::text AS tenant_id, person_id::text AS person_id FROM tx_events WHERE person_id IS NOT NULL
UNION SELECT tenant_id::text, person_id::text FROM fs_person_affinity_artist_raw
UNION SELECT tenant_id::text, person_id::text FROM fs_person_affinity_genre_raw
UNION SELECT tenant_id::text, person_id::text FROM fs_person_ticket_pref
UNION SELECT tenant_id::text, person_id::text FROM fs_person_daily_timings;

-- name: oldest_event
SELECT min(occurred_at) AS min_at FROM tx_events;

-- name: refresh_cagg_hourly
CALL refresh_continuous_aggregate('fs_event_funnel_hourly', $1::timestamptz, $2::timestamptz);

-- name: refresh_cagg_event_daily
CALL refresh_continuous_aggregate('fs_event_daily', $1::timestamptz, $2::timestamptz);

-- name: refresh_cagg_person_daily
CALL refresh_continuous_aggregate('fs_person_daily', $1::timestamptz, $2::timestamptz);

-- name: plain_delete_hourly
DELETE FROM fs_event_funnel_hourly WHERE hour >= $1 AND hour < $2;

-- name: plain_recount_hourly
-- The continuous aggregate's SELECT (sql/013_feature_store.sql) over [$1, $2).
INSERT INTO fs_event_funnel_hourly
SELECT tenant_id, entities->>'event_entity_id', date_bin(INTERVAL '1 hour', occurred_at, TIMESTAMPTZ '2000-01-03 00:00:00+00') AS hour,
  fs_order_currency(event_name, payload) AS currency,
  count(*) FILTER (WHERE event_name = 'event_view'),
  count(*) FILTER (WHERE event_name = 'ticket_type_selected'),
  count(*) FILTER (WHERE event_name = 'add_to_cart'),
  count(*) FILTER (WHERE event_name = 'checkout_started'),
  count(*) FILTER (WHERE event_name = 'payment_attempted'),
  count(*) FILTER (WHERE event_name = 'order_completed'),
  coalesce(sum(fs_items_qty(payload->'items')) FILTER (WHERE event_name = 'order_completed'), 0),
  coalesce(sum(fs_num(payload->'gross_amount')) FILTER (WHERE event_name = 'order_completed'), 0)
FROM tx_events
WHERE NOT is_bot AND entities ? 'event_entity_id' AND occurred_at >= $1 AND occurred_at < $2
GROUP BY 1, 2, 3, 4;

-- name: plain_delete_event_daily
DELETE FROM fs_event_daily WHERE date >= $1 AND date < $2;

-- name: plain_recount_event_daily
INSERT INTO fs_event_daily
SELECT tenant_id, entities->>'event_entity_id', date_bin(INTERVAL '1 day', occurred_at, TIMESTAMPTZ '2000-01-03 00:00:00+00') AS date,
  fs_order_currency(event_name, payload) AS currency,
  count(*) FILTER (WHERE event_name = 'event_view'),
  count(*) FILTER (WHERE event_name = 'add_to_cart'),
  count(*) FILTER (WHERE event_name = 'checkout_started'),
  count(*) FILTER (WHERE event_name = 'order_completed'),
  coalesce(sum(fs_items_qty(payload->'items')) FILTER (WHERE event_name = 'order_completed'), 0),
  coalesce(sum(fs_num(payload->'gross_amount')) FILTER (WHERE event_name = 'order_completed'), 0),
  count(*) FILTER (WHERE event_name = 'event_card_impression'),
  count(DISTINCT visitor_id) FILTER (WHERE event_name IN ('event_view', 'event_card_click')),
  count(*) FILTER (WHERE event_name = 'event_card_click'),
  count(*) FILTER (WHERE event_name = 'event_interest_marked' AND coalesce(payload->>'interested', 'true') <> 'false'),
  count(*) FILTER (WHERE event_name = 'ticket_link_click')
FROM tx_events
WHERE NOT is_bot AND entities ? 'event_entity_id' AND occurred_at >= $1 AND occurred_at < $2
GROUP BY 1, 2, 3, 4;

-- name: plain_delete_person_daily
DELETE FROM fs_person_daily WHERE date >= $1 AND date < $2;

-- name: plain_recount_person_daily
INSERT INTO fs_person_daily
SELECT tenant_id, person_id, date_bin(INTERVAL '1 day', occurred_at, TIMESTAMPTZ '2000-01-03 00:00:00+00') AS date,
  fs_order_currency(event_name, payload) AS currency,
  count(*) FILTER (WHERE event_name = 'event_view'),
  count(*) FILTER (WHERE event_name = 'add_to_cart'),
  count(*) FILTER (WHERE event_name = 'checkout_started'),
  count(*) FILTER (WHERE event_name = 'order_completed'),
  count(*) FILTER (WHERE event_name = 'entry_granted' AND payload->>'scan_type' IS DISTINCT FROM 'exit'),
  coalesce(sum(fs_num(payload->'gross_amount')) FILTER (WHERE event_name = 'order_completed'), 0),
  coalesce(sum(fs_num(payload->'net_amount')) FILTER (WHERE event_name = 'order_completed'), 0),
  count(*) FILTER (WHERE event_name = 'order_completed'
    AND (coalesce(payload->>'discount_code', '') <> '' OR coalesce(fs_num(payload->'discount_total'), 0) > 0)),
  count(*) FILTER (WHERE event_name = 'order_completed' AND coalesce(payload->>'affiliate_id', '') <> ''),
  round(coalesce(sum(fs_num(payload->'gross_amount')) FILTER (WHERE event_name = 'order_completed'), 0)
    / nullif(count(*) FILTER (WHERE event_name = 'order_completed'), 0), 2),
  round(count(*) FILTER (WHERE event_name = 'order_completed'
    AND (coalesce(payload->>'discount_code', '') <> '' OR coalesce(fs_num(payload->'discount_total'), 0) > 0))::numeric
    / nullif(count(*) FILTER (WHERE event_name = 'order_completed'), 0), 4),
  round(count(*) FILTER (WHERE event_name = 'order_completed' AND coalesce(payload->>'affiliate_id', '') <> '')::numeric
    / nullif(count(*) FILTER (WHERE event_name = 'order_completed'), 0), 4)
FROM tx_events
WHERE NOT is_bot AND person_id IS NOT NULL AND occurred_at >= $1 AND occurred_at < $2
GROUP BY 1, 2, 3, 4;

-- name: delete_timings
DELETE FROM fs_event_funnel_timings t USING unnest($1::bigint[], $2::text[]) AS k(tenant_id, ev)
WHERE t.tenant_id = k.tenant_id AND t.event_entity_id = k.ev;

-- name: insert_timings
-- Per visitor and event: first event_view → first add_to_cart (time to cart), → first checkout_started (time to
-- checkout), first checkout_started → first order_completed (checkout duration); a step before its start does
-- not count. Averaged per hour of the later step. Rows without a visitor id cannot be paired and do not count.
-- Hours before $3 (the aggregate retention's cutoff, or -infinity) are left out: retention removed them.
INSERT INTO fs_event_funnel_timings
WITH k AS (SELECT * FROM unnest($1::bigint[], $2::text[]) AS k(tenant_id, ev)),
f AS (
  SELECT e.tenant_id, k.ev, e.visitor_id,
    min(e.occurred_at) FILTER (WHERE e.event_name = 'event_view') AS v,
    min(e.occurred_at) FILTER (WHERE e.event_name = 'add_to_cart') AS c,
    min(e.occurred_at) FILTER (WHERE e.event_name = 'checkout_started') AS s,
    min(e.occurred_at) FILTER (WHERE e.event_name = 'order_completed') AS o
  FROM k CROSS JOIN LATERAL (SELECT * FROM tx_events x WHERE x.tenant_id = k.tenant_id AND x.entities->>'event_entity_id' = k.ev OFFSET 0) AS e
  WHERE NOT e.is_bot AND e.visitor_id IS NOT NULL
    AND e.event_name IN ('event_view', 'add_to_cart', 'checkout_started', 'order_completed')
  GROUP BY 1, 2, 3
), steps AS (
  SELECT tenant_id, ev, c AS at, 1 AS step, extract(epoch FROM c - v) * 1000 AS ms FROM f WHERE c >= v
  UNION ALL SELECT tenant_id, ev, s, 2, extract(epoch FROM s - v) * 1000 FROM f WHERE s >= v
  UNION ALL SELECT tenant_id, ev, o, 3, extract(epoch FROM o - s) * 1000 FROM f WHERE o >= s
)
SELECT tenant_id, ev, date_bin(INTERVAL '1 hour', at, TIMESTAMPTZ '2000-01-03 00:00:00+00') AS hour,
  round(avg(ms) FILTER (WHERE step = 1))::bigint, round(avg(ms) FILTER (WHERE step = 2))::bigint, round(avg(ms) FILTER (WHERE step = 3))::bigint,
  count(*) FILTER (WHERE step = 1), count(*) FILTER (WHERE step = 2), count(*) FILTER (WHERE step = 3)
FROM steps WHERE date_bin(INTERVAL '1 hour', at, TIMESTAMPTZ '2000-01-03 00:00:00+00') >= $3::timestamptz GROUP BY 1, 2, 3;

-- name: delete_decisions
DELETE FROM fs_person_daily_timings t USING unnest($1::bigint[], $2::bigint[]) AS k(tenant_id, person_id)
WHERE t.tenant_id = k.tenant_id AND t.person_id = k.person_id;

-- name: insert_decisions
-- Decision time (seed 001 §5.1): an order of an event → the person's first event_view of that event before it;
-- averaged per UTC day of the order. Days before $3 (the aggregate retention's cutoff, or -infinity) are left out:
-- retention removed them.
INSERT INTO fs_person_daily_timings
WITH k AS (SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS k(tenant_id, person_id)),
r AS (
  SELECT e.tenant_id, e.person_id, e.event_name, e.occurred_at, e.entities->>'event_entity_id' AS ev
  FROM k CROSS JOIN LATERAL (SELECT * FROM tx_events x WHERE x.tenant_id = k.tenant_id AND x.person_id = k.person_id OFFSET 0) AS e
  WHERE NOT e.is_bot AND e.event_name IN ('event_view', 'order_completed') AND e.entities ? 'event_entity_id'
), fv AS (
  SELECT tenant_id, person_id, ev, min(occurred_at) AS v FROM r WHERE event_name = 'event_view' GROUP BY 1, 2, 3
)
SELECT o.tenant_id, o.person_id, date_bin(INTERVAL '1 day', o.occurred_at, TIMESTAMPTZ '2000-01-03 00:00:00+00'),
  round(avg(extract(epoch FROM o.occurred_at - fv.v) * 1000))::bigint, count(*)
FROM r o JOIN fv ON fv.tenant_id = o.tenant_id AND fv.person_id = o.person_id AND fv.ev = o.ev
WHERE o.event_name = 'order_completed' AND fv.v <= o.occurred_at
  AND date_bin(INTERVAL '1 day', o.occurred_at, TIMESTAMPTZ '2000-01-03 00:00:00+00') >= $3::timestamptz
GROUP BY 1, 2, 3;

-- name: delete_affinity_artist
DELETE FROM fs_person_affinity_artist_raw t USING unnest($1::bigint[], $2::bigint[]) AS k(tenant_id, person_id)
WHERE t.tenant_id = k.tenant_id AND t.person_id = k.person_id;

-- name: insert_affinity_artist
-- Seed 001 §5.2 for the persons ($1, $2): events in ($3 = now - 90 days, $4 = now] of the catalog's events,
-- weight by kind (an exit scan, entry_granted with scan_type 'exit', is no entry), each of the event's artists once. score_at_last is anchored at the last interaction (see 013),
-- rounded to 1e-9: a float sum depends on the order it meets its terms in (the window's sort is not stable), so
-- two artists weighed by the same rows, or one person in an incremental and a full run, differed in the last
-- bit and "highest first, then by name" did not order ties by name.
INSERT INTO fs_person_affinity_artist_raw
WITH k AS (SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS k(tenant_id, person_id)),
r AS (
  SELECT e.tenant_id, e.person_id, e.event_name, e.occurred_at, a.artist_id,
    CASE e.event_name WHEN 'event_view' THEN 1 WHEN 'add_to_cart' THEN 3 WHEN 'checkout_started' THEN 5
      WHEN 'order_completed' THEN 10 WHEN 'entry_granted' THEN 12 END::float8 AS w
  FROM k CROSS JOIN LATERAL (SELECT * FROM tx_events x WHERE x.tenant_id = k.tenant_id AND x.person_id = k.person_id OFFSET 0) AS e
  JOIN catalog_events c ON c.tenant_id = e.tenant_id AND c.id = e.entities->>'event_entity_id'
  CROSS JOIN LATERAL (SELECT DISTINCT x FROM unnest(c.artist_ids) AS x) AS a(artist_id)
  WHERE NOT e.is_bot AND e.occurred_at > $3 AND e.occurred_at <= $4
    AND e.event_name IN ('event_view', 'add_to_cart', 'checkout_started', 'order_completed', 'entry_granted')
    AND (e.event_name <> 'entry_granted' OR e.payload->>'scan_type' IS DISTINCT FROM 'exit')
), l AS (
  SELECT r.*, max(occurred_at) OVER (PARTITION BY tenant_id, person_id, artist_id) AS last FROM r
)
SELECT tenant_id, person_id, artist_id, round(sum(w * exp(-extract(epoch FROM last - occurred_at) / 5184000.0))::numeric, 9)::float8,
  count(*) FILTER (WHERE event_name = 'event_view'), count(*) FILTER (WHERE event_name = 'order_completed'),
  count(*) FILTER (WHERE event_name = 'entry_granted'), max(last)
FROM l GROUP BY 1, 2, 3;

-- name: delete_affinity_genre
DELETE FROM fs_person_affinity_genre_raw t USING unnest($1::bigint[], $2::bigint[]) AS k(tenant_id, person_id)
WHERE t.tenant_id = k.tenant_id AND t.person_id = k.person_id;

-- name: insert_affinity_genre
-- As insert_affinity_artist, by the event's genres (catalog_events.genres: sent, or its artists' genres).
INSERT INTO fs_person_affinity_genre_raw
WITH k AS (SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS k(tenant_id, person_id)),
r AS (
  SELECT e.tenant_id, e.person_id, e.event_name, e.occurred_at, g.genre,
    CASE e.event_name WHEN 'event_view' THEN 1 WHEN 'add_to_cart' THEN 3 WHEN 'checkout_started' THEN 5
      WHEN 'order_completed' THEN 10 WHEN 'entry_granted' THEN 12 END::float8 AS w
  FROM k CROSS JOIN LATERAL (SELECT * FROM tx_events x WHERE x.tenant_id = k.tenant_id AND x.person_id = k.person_id OFFSET 0) AS e
  JOIN catalog_events c ON c.tenant_id = e.tenant_id AND c.id = e.entities->>'event_entity_id'
  CROSS JOIN LATERAL (SELECT DISTINCT x FROM unnest(c.genres) AS x) AS g(genre)
  WHERE NOT e.is_bot AND e.occurred_at > $3 AND e.occurred_at <= $4
    AND e.event_name IN ('event_view', 'add_to_cart', 'checkout_started', 'order_completed', 'entry_granted')
    AND (e.event_name <> 'entry_granted' OR e.payload->>'scan_type' IS DISTINCT FROM 'exit')
), l AS (
  SELECT r.*, max(occurred_at) OVER (PARTITION BY tenant_id, person_id, genre) AS last FROM r
)
SELECT tenant_id, person_id, genre, round(sum(w * exp(-extract(epoch FROM last - occurred_at) / 5184000.0))::numeric, 9)::float8,
  count(*) FILTER (WHERE event_name = 'event_view'), count(*) FILTER (WHERE event_name = 'order_completed'),
  count(*) FILTER (WHERE event_name = 'entry_granted'), max(last)
FROM l GROUP BY 1, 2, 3;

-- name: update_quartiles
-- The tenants' ticket price quartiles per currency (catalog_ticket_types.price of the types in that currency), and
-- those of the types without a currency under '*' (the fallback set: it bands a currency without quartiles of its
-- own); answers the tenants whose quartiles, either kind, changed, appeared or went (a currency no ticket type is
-- sold in any more, or no type left without one).
WITH q AS (
  SELECT tenant_id, coalesce(currency, '*') AS currency, percentile_cont(0.25) WITHIN GROUP (ORDER BY price)::numeric AS q1,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY price)::numeric AS q2, percentile_cont(0.75) WITHIN GROUP (ORDER BY price)::numeric AS q3
  FROM catalog_ticket_types WHERE price IS NOT NULL GROUP BY 1, 2
), up AS (
  INSERT INTO fs_tenant_price_quartiles (tenant_id, currency, q1, q2, q3) SELECT * FROM q
  ON CONFLICT (tenant_id, currency) DO UPDATE SET q1 = EXCLUDED.q1, q2 = EXCLUDED.q2, q3 = EXCLUDED.q3
  WHERE (fs_tenant_price_quartiles.q1, fs_tenant_price_quartiles.q2, fs_tenant_price_quartiles.q3) IS DISTINCT FROM (EXCLUDED.q1, EXCLUDED.q2, EXCLUDED.q3)
  RETURNING tenant_id
), gone AS (
  DELETE FROM fs_tenant_price_quartiles s WHERE NOT EXISTS (SELECT 1 FROM q WHERE q.tenant_id = s.tenant_id AND q.currency = s.currency)
  RETURNING tenant_id
)
SELECT DISTINCT tenant_id::text AS tenant_id FROM (SELECT tenant_id FROM up UNION ALL SELECT tenant_id FROM gone) AS c;

-- name: reband
-- A row's band against the quartiles of its own currency, else the fallback ones ('*'); none (NULL) without
-- either, or without a currency.
UPDATE fs_person_ticket_pref p SET price_band = (
  SELECT CASE WHEN p.avg_price IS NULL THEN NULL WHEN p.avg_price <= q.q1 THEN 'low' WHEN p.avg_price <= q.q2 THEN 'mid'
    WHEN p.avg_price <= q.q3 THEN 'high' ELSE 'premium' END
  FROM fs_tenant_price_quartiles q WHERE p.currency IS NOT NULL AND q.tenant_id = p.tenant_id AND q.currency IN (p.currency, '*')
  ORDER BY q.currency = '*' LIMIT 1)
WHERE p.tenant_id = ANY($1::bigint[]);

-- name: stale_ticket_pref_keys
-- Persons with a row computed before migration 036 (an average without a currency; a recomputed row has a
-- currency whenever it has an average): the persons job recomputes them, at most $1 per run (partial index
-- fs_person_ticket_pref_no_currency, migration 038).
SELECT DISTINCT tenant_id::text AS tenant_id, person_id::text AS person_id FROM (
  SELECT tenant_id, person_id FROM fs_person_ticket_pref WHERE currency IS NULL AND avg_price IS NOT NULL LIMIT $1
) AS s;

-- name: delete_ticket_pref
DELETE FROM fs_person_ticket_pref t USING unnest($1::bigint[], $2::bigint[]) AS k(tenant_id, person_id)
WHERE t.tenant_id = k.tenant_id AND t.person_id = k.person_id;

-- name: insert_ticket_pref
-- Orders' line items by the catalog category of their ticket type ('uncategorised' when unknown): orders with
-- the category; average unit price over the category's lines in one currency, the one with most tickets (a line
-- with its own price is in the order's currency, else the catalog's price in the catalog's currency, or in the
-- order's when the type has none; weighted by qty); price band by the tenant's quartiles in that currency, else
-- the fallback ones ('*', update_quartiles); preference = the category's share of the person's purchases (orders
-- with the category ÷ the person's orders: an order of two categories counts for both, issue 13 "share of
-- purchases"; it was the share of (order, category) pairs, ½ each for one order of GA and VIP).
INSERT INTO fs_person_ticket_pref (tenant_id, person_id, ticket_category, purchases_count, avg_price, price_band, preference_score, currency)
WITH k AS (SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS k(tenant_id, person_id)),
it AS (
  SELECT e.tenant_id, e.person_id, e.event_id, coalesce(t.category, 'uncategorised') AS category, fs_num(i->'qty') AS qty,
    CASE WHEN fs_num(i->'price') IS NOT NULL THEN fs_num(i->'price') ELSE t.price END AS price,
    CASE WHEN fs_num(i->'price') IS NOT NULL OR t.currency IS NULL THEN upper(e.payload->>'currency') ELSE t.currency END AS currency
  FROM k CROSS JOIN LATERAL (SELECT * FROM tx_events x WHERE x.tenant_id = k.tenant_id AND x.person_id = k.person_id OFFSET 0) AS e
  CROSS JOIN LATERAL jsonb_array_elements(CASE jsonb_typeof(e.payload->'items') WHEN 'array' THEN e.payload->'items' ELSE '[]'::jsonb END) AS i
  LEFT JOIN catalog_ticket_types t ON t.tenant_id = e.tenant_id AND t.id = i->>'ticket_type_id'
  WHERE NOT e.is_bot AND e.event_name = 'order_completed'
), per AS (
  SELECT tenant_id, person_id, category, count(DISTINCT event_id) AS n FROM it GROUP BY 1, 2, 3
), tot AS (
  SELECT tenant_id, person_id, count(DISTINCT event_id) AS orders FROM it GROUP BY 1, 2
), cur AS (
  SELECT DISTINCT ON (tenant_id, person_id, category) tenant_id, person_id, category, currency,
    round(sum(price * qty) / nullif(sum(qty), 0), 2) AS avg_price
  FROM it WHERE price IS NOT NULL AND qty IS NOT NULL AND currency ~ '^[A-Z]{3}$'
  GROUP BY 1, 2, 3, 4 ORDER BY tenant_id, person_id, category, sum(qty) DESC, currency
)
SELECT p.tenant_id, p.person_id, p.category, p.n, c.avg_price,
  CASE WHEN c.avg_price IS NULL OR q.q1 IS NULL THEN NULL WHEN c.avg_price <= q.q1 THEN 'low'
    WHEN c.avg_price <= q.q2 THEN 'mid' WHEN c.avg_price <= q.q3 THEN 'high' ELSE 'premium' END,
  p.n::float8 / t.orders, c.currency
FROM per p JOIN tot t ON t.tenant_id = p.tenant_id AND t.person_id = p.person_id
LEFT JOIN cur c ON c.tenant_id = p.tenant_id AND c.person_id = p.person_id AND c.category = p.category
LEFT JOIN LATERAL (
  SELECT * FROM fs_tenant_price_quartiles q WHERE c.currency IS NOT NULL AND q.tenant_id = p.tenant_id AND q.currency IN (c.currency, '*')
  ORDER BY q.currency = '*' LIMIT 1
) AS q ON true;

-- name: delete_attendance
DELETE FROM fs_event_attendance t USING unnest($1::bigint[], $2::text[]) AS k(tenant_id, ev)
WHERE t.tenant_id = k.tenant_id AND t.event_entity_id = k.ev;

-- name: insert_attendance
-- Tickets sold (order items), entries (distinct tickets granted, exit scans not counted), no-show rate 1 - entries/tickets (≥ 0),
-- first/last entry, and the peak inside: the highest sum over gates of each gate's latest capacity_snapshot.
INSERT INTO fs_event_attendance
WITH k AS (SELECT * FROM unnest($1::bigint[], $2::text[]) AS k(tenant_id, ev)),
r AS (
  SELECT e.tenant_id, k.ev, e.event_name, e.occurred_at, e.event_id, e.entities, e.payload
  FROM k CROSS JOIN LATERAL (SELECT * FROM tx_events x WHERE x.tenant_id = k.tenant_id AND x.entities->>'event_entity_id' = k.ev OFFSET 0) AS e
  WHERE NOT e.is_bot AND e.event_name IN ('order_completed', 'entry_granted', 'capacity_snapshot')
    -- An exit scan takes one off inside; it is no entry (README "Live layer").
    AND (e.event_name <> 'entry_granted' OR e.payload->>'scan_type' IS DISTINCT FROM 'exit')
), sold AS (
  SELECT tenant_id, ev, sum(fs_items_qty(payload->'items')) AS t FROM r WHERE event_name = 'order_completed' GROUP BY 1, 2
), ent AS (
  SELECT tenant_id, ev, count(DISTINCT coalesce(entities->>'ticket_id', event_id::text)) AS n, min(occurred_at) AS first_at, max(occurred_at) AS last_at
  FROM r WHERE event_name = 'entry_granted' GROUP BY 1, 2
), snap AS (
  SELECT tenant_id, ev, coalesce(payload->>'gate_id', '') AS gate, occurred_at, fs_num(payload->'current_inside') AS inside
  FROM r WHERE event_name = 'capacity_snapshot' AND fs_num(payload->'current_inside') IS NOT NULL
), peak AS (
  SELECT t.tenant_id, t.ev, max((
    SELECT sum(l.inside) FROM (
      SELECT DISTINCT ON (s.gate) s.inside FROM snap s
      WHERE s.tenant_id = t.tenant_id AND s.ev = t.ev AND s.occurred_at <= t.occurred_at ORDER BY s.gate, s.occurred_at DESC) l
  )) AS p
  FROM (SELECT DISTINCT tenant_id, ev, occurred_at FROM snap) t GROUP BY 1, 2
)
SELECT k.tenant_id, k.ev, coalesce(sold.t, 0), coalesce(ent.n, 0),
  CASE WHEN sold.t > 0 THEN greatest(0, 1 - coalesce(ent.n, 0) / sold.t)::float8 END,
  ent.first_at, ent.last_at, peak.p::bigint
FROM k LEFT JOIN sold ON sold.tenant_id = k.tenant_id AND sold.ev = k.ev
LEFT JOIN ent ON ent.tenant_id = k.tenant_id AND ent.ev = k.ev
LEFT JOIN peak ON peak.tenant_id = k.tenant_id AND peak.ev = k.ev
WHERE sold.t IS NOT NULL OR ent.n IS NOT NULL OR peak.p IS NOT NULL;

-- name: delete_scores
-- $1 a tenant, or NULL for every tenant.
DELETE FROM fs_person_scores WHERE $1::bigint IS NULL OR tenant_id = $1;

-- name: insert_scores
-- Seed 000 CoreCustomer, every tenant at once ($1 = now; $2 NULL), or one tenant ($2: after a GDPR erasure, whose
-- person no longer counts in the others' quintiles). RFM over the persons with orders: recency (days since
-- the last order), frequency (orders), monetary (gross, whatever the currency); each scored 1-5 as
-- ceil(5 · cume_dist) within the tenant (ties share a score; 5 = most recent / most / highest). Engagement over
-- the last 30 days: sessions, active time (page_engagement.active_ms), interactions (other events), each as its
-- cume_dist within the tenant, averaged; a component that is 0 counts 0 (its cume_dist is the share of the
-- tenant's persons at 0, high when most are: no activity ranked above some), and 0 without activity. Segment rules: features/scores.ts segmentOf.
-- Answers one row, n: the persons scored (the job run's rows).
WITH ins AS (
INSERT INTO fs_person_scores
WITH o AS (
  SELECT tenant_id, person_id, count(*)::int AS f, coalesce(sum(fs_num(payload->'gross_amount')), 0) AS m, max(occurred_at) AS last
  FROM tx_events WHERE event_name = 'order_completed' AND person_id IS NOT NULL AND NOT is_bot AND occurred_at <= $1
    AND ($2::bigint IS NULL OR tenant_id = $2)
  GROUP BY 1, 2
), rfm AS (
  SELECT o.*, extract(epoch FROM $1::timestamptz - last) / 86400.0 AS rd,
    ceil(5 * cume_dist() OVER (PARTITION BY tenant_id ORDER BY last))::smallint AS rs,
    ceil(5 * cume_dist() OVER (PARTITION BY tenant_id ORDER BY f))::smallint AS fs,
    ceil(5 * cume_dist() OVER (PARTITION BY tenant_id ORDER BY m))::smallint AS ms
  FROM o
), g AS (
  SELECT tenant_id, person_id, count(DISTINCT session_id)::int AS s,
    coalesce(sum(fs_num(payload->'active_ms')) FILTER (WHERE event_name = 'page_engagement'), 0)::bigint AS a,
    count(*) FILTER (WHERE event_name <> 'page_engagement')::int AS i
  FROM tx_events WHERE person_id IS NOT NULL AND NOT is_bot AND occurred_at > $1::timestamptz - INTERVAL '30 days' AND occurred_at <= $1
    AND ($2::bigint IS NULL OR tenant_id = $2)
  GROUP BY 1, 2
), eng AS (
  SELECT g.*, (CASE WHEN s > 0 THEN cume_dist() OVER (PARTITION BY tenant_id ORDER BY s) ELSE 0 END
    + CASE WHEN a > 0 THEN cume_dist() OVER (PARTITION BY tenant_id ORDER BY a) ELSE 0 END
    + CASE WHEN i > 0 THEN cume_dist() OVER (PARTITION BY tenant_id ORDER BY i) ELSE 0 END) / 3 AS e
  FROM g
)
SELECT coalesce(rfm.tenant_id, eng.tenant_id), coalesce(rfm.person_id, eng.person_id), rfm.rd, coalesce(rfm.f, 0), coalesce(rfm.m, 0),
  rfm.rs, rfm.fs, rfm.ms,
  CASE WHEN rfm.f IS NULL THEN 'prospect'
    WHEN rfm.rs >= 4 AND rfm.fs >= 4 AND rfm.ms >= 4 THEN 'vip'
    WHEN rfm.f = 1 AND rfm.rd <= 30 THEN 'new'
    WHEN rfm.rs >= 3 AND rfm.fs >= 4 THEN 'loyal'
    WHEN rfm.rs = 1 AND rfm.fs <= 2 THEN 'lost'
    WHEN rfm.rs <= 2 THEN 'at_risk'
    ELSE 'regular' END,
  coalesce(eng.s, 0), coalesce(eng.a, 0), coalesce(eng.i, 0), coalesce(eng.e, 0), $1
FROM rfm FULL JOIN eng ON eng.tenant_id = rfm.tenant_id AND eng.person_id = rfm.person_id
RETURNING 1
)
SELECT count(*)::int AS n FROM ins;
