-- name: insert_events
-- $1: JSON array of event rows. Returns the (tenant_id, event_id) pairs that were new; the rest were duplicates.
-- jsonb_to_recordset: 35 % less per 1000 rows than json_to_recordset on the embedded store, no worse on PostgreSQL
-- (bench/ingest-decode.ts, bench/RESULTS.md).
WITH input AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
    event_id uuid, event_name text, event_version smallint, occurred_at timestamptz, received_at timestamptz,
    sent_at timestamptz, tenant_id bigint, site_id text, source_system text, visitor_id text, session_id text,
    sequence_no int, prev_event_id uuid, person_id bigint, consent_snapshot jsonb, context jsonb, entities jsonb,
    payload jsonb, idempotency_key text, is_bot boolean)
), fresh AS (
  INSERT INTO tx_event_ids (tenant_id, event_id, received_at)
  SELECT tenant_id, event_id, received_at FROM input
  ON CONFLICT DO NOTHING
  RETURNING tenant_id, event_id
), stored AS (
  INSERT INTO tx_events (event_id, event_name, event_version, occurred_at, received_at, sent_at, tenant_id, site_id,
    source_system, visitor_id, session_id, sequence_no, prev_event_id, person_id, consent_snapshot, context, entities,
    payload, idempotency_key, is_bot)
  SELECT i.event_id, i.event_name, i.event_version, i.occurred_at, i.received_at, i.sent_at, i.tenant_id, i.site_id,
    i.source_system, i.visitor_id, i.session_id, i.sequence_no, i.prev_event_id, i.person_id, i.consent_snapshot,
    i.context, i.entities, i.payload, i.idempotency_key, i.is_bot
  FROM input i JOIN fresh f ON f.tenant_id = i.tenant_id AND f.event_id = i.event_id
  ON CONFLICT DO NOTHING
  RETURNING 1
)
SELECT f.tenant_id::text AS tenant_id, f.event_id::text AS event_id FROM fresh f;

-- name: insert_events_orders
-- insert_events for a commit with order events (server/ingest/orders.ts ONCE_PER_ORDER): $2 is a JSON array of
-- their claims, one per order event, in the commit's row order. An order is claimed in the order ledger
-- (tx_order_ids, migration 049) by the first of its rows whose event id is new: a row whose event id is already
-- stored is a plain duplicate and takes no part (its id may be any earlier event's, an event_view's or another
-- order's). A row whose order is already claimed, in the ledger or by an earlier row of this statement, is a
-- duplicate: its event id stays in tx_event_ids (a retry of it is a plain duplicate), the event is not stored.
-- Rows back: the new ones (held_by NULL, stored true), and each duplicate of an order (stored false) with
-- held_by = the event id that holds its order: the row of this statement that claimed it, else the first stored
-- in tx_events, else '' when this statement's snapshot does not show it (committed by a concurrent writer, or
-- erased). One statement, as insert_events: a commit without order events runs that one instead and pays
-- nothing here.
WITH input AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
    event_id uuid, event_name text, event_version smallint, occurred_at timestamptz, received_at timestamptz,
    sent_at timestamptz, tenant_id bigint, site_id text, source_system text, visitor_id text, session_id text,
    sequence_no int, prev_event_id uuid, person_id bigint, consent_snapshot jsonb, context jsonb, entities jsonb,
    payload jsonb, idempotency_key text, is_bot boolean)
), orders AS (
  SELECT * FROM ROWS FROM (jsonb_to_recordset($2::jsonb) AS (tenant_id bigint, event_id uuid, event_name text,
    order_id text, order_sha256 text, received_at timestamptz))
    WITH ORDINALITY AS o(tenant_id, event_id, event_name, order_id, order_sha256, received_at, n)
), fresh AS (
  INSERT INTO tx_event_ids (tenant_id, event_id, received_at)
  SELECT tenant_id, event_id, received_at FROM input
  ON CONFLICT DO NOTHING
  RETURNING tenant_id, event_id
), candidate AS (
  -- Per order, its first row with a new event id.
  SELECT DISTINCT ON (o.tenant_id, o.event_name, o.order_sha256) o.tenant_id, o.event_id, o.event_name, o.order_sha256, o.received_at
  FROM orders o JOIN fresh f ON f.tenant_id = o.tenant_id AND f.event_id = o.event_id
  ORDER BY o.tenant_id, o.event_name, o.order_sha256, o.n
), claimed AS (
  INSERT INTO tx_order_ids (tenant_id, event_name, order_sha256, received_at)
  SELECT tenant_id, event_name, order_sha256, received_at FROM candidate
  ON CONFLICT DO NOTHING
  RETURNING tenant_id, event_name, order_sha256
), winner AS (
  SELECT c.tenant_id, c.event_id, c.event_name, c.order_sha256 FROM candidate c
  JOIN claimed d ON d.tenant_id = c.tenant_id AND d.event_name = c.event_name AND d.order_sha256 = c.order_sha256
), kept AS (
  SELECT f.tenant_id, f.event_id FROM fresh f
  WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.tenant_id = f.tenant_id AND o.event_id = f.event_id)
  UNION ALL
  SELECT w.tenant_id, w.event_id FROM winner w
), stored AS (
  INSERT INTO tx_events (event_id, event_name, event_version, occurred_at, received_at, sent_at, tenant_id, site_id,
    source_system, visitor_id, session_id, sequence_no, prev_event_id, person_id, consent_snapshot, context, entities,
    payload, idempotency_key, is_bot)
  SELECT i.event_id, i.event_name, i.event_version, i.occurred_at, i.received_at, i.sent_at, i.tenant_id, i.site_id,
    i.source_system, i.visitor_id, i.session_id, i.sequence_no, i.prev_event_id, i.person_id, i.consent_snapshot,
    i.context, i.entities, i.payload, i.idempotency_key, i.is_bot
  FROM input i JOIN kept k ON k.tenant_id = i.tenant_id AND k.event_id = i.event_id
  ON CONFLICT DO NOTHING
  RETURNING 1
)
SELECT k.tenant_id::text AS tenant_id, k.event_id::text AS event_id, true AS stored, NULL::text AS held_by FROM kept k
UNION ALL
SELECT o.tenant_id::text, o.event_id::text, false,
  coalesce(w.event_id::text, (SELECT e.event_id::text FROM tx_events e
    WHERE e.tenant_id = o.tenant_id AND e.entities->>'order_id' = o.order_id AND e.event_name = o.event_name
    ORDER BY e.received_at, e.id LIMIT 1), '')
FROM orders o JOIN fresh f ON f.tenant_id = o.tenant_id AND f.event_id = o.event_id
LEFT JOIN winner w ON w.tenant_id = o.tenant_id AND w.event_name = o.event_name AND w.order_sha256 = o.order_sha256
WHERE w.event_id IS DISTINCT FROM o.event_id;

-- name: hash_joins_only
-- Before insert_events_orders, in its transaction (server/store/events.ts says why): its CTE joins by hash.
SET LOCAL enable_nestloop = off;

-- name: nested_loops_again
-- After it: the rest of the commit plans as configured.
SET LOCAL enable_nestloop TO DEFAULT;

-- name: insert_rejected
INSERT INTO tx_rejected_events (tenant_id, event_id, event_name, raw_body, reasons, received_at)
SELECT tenant_id, event_id, event_name, raw_body, reasons, received_at
FROM json_to_recordset($1::json) AS x(tenant_id bigint, event_id text, event_name text, raw_body text, reasons jsonb, received_at timestamptz);

-- name: known_event_ids
SELECT event_id::text AS event_id FROM tx_event_ids WHERE tenant_id = $1 AND event_id = ANY($2::uuid[]);

-- name: list_events
-- Newest first; every filter is optional (NULL = no filter). Keyset paging over (occurred_at, id): $7/$8 are
-- the last row of the previous page (UTC timestamp with microseconds, id), so rows sharing an occurred_at are
-- neither skipped nor repeated. cursor_ts/cursor_id are that key for the caller to build the next cursor.
SELECT event_id::text, event_name, event_version, occurred_at, received_at, sent_at, tenant_id::text, site_id,
  source_system, visitor_id, session_id, sequence_no, prev_event_id::text, person_id::text, consent_snapshot,
  context, entities, payload, idempotency_key, is_bot,
  to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS cursor_ts, id::text AS cursor_id
FROM tx_events
WHERE tenant_id = $1
  AND ($2::text IS NULL OR event_name = $2)
  AND ($3::text IS NULL OR visitor_id = $3)
  AND ($4::text IS NULL OR entities->>'event_entity_id' = $4)
  AND ($5::timestamptz IS NULL OR occurred_at < $5)
  AND ($7::timestamp IS NULL OR (occurred_at, id) < ($7::timestamp AT TIME ZONE 'UTC', $8::bigint))
  -- Implied by the line above; spelled out so TimescaleDB can skip the chunks after the cursor.
  AND ($7::timestamp IS NULL OR occurred_at <= ($7::timestamp AT TIME ZONE 'UTC'))
ORDER BY occurred_at DESC, id DESC
LIMIT $6;

-- name: list_rejected
-- Newest first, keyset paging over (received_at, id) like list_events ($3/$4 = last row of the previous page).
-- Sorts on r.id, the bigint: a bare `id` in ORDER BY would name the text output column ('9' > '25').
SELECT r.id::text AS id, event_id, event_name, raw_body, reasons, received_at,
  to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS cursor_ts
FROM tx_rejected_events r
WHERE tenant_id = $1
  AND ($3::timestamp IS NULL OR (received_at, r.id) < ($3::timestamp AT TIME ZONE 'UTC', $4::bigint))
ORDER BY received_at DESC, r.id DESC LIMIT $2;

-- name: prune_event_ids
DELETE FROM tx_event_ids WHERE received_at < $1;

-- Deferred projectors (server/ingest/projector.ts). Lock keys: 7465012 = writer commits (shared), 7465013 = a
-- projection pass, or an erasure of sessions (exclusive).

-- name: writer_share_lock
SELECT pg_advisory_xact_lock_shared(7465012);

-- name: writers_in_flight
-- Transactions now inside a writer commit (holding 7465012 shared); virtualtransaction identifies each.
SELECT virtualtransaction AS vx FROM pg_locks
WHERE locktype = 'advisory' AND classid = 0 AND objid = 7465012 AND objsubid = 1 AND granted;

-- name: id_horizon
-- The highest tx_events.id drawn so far (committed or not).
SELECT (CASE WHEN is_called THEN last_value ELSE 0 END)::text AS h FROM tx_events_id_seq;

-- name: projector_lock
SELECT pg_advisory_xact_lock(7465013);

-- name: projector_cursor
SELECT position::text AS position FROM tx_projector_cursors WHERE projector = $1 FOR UPDATE;

-- name: projector_rows
-- Rows after the cursor ($1) up to the horizon ($2), in id order, $3 at most (index tx_events_id), as deferred
-- projectors read them (ingest/hooks.ts): every column, but entities empty and of context and payload only the
-- keys a deferred projector uses (sessions: context.page, utm, click_ids, referrer, device; a page_engagement's
-- payload.active_ms and total_ms). A missing key reads as JSON null, which every reader treats as absent. Why:
-- decoding the whole jsonb of every row was a tenth of the server's main thread on PostgreSQL (bench/RESULTS.md).
-- Timestamps as the ISO text the writer stores them from (millisecond precision), cheaper to decode.
SELECT id::text AS id, event_id::text AS event_id, event_name, event_version,
  to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS occurred_at,
  to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS received_at,
  to_char(sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS sent_at, tenant_id::text AS tenant_id,
  site_id, source_system, visitor_id, session_id, sequence_no, prev_event_id::text AS prev_event_id, person_id::text AS person_id,
  consent_snapshot,
  jsonb_build_object('page', context->'page', 'utm', context->'utm', 'click_ids', context->'click_ids', 'referrer', context->'referrer',
    'device', context->'device') AS context,
  '{}'::jsonb AS entities,
  CASE WHEN event_name = 'page_engagement' THEN jsonb_build_object('active_ms', payload->'active_ms', 'total_ms', payload->'total_ms')
    ELSE '{}'::jsonb END AS payload,
  idempotency_key, is_bot
FROM tx_events t WHERE t.id > $1 AND t.id <= $2 ORDER BY t.id LIMIT $3;

-- name: projector_advance
INSERT INTO tx_projector_cursors (projector, position, updated_at) VALUES ($1, $2, now())
ON CONFLICT (projector) DO UPDATE SET position = GREATEST(tx_projector_cursors.position, EXCLUDED.position), updated_at = now();

-- name: projector_advance_to_horizon
-- Embedded store (one session), inside the commit that ran the projector: every id drawn so far is final.
INSERT INTO tx_projector_cursors (projector, position, updated_at)
SELECT $1, (CASE WHEN is_called THEN last_value ELSE 0 END), now() FROM tx_events_id_seq
ON CONFLICT (projector) DO UPDATE SET position = GREATEST(tx_projector_cursors.position, EXCLUDED.position), updated_at = now()
RETURNING position::text AS position;
