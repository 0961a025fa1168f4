-- The feature store's retention, compression, archive and pseudonymisation jobs (server/features/retention.ts).

-- name: compression_enabled
SELECT compression_enabled AS on FROM timescaledb_information.hypertables WHERE hypertable_name = 'tx_events';

-- name: enable_compression
ALTER TABLE tx_events SET (timescaledb.compress, timescaledb.compress_segmentby = 'tenant_id', timescaledb.compress_orderby = 'occurred_at DESC');

-- name: compress_old
-- Chunks entirely older than $1 not compressed yet.
SELECT count(compress_chunk(c, if_not_compressed => true))::int AS n FROM show_chunks('tx_events', older_than => $1::timestamptz) AS c;

-- name: drop_hourly
SELECT count(*)::int AS n FROM drop_chunks('fs_event_funnel_hourly', older_than => $1::timestamptz);

-- name: drop_event_daily
SELECT count(*)::int AS n FROM drop_chunks('fs_event_daily', older_than => $1::timestamptz);

-- name: drop_person_daily
SELECT count(*)::int AS n FROM drop_chunks('fs_person_daily', older_than => $1::timestamptz);

-- name: has_watermark_catalog
SELECT to_regclass('_timescaledb_catalog.continuous_aggs_watermark') IS NOT NULL AS ok;

-- name: raise_watermarks
-- drop_chunks recomputes a continuous aggregate's watermark from the rows left; when none is left it falls to
-- -infinity and the real-time half of the view aggregates every raw row again, the dropped days included (the
-- raw events outlive their aggregates). Everything before $1 was dropped on purpose, so the watermark never stays
-- below it: the view then answers [$1, the next refresh) from the raw events, as it does past any watermark.
WITH w AS (
  UPDATE _timescaledb_catalog.continuous_aggs_watermark w
  SET watermark = (extract(epoch FROM $1::timestamptz) * 1000000)::bigint
  FROM _timescaledb_catalog.continuous_agg c
  WHERE c.mat_hypertable_id = w.mat_hypertable_id
    AND c.user_view_name IN ('fs_event_funnel_hourly', 'fs_event_daily', 'fs_person_daily')
    AND w.watermark < (extract(epoch FROM $1::timestamptz) * 1000000)::bigint
  RETURNING 1
) SELECT count(*)::int AS n FROM w;

-- name: prune_hourly
WITH d AS (DELETE FROM fs_event_funnel_hourly WHERE hour < $1 RETURNING 1) SELECT count(*)::int AS n FROM d;

-- name: prune_event_daily
WITH d AS (DELETE FROM fs_event_daily WHERE date < $1 RETURNING 1) SELECT count(*)::int AS n FROM d;

-- name: prune_person_daily
WITH d AS (DELETE FROM fs_person_daily WHERE date < $1 RETURNING 1) SELECT count(*)::int AS n FROM d;

-- name: prune_timings
WITH a AS (DELETE FROM fs_event_funnel_timings WHERE hour < $1 RETURNING 1), b AS (DELETE FROM fs_person_daily_timings WHERE date < $1 RETURNING 1)
SELECT ((SELECT count(*) FROM a) + (SELECT count(*) FROM b))::int AS n;

-- name: archive_months
-- Tenant × UTC month of the raw events before $1 (months that retention will drop next), with their row counts.
SELECT tenant_id::text AS tenant_id, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month, count(*)::int AS n
FROM tx_events WHERE occurred_at < $1 GROUP BY 1, 2 ORDER BY 2, 1;

-- name: archive_slice
-- One tenant's rows of [$2, $3) as JSON documents, in time order.
SELECT to_jsonb(e) AS doc FROM tx_events e WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3 ORDER BY occurred_at, id;

-- name: pseudo_visitors
-- Up to $3 distinct raw visitor / session ids (not yet pseudonymised) of rows in [$1, $2).
SELECT DISTINCT visitor_id AS id FROM tx_events
WHERE occurred_at >= $1 AND occurred_at < $2 AND visitor_id IS NOT NULL AND visitor_id NOT LIKE 'px\_%' LIMIT $3;

-- name: pseudo_sessions
SELECT DISTINCT session_id AS id FROM tx_events
WHERE occurred_at >= $1 AND occurred_at < $2 AND session_id IS NOT NULL AND session_id NOT LIKE 'px\_%' LIMIT $3;

-- name: pseudo_persons
SELECT DISTINCT tenant_id::text || ':' || person_id::text AS id FROM tx_events
WHERE occurred_at >= $1 AND occurred_at < $2 AND person_id > 0 LIMIT $3;

-- name: set_visitors
WITH u AS (UPDATE tx_events e SET visitor_id = m.new FROM unnest($3::text[], $4::text[]) AS m(old, new)
  WHERE e.occurred_at >= $1 AND e.occurred_at < $2 AND e.visitor_id = m.old RETURNING 1)
SELECT count(*)::int AS n FROM u;

-- name: set_sessions
WITH u AS (UPDATE tx_events e SET session_id = m.new FROM unnest($3::text[], $4::text[]) AS m(old, new)
  WHERE e.occurred_at >= $1 AND e.occurred_at < $2 AND e.session_id = m.old RETURNING 1)
SELECT count(*)::int AS n FROM u;

-- name: set_persons
-- A person id becomes a negative keyed hash: still distinct per person, never a persons row. Answers the UTC days
-- of the rows changed too: their fs_person_daily buckets are refreshed (the person's rows move to the pseudonym).
WITH u AS (UPDATE tx_events e SET person_id = m.new FROM unnest($3::bigint[], $4::bigint[], $5::bigint[]) AS m(tenant_id, old, new)
  WHERE e.occurred_at >= $1 AND e.occurred_at < $2 AND e.tenant_id = m.tenant_id AND e.person_id = m.old
  RETURNING to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day)
SELECT count(*)::int AS n, coalesce(array_agg(DISTINCT day), '{}') AS days FROM u;

-- name: strip_identifiers
-- What else in a row of [$1, $2) names the customer, removed (not hashed: no feature reads them), up to $3 rows
-- per statement: payload.customer's external id, contact digests and per-platform match keys, points_earned's
-- customer_external_id, and the ad platforms' browser and click ids in context. A row changed no longer matches.
WITH r AS (
  SELECT tenant_id, event_id, occurred_at FROM tx_events
  WHERE occurred_at >= $1 AND occurred_at < $2
    AND ((jsonb_typeof(payload->'customer') = 'object' AND payload->'customer' ?| ARRAY['external_id', 'email_sha256', 'phone_sha256', 'match_keys'])
      OR payload ? 'customer_external_id'
      OR context ?| ARRAY['fbp', 'fbc', 'ttp', 'ga_client_id', 'ga_session_ids', 'click_ids'])
  LIMIT $3
), u AS (
  UPDATE tx_events e SET
    payload = CASE WHEN jsonb_typeof(e.payload->'customer') = 'object'
      THEN jsonb_set(e.payload, '{customer}', (e.payload->'customer') - ARRAY['external_id', 'email_sha256', 'phone_sha256', 'match_keys'])
      ELSE e.payload END - 'customer_external_id',
    context = e.context - ARRAY['fbp', 'fbc', 'ttp', 'ga_client_id', 'ga_session_ids', 'click_ids']
  FROM r WHERE e.tenant_id = r.tenant_id AND e.event_id = r.event_id AND e.occurred_at = r.occurred_at
  RETURNING 1
)
SELECT count(*)::int AS n FROM u;
