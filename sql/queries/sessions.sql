-- tx_sessions: the writer projector's upsert and the session API (server/identity/sessions.ts).

-- name: upsert_sessions
-- $1: JSON array, one partial aggregate per session (folded from this commit's new events in sessions.ts).
-- Merging it into the stored row is order independent: sums, min/max, multirange union, and every
-- "first/last" value travels with the ordering key of the event it came from.
WITH input AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
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

-- name: lock_projection
-- The deferred projectors' pass lock (server/ingest/projector.ts, events.sql projector_lock).
SELECT pg_advisory_xact_lock(7465013);
