-- name: upsert_sessions
-- $1: JSON array, one partial aggregate per session (folded from this commit's new events in sessions.ts).
-- Merging it into the stored row is order independent: sums, min/max, multirange union, and every
-- "first/last" value travels with the ordering key of the event it came from.
WITH input AS (
  SELECT * FROM json_to_recordset($1::json) AS x(
    tenant_id bigint, session_id text, visitor_id text, person_id bigint, site_id text,
    first_seen_at timestamptz, last_seen_at timestamptz, events_count int, page_views int, orders_count int,
    sequence_ranges int4multirange, min_sequence_no int, max_sequence_no int, sequence_gaps int,
    first_key text, first_touch jsonb, landing_page text, consent_initial jsonb, last_key text, consent_latest jsonb,
    entry_key text, entry_page text, exit_key text, exit_page text, device_key text, device jsonb,
    engagement_active_ms bigint, engagement_total_ms bigint, is_bot boolean)
)
INSERT INTO tx_sessions AS s (tenant_id, session_id, visitor_id, person_id, site_id, first_seen_at, last_seen_at,
  events_count, page_views, orders_count, sequence_ranges, min_sequence_no, max_sequence_no, sequence_gaps,
  first_key, first_touch, landing_page, consent_initial, last_key, consent_latest, entry_key, entry_page,
  exit_key, exit_page, device_key, device, engagement_active_ms, engagement_total_ms, is_bot, updated_at)
SELECT tenant_id, session_id, visitor_id, person_id, site_id, first_seen_at, last_seen_at,
  events_count, page_views, orders_count, sequence_ranges, min_sequence_no, max_sequence_no, sequence_gaps,
  first_key, first_touch, landing_page, consent_initial, last_key, consent_latest, entry_key, entry_page,
  exit_key, exit_page, device_key, device, engagement_active_ms, engagement_total_ms, is_bot, now()
FROM input
ON CONFLICT (tenant_id, session_id) DO UPDATE SET
  visitor_id = COALESCE(s.visitor_id, EXCLUDED.visitor_id),
  person_id = COALESCE(EXCLUDED.person_id, s.person_id),
  site_id = COALESCE(s.site_id, EXCLUDED.site_id),
  first_seen_at = LEAST(s.first_seen_at, EXCLUDED.first_seen_at),
  last_seen_at = GREATEST(s.last_seen_at, EXCLUDED.last_seen_at),
  events_count = s.events_count + EXCLUDED.events_count,
  page_views = s.page_views + EXCLUDED.page_views,
  orders_count = s.orders_count + EXCLUDED.orders_count,
  sequence_ranges = s.sequence_ranges + EXCLUDED.sequence_ranges,
  min_sequence_no = lower(s.sequence_ranges + EXCLUDED.sequence_ranges),
  max_sequence_no = upper(s.sequence_ranges + EXCLUDED.sequence_ranges) - 1,
  sequence_gaps = tx_seq_gaps(s.sequence_ranges + EXCLUDED.sequence_ranges),
  first_key = CASE WHEN s.first_key IS NULL OR EXCLUDED.first_key < s.first_key THEN EXCLUDED.first_key ELSE s.first_key END,
  first_touch = CASE WHEN s.first_key IS NULL OR EXCLUDED.first_key < s.first_key THEN EXCLUDED.first_touch ELSE s.first_touch END,
  landing_page = CASE WHEN s.first_key IS NULL OR EXCLUDED.first_key < s.first_key THEN EXCLUDED.landing_page ELSE s.landing_page END,
  consent_initial = CASE WHEN s.first_key IS NULL OR EXCLUDED.first_key < s.first_key THEN EXCLUDED.consent_initial ELSE s.consent_initial END,
  last_key = CASE WHEN s.last_key IS NULL OR EXCLUDED.last_key > s.last_key THEN EXCLUDED.last_key ELSE s.last_key END,
  consent_latest = CASE WHEN s.last_key IS NULL OR EXCLUDED.last_key > s.last_key THEN EXCLUDED.consent_latest ELSE s.consent_latest END,
  entry_key = CASE WHEN s.entry_key IS NULL OR EXCLUDED.entry_key < s.entry_key THEN EXCLUDED.entry_key ELSE s.entry_key END,
  entry_page = CASE WHEN s.entry_key IS NULL OR EXCLUDED.entry_key < s.entry_key THEN EXCLUDED.entry_page ELSE s.entry_page END,
  exit_key = CASE WHEN s.exit_key IS NULL OR EXCLUDED.exit_key > s.exit_key THEN EXCLUDED.exit_key ELSE s.exit_key END,
  exit_page = CASE WHEN s.exit_key IS NULL OR EXCLUDED.exit_key > s.exit_key THEN EXCLUDED.exit_page ELSE s.exit_page END,
  device_key = CASE WHEN s.device_key IS NULL OR EXCLUDED.device_key < s.device_key THEN EXCLUDED.device_key ELSE s.device_key END,
  device = CASE WHEN s.device_key IS NULL OR EXCLUDED.device_key < s.device_key THEN EXCLUDED.device ELSE s.device END,
  engagement_active_ms = s.engagement_active_ms + EXCLUDED.engagement_active_ms,
  engagement_total_ms = s.engagement_total_ms + EXCLUDED.engagement_total_ms,
  is_bot = s.is_bot OR EXCLUDED.is_bot,
  updated_at = now();

-- name: get_session
SELECT * FROM tx_sessions WHERE tenant_id = $1 AND session_id = $2;

-- name: list_sessions
-- Newest first, keyset paging over (first_seen_at DESC, session_id ASC): $5/$6 = last row of the previous page.
SELECT *, to_char(first_seen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS cursor_ts FROM tx_sessions
WHERE tenant_id = $1
  AND ($2::text IS NULL OR visitor_id = $2)
  AND ($3::bigint IS NULL OR person_id = $3)
  AND ($5::timestamp IS NULL OR first_seen_at < ($5::timestamp AT TIME ZONE 'UTC')
    OR (first_seen_at = ($5::timestamp AT TIME ZONE 'UTC') AND session_id > $6::text))
  AND ($5::timestamp IS NULL OR first_seen_at <= ($5::timestamp AT TIME ZONE 'UTC'))
ORDER BY first_seen_at DESC, session_id
LIMIT $4;

-- name: links_for_visitors
-- $1 tenant ids, $2 visitor ids (pairwise). Locks the links it reads so an erasure cannot slip between
-- reading a link and storing events stamped with it.
SELECT tenant_id::text AS tenant_id, visitor_id, person_id::text AS person_id, linked_at, id::text AS id
FROM tx_identity_links
WHERE (tenant_id, visitor_id) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))
FOR KEY SHARE;

-- name: erased_visitors
SELECT tenant_id::text AS tenant_id, visitor_sha256, erased_at
FROM gdpr_erased_visitors
WHERE (tenant_id, visitor_sha256) IN (SELECT * FROM unnest($1::bigint[], $2::text[]));

-- name: persons_for_orders
-- The person an order was attributed to, for payment/refund/chargeback events of that order.
SELECT DISTINCT ON (tenant_id, entities->>'order_id') tenant_id::text AS tenant_id, entities->>'order_id' AS order_id, person_id::text AS person_id
FROM tx_events
WHERE (tenant_id, entities->>'order_id') IN (SELECT * FROM unnest($1::bigint[], $2::text[]))
  AND event_name IN ('order_completed', 'order_completed_shop') AND person_id IS NOT NULL
ORDER BY tenant_id, entities->>'order_id', occurred_at DESC;

-- name: persons_for_external_ids
SELECT tenant_id::text AS tenant_id, external_id, person_id::text AS person_id
FROM persons
WHERE (tenant_id, external_id) IN (SELECT * FROM unnest($1::bigint[], $2::text[]));

-- name: lock_external_id
SELECT pg_advisory_xact_lock(hashtextextended('tx-person:' || $1::text || ':' || $2::text, 0));

-- name: tombstone_for_external
SELECT max(erased_at) AS erased_at FROM gdpr_erasures WHERE tenant_id = $1 AND external_sha256 = $2;

-- name: tombstone_for_person
SELECT erased_at, removed FROM gdpr_erasures WHERE tenant_id = $1 AND person_sha256 = $2;

-- name: erased_externals
SELECT tenant_id::text AS tenant_id, external_sha256, max(erased_at) AS erased_at
FROM gdpr_erasures
WHERE (tenant_id, external_sha256) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))
GROUP BY tenant_id, external_sha256;

-- name: delete_stripe_objects
WITH d AS (DELETE FROM stripe_objects WHERE tenant_id = $1 AND order_id = ANY($2::text[]) RETURNING 1)
SELECT count(*)::int AS n FROM d;

-- name: erased_visitor
SELECT erased_at FROM gdpr_erased_visitors WHERE tenant_id = $1 AND visitor_sha256 = $2;

-- name: upsert_person
-- (xmax = 0) is true only for a freshly inserted row.
INSERT INTO persons (tenant_id, external_id, email_sha256, phone_sha256, city)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (tenant_id, external_id) DO UPDATE SET
  email_sha256 = COALESCE(EXCLUDED.email_sha256, persons.email_sha256),
  phone_sha256 = COALESCE(EXCLUDED.phone_sha256, persons.phone_sha256),
  city = COALESCE(EXCLUDED.city, persons.city),
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
WITH u AS (
  UPDATE tx_events SET person_id = $3 WHERE tenant_id = $1 AND visitor_id = $2 AND person_id IS NULL RETURNING 1
) SELECT count(*)::int AS n FROM u;

-- name: backfill_events_by_order
WITH u AS (
  UPDATE tx_events SET person_id = $3 WHERE tenant_id = $1 AND entities->>'order_id' = $2 AND person_id IS NULL RETURNING 1
) SELECT count(*)::int AS n FROM u;

-- name: backfill_sessions_by_visitor
WITH u AS (
  UPDATE tx_sessions SET person_id = $3, updated_at = now() WHERE tenant_id = $1 AND visitor_id = $2 AND person_id IS NULL RETURNING 1
) SELECT count(*)::int AS n FROM u;

-- name: get_person
SELECT person_id::text AS person_id, tenant_id::text AS tenant_id, external_id, email_sha256, phone_sha256, city, created_at, updated_at
FROM persons WHERE tenant_id = $1 AND person_id = $2;

-- name: find_person_by_external
SELECT person_id::text AS person_id, tenant_id::text AS tenant_id, external_id, email_sha256, phone_sha256, city, created_at, updated_at
FROM persons WHERE tenant_id = $1 AND external_id = $2;

-- name: links_of_person
SELECT id::text AS id, visitor_id, person_id::text AS person_id, confidence::float8 AS confidence, link_source, order_id,
  first_linked_at, linked_at, metadata
FROM tx_identity_links WHERE tenant_id = $1 AND person_id = $2 ORDER BY linked_at, id;

-- name: person_events
-- Everything that is the person's: stamped with their id, or from one of their visitors and unattributed,
-- or carrying their customer id in the payload (e.g. an order placed without data-processing consent).
SELECT event_id::text, event_name, event_version, occurred_at, received_at, sent_at, tenant_id::text, site_id,
  source_system, visitor_id, session_id, sequence_no, prev_event_id::text, person_id::text, consent_snapshot,
  context, entities, payload, idempotency_key, is_bot
FROM tx_events
WHERE tenant_id = $1
  AND (person_id = $2
    OR (person_id IS NULL AND visitor_id = ANY($3::text[]))
    OR (event_name IN ('order_completed', 'order_completed_shop') AND payload->'customer'->>'external_id' = $4)
    OR (event_name = 'points_earned' AND payload->>'customer_external_id' = $4))
ORDER BY occurred_at, event_id;

-- name: delete_person_events
WITH d AS (
  DELETE FROM tx_events
  WHERE tenant_id = $1
    AND (person_id = $2
      OR (person_id IS NULL AND visitor_id = ANY($3::text[]))
      OR (event_name IN ('order_completed', 'order_completed_shop') AND payload->'customer'->>'external_id' = $4)
      OR (event_name = 'points_earned' AND payload->>'customer_external_id' = $4))
  RETURNING event_id::text AS event_id, session_id, entities->>'order_id' AS order_id, tableoid::regclass::text AS chunk,
    to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day
) SELECT event_id, session_id, order_id, chunk, day FROM d;

-- name: person_sessions
SELECT * FROM tx_sessions
WHERE tenant_id = $1 AND (person_id = $2 OR (person_id IS NULL AND visitor_id = ANY($3::text[])) OR session_id = ANY($4::text[]))
ORDER BY first_seen_at, session_id;

-- name: delete_person_sessions
WITH d AS (
  DELETE FROM tx_sessions
  WHERE tenant_id = $1 AND (person_id = $2 OR (person_id IS NULL AND visitor_id = ANY($3::text[])) OR session_id = ANY($4::text[]))
  RETURNING 1
) SELECT count(*)::int AS n FROM d;

-- name: rejected_of_person
-- Rejected raw bodies about the person, whatever their shape (an array, {"events":{...}}, a lone server
-- event, text that is not JSON): the body's own event_id is one of theirs, or the text contains one of the
-- needles ($3: their ids as JSON strings, their contact digests) or matches one of the patterns ($4: their
-- customer or order id as the value of its field, e.g. a numeric customer id). One set-based scan.
SELECT id::text AS id, event_id, event_name, raw_body, reasons, received_at
FROM tx_rejected_events
WHERE tenant_id = $1
  AND (event_id = ANY($2::text[])
    OR EXISTS (SELECT 1 FROM unnest($3::text[]) n WHERE strpos(raw_body, n) > 0)
    OR EXISTS (SELECT 1 FROM unnest($4::text[]) p WHERE raw_body ~ p))
ORDER BY received_at, id;

-- name: delete_rejected
WITH d AS (DELETE FROM tx_rejected_events WHERE tenant_id = $1 AND id = ANY($2::bigint[]) RETURNING 1)
SELECT count(*)::int AS n FROM d;

-- name: delete_person_links
WITH d AS (DELETE FROM tx_identity_links WHERE tenant_id = $1 AND person_id = $2 RETURNING 1)
SELECT count(*)::int AS n FROM d;

-- name: delete_person
WITH d AS (DELETE FROM persons WHERE tenant_id = $1 AND person_id = $2 RETURNING 1)
SELECT count(*)::int AS n FROM d;

-- name: insert_tombstone
INSERT INTO gdpr_erasures (tenant_id, person_sha256, external_sha256, erased_at, removed)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (tenant_id, person_sha256) DO NOTHING;

-- name: insert_erased_visitors
INSERT INTO gdpr_erased_visitors (tenant_id, visitor_sha256, erased_at)
SELECT $1, v, $3 FROM unnest($2::text[]) v
ON CONFLICT (tenant_id, visitor_sha256) DO UPDATE SET erased_at = GREATEST(gdpr_erased_visitors.erased_at, EXCLUDED.erased_at);

-- name: person_feature_tables
-- Feature-store tables (fs_*) keyed by person: export and erasure cover them without knowing them in advance.
SELECT c.table_name
FROM information_schema.columns c
JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
WHERE c.table_schema = 'public' AND c.column_name = 'person_id' AND c.table_name LIKE 'fs\_%'
  AND EXISTS (SELECT 1 FROM information_schema.columns c2
              WHERE c2.table_schema = 'public' AND c2.table_name = c.table_name AND c2.column_name = 'tenant_id')
ORDER BY c.table_name;

-- name: get_secret
SELECT ciphertext, hint, updated_at FROM tenant_secrets WHERE tenant_id = $1 AND name = $2;

-- name: put_secret
INSERT INTO tenant_secrets (tenant_id, name, ciphertext, hint, updated_at) VALUES ($1, $2, $3, $4, now())
ON CONFLICT (tenant_id, name) DO UPDATE SET ciphertext = EXCLUDED.ciphertext, hint = EXCLUDED.hint, updated_at = now()
RETURNING updated_at;

-- name: delete_secret
WITH d AS (DELETE FROM tenant_secrets WHERE tenant_id = $1 AND name = $2 RETURNING 1) SELECT count(*)::int AS n FROM d;

-- name: tenant_exists
SELECT 1 FROM tenants WHERE tenant_id = $1;

-- name: remember_stripe_objects
INSERT INTO stripe_objects (tenant_id, object_id, order_id)
SELECT $1, o, $3 FROM unnest($2::text[]) o
ON CONFLICT (tenant_id, object_id) DO NOTHING;

-- name: order_for_stripe_objects
SELECT order_id FROM stripe_objects WHERE tenant_id = $1 AND object_id = ANY($2::text[]) ORDER BY created_at LIMIT 1;

-- name: retention_job
SELECT job_id, config->>'drop_after' AS drop_after,
  (config->>'drop_after')::interval = make_interval(months => $1::int) AS matches
FROM timescaledb_information.jobs
WHERE proc_name = 'policy_retention' AND hypertable_schema = 'public' AND hypertable_name = 'tx_events';

-- name: drop_old_chunks
SELECT drop_chunks('tx_events', older_than => now() - make_interval(months => $1::int))::text AS chunk;

-- name: delete_old_sessions
WITH d AS (DELETE FROM tx_sessions WHERE last_seen_at < now() - make_interval(months => $1::int) RETURNING 1)
SELECT count(*)::int AS n FROM d;

-- name: delete_old_rejected
WITH d AS (DELETE FROM tx_rejected_events WHERE received_at < now() - make_interval(months => $1::int) RETURNING 1)
SELECT count(*)::int AS n FROM d;
