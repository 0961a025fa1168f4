-- Audiences (server/audiences/): seed_v1 and fitted propensities set-based over persons and the feature store.
-- `features` is the one definition of the seven terms; the statements below embed it where they say
-- /*features*/ (audiences/store.ts withFeatures), so estimate, build and fit score the same numbers.
-- The discount term is the share of the person's orders with a discount (fs_person_daily: discount_orders /
-- purchases_count over all days). Affinities are the feature store's decayed scores, computed here from its
-- *_raw tables with the views' formula (score_at_last · exp(-(now - last_interaction_at) / 60 d)) in float8 and
-- at the estimate's `now`: the views compute it in numeric (~30 µs a row), which alone cost seconds at 1M persons.
-- Its parameters: $1 tenant, $2 artist ids, $3 genres, $4 city ('' = none), $5 target price (null = no price:
-- fit 1), $6 now, $7 person ids (null = every person with marketing consent). Cities and genres match
-- case-insensitively: $3 and $4 come normalised (score.ts normName: trimmed, case-folded) and are compared with
-- audience_name_key(…) of the stored value, the same key in SQL (migration 055); the snapshot and score.features
-- compare normName of both.
-- Arithmetic stays in float8: extract(epoch) is numeric since PostgreSQL 14 (date_part is float8), and exp() over
-- numeric costs ~100 µs a row (measured: 2.6 s of a 2.8 s estimate over 18k persons before the cast).
-- Statements that score with two models, or filter on the score, read the features through `OFFSET 0`: a
-- flattened subquery would paste each term's expression into every place that names it (both sigmoids, every
-- FILTER), computing it again per use; behind the fence each row's terms and scores are computed once
-- (measured: 1.7 s against 2.7–7.6 s for the same estimate over 180k persons, bench/audiences.ts).
-- A model is $8 float8[]: intercept then the seven weights; the linear score is clamped to ±500 so exp()
-- cannot overflow (sigmoid is 0 or 1 to double precision long before that).

-- name: features
SELECT p.person_id,
  LEAST(COALESCE(x.genre_mean, 0) / 100, 1) AS x1,
  LEAST(COALESCE(x.artist_mean, 0) / 100, 1) AS x2,
  CASE WHEN $4::text <> '' AND audience_name_key(p.city) = $4::text THEN 1 ELSE 0 END::float8 AS x3,
  CASE WHEN $5::float8 IS NULL THEN 1
    ELSE 1 - LEAST(abs(COALESCE(p.avg_order_value::float8, 50) - $5::float8) / 100, 1) END AS x4,
  CASE WHEN p.last_purchase_at IS NULL THEN 0
    ELSE exp(-floor(abs(date_part('epoch', $6::timestamptz - p.last_purchase_at)) / 86400) / 90) END AS x5,
  LEAST(p.events_attended::float8 / GREATEST(p.total_orders, 1), 1) AS x6,
  LEAST(GREATEST(COALESCE(x.rate, 0), 0), 1)::float8 AS x7
FROM persons p
-- The hypothesis' affinities and the discount rate in one grouped side (one hash join against the persons
-- instead of three).
LEFT JOIN (
  SELECT person_id, avg(s) FILTER (WHERE k = 1) AS genre_mean, avg(s) FILTER (WHERE k = 2) AS artist_mean, max(s) FILTER (WHERE k = 3) AS rate
  FROM (
    SELECT person_id, 1 AS k, score_at_last * exp(-greatest(0, date_part('epoch', $6::timestamptz - last_interaction_at)) / 5184000.0) AS s
    FROM fs_person_affinity_genre_raw WHERE tenant_id = $1 AND audience_name_key(genre) = ANY($3::text[])
    UNION ALL
    SELECT person_id, 2, score_at_last * exp(-greatest(0, date_part('epoch', $6::timestamptz - last_interaction_at)) / 5184000.0)
    FROM fs_person_affinity_artist_raw WHERE tenant_id = $1 AND artist_id = ANY($2::text[])
    UNION ALL
    SELECT person_id, 3, sum(discount_orders)::float8 / NULLIF(sum(purchases_count), 0)::float8
    FROM fs_person_daily WHERE tenant_id = $1 AND purchases_count > 0 GROUP BY person_id
  ) u GROUP BY person_id
) x ON x.person_id = p.person_id
WHERE p.tenant_id = $1 AND p.marketing_consent IS TRUE
  AND ($7::bigint[] IS NULL OR p.person_id = ANY($7::bigint[]))

-- name: estimate
-- $8 the requested model, $9 the other model (null: none), $10 min_propensity. One pass: both models'
-- admitted counts, expected buyers and the requested model's distribution.
WITH m AS (SELECT w[1] AS w0, w[2] AS w1, w[3] AS w2, w[4] AS w3, w[5] AS w4, w[6] AS w5, w[7] AS w6, w[8] AS w7,
        v[1] AS v0, v[2] AS v1, v[3] AS v2, v[4] AS v3, v[5] AS v4, v[6] AS v5, v[7] AS v6, v[8] AS v7, v IS NULL AS no_v
      FROM (SELECT $8::float8[] AS w, $9::float8[] AS v) x)
SELECT count(*)::int AS consented,
  count(*) FILTER (WHERE p >= $10::float8)::int AS eligible,
  COALESCE(sum(p) FILTER (WHERE p >= $10), 0)::float8 AS buyers,
  count(*) FILTER (WHERE p >= $10 AND p < 0.2)::int AS b0,
  count(*) FILTER (WHERE p >= $10 AND p >= 0.2 AND p < 0.4)::int AS b1,
  count(*) FILTER (WHERE p >= $10 AND p >= 0.4 AND p < 0.6)::int AS b2,
  count(*) FILTER (WHERE p >= $10 AND p >= 0.6 AND p < 0.8)::int AS b3,
  count(*) FILTER (WHERE p >= $10 AND p >= 0.8)::int AS b4,
  count(*) FILTER (WHERE q >= $10)::int AS other_eligible,
  COALESCE(sum(q) FILTER (WHERE q >= $10), 0)::float8 AS other_buyers
FROM (
  SELECT 1 / (1 + exp(-LEAST(GREATEST(w0 + w1*x1 + w2*x2 + w3*x3 + w4*x4 + w5*x5 + w6*x6 + w7*x7, -500), 500))) AS p,
    CASE WHEN no_v THEN NULL
      ELSE 1 / (1 + exp(-LEAST(GREATEST(v0 + v1*x1 + v2*x2 + v3*x3 + v4*x4 + v5*x5 + v6*x6 + v7*x7, -500), 500))) END AS q
  FROM (/*features*/ OFFSET 0) f CROSS JOIN m OFFSET 0
) s

-- name: insert_members
-- $8 model, $9 min_propensity, $10 audience id, $11 version: the admitted persons with their propensity.
WITH m AS (SELECT w[1] AS w0, w[2] AS w1, w[3] AS w2, w[4] AS w3, w[5] AS w4, w[6] AS w5, w[7] AS w6, w[8] AS w7 FROM (SELECT $8::float8[] AS w) x),
s AS (
  SELECT person_id, 1 / (1 + exp(-LEAST(GREATEST(w0 + w1*x1 + w2*x2 + w3*x3 + w4*x4 + w5*x5 + w6*x6 + w7*x7, -500), 500))) AS p
  FROM (/*features*/ OFFSET 0) f CROSS JOIN m OFFSET 0
),
ins AS (
  INSERT INTO audience_members (tenant_id, audience_id, version, person_id, propensity)
  SELECT $1, $10::bigint, $11::int, person_id, p FROM s WHERE p >= $9::float8
  RETURNING propensity
)
SELECT count(*)::int AS n, COALESCE(sum(propensity), 0)::float8 AS buyers FROM ins

-- name: fit_rows
-- Training rows of one past event: its buyers (y = 1) and a deterministic sample of the other consented
-- persons ($9 of 1024 hash slots; the caller weighs them 1024/$9). $8 the event id.
WITH f AS (/*features*/),
b AS (
  SELECT DISTINCT person_id FROM tx_events
  WHERE tenant_id = $1 AND event_name = 'order_completed' AND entities->>'event_entity_id' = $8::text AND person_id IS NOT NULL
)
SELECT f.x1, f.x2, f.x3, f.x4, f.x5, f.x6, f.x7, (b.person_id IS NOT NULL) AS bought
FROM f LEFT JOIN b ON b.person_id = f.person_id
WHERE b.person_id IS NOT NULL OR (hashtext(f.person_id::text || ':' || $8::text) & 1023) < $9::int

-- name: past_events
-- Events of the tenant that already took place and sold at least one ticket, newest first. A cancelled or
-- draft event did not take place (its orders were refunded or never were): not training data. `ended` did.
SELECT e.id FROM catalog_events e
WHERE e.tenant_id = $1 AND e.starts_at < $2 AND COALESCE(lower(e.status), '') NOT IN ('cancelled', 'canceled', 'draft')
  AND EXISTS (SELECT 1 FROM tx_events t WHERE t.tenant_id = $1 AND t.event_name = 'order_completed'
              AND t.entities->>'event_entity_id' = e.id AND t.person_id IS NOT NULL)
ORDER BY e.starts_at DESC
LIMIT $3

-- name: fit_tenants
SELECT DISTINCT tenant_id FROM catalog_events WHERE starts_at < $1 ORDER BY tenant_id

-- name: event_hypothesis
-- A catalog event as a hypothesis: its artists, genres, city (the venue's when the event has none), and the
-- price range and currency of its ticket types ($3: one category only, '' = all; `types` counts them, so a
-- category the event does not sell is told apart from an event without prices).
SELECT e.id, e.artist_ids, e.genres, COALESCE(NULLIF(e.city, ''), v.city, '') AS city, COALESCE(e.venue_id, '') AS venue_id,
  e.starts_at, e.title, t.price_from, t.price_to, t.currency, t.types
FROM catalog_events e
LEFT JOIN catalog_venues v ON v.tenant_id = e.tenant_id AND v.id = e.venue_id
LEFT JOIN LATERAL (
  SELECT min(price)::float8 AS price_from, max(price)::float8 AS price_to, min(currency) AS currency, count(*)::int AS types
  FROM catalog_ticket_types t WHERE t.tenant_id = e.tenant_id AND t.event_id = e.id AND ($3::text = '' OR t.category = $3::text)
) t ON true
WHERE e.tenant_id = $1 AND e.id = $2

-- name: hypothesis_refs
-- What a hypothetical event's venue_id ($2, '' = none) and ticket_category ($3, '' = none) name in the catalog:
-- the venue's city, and the price range and currency of the tenant's ticket types of that category.
SELECT EXISTS (SELECT 1 FROM catalog_venues WHERE tenant_id = $1 AND id = $2::text) AS venue_found,
  (SELECT city FROM catalog_venues WHERE tenant_id = $1 AND id = $2::text) AS venue_city,
  t.types, t.price_from, t.price_to, t.currency
FROM (
  SELECT count(*)::int AS types, min(price)::float8 AS price_from, max(price)::float8 AS price_to, min(currency) AS currency
  FROM catalog_ticket_types WHERE tenant_id = $1 AND category = $3::text
) t

-- name: get_coefficients
SELECT a, b, c, d, e, f, g, updated_at FROM audience_coefficients WHERE tenant_id = $1

-- name: put_coefficients
INSERT INTO audience_coefficients (tenant_id, a, b, c, d, e, f, g, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
ON CONFLICT (tenant_id) DO UPDATE SET a = EXCLUDED.a, b = EXCLUDED.b, c = EXCLUDED.c, d = EXCLUDED.d,
  e = EXCLUDED.e, f = EXCLUDED.f, g = EXCLUDED.g, updated_at = now()
RETURNING a, b, c, d, e, f, g, updated_at

-- name: delete_coefficients
DELETE FROM audience_coefficients WHERE tenant_id = $1

-- name: get_model
SELECT intercept, weights, fit, fitted_at FROM audience_models WHERE tenant_id = $1

-- name: put_model
-- A stored fit also forgets the tenant's last attempt that stored none.
WITH a AS (DELETE FROM audience_fit_attempts WHERE tenant_id = $1)
INSERT INTO audience_models (tenant_id, intercept, weights, fit, fitted_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (tenant_id) DO UPDATE SET intercept = EXCLUDED.intercept, weights = EXCLUDED.weights, fit = EXCLUDED.fit, fitted_at = EXCLUDED.fitted_at

-- name: get_fit_attempt
SELECT reason, tried_at FROM audience_fit_attempts WHERE tenant_id = $1

-- name: put_fit_attempt
INSERT INTO audience_fit_attempts (tenant_id, reason, tried_at) VALUES ($1, $2, $3)
ON CONFLICT (tenant_id) DO UPDATE SET reason = EXCLUDED.reason, tried_at = EXCLUDED.tried_at

-- name: insert_audience
INSERT INTO audiences (tenant_id, name, definition) VALUES ($1, $2, $3) RETURNING id

-- name: lock_audience
SELECT id, name, definition, created_at FROM audiences WHERE tenant_id = $1 AND id = $2 FOR UPDATE

-- name: next_version
SELECT COALESCE(max(version), 0) + 1 AS v FROM audience_versions WHERE audience_id = $1

-- name: insert_version
INSERT INTO audience_versions (tenant_id, audience_id, version, model, hypothesis, intercept, weights, min_propensity, member_count, expected_buyers, expected_gmv, built_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 0, 0, $9)

-- name: finish_version
UPDATE audience_versions SET member_count = $3, expected_buyers = $4, expected_gmv = $5 WHERE audience_id = $1 AND version = $2

-- name: touch_audience
UPDATE audiences SET updated_at = now() WHERE id = $1

-- name: get_audience
SELECT id, name, definition, created_at, updated_at FROM audiences WHERE tenant_id = $1 AND id = $2

-- name: list_audiences
-- A page of the tenant's audiences, oldest first (keyset on id), each with its newest live version's figures.
SELECT a.id, a.name, a.created_at, a.updated_at, v.version AS latest_version, v.member_count, v.expected_buyers, v.expected_gmv, v.built_at
FROM audiences a
LEFT JOIN LATERAL (
  SELECT version, member_count, expected_buyers, expected_gmv, built_at FROM audience_versions
  WHERE tenant_id = a.tenant_id AND audience_id = a.id AND deleted_at IS NULL ORDER BY version DESC LIMIT 1
) v ON true
WHERE a.tenant_id = $1 AND a.id > $2
ORDER BY a.id LIMIT $3

-- name: list_versions
SELECT version, model, hypothesis, min_propensity, member_count, expected_buyers, expected_gmv, built_at, deleted_at
FROM audience_versions WHERE tenant_id = $1 AND audience_id = $2 ORDER BY version DESC

-- name: version_state
SELECT version, deleted_at FROM audience_versions WHERE tenant_id = $1 AND audience_id = $2 AND version = $3

-- name: latest_version
SELECT max(version) AS v FROM audience_versions WHERE tenant_id = $1 AND audience_id = $2 AND deleted_at IS NULL

-- name: members_page
SELECT person_id, propensity FROM audience_members
WHERE tenant_id = $1 AND audience_id = $2 AND version = $3 AND person_id > $4
ORDER BY person_id LIMIT $5

-- name: delete_version
WITH d AS (DELETE FROM audience_members WHERE tenant_id = $1 AND audience_id = $2 AND version = $3)
UPDATE audience_versions SET deleted_at = now() WHERE tenant_id = $1 AND audience_id = $2 AND version = $3 AND deleted_at IS NULL
RETURNING version

-- name: person_facts
SELECT person_id, city, avg_order_value::float8 AS avg_order_value, last_purchase_at, total_orders, events_attended, marketing_consent
FROM persons WHERE tenant_id = $1 AND person_id = $2

-- name: person_affinities
SELECT 'artist' AS kind, artist_id AS id, affinity_score::float8 AS score FROM fs_person_affinity_artist WHERE tenant_id = $1 AND person_id = $2
UNION ALL
SELECT 'genre', genre, affinity_score::float8 FROM fs_person_affinity_genre WHERE tenant_id = $1 AND person_id = $2

-- name: person_discount_rate
SELECT sum(discount_orders)::float8 / NULLIF(sum(purchases_count), 0)::float8 AS rate
FROM fs_person_daily WHERE tenant_id = $1 AND person_id = $2 AND purchases_count > 0

-- name: person_of_visitor
SELECT person_id FROM tx_identity_links WHERE tenant_id = $1 AND visitor_id = $2 ORDER BY linked_at DESC, id DESC LIMIT 1

-- name: upcoming_events
-- The tenant's upcoming events with their price ranges (recommendations), soonest first.
SELECT e.id, e.title, e.starts_at, e.artist_ids, e.genres, COALESCE(NULLIF(e.city, ''), v.city, '') AS city,
  COALESCE(e.venue_id, '') AS venue_id, t.price_from, t.price_to
FROM catalog_events e
LEFT JOIN catalog_venues v ON v.tenant_id = e.tenant_id AND v.id = e.venue_id
LEFT JOIN LATERAL (
  SELECT min(price)::float8 AS price_from, max(price)::float8 AS price_to FROM catalog_ticket_types t WHERE t.tenant_id = e.tenant_id AND t.event_id = e.id
) t ON true
WHERE e.tenant_id = $1 AND e.starts_at > $2 AND COALESCE(lower(e.status), '') NOT IN ('cancelled', 'canceled', 'ended', 'draft')
ORDER BY e.starts_at, e.id
LIMIT $3

-- name: erase_person
WITH m AS (DELETE FROM audience_members WHERE tenant_id = $1 AND person_id = $2 RETURNING 1)
SELECT count(*)::int AS n FROM m

-- name: export_person
SELECT m.audience_id, a.name, m.version, m.propensity FROM audience_members m JOIN audiences a ON a.id = m.audience_id
WHERE m.tenant_id = $1 AND m.person_id = $2 ORDER BY m.audience_id, m.version

-- name: consented_count
SELECT count(*)::int AS n FROM persons WHERE tenant_id = $1 AND marketing_consent IS TRUE

-- name: snapshot_persons
-- One page of the estimate's snapshot (audiences/snapshot.ts): the consented persons after person id $2, $3
-- of them in id order, with their hypothesis-independent features and their discount rate (the `features`
-- statement's terms before any hypothesis). Pages keep each read short, so ingest interleaves on the
-- embedded store's one session.
WITH p AS (
  SELECT person_id, city, avg_order_value, last_purchase_at, total_orders, events_attended
  FROM persons WHERE tenant_id = $1 AND marketing_consent IS TRUE AND person_id > $2::bigint
  ORDER BY person_id LIMIT $3::int
)
SELECT p.person_id::float8 AS person_id, p.city, p.avg_order_value::float8 AS aov, date_part('epoch', p.last_purchase_at) AS last_purchase_s,
  p.total_orders, p.events_attended, d.rate AS discount_rate
FROM p LEFT JOIN (
  SELECT person_id, sum(discount_orders)::float8 / NULLIF(sum(purchases_count), 0)::float8 AS rate
  FROM fs_person_daily
  WHERE tenant_id = $1 AND purchases_count > 0 AND person_id > $2::bigint AND person_id <= (SELECT max(person_id) FROM p)
  GROUP BY person_id
) d ON d.person_id = p.person_id
ORDER BY p.person_id

-- name: snapshot_affinities
-- The hypothesis' side of the snapshot estimate: each person's mean decayed genre and artist affinity over the
-- hypothesis' ids ($2 artists, $3 genres) at $4, as three arrays (one row: far cheaper to carry than 160k rows).
-- The decay is the `features` statement's.
SELECT COALESCE(array_agg(person_id::float8), '{}') AS person_id, COALESCE(array_agg(genre_mean), '{}') AS genre_mean,
  COALESCE(array_agg(artist_mean), '{}') AS artist_mean
FROM (
  SELECT person_id, avg(s) FILTER (WHERE k = 1) AS genre_mean, avg(s) FILTER (WHERE k = 2) AS artist_mean
  FROM (
    SELECT person_id, 1 AS k, score_at_last * exp(-greatest(0, date_part('epoch', $4::timestamptz - last_interaction_at)) / 5184000.0) AS s
    FROM fs_person_affinity_genre_raw WHERE tenant_id = $1 AND audience_name_key(genre) = ANY($3::text[])
    UNION ALL
    SELECT person_id, 2, score_at_last * exp(-greatest(0, date_part('epoch', $4::timestamptz - last_interaction_at)) / 5184000.0)
    FROM fs_person_affinity_artist_raw WHERE tenant_id = $1 AND artist_id = ANY($2::text[])
  ) u GROUP BY person_id
) x
