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
-- The person's session rows for the export: stamped with them, or of one of their visitors and stamped with no one
-- (as their events, gdpr.sql person_events). Not by session id: a session id two persons' visitors shared (one
-- till) is one row, stamped with one of them, and it is that person's alone.
SELECT * FROM tx_sessions
WHERE tenant_id = $1 AND (person_id = $2 OR (person_id IS NULL AND visitor_id = ANY($3::text[])))
ORDER BY first_seen_at, session_id;

-- name: delete_person_sessions
-- Every session row the person's events were folded into; the caller re-projects those that still have other
-- events (remaining_session_events). Returns each row's time range, which bounds where those events are.
DELETE FROM tx_sessions
WHERE tenant_id = $1 AND (person_id = $2 OR (person_id IS NULL AND visitor_id = ANY($3::text[])) OR session_id = ANY($4::text[]))
RETURNING session_id, first_seen_at, last_seen_at;

-- name: sessions_projected_upto
-- How far the sessions projector has folded tx_events in (its cursor; ingest/projector.ts): rows above it are
-- folded by its next pass, so a re-projection must not count them too.
SELECT position::text AS position FROM tx_projector_cursors WHERE projector = 'identity.sessions';

-- name: remaining_session_events
-- The events still stored of sessions whose rows an erasure deleted ($2 ids, $3/$4 the rows' first and last
-- seen: every event folded into a row lies in that range, which lets chunks and the time index narrow the scan),
-- folded in already ($5: the projector's cursor), in the shape projector_rows (events.sql) gives projectors.
SELECT e.event_id::text AS event_id, e.event_name, e.event_version,
  to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS occurred_at,
  to_char(e.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS received_at,
  to_char(e.sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS sent_at, e.tenant_id::text AS tenant_id,
  e.site_id, e.source_system, e.visitor_id, e.session_id, e.sequence_no, e.prev_event_id::text AS prev_event_id,
  e.person_id::text AS person_id, e.consent_snapshot,
  jsonb_build_object('page', e.context->'page', 'utm', e.context->'utm', 'click_ids', e.context->'click_ids', 'referrer', e.context->'referrer',
    'device', e.context->'device') AS context,
  '{}'::jsonb AS entities,
  CASE WHEN e.event_name = 'page_engagement' THEN jsonb_build_object('active_ms', e.payload->'active_ms', 'total_ms', e.payload->'total_ms')
    ELSE '{}'::jsonb END AS payload,
  e.idempotency_key, e.is_bot
FROM unnest($2::text[], $3::timestamptz[], $4::timestamptz[]) AS c(session_id, first_seen_at, last_seen_at)
JOIN tx_events e ON e.tenant_id = $1 AND e.session_id = c.session_id
  AND e.occurred_at >= c.first_seen_at - interval '1 millisecond' AND e.occurred_at <= c.last_seen_at + interval '1 millisecond'
WHERE e.id <= $5;

-- name: lock_projection
-- The deferred projectors' pass lock (server/ingest/projector.ts, events.sql projector_lock).
SELECT pg_advisory_xact_lock(7465013);
